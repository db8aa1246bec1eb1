"""``chainrule.data.text``: reading UTF-8, the character vocabulary, splits and blocks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule.data import DataLoader
from chainrule.data.text import (CharBlocks, CharVocab, TextDataError, UnknownCharactersError,
                                 decode_text, min_text_length, read_text_file, split_ids,
                                 text_digest)
from chainrule.training.text import CharLMConfig, prepare_text


def test_read_text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffcafé\n".encode("utf-8"))
    assert read_text_file(path) == "café\n"  # the byte-order mark dropped
    with pytest.raises(FileNotFoundError):
        read_text_file(tmp_path / "absent.txt")


@pytest.mark.parametrize("data, match", [
    (b"ab\xff", r"t is not UTF-8 text: byte 0xff at offset 2"),
    (b"\xc3", r"byte 0xc3 at offset 0 cannot be decoded \(unexpected end of data\)"),
    (b"", r"t is empty: there is no text to train on"),
    (b"\xef\xbb\xbf", r"t is empty"),
])
def test_decode_text_errors(data, match):
    with pytest.raises(TextDataError, match=match):
        decode_text(data, "t")


def test_vocab_roundtrip_and_json():
    text = "Hello, wörld!\n"
    vocab = CharVocab.from_text(text)
    assert vocab.chars == sorted(set(text)) and len(vocab) == len(set(text))
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and vocab.decode(ids) == text
    again = CharVocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again == vocab
    long = text * 10_000  # the lookup-table path for long texts gives the same ids
    np.testing.assert_array_equal(vocab.encode(long), np.tile(ids, 10_000))


def test_vocab_unknown_characters():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(UnknownCharactersError, match=r"'z', 'é' are not in the vocabulary "
                                                     r"of 3 characters") as info:
        vocab.encode("azébz")
    assert info.value.chars == ["z", "é"]
    assert vocab.unknown("abc") == []


@pytest.mark.parametrize("chars", [[], ["ab"], ["a", "a"], "abc", [1, 2]])
def test_vocab_rejects_bad_json(chars):
    with pytest.raises(ValueError, match="CharVocab"):
        CharVocab.from_json(chars)


def test_split_and_the_shortest_text():
    assert min_text_length(4) == 10
    train, test = split_ids(np.arange(10), 4)
    assert len(train) == 5 and len(test) == 5  # one block of 5 each
    train, test = split_ids(np.arange(1000), 4)
    assert len(train) == 900 and len(test) == 100
    with pytest.raises(TextDataError, match=r"holds 9 characters, too few for block size 4: "
                                            r".* 10 in all"):
        split_ids(np.arange(9), 4)


def test_blocks_and_batches():
    ids = np.arange(20)
    ds = CharBlocks(ids, 5)
    assert len(ds) == 15
    x, y = ds[14]
    assert x.tolist() == [14, 15, 16, 17, 18] and y.tolist() == [15, 16, 17, 18, 19]
    xb, yb = ds.get_batch(np.array([0, 3]))
    assert xb.shape == yb.shape == (2, 5) and (yb - xb == 1).all()
    with pytest.raises(IndexError):
        ds[15]
    test = CharBlocks.evenly_spaced(np.arange(100), 5, count=4)
    assert len(test) == 4 and test.starts[0] == 0 and (np.diff(test.starts) >= 5).all()
    loader = DataLoader(ds, batch_size=4)
    xs, ys = next(iter(loader))
    assert tuple(xs.shape) == (4, 5) and str(xs.dtype) == "int64"
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        CharBlocks(ids, 0)
    with pytest.raises(ValueError, match="hold no block"):
        CharBlocks(np.arange(3), 3)


def test_prepare_text_and_digest():
    text = "abcdefghij" * 10
    splits = prepare_text(text, 8, 3, "t")
    assert len(splits.vocab) == 10 and splits.train_chars + splits.test_chars == 100
    assert len(splits.test) <= 3
    assert text_digest(text) == text_digest("abcdefghij" * 10) != text_digest(text + " ")
    with pytest.raises(UnknownCharactersError):
        prepare_text(text + "z", 8, 3, "t", vocab=splits.vocab)


def test_charlm_config_rules():
    assert CharLMConfig(model="gpt").lr == 1e-3 and CharLMConfig(model="lstm").lr == 2e-3
    cfg = CharLMConfig(layers=2, width=32, heads=4)
    assert cfg.model_overrides(50) == {"vocab_size": 50, "block_size": 64, "n_layer": 2,
                                       "n_embd": 32, "n_head": 4, "dropout": 0.0}
    assert CharLMConfig(model="lstm", width=32).model_overrides(9) == \
        {"vocab_size": 9, "hidden_size": 32, "dropout": 0.0}
    meta = {"model": "gpt", "train": cfg.train_meta()}
    assert CharLMConfig.from_meta(meta, epochs=9).epochs == 9
    with pytest.raises(ValueError, match="steps_per_epoch must be an int >= 1"):
        CharLMConfig(steps_per_epoch=0)
