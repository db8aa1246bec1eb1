"""The benchmark harness runs every case once at tiny sizes and writes well-formed tables.

No timing is asserted here: speed claims live in ``python -m benchmarks``, not in tests.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the benchmarks folder is not installed with chainrule
    sys.path.insert(0, str(REPO))

import chainrule as cr  # noqa: E402
from benchmarks import cases as bc  # noqa: E402
from benchmarks import framework as bf  # noqa: E402
from benchmarks import harness as bh  # noqa: E402
from benchmarks import memory as bm  # noqa: E402
from benchmarks import report as br  # noqa: E402
from benchmarks import timing as bt  # noqa: E402

TINY = bh.Options(repeats=1, warmup=0, tiny=True, memory=False, settle=0.0)


@pytest.fixture(scope="module")
def suite() -> br.SuiteResult:
    return bh.run_suite(TINY)


def _dataset_missing(result: br.CaseResult) -> bool:
    return result.case.key == "epoch" and result.error is not None \
        and "NotFound" in result.error


def test_every_case_runs_once_in_every_variant(suite: br.SuiteResult) -> None:
    assert [r.case.key for r in suite.results] == [c.key for c in bc.CASES]
    for r in suite.results:
        if _dataset_missing(r):
            continue
        assert r.error is None, f"{r.case.key}: {r.error}"
        assert [v.label for v in r.variants] == [v.label for v in r.case.variants]
        for v in r.variants:
            assert len(v.timing.samples) == 1 and v.timing.samples[0] > 0
            assert set(v.timing.phases) == set(r.case.phases)
        ratio = r.ratio(r.case.variants[0].label)
        assert math.isfinite(ratio) and ratio > 0
        if r.case.target is not None:
            assert r.passed in (True, False)


def _check_table(block: str, header: tuple[str, ...]) -> int:
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    assert lines[0] == "| " + " | ".join(header) + " |"
    assert set(lines[1]) <= {"|", "-"}
    for ln in lines:
        assert ln.count("|") == len(header) + 1, ln
    return len(lines) - 2


def test_markdown_tables_are_well_formed(suite: br.SuiteResult) -> None:
    md = br.render_markdown(suite)
    main, _, rest = md.partition("\n\n## ")
    main_table = main[main.index("| case"):]
    expected = sum(1 + len(c.phases) for c in bc.CASES if c.table == "main")
    assert _check_table(main_table, br.MAIN_HEADER) == expected
    impl = rest[rest.index("| kernel"):].split("\n\n")[0]
    assert _check_table(impl, br.IMPL_HEADER) == 4  # naive, im2col, fast, PyTorch
    for word in ("## Missed targets", "## Notes", "load average", "threads:",
                 "compiled kernels: "):
        assert word in md
    from chainrule.kernels import compiled

    assert suite.meta["compiled_kernels"].startswith("on" if compiled() else "off")
    assert "PASS" in md or "FAIL" in md


def test_an_error_stays_on_one_line_of_its_table() -> None:
    """An error message over several lines (a missing dataset lists the folders it searched)
    is one cell of the main table and one item of the missed targets."""
    case = next(c for c in bc.CASES if c.key == "epoch")
    failed = br.CaseResult(case, units=1, error="DatasetNotFoundError: not found in:\n"
                                                "  - /data | root\n  - ~/.cache\nTo get them: ...")
    suite = br.SuiteResult({}, [failed])
    md = br.render_markdown(suite)
    main_table = md[md.index("| case"):].split("\n\n")[0]
    assert _check_table(main_table, br.MAIN_HEADER) == 1
    assert "ERROR: DatasetNotFoundError: not found in: - /data / root - ~/.cache To get" in md
    assert "- epoch: ERROR DatasetNotFoundError: not found in: - /data | root - ~/.cache" in md
    assert suite.to_json()["results"][0]["error"] == failed.error  # the JSON keeps it whole


def test_results_are_written_as_json_and_markdown(suite: br.SuiteResult,
                                                  tmp_path: Path) -> None:
    json_path, md_path = br.write_results(suite, tmp_path)
    data = json.loads(json_path.read_text())
    assert md_path.read_text() == br.render_markdown(suite)
    assert {"meta", "results", "notes", "misses"} <= set(data)
    assert data["meta"]["threads"]["threads"] >= 1
    row = next(r for r in data["results"] if r["key"] == "conv1")
    assert {"ratio", "target", "pass", "variants", "mem_ratio"} <= set(row)
    assert [v["label"] for v in row["variants"]] == ["chainrule", "PyTorch"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "latest.md"]


def test_grad_runner_computes_every_gradient_and_reset_clears_them() -> None:
    for name in bf.FRAMEWORKS:
        runner = bc.setup_conv(bf.Framework(name), bf.Settings(tiny=True), name="t", n=2,
                               c=3, h=8, oc=4, k=3, pad=1)
        runner.step()
        for t in runner.inputs:
            assert t.grad is not None and tuple(t.grad.shape) == tuple(t.shape)
            assert str(t.grad.dtype).endswith("float32")
        runner.reset()
        assert all(t.grad is None for t in runner.inputs)


def test_memory_is_measured_in_a_fresh_process_per_framework() -> None:
    case = next(c for c in bc.CASES if c.key == "maxpool")
    for variant in case.variants:
        mem = bm.measure_memory(case, variant, bf.Settings(tiny=True), threads=1)
        assert mem.error is None, mem.error
        assert mem.rss_peak is not None and mem.rss_peak >= 0
        assert mem.alloc_peak is not None and mem.alloc_peak > 0
        assert mem.alloc_method


@pytest.mark.parametrize("name", ["lenet5", "mlp"])
def test_pytorch_mirrors_match_chainrules_models(name: str) -> None:
    ours = bc.build_model(bf.Framework("chainrule"), name)
    theirs = bc.build_model(bf.Framework("torch"), name)
    generic = {"lenet5": bc.lenet5, "mlp": bc.mlp}[name](cr)
    shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in generic.state_dict().items()} == shapes
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()
            if k in shapes} == shapes
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    if name == "mlp":
        x = x.reshape(3, 784)
    with cr.no_grad(), torch.no_grad():
        a = ours(cr.from_numpy(x)).numpy()
        b = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_select_cases_by_key_and_group() -> None:
    assert [c.key for c in bh.select_cases("conv1,pool")] == ["conv1", "maxpool"]
    assert {c.key for c in bh.select_cases("conv")} == {"conv1", "conv2", "conv3", "conv3x3",
                                                      "impls"}
    assert len(bh.select_cases(None)) == len(bc.CASES)
    with pytest.raises(ValueError, match="unknown case.*nope"):
        bh.select_cases("conv1,nope")


def test_ratio_verdicts_and_misses() -> None:
    case = bf.Case(key="k", groups=(), title="k", setup=lambda fw, s: bf.Runner(),
                   target=1.5, memory=True, mem_target=1.5)
    result = br.CaseResult(case, units=1, variants=[
        br.VariantResult("chainrule", "chainrule", bt.Timing([3.0, 2.0, 4.0]),
                         bm.MemoryResult(rss_peak=100)),
        br.VariantResult("PyTorch", "torch", bt.Timing([1.0, 1.0, 1.0]),
                         bm.MemoryResult(rss_peak=100))])
    assert result.ratio() == 3.0 and result.passed is False
    assert result.mem_ratio() == 1.0 and result.mem_passed is True
    assert br.misses([result]) == ["k: 3.00x vs target 1.5x (2.00x over)"]
    assert bt.iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == 2.0


def test_command_line_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--tiny", "--cases", "chain", "--repeats", "1", "--warmup", "0", "--no-memory",
            "--settle", "0", "--out", str(tmp_path)]
    assert bh.main(argv) == 0
    assert "1,000-op chain" in capsys.readouterr().out
    assert (tmp_path / "latest.json").is_file() and (tmp_path / "latest.md").is_file()
    assert bh.main(["--cases", "nope", "--out", str(tmp_path)]) == 2


def test_an_out_that_cannot_be_a_folder_fails_before_the_suite_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bh, "run_suite", lambda *a, **k: pytest.fail("the suite ran"))
    (tmp_path / "file").write_text("x")
    assert bh.main(["--tiny", "--out", str(tmp_path / "file" / "sub")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"benchmarks: error: --out {tmp_path / 'file' / 'sub'} is inside "
        f"{tmp_path / 'file'}, a file")
    assert bh.main(["--tiny", "--out", "/proc/bench"]) == 1
    assert "cannot write the results folder /proc/bench: " in capsys.readouterr().err


def test_profile_lands_in_the_report(tmp_path: Path) -> None:
    argv = ["--tiny", "--cases", "chain", "--repeats", "1", "--warmup", "0", "--no-memory",
            "--settle", "0", "--profile", "chain", "--out", str(tmp_path)]
    assert bh.main(argv) == 0
    md = (tmp_path / "latest.md").read_text()
    assert "## Profile" in md
    assert "file:function" in md or "pyinstrument is not installed" in md


def test_chainrule_bench_delegates_to_the_suite(tmp_path: Path) -> None:
    from chainrule.cli.main import main

    argv = ["bench", "--tiny", "--cases", "chain", "--repeats", "1", "--warmup", "0",
            "--no-memory", "--settle", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert json.loads((tmp_path / "latest.json").read_text())["results"][0]["key"] == "chain"


def test_chainrule_bench_without_a_checkout_explains(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from chainrule.cli import bench
    from chainrule.cli.main import main

    monkeypatch.setattr(bench, "_candidates", lambda: [tmp_path])
    assert main(["bench"]) == 1
    assert "source checkout" in capsys.readouterr().err


def test_importing_chainrule_does_not_import_the_suite() -> None:
    code = ("import sys, chainrule, chainrule.cli.main, chainrule.cli.bench; "
            "assert 'benchmarks' not in sys.modules, 'imported'; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(REPO / "tests"),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


class _CountingRunner(bf.Runner):
    """A runner that records its calls and reports fixed phase times."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def reset(self) -> None:
        self.calls.append("reset")

    def step(self) -> dict[str, float]:
        self.calls.append("step")
        return {"forward": 1.0, "backward": 3.0}


