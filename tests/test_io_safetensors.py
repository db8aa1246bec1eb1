"""safetensors: round trips, interoperability with the reference package, every malformed-file
fault, atomic writes and a byte-mutation fuzz that must only ever raise CheckpointError."""
from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.io import safetensors as st_mod
from chainrule.io.safetensors import CheckpointError, load_file, read_header, save_file

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


def random_array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


tensor_dicts = st.dictionaries(
    keys=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                 max_size=12).filter(lambda k: k != "__metadata__"),
    values=st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 4), max_size=4),
                     st.integers(0, 2**31)),
    max_size=5)


def build(spec) -> dict[str, np.ndarray]:
    return {k: random_array(np.random.default_rng(seed), dt, tuple(shape))
            for k, (dt, shape, seed) in spec.items()}


def raw_file(path: Path, header, buffer: bytes = b"", length: int | None = None) -> Path:
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if length is None else length) + blob + buffer)
    return path


# -- round trips and interoperability ------------------------------------------------------------

@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=tensor_dicts)
def test_round_trip_ours(tmp_path, spec):
    tensors = build(spec)
    path = tmp_path / "a.safetensors"
    save_file(tensors, path)
    out = load_file(path)
    assert set(out) == set(tensors)
    assert all(same_bits(out[k], tensors[k]) for k in tensors)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=tensor_dicts)
def test_interop_with_reference_package(tmp_path, spec):
    ref = pytest.importorskip("safetensors.numpy")
    tensors = build(spec)
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    save_file(tensors, ours, metadata={"by": "chainrule"})
    ref.save_file(tensors, str(theirs), metadata={"by": "reference"})
    from_ref = ref.load_file(str(ours))
    from_us = load_file(theirs)
    assert set(from_ref) == set(from_us) == set(tensors)
    for k in tensors:
        assert same_bits(from_ref[k], tensors[k]) and same_bits(from_us[k], tensors[k])


def test_load_bytes_reads_reference_bytes(rng):
    ref = pytest.importorskip("safetensors.numpy")
    tensors = {"a": rng.standard_normal((2, 3)).astype(np.float32),
               "b": np.arange(4, dtype=np.int8)}
    out, _ = st_mod.load_bytes(ref.save(tensors))
    assert all(same_bits(out[k], tensors[k]) for k in tensors)


