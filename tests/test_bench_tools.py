"""The benchmark tools fail early and plainly when something they need is
missing, instead of crashing after minutes of measuring or deep in CUDA."""

from __future__ import annotations

import sys

import pytest
import torch

import bench.__main__ as bench_main
from bench import harness, needs, profile, tune


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize(
    "tool,argv,message",
    [
        (profile, [], "bench.profile profiles the CUDA kernels, so it needs a CUDA GPU"),
        (tune, [], "bench.tune times block shapes of the CUDA kernels, so it needs a CUDA GPU"),
        (bench_main, ["--device", "cuda"], "python -m bench --device cuda times CUDA kernels, so it needs a CUDA GPU"),
        (bench_main, ["--suite", "mixup_loss", "--device", "cuda"], "python -m bench --device cuda times CUDA kernels"),
    ],
)
def test_gpu_tools_on_a_cpu_machine_say_so(no_cuda, monkeypatch, tool, argv, message):
    monkeypatch.setattr(sys, "argv", [tool.__name__, *argv])
    with pytest.raises(SystemExit, match=message) as exit_info:
        tool.main()
    assert "python -m bench --device cpu" in str(exit_info.value)


def test_plot_without_matplotlib_fails_before_measuring(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setattr(harness, "run", lambda *a, **k: pytest.fail("measured before checking --plot"))
    monkeypatch.setattr(sys, "argv", ["bench", "--device", "cpu", "--plot", str(tmp_path / "r.png")])
    with pytest.raises(SystemExit, match=r"--plot needs matplotlib, which is not installed \(checked before measuring"):
        bench_main.main()


def test_requirements_pass_when_met(monkeypatch):
    pytest.importorskip("matplotlib")
    needs.matplotlib_or_exit("--plot")
    needs.device_or_exit("python -m bench", "cpu")


def test_unknown_suites_and_modes_are_refused_by_name(monkeypatch, capsys):
    for argv, words in (
        (["--suite", "fused_mixx"], "--suite: unknown fused_mixx"),
        (["--modes", "sideways"], "--modes: choose from forward, backward, full"),
    ):
        monkeypatch.setattr(sys, "argv", ["bench", "--device", "cpu", *argv])
        with pytest.raises(SystemExit):
            bench_main.main()
        assert words in capsys.readouterr().err


@pytest.mark.slow
def test_every_suite_runs_and_saves_on_the_cpu(tmp_path):
    """The whole harness end to end on the smallest CPU case of each suite:
    every provider of ours times, peers skip only when missing, every row
    has its ratio, and the JSON carries the environment."""
    import dataclasses
    import json

    from bench.suites import all_suites

    for suite in all_suites().values():
        small = min(suite.cases["cpu"], key=lambda c: getattr(c, "shape", (getattr(c, "batch", 0),))[0])
        one_case = dataclasses.replace(suite, cases={"cpu": [small]})
        rows = harness.run(one_case, "cpu", modes=None, memory=False)
        ours = {p.name for p in suite.providers if not p.peer and not p.cuda_only and p.applies(small)}
        assert ours <= {r["provider"] for r in rows}, suite.name
        assert all(r["ms"] > 0 and r["ratio"] is not None and r["gbps"] > 0 for r in rows), suite.name
    out = tmp_path / "r.json"
    bench_main.main(["--suite", "mixup_loss", "--device", "cpu", "--providers", "ce/fused", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert {"device", "torch", "commit", "backend", "threads", "cpu_vector_isa"} <= set(saved)
    assert {r["provider"] for r in saved["suites"]["mixup_loss"]["rows"]} == {"ce/fused"}


def test_every_provider_is_explained_and_the_output_says_how_to_read_it():
    from bench.suites import all_suites

    for suite in all_suites().values():
        for provider in suite.providers:
            assert suite.describe(provider.name).strip(), (suite.name, provider.name)
    suite = all_suites()["fused_mix"]
    rows = [
        dict(
            case="c",
            provider=p,
            mode="forward",
            ms=1.0,
            host_ms=1.0,
            gbps=1.0,
            versus="clone",
            ratio=1.0,
            peak_mib=None,
        )
        for p in ("clone", "fused")
    ]
    cpu, gpu = (
        harness.markdown(suite, rows, ["timm_elem on c: ImportError: no timm"], "cpu"),
        harness.markdown(suite, rows, [], "cuda"),
    )
    assert "Lower is better" in cpu and "- `fused`: `torch.ops.mixup.fused_mix`" in cpu
    assert "host ms" not in cpu and "| host ms |" in gpu  # on the CPU a call's host time is its time
    assert cpu.count("timm_elem on c") == 1


def test_save_takes_only_a_full_run(monkeypatch, capsys):
    monkeypatch.setattr(harness, "run", lambda *a, **k: pytest.fail("measured before checking --save"))
    for argv in (["--save", "--quick"], ["--save", "--suite", "fused_mix"]):
        with pytest.raises(SystemExit):
            bench_main.main(["--device", "cpu", *argv])
        assert "--save writes a results file: one full run of every suite" in capsys.readouterr().err


def test_quick_runs_one_case_a_suite(monkeypatch, capsys):
    import dataclasses

    from bench.suites import all_suites

    suite = all_suites()["mixup_loss"]
    many = dataclasses.replace(suite, cases={"cpu": suite.cases["cpu"] * 3})
    monkeypatch.setattr(harness, "QUICK", True)
    rows = harness.run(many, "cpu", providers=["ce/fused"], memory=False)
    assert len({r["case"] for r in rows}) == 1 and {r["provider"] for r in rows} == {"ce/fused"}


def test_tune_rewrites_the_one_tuning_header(tmp_path):
    """bench.tune builds a variant by rewriting csrc/cuda/fused_mix_tuning.h:
    every setting it names must be a constant there, and nothing else moves."""
    from mixup_ext import _build

    text = (_build.csrc_dir() / tune.TUNING_HEADER).read_text()
    tuned = tune.tuning_header(text, dict(THREADS="256", UNROLL="1", SMALL_TILE_PERCENT="0", TARGETS_FIRST="0"))
    assert "inline constexpr int kThreads = 256;" in tuned and "inline constexpr int kUnroll = 1;" in tuned
    assert "inline constexpr int kSmallTilePercent = 0;" in tuned and "kTargetsFirst = false;" in tuned
    assert len(tuned.splitlines()) == len(text.splitlines())
    with pytest.raises(SystemExit, match="declares no kWarpSize"):
        tune.tuning_header(text, dict(WARP_SIZE="64"))
