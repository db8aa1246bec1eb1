"""Atomic writes' temporary files: their one naming, and the clean-up of those a killed write
leaves behind (only ours, only regular files, only in the folder given)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from chainrule.io import remove_stale_temps, save_checkpoint
from chainrule.io.files import atomic_path, temp_target

REPO = Path(__file__).resolve().parents[1]


def test_the_temp_names_the_writer_makes_are_the_ones_recognised(tmp_path):
    with atomic_path(tmp_path / "metrics.csv") as tmp:
        assert temp_target(tmp.name) == "metrics.csv"
        assert remove_stale_temps(tmp_path) == [tmp]  # (a live writer's temp looks stale)
        tmp.touch()


def test_only_our_stale_temps_are_removed(tmp_path):
    ours = [".checkpoint.safetensors.0123456789ab.tmp", ".checkpoint.json.fedcba987654.tmp",
            ".metrics.csv.00000000aaaa.tmp"]
    theirs = ["checkpoint.json", "notes.tmp", ".hidden.tmp", ".metrics.csv.0123.tmp",
              ".metrics.csv.0123456789AB.tmp", "x.checkpoint.json.0123456789ab.tmp",
              ".metrics.csv.0123456789ab.tmp.bak"]
    for name in ours + theirs:
        (tmp_path / name).write_text("x")
    (tmp_path / ".dir.0123456789ab.tmp").mkdir()           # a folder: not ours
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ours[0]).write_text("x")           # a subfolder: not searched
    os.symlink(tmp_path / "checkpoint.json", tmp_path / ".link.0123456789ab.tmp")
    removed = remove_stale_temps(tmp_path)
    assert removed == sorted(tmp_path / n for n in ours)
    left = sorted(os.listdir(tmp_path))
    assert left == sorted(theirs + [".dir.0123456789ab.tmp", "sub", ".link.0123456789ab.tmp"])
    assert (tmp_path / "sub" / ours[0]).exists()


def test_targets_limit_the_clean_up(tmp_path):
    a, b = ".a.json.0123456789ab.tmp", ".b.json.0123456789ab.tmp"
    for name in (a, b):
        (tmp_path / name).write_text("x")
    assert remove_stale_temps(tmp_path, ["a.json"]) == [tmp_path / a]
    assert (tmp_path / b).exists()


def test_missing_folder_holds_nothing(tmp_path):
    assert remove_stale_temps(tmp_path / "absent") == []
    (tmp_path / "file").write_text("x")
    assert remove_stale_temps(tmp_path / "file") == []


def test_the_leftovers_of_a_save_killed_mid_write_are_removed(tmp_path):
    # A real kill: the process dies (os._exit) inside the weights write, after the temp
    # file was filled, as SIGKILL would leave it.
    save_checkpoint(tmp_path / "checkpoint", {"w": np.ones(3, np.float32)}, {"epoch": 1})
    script = textwrap.dedent(f"""
        import os, numpy as np
        import chainrule.io.files as files
        from chainrule.io import save_checkpoint
        files._fsync_file = lambda path: os._exit(9)
        save_checkpoint({str(tmp_path / "checkpoint")!r}, {{"w": np.zeros(3, np.float32)}},
                        {{"epoch": 2}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    stale = [p for p in tmp_path.iterdir() if temp_target(p.name)]
    assert [temp_target(p.name) for p in stale] == ["checkpoint.safetensors"]
    assert remove_stale_temps(tmp_path) == stale
    assert not any(temp_target(p.name) for p in tmp_path.iterdir())
