"""``chainrule explain``: list, usage errors (exit 2), a traced run with its graph picture."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from chainrule import gallery
from chainrule.cli import explain as ex
from helpers import stub_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


@pytest.fixture
def stub_gallery(monkeypatch):
    """Replace the registry by a stub example (and one whose module is missing)."""
    monkeypatch.setitem(sys.modules, "chainrule_test_stub", stub_example())
    monkeypatch.setattr(gallery, "EXAMPLES", {"stub": "chainrule_test_stub",
                                              "missing": "chainrule_test_no_such_module"})
    return gallery.EXAMPLES


def test_list_shows_every_example_with_a_description(capsys):
    assert ex.main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(gallery.EXAMPLES)
    shop = [line for line in out if line.startswith("shop")][0]
    assert "shop graph" in shop


def test_unknown_example_exits_2_listing_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as info:
        ex.main(["nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: chainrule explain")
    assert "unknown example 'nope'" in err
    for name in gallery.EXAMPLES:
        assert name in err


@pytest.mark.parametrize("argv, message", [
    ([], "give an EXAMPLE"),
    (["shop", "--max-rows", "-1"], "--max-rows must be 0 (all rows) or more"),
    (["shop", "--format", "jpg"], "invalid choice"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        ex.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_explain_gate_prints_walkthrough_and_trace_and_writes_dot(tmp_path, capsys):
    assert ex.main(["gate", "--out", str(tmp_path), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== gate: The multiply gate")
    assert "z = x * y = 2 * 3 = 6" in out  # the walkthrough
    rows = [line for line in out.splitlines() if line.startswith("2    | backward")]
    assert len(rows) == 1
    cols = [c.strip() for c in rows[0].split(" | ")]
    assert cols[2] == "MulBackward0 (of 1)" and cols[5] == "5"
    assert cols[6] == "dz/dx = y = 3" and cols[7] == "x: 15"
    dot = (tmp_path / "gate.dot").read_text()
    assert "Mul" in dot and "grad 15" in dot and "value 6" in dot
    assert f"graph picture: {tmp_path / 'gate.dot'}" in out


@needs_dot
def test_explain_shop_writes_a_png_by_default(tmp_path, capsys):
    import matplotlib.image

    pytest.importorskip("chainrule.gallery.shop")
    assert ex.main(["shop", "--out", str(tmp_path / "pics")]) == 0
    png = tmp_path / "pics" / "shop.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert matplotlib.image.imread(png).std() > 0.05
    out = capsys.readouterr().out
    assert "apple: 2.2" in out and "orange_num: 165" in out


def test_stub_example_follows_the_contract(stub_gallery, tmp_path, capsys):
    assert ex.main(["stub", "--out", str(tmp_path), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert "q = 25; dq/da = 5, dq/db = 5" in out
    blocks: dict[str, list[str]] = {}
    step = ""
    for line in out.splitlines():
        if " | " in line:
            step = line.split(" | ")[0].strip() or step
            blocks.setdefault(step, []).append(line.split(" | ")[-1].strip())
    assert blocks["4"] == ["a: 5", "b: 4"]  # MulBackward of a * b, upstream 1
    assert blocks["3"] == ["out1: 1", "b: 1"]  # AddBackward passes the gradient through
    assert (tmp_path / "stub.dot").exists()


def test_max_rows_limits_the_printed_trace(stub_gallery, tmp_path, capsys):
    assert ex.main(["stub", "--out", str(tmp_path), "--format", "dot", "--max-rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "... 2 more rows" in out and "MulBackward" not in out
    assert ex.main(["stub", "--out", str(tmp_path), "--format", "dot", "--max-rows", "0"]) == 0
    assert "more rows" not in capsys.readouterr().out


def test_missing_example_module_is_exit_1(stub_gallery, tmp_path, capsys):
    assert ex.main(["missing", "--out", str(tmp_path)]) == 1
    assert "example 'missing' is not available" in capsys.readouterr().err
    assert ex.main(["--list"]) == 0
    assert "(not available" in capsys.readouterr().out


def test_example_without_graph_is_a_clear_error(stub_gallery, monkeypatch):
    monkeypatch.setattr(sys.modules["chainrule_test_stub"], "run", lambda verbose=False: {})
    with pytest.raises(TypeError, match="run\\(\\) must return a dict with a 'graph' key"):
        ex.explain("stub", format="dot")


def test_png_without_dot_program_is_exit_1(stub_gallery, monkeypatch, tmp_path, capsys):
    from chainrule.viz import graph as vg

    monkeypatch.setattr(vg.shutil, "which", lambda name: None)
    assert ex.main(["stub", "--out", str(tmp_path), "--format", "png"]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert ex.main(["stub", "--out", str(tmp_path)]) == 0  # default falls back to DOT
    assert (tmp_path / "stub.dot").exists()
    assert "install Graphviz for a PNG" in capsys.readouterr().out


def test_add_parser_registers_the_subcommand(stub_gallery, tmp_path, capsys):
    top = argparse.ArgumentParser(prog="chainrule")
    sub = top.add_subparsers(dest="command")
    ex.add_parser(sub)
    args = top.parse_args(["explain", "stub", "--out", str(tmp_path), "--format", "dot"])
    assert args.func is ex.run and args.func(args) == 0
    args = top.parse_args(["explain", "zzz"])
    with pytest.raises(SystemExit) as info:
        args.func(args)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[0].startswith("usage: chainrule explain")


def test_chainrule_main_dispatches_explain(capsys):
    main = pytest.importorskip("chainrule.cli.main")
    assert main.main(["explain", "--list"]) == 0
    assert "shop" in capsys.readouterr().out
    assert main.main(["explain", "nope"]) == 2


def test_python_dash_m_runs():
    proc = subprocess.run([sys.executable, "-m", "chainrule.cli.explain", "--list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "shop"


@pytest.mark.parametrize("flag", ["--out", "--docs"])
def test_out_or_docs_that_is_a_file_exits_2_without_traceback(stub_gallery, tmp_path, capsys,
                                                              flag):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for folder, message in [(afile, f"{flag} {afile} is not a folder"),
                            (afile / "pics", f"{flag} {afile / 'pics'} is inside {afile}, a file")]:
        with pytest.raises(SystemExit) as info:
            ex.main(["stub", flag, str(folder), "--format", "dot"])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: chainrule explain") and message in err
        assert "Traceback" not in err
    assert afile.read_text() == "not a folder"


def test_unwritable_out_is_exit_1_with_a_message(stub_gallery, tmp_path, monkeypatch, capsys):
    from chainrule.viz import graph as vg

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(vg, "write_atomic", refuse)
    assert ex.main(["stub", "--out", str(tmp_path / "pics"), "--format", "dot"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"chainrule explain: cannot write the graph picture into "
                          f"{tmp_path / 'pics'}: [Errno 13] Permission denied")
    assert "Traceback" not in err
