"""IDX reader: round trips (gz and raw) and every malformed-file fault with its error text."""
from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.data.idx import (MAX_IDX_BYTES, IdxCountMismatchError, IdxFormatError,
                                IdxLabelRangeError, load_idx_pair, read_idx, read_idx_header,
                                write_idx)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def idx_bytes(payload: bytes, dims: tuple[int, ...], type_code: int = 0x08,
              ndim: int | None = None, magic01: bytes = b"\x00\x00") -> bytes:
    ndim = len(dims) if ndim is None else ndim
    return magic01 + bytes([type_code, ndim]) + struct.pack(f">{len(dims)}I", *dims) + payload


def put(path: Path, blob: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    return path


# -- good files --------------------------------------------------------------------------------

@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip_images(tmp_path, rng, compressed):
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    path = tmp_path / ("x.gz" if compressed else "x")
    write_idx(path, images)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (7, 28, 28)
    np.testing.assert_array_equal(out, images)
    assert read_idx_header(path).compressed is compressed


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=4), gz=st.booleans(),
       seed=st.integers(0, 2**16))
def test_round_trip_any_shape(tmp_path_factory, shape, gz, seed):
    arr = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    write_idx(path, arr, compressed=gz)
    out = read_idx(path)
    assert out.shape == tuple(shape)
    np.testing.assert_array_equal(out, arr)


def test_gzip_detected_by_content_not_name(tmp_path, rng):
    arr = rng.integers(0, 256, size=(3, 4), dtype=np.uint8)
    gz_named_raw = tmp_path / "looks-raw"
    write_idx(gz_named_raw, arr, compressed=True)
    raw_named_gz = tmp_path / "looks.gz"
    write_idx(raw_named_gz, arr, compressed=False)
    np.testing.assert_array_equal(read_idx(gz_named_raw), arr)
    np.testing.assert_array_equal(read_idx(raw_named_gz), arr)


def test_write_idx_is_deterministic(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "a.gz", arr)
    write_idx(tmp_path / "b.gz", arr)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_idx_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="uint8.*float32"):
        write_idx(tmp_path / "a", np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="1 to 4 dimensions.*\\(1, 1, 1, 1, 1\\)"):
        write_idx(tmp_path / "a", np.zeros((1,) * 5, np.uint8))


# -- faults --------------------------------------------------------------------------------------

def test_error_is_a_value_error():
    assert issubclass(IdxFormatError, ValueError)
    assert issubclass(IdxCountMismatchError, IdxFormatError)
    assert issubclass(IdxLabelRangeError, IdxFormatError)


def test_gzip_header_read_as_raw(tmp_path):
    path = put(tmp_path / "train.gz", idx_bytes(bytes(4), (4,)), gz=True)
    with pytest.raises(IdxFormatError, match=r"train\.gz.*bad magic.*got 1f 8b.*gzip-compressed"):
        read_idx(path, compressed=False)


def test_double_gzip_reported(tmp_path):
    path = tmp_path / "twice.gz"
    path.write_bytes(gzip.compress(gzip.compress(idx_bytes(bytes(4), (4,)))))
    with pytest.raises(IdxFormatError, match="twice.gz.*gzip-compressed twice"):
        read_idx(path)


def test_compressed_true_on_raw_file(tmp_path):
    path = put(tmp_path / "r", idx_bytes(bytes(4), (4,)))
    with pytest.raises(IdxFormatError, match="compressed=True.*1f 8b"):
        read_idx(path, compressed=True)


