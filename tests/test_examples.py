"""Every script in examples/ runs as a plain script and prints its walkthrough."""
import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples():
    assert {p.stem for p in EXAMPLES} >= {"shop", "gate", "linear", "sigmoid", "neuron",
                                          "cnn_step", "shallow_cnn", "blobs", "lstm", "attention"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_script_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert len(capsys.readouterr().out.splitlines()) >= 3
