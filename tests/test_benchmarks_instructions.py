"""The instruction-count tool: parsing, the per-op arithmetic, the child run, the report.

Valgrind itself is not run here (a count takes about a minute per framework); the child that
runs under it is run directly, and the counts come from a stand-in counter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the benchmarks folder is not installed with chainrule
    sys.path.insert(0, str(REPO))

from benchmarks import instructions as bi  # noqa: E402

FORWARD, BACKWARD, BASE = {"chainrule": 20_000, "torch": 11_000}, \
    {"chainrule": 40_000, "torch": 24_000}, 5_000_000


def fake_counter(framework: str, length: int, chains: int, backward: bool) -> int:
    """What callgrind would say if each op cost exactly FORWARD (+ BACKWARD) instructions."""
    per_op = FORWARD[framework] + (BACKWARD[framework] if backward else 0)
    return BASE + chains * length * per_op


def test_parse_collected_reads_callgrinds_summary_line():
    stderr = "==41== Callgrind, a call-graph generating cache profiler\n==41== \n" \
             "==41== Events    : Ir\n==41== Collected : 1,234,567\n==41== \n" \
             "==41== I   refs:      1,234,567\n"
    assert bi.parse_collected(stderr) == 1_234_567


def test_parse_collected_without_a_count_says_so():
    with pytest.raises(ValueError, match="no 'Collected : N' line"):
        bi.parse_collected("valgrind: command not found\n")


def test_measure_recovers_per_op_costs_from_three_runs():
    c = bi.measure("chainrule", 100, 3, fake_counter)
    assert (c.forward, c.backward, c.total) == (20_000, 40_000, 60_000)


def test_measure_rejects_an_empty_chain():
    with pytest.raises(ValueError, match="length and chains must be positive"):
        bi.measure("chainrule", 100, 0, fake_counter)


def test_table_has_the_ratio_row_when_both_frameworks_ran():
    text = bi.table([bi.measure(n, 10, 2, fake_counter) for n in ("chainrule", "torch")])
    assert "| chainrule | 20,000 | 40,000 | 60,000 |" in text
    assert "| PyTorch | 11,000 | 24,000 | 35,000 |" in text
    assert "| ratio chainrule / PyTorch | 1.82x | 1.67x | 1.71x |" in text


def test_main_writes_json_and_markdown(tmp_path, capsys):
    assert bi.main(["--length", "10", "--chains", "2", "--out", str(tmp_path)],
                   counter=fake_counter) == 0
    data = json.loads((tmp_path / "instructions.json").read_text())
    assert [r["framework"] for r in data["results"]] == ["chainrule", "torch"]
    assert data["results"][0]["total"] == 60_000
    assert data["meta"]["length"] == 10 and data["meta"]["chains"] == 2
    assert data["meta"]["versions"]["numpy"] == np.__version__
    md = (tmp_path / "instructions.md").read_text()
    assert "ratio chainrule / PyTorch" in md and f"numpy {np.__version__}" in md
    assert "1.71x" in capsys.readouterr().out


def test_main_rejects_an_unknown_framework(tmp_path, capsys):
    assert bi.main(["--frameworks", "jax", "--out", str(tmp_path)], counter=fake_counter) == 2
    assert "unknown framework" in capsys.readouterr().err
    assert not (tmp_path / "instructions.json").exists()


def test_command_runs_the_child_under_callgrind():
    cmd = bi._command("torch", 1000, 10, True)
    i = cmd.index("valgrind")
    assert cmd[i:i + 4] == ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                            sys.executable]
    assert cmd[-5:] == ["--child", "torch", "1000", "10", "1"]


@pytest.mark.parametrize("framework", ["chainrule", "torch"])
def test_child_runs_the_chain_and_exits_cleanly(framework):
    if framework == "torch":
        pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.instructions", "--child",
                           framework, "20", "2", "1"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