def test_steps_per_sample_fills_the_minimum_and_stays_bounded() -> None:
    assert bt.steps_per_sample(0.01, 0.05) == 5
    assert bt.steps_per_sample(0.011, 0.05) == 5  # ceil(4.5)
    assert bt.steps_per_sample(2.0, 0.05) == 1  # a long step is its own sample
    assert bt.steps_per_sample(0.01, 0.0) == 1  # --min-sample 0: single steps
    assert bt.steps_per_sample(0.0, 0.05) == 1  # no warm-up timing
    assert bt.steps_per_sample(1e-9, 0.05) == bt.MAX_STEPS_PER_SAMPLE


def test_a_sample_is_the_mean_of_back_to_back_steps_each_after_a_reset() -> None:
    runner = _CountingRunner()
    seconds, phases = bt.timed_sample(runner, steps=3)
    assert runner.calls == ["reset", "step"] * 3
    assert phases == {"forward": 1.0, "backward": 3.0}  # means of the reported phases
    assert 0 < seconds < 1


def test_time_variants_sizes_samples_from_the_warm_up() -> None:
    fast, one = _CountingRunner(), _CountingRunner()
    timings = bt.time_variants([("fast", fast), ("one", one)], warmup=1, repeats=2,
                               settle=0.0, min_sample=1.0)
    assert timings["fast"].steps > 1  # a step of microseconds: many per sample
    assert len(timings["fast"].samples) == 2 and len(timings["fast"].phases["forward"]) == 2
    assert fast.calls.count("step") == 1 + 2 * timings["fast"].steps
    timings = bt.time_variants([("one", one)], warmup=1, repeats=2, settle=0.0, min_sample=0)
    assert timings["one"].steps == 1