def test_atomic_write_keeps_permissions(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"w": np.ones(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    save_file({"w": np.zeros(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_import_is_light():
    code = ("import sys, chainrule.io, chainrule.data; print(sorted(m for m in "
            "('safetensors', 'urllib.request', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_metadata_interop(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, path, metadata={"epoch": "3", "name": "lénet"})
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"epoch": "3", "name": "lénet"}
    assert read_header(path)[1] == {"epoch": "3", "name": "lénet"}


def test_layout_is_aligned_and_deterministic(tmp_path, rng):
    tensors = {"b": rng.integers(0, 9, 3).astype(np.uint8), "a": rng.standard_normal(3),
               "c": np.zeros(5, np.float16)}
    save_file(tensors, tmp_path / "1.safetensors")
    save_file(dict(reversed(tensors.items())), tmp_path / "2.safetensors")
    assert (tmp_path / "1.safetensors").read_bytes() == (tmp_path / "2.safetensors").read_bytes()
    entries, _ = read_header(tmp_path / "1.safetensors")
    n = struct.unpack("<Q", (tmp_path / "1.safetensors").read_bytes()[:8])[0]
    assert n % 8 == 0
    for name, info in entries.items():
        assert info["data_offsets"][0] % tensors[name].dtype.itemsize == 0


def test_loaded_arrays_are_writable_and_native(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"be": np.arange(4, dtype=">i4"), "t": np.arange(6.0).reshape(2, 3).T}, path)
    out = load_file(path)
    assert out["be"].tolist() == [0, 1, 2, 3] and out["be"].dtype == np.dtype("int32")
    np.testing.assert_array_equal(out["t"], np.arange(6.0).reshape(2, 3).T)
    out["t"][0, 0] = 42.0
    assert out["t"][0, 0] == 42.0


def test_tensors_are_accepted(tmp_path):
    class FakeTensor:
        def __init__(self, data):
            self._data = data

    save_file({"x": FakeTensor(np.ones(3, np.float32))}, tmp_path / "t.safetensors")
    assert load_file(tmp_path / "t.safetensors")["x"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("tensors, metadata, exc, msg", [
    ({"x": np.zeros(2, np.complex64)}, None, TypeError, "'x' has unsupported dtype complex64"),
    ({"x": np.array([object()])}, None, TypeError, "unsupported dtype object"),
    ({1: np.zeros(2)}, None, TypeError, "names must be str"),
    ({"__metadata__": np.zeros(2)}, None, ValueError, "reserved"),
    ({"x": [1, 2]}, None, TypeError, "must be a numpy array or Tensor, got list"),
    ({"x": np.zeros(2)}, {"epoch": 3}, TypeError, "metadata must be a dict of str -> str"),
])
def test_save_rejects_bad_input(tmp_path, tensors, metadata, exc, msg):
    with pytest.raises(exc, match=msg):
        save_file(tensors, tmp_path / "bad.safetensors", metadata=metadata)
    assert not (tmp_path / "bad.safetensors").exists()


# -- atomic writes -------------------------------------------------------------------------------

def test_failed_save_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_file({"w": np.ones(3)}, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_file({"w": np.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]  # the temporary file was removed


# -- malformed files -----------------------------------------------------------------------------

GOOD = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("header, buffer, length, msg", [
    (b"", b"", 5, None),  # replaced below: a file of 3 bytes
    (GOOD, bytes(8), 10**6,
     r"header length 1000000 runs past the end of the file \(expected at most"),
    (b"{not json", b"", None, "the header is not valid JSON"),
    (b"\xff\xfe{}", b"", None, "not valid UTF-8"),
    ([1, 2], b"", None, "the header must be a JSON object, got list"),
    ({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, bytes(2), None,
     r"tensor 'w': unknown dtype 'F8_E4M3'"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), None,
     r"tensor 'w': shape must be a list of non-negative ints, got \[-1\]"),
    ({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, bytes(8), None,
     "shape must be a list"),
    ({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, bytes(4), None,
     "shape must be a list"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4), None,
     r"tensor 'w': data_offsets \[0, 8\] out of range: the data buffer has 4 bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, bytes(8), None, "begin > end"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, bytes(8), None,
     r"data_offsets must be \[begin, end\]"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), None,
     r"tensor 'w': dtype F32 and shape \[3\] need 12 bytes, but data_offsets \[0, 8\] hold 8"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12), None,
     r"tensor 'b': data_offsets \[4, 12\] overlap tensor 'a', which ends at 8"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, bytes(12), None,
     r"tensor 'b': data_offsets start at 8, expected 4: a gap of 4 bytes after tensor 'a'"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), None,
     "a gap of 4 bytes after the start of the buffer"),
    (GOOD, bytes(11), None, "3 trailing bytes: the tensors end at byte 8 of the data buffer, "
                            "which has 11 bytes"),
    (b'{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": '
     b'{"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}', bytes(2), None, "names 'w' twice"),
    ({"__metadata__": {"epoch": 3}}, b"", None, "__metadata__ must be an object of str -> str"),
    ({"w": {"dtype": "F32", "shape": [2]}}, bytes(8), None,
     r"expected the keys \['data_offsets', 'dtype', 'shape'\], got \['dtype', 'shape'\]"),
    ({"w": [1]}, b"", None, "tensor 'w': expected an object"),
    ({"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4), None,
     "tensor 'w': shape has 65 dimensions, expected at most 64"),
    ({"w": {"dtype": "F32", "shape": [0, 2**70], "data_offsets": [0, 0]}}, b"", None,
     r"tensor 'w': shape \[0, 1180591620717411303424\] is too big for an array: its nonzero "
     r"dimensions span 4722366482869645213696 bytes of F32, over the limit of "
     r"9223372036854775807"),
    ({"w": {"dtype": "F32", "shape": [0, 2**31, 2**31], "data_offsets": [0, 0]}}, b"", None,
     "is too big for an array"),
    (b"[" * 100_000 + b"]" * 100_000, b"", None, "the header is nested too deeply to parse"),
    # what Python's json accepts but JSON does not (parse_json): NaN, overflow, long integers
    (b'{"w": {"dtype": "U8", "shape": [NaN], "data_offsets": [0, 1]}}', bytes(1), None,
     "the header holds NaN, which is not a JSON number"),
    (b'{"w": {"dtype": "U8", "shape": [1e999], "data_offsets": [0, 1]}}', bytes(1), None,
     "the header holds the number 1e999, beyond the range of a float"),
    (b'{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, ' + b"1" * 5000 + b']}}',
     bytes(1), None, "the header holds an integer of 5000 digits"),
    (b'{"__metadata__": {"a": "b"}, "__metadata__": {"a": "c"}}', b"", None,
     "the header names '__metadata__' twice in one object"),
])
def test_malformed_files(tmp_path, header, buffer, length, msg):
    path = tmp_path / "bad.safetensors"
    if msg is None:
        path.write_bytes(b"\x05\x00\x00")
        msg = "truncated: the file has 3 bytes, a safetensors file needs at least 8"
    else:
        raw_file(path, header, buffer, length)
    with pytest.raises(CheckpointError, match=msg) as info:
        load_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_zero_size_tensor_with_large_dims_loads(tmp_path):
    # prod(nonzero dims) * itemsize = 2**61 * 4 - 4 < 2**63: NumPy can represent it
    path = raw_file(tmp_path / "z.safetensors",
                    {"w": {"dtype": "F32", "shape": [0, 2**61 - 1], "data_offsets": [0, 0]}}, b"")
    assert load_file(path)["w"].shape == (0, 2**61 - 1)
    header, _ = read_header(path)
    assert header["w"]["shape"] == [0, 2**61 - 1]


def test_header_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(st_mod, "MAX_HEADER_BYTES", 16)
    path = raw_file(tmp_path / "big.safetensors", GOOD, bytes(8))
    with pytest.raises(CheckpointError, match="exceeds the limit of 16 bytes"):
        load_file(path)


def test_pickle_is_rejected_with_a_hint(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": np.zeros(3)}, protocol=4))
    with pytest.raises(CheckpointError, match="looks like a Python pickle.*never unpickles"):
        load_file(path)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_bytes_only_raise_checkpoint_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "f.safetensors"
    save_file({"a": np.arange(3, dtype=np.float32), "b": np.ones((2, 2), np.int16)}, path)
    blob = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    path.write_bytes(bytes(blob[:cut]) if data.draw(st.booleans()) else bytes(blob))
    try:
        out = load_file(path)
    except CheckpointError:
        return
    # When it loads, every tensor is consistent with its header.
    for name, arr in out.items():
        assert isinstance(arr, np.ndarray) and isinstance(name, str)


# -- bfloat16: read, widened exactly to float32 ------------------------------------------------

def test_bfloat16_from_safetensors_torch_loads_as_exact_float32(tmp_path):
    torch = pytest.importorskip("torch")
    ref = pytest.importorskip("safetensors.torch")
    values = torch.tensor([[1.0, -2.5, 3.140625], [float("inf"), -0.0, 1e-38]])
    bf16 = values.to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    ref.save_file({"w": bf16, "b": torch.arange(3)}, str(path))
    out = load_file(path)
    assert out["w"].dtype == np.float32 and out["w"].shape == (2, 3)
    assert out["w"].tobytes() == bf16.float().numpy().tobytes()  # bit-exact widening
    assert out["b"].tolist() == [0, 1, 2]
    assert read_header(path)[0]["w"]["dtype"] == "BF16"


def test_bfloat16_byte_count_is_checked(tmp_path):
    path = raw_file(tmp_path / "bad.safetensors",
                    {"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}}, bytes(4))
    with pytest.raises(CheckpointError, match=r"dtype BF16 and shape \[3\] need 6 bytes, but "
                                              r"data_offsets \[0, 4\] hold 4"):
        load_file(path)
