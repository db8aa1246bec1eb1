"""Strict JSON: what Python's json module accepts but a chainrule file never holds is refused
with a CheckpointError that names the file and the value (never a bare ValueError)."""
from __future__ import annotations

import json

import pytest

from chainrule.io import CheckpointError
from chainrule.io.jsonio import MAX_INT_DIGITS, int_fits, parse_json


@pytest.mark.parametrize("text, msg", [
    ('{"loss": NaN}', "f.json holds NaN, which is not a JSON number"),
    ('[Infinity]', "holds Infinity, which is not a JSON number"),
    ('{"a": [1, -Infinity]}', "holds -Infinity, which is not a JSON number"),
    ('[1e999]', "holds the number 1e999, beyond the range of a float"),
    ('[-1.5e400]', "holds the number -1.5e400, beyond the range of a float"),
    ("[" + "7" * 5000 + "]", r"holds an integer of 5000 digits \(7777777777.*\.\.\.\), over the "
                             r"limit of 100 digits"),
    ("[-" + "1" * (MAX_INT_DIGITS + 1) + "]", "holds an integer of 101 digits"),
    ('{"a": 1, "b": {"c": 2, "c": 3}}', "names 'c' twice in one object"),
    ("[" * 100_000 + "]" * 100_000, "f.json is nested too deeply to parse"),
])
def test_refused(text, msg):
    with pytest.raises(CheckpointError, match=msg):
        parse_json(text, "f.json")


def test_python_json_accepts_what_parse_json_refuses():
    # the reason for parse_json: each of these passes json.loads (or fails with a bare error)
    assert json.loads('[NaN, 1e999]')[1] == float("inf")
    assert json.loads('{"a": 1, "a": 2}') == {"a": 2}
    with pytest.raises(ValueError, match="Exceeds the limit"):
        json.loads("[" + "7" * 5000 + "]")


def test_accepted_values_are_those_of_json():
    text = ('{"big": ' + "9" * MAX_INT_DIGITS + ', "neg": -' + "9" * MAX_INT_DIGITS
            + ', "f": 1.5e300, "tiny": 5e-324, "s": "NaN", "l": [true, null]}')
    assert parse_json(text, "f.json") == json.loads(text)


def test_syntax_errors_are_left_to_the_caller():
    with pytest.raises(json.JSONDecodeError):
        parse_json("{not json", "f.json")


def test_int_fits_matches_the_parser():
    assert int_fits(10 ** MAX_INT_DIGITS - 1) and int_fits(-(10 ** MAX_INT_DIGITS - 1))
    assert not int_fits(10 ** MAX_INT_DIGITS) and not int_fits(-10 ** MAX_INT_DIGITS)
    parse_json(str(10 ** MAX_INT_DIGITS - 1), "f")
    with pytest.raises(CheckpointError):
        parse_json(str(10 ** MAX_INT_DIGITS), "f")