@pytest.mark.parametrize("gz", [False, True])
def test_bad_magic(tmp_path, gz):
    path = put(tmp_path / "m", idx_bytes(bytes(4), (4,), magic01=b"\x01\x00"), gz=gz)
    with pytest.raises(IdxFormatError, match=r"m: bad magic: expected the first two bytes to be "
                                             r"00 00, got 01 00"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_wrong_type_code(tmp_path, gz):
    path = put(tmp_path / "f32", idx_bytes(bytes(16), (4,), type_code=0x0D), gz=gz)
    with pytest.raises(IdxFormatError,
                       match=r"f32: unsupported type code: expected 0x08 \(unsigned byte\), "
                             r"got 0x0D \(float"):
        read_idx(path)


@pytest.mark.parametrize("ndim", [0, 5, 255])
def test_bad_number_of_dims(tmp_path, ndim):
    path = put(tmp_path / "d", idx_bytes(b"", (1,) * min(ndim, 5), ndim=ndim))
    with pytest.raises(IdxFormatError, match=f"number of dimensions: expected 1 to 4, got {ndim}"):
        read_idx(path)


def _peak_bytes_refusing(path, match):
    """Peak memory traced while read_idx(path) raises an IdxFormatError matching ``match``."""
    tracemalloc.start()
    try:
        with pytest.raises(IdxFormatError, match=match):
            read_idx(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("gz", [False, True])
def test_absurd_dimensions_fail_before_allocation(tmp_path, gz):
    path = put(tmp_path / "huge", idx_bytes(bytes(10), (100000, 100000, 1000)), gz=gz)
    peak = _peak_bytes_refusing(path, r"absurd dimensions \(100000, 100000, 1000\).*"
                                      f"over the limit of {MAX_IDX_BYTES}")
    assert peak < 1 << 20


def test_bogus_gz_header_fails_before_reading_payload(tmp_path):
    # 32 MB of payload behind a float32 type code: the reader must stop at the header.
    path = put(tmp_path / "big.gz", idx_bytes(bytes(32 << 20), (8 << 20,), type_code=0x0D), gz=True)
    assert _peak_bytes_refusing(path, "type code") < 4 << 20


def test_gz_declaring_2gib_with_empty_payload_fails_without_allocating_it(tmp_path):
    # A 32-byte gzip file whose header claims 2**31 bytes (the limit, so not "absurd"): the
    # declared size must not be allocated before the data proves it exists.
    path = put(tmp_path / "liar.gz", idx_bytes(b"", (2048, 1024, 1024)), gz=True)
    peak = _peak_bytes_refusing(path, r"liar\.gz: truncated: dimensions \(2048, 1024, 1024\) "
                                      r"need a payload of 2147483648 bytes, the decompressed "
                                      r"file holds 0")
    assert peak < 4 << 20


def test_gz_read_is_writable_and_exact(tmp_path, rng):
    images = rng.integers(0, 256, size=(3, 5, 7), dtype=np.uint8)
    write_idx(tmp_path / "w.gz", images)
    out = read_idx(tmp_path / "w.gz")
    assert out.flags.writeable and out.shape == (3, 5, 7)
    np.testing.assert_array_equal(out, images)


def test_truncated_raw_payload(tmp_path):
    path = put(tmp_path / "short", idx_bytes(bytes(700), (1, 28, 28)))
    with pytest.raises(IdxFormatError, match=r"short: truncated: dimensions \(1, 28, 28\) need a "
                                             r"payload of 784 bytes, the file holds 700"):
        read_idx(path)


def test_trailing_raw_bytes(tmp_path):
    path = put(tmp_path / "long", idx_bytes(bytes(790), (1, 28, 28)))
    with pytest.raises(IdxFormatError,
                       match="long: trailing bytes: .* 784 bytes, the file holds 790"):
        read_idx(path)


def test_truncated_gz_payload(tmp_path):
    path = put(tmp_path / "short.gz", idx_bytes(bytes(700), (1, 28, 28)), gz=True)
    with pytest.raises(IdxFormatError, match="short.gz: truncated: .* 784 bytes, the decompressed "
                                             "file holds 700"):
        read_idx(path)


def test_trailing_gz_payload(tmp_path):
    path = put(tmp_path / "long.gz", idx_bytes(bytes(800), (1, 28, 28)), gz=True)
    with pytest.raises(IdxFormatError, match="long.gz: trailing bytes: .* 784 bytes, the "
                                             "decompressed file holds 800"):
        read_idx(path)


def test_cut_gzip_stream(tmp_path, rng):
    blob = gzip.compress(idx_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), (5000,)))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IdxFormatError, match="cut.gz: corrupt gzip stream"):
        read_idx(path)


@pytest.mark.parametrize("blob, expected", [
    (b"", "the file has 0 bytes"),
    (b"\x00\x00", "the file has 2 bytes"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x01",
     "3 dimensions need 12 bytes of sizes after the magic, got 4"),
])
def test_truncated_header(tmp_path, blob, expected):
    path = put(tmp_path / "h", blob)
    with pytest.raises(IdxFormatError, match=f"truncated header: .*{expected}"):
        read_idx_header(path)


# -- pairs ---------------------------------------------------------------------------------------

def test_load_pair(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1], np.uint8)
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l.gz", labels)
    x, y = load_idx_pair(tmp_path / "i.gz", tmp_path / "l.gz")
    np.testing.assert_array_equal(x, images)
    assert y.dtype == np.int64 and y.tolist() == [0, 9, 3, 3, 1]


def test_count_mismatch_checked_before_payload(tmp_path):
    write_idx(tmp_path / "i", np.zeros((60, 2, 2), np.uint8))
    # The gzipped labels payload is truncated too (only visible when read): the count check
    # must come first, from the headers alone.
    put(tmp_path / "l", idx_bytes(bytes(3), (59,)), gz=True)
    with pytest.raises(IdxCountMismatchError,
                       match=r"count mismatch: .*i holds 60 images but .*l holds 59 labels"):
        load_idx_pair(tmp_path / "i", tmp_path / "l")


def test_label_out_of_range(tmp_path):
    write_idx(tmp_path / "i", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "l", np.array([1, 2, 10, 12], np.uint8))
    with pytest.raises(IdxLabelRangeError, match=r"label 10 at index 2 is out of range: expected "
                                                 r"0 <= label < num_classes=10 \(2 labels out of "
                                                 r"range, max 12\)"):
        load_idx_pair(tmp_path / "i", tmp_path / "l")
    _, y = load_idx_pair(tmp_path / "i", tmp_path / "l", num_classes=13)
    assert y.max() == 12


def test_labels_must_be_1d(tmp_path):
    write_idx(tmp_path / "i", np.zeros((4, 2), np.uint8))
    write_idx(tmp_path / "l", np.zeros((4, 2), np.uint8))
    with pytest.raises(IdxFormatError, match=r"labels must be 1-D, got shape \(4, 2\)"):
        load_idx_pair(tmp_path / "i", tmp_path / "l")


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_num_classes_validated(tmp_path, bad):
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        load_idx_pair(tmp_path / "i", tmp_path / "l", num_classes=bad)


# -- gzip bombs: refused from the header, before the body is decompressed (issue 20, item 7) ---

def _zeros_gz(path: Path, dims: tuple[int, ...], body_bytes: int) -> Path:
    """A gzip IDX file declaring ``dims`` whose body is ``body_bytes`` zeros (a bomb: about
    1/1000 of that on disk), compressed in 1 MiB pieces so building it stays small."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    parts = [co.compress(idx_bytes(b"", dims))]
    block = bytes(1 << 20)
    for start in range(0, body_bytes, len(block)):
        parts.append(co.compress(block[:body_bytes - start]))
    path.write_bytes(b"".join(parts) + co.flush())
    return path


def _peak_bytes(call, error, match):
    """Peak memory traced while ``call()`` raises ``error`` matching ``match``."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bomb_of_the_wrong_image_shape_is_refused_from_the_header(tmp_path):
    """The issue's bomb declares (1, 46340, 46340) images (2 GiB); here one declaring
    (1, 4096, 4096) holds its 16 MiB of zeros in 16 kB. Told what it expects, the reader
    refuses it from the header: nothing is decompressed past the 16 header bytes."""
    path = _zeros_gz(tmp_path / "bomb.gz", (1, 4096, 4096), 16 << 20)
    assert path.stat().st_size < 64 << 10
    match = (r"bomb\.gz: expected items of shape \(N, 28, 28\), the header declares "
             r"\(1, 4096, 4096\)")
    for call in (lambda: read_idx(path, item_shape=(28, 28)),
                 lambda: read_idx_header(path, item_shape=(28, 28))):
        assert _peak_bytes(call, IdxFormatError, match) < 1 << 20
    huge = put(tmp_path / "huge.gz", idx_bytes(bytes(3), (1, 46340, 46340)), gz=True)
    with pytest.raises(IdxFormatError, match=r"expected items of shape \(N, 28, 28\), the "
                                             r"header declares \(1, 46340, 46340\)"):
        read_idx(huge, item_shape=(28, 28))
    assert read_idx(path).shape == (1, 4096, 4096)  # nothing expected: a valid file


def test_gzip_declaring_more_than_deflate_can_expand_to_is_refused_from_the_header(tmp_path):
    """Deflate expands at most 1032:1, so a 33 kB file cannot hold the 64 MiB its header
    declares: refused before the 32 MiB it does hold are decompressed."""
    n = (64 << 20) // 784
    path = _zeros_gz(tmp_path / "liar.gz", (n, 28, 28), 32 << 20)
    size = path.stat().st_size
    match = (rf"liar\.gz: truncated: dimensions \({n}, 28, 28\) need a payload of {n * 784} "
             rf"bytes, the decompressed file holds 0 to {1032 * size - 16} bytes \(a {size}-byte "
             r"gzip file decompresses to at most 1032 times its size\)")
    assert _peak_bytes(lambda: read_idx(path), IdxFormatError, match) < 1 << 20
    with pytest.raises(IdxFormatError, match=match):
        read_idx_header(path)


def test_pair_declaring_more_items_than_the_split_is_refused_from_the_headers(tmp_path):
    """A pair declaring 3,000 images where the split holds at most 1,000: refused from the
    headers, before either body is read (the issue's pair declared 2.7 million)."""
    images = _zeros_gz(tmp_path / "i.gz", (3000, 28, 28), 3000 * 784)
    labels = _zeros_gz(tmp_path / "l.gz", (3000,), 3000)
    match = (r"i\.gz: too many items: expected at most 1000, the header declares 3000 "
             r"\(shape \(3000, 28, 28\)\)")
    peak = _peak_bytes(lambda: load_idx_pair(images, labels, item_shape=(28, 28),
                                             max_items=1000), IdxFormatError, match)
    assert peak < 1 << 20
    with pytest.raises(IdxFormatError, match=r"l\.gz: too many items: expected at most 1000, "
                                             r"the header declares 3000"):
        read_idx(labels, max_items=1000)
    x, y = load_idx_pair(images, labels, item_shape=(28, 28), max_items=3000)
    assert x.shape == (3000, 28, 28) and y.shape == (3000,)
    with pytest.raises(IdxFormatError, match=r"i\.gz: expected items of shape \(N, 14, 56\), "
                                             r"the header declares \(3000, 28, 28\)"):
        load_idx_pair(images, labels, item_shape=(14, 56))


@pytest.mark.parametrize("bad", [-1, 2.0, True, "28"])
def test_expectations_are_validated(tmp_path, bad):
    path = put(tmp_path / "x", idx_bytes(bytes(4), (4,)))
    with pytest.raises(ValueError, match="max_items must be an int >= 0"):
        read_idx(path, max_items=bad)
    with pytest.raises(ValueError, match="item_shape must be a tuple of ints >= 0"):
        read_idx(path, item_shape=(bad,))


def test_trailing_bomb_is_refused_after_a_bounded_read(tmp_path):
    """One image followed by 64 MiB of zeros (64 kB on disk): the trailing bytes are
    refused without decompressing them all to count them."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [co.compress(idx_bytes(bytes(784), (1, 28, 28)))]
    parts += [co.compress(bytes(1 << 20)) for _ in range(64)]
    path = tmp_path / "tail.gz"
    path.write_bytes(b"".join(parts) + co.flush())
    with pytest.raises(IdxFormatError, match=r"tail\.gz: trailing bytes: dimensions "
                                             r"\(1, 28, 28\) need a payload of 784 bytes, the "
                                             r"decompressed file holds more than 1049360"):
        read_idx(path)
