"""The benchmark tools fail early and plainly when something they need is
missing, instead of crashing after minutes of measuring or deep in CUDA."""

from __future__ import annotations

import sys

import pytest
import torch

from bench import loss_report, needs, profile, report, tune


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("tool,argv,message", [
    (profile, [], "bench.profile profiles the CUDA kernels, so it needs a CUDA GPU"),
    (tune, [], "bench.tune times block shapes of the CUDA kernels, so it needs a CUDA GPU"),
    (report, ["--device", "cuda"], "bench.report --device cuda times CUDA kernels, so it needs a CUDA GPU"),
    (loss_report, ["--device", "cuda"], "bench.loss_report --device cuda times CUDA kernels"),
])
def test_gpu_tools_on_a_cpu_machine_say_so(no_cuda, monkeypatch, tool, argv, message):
    monkeypatch.setattr(sys, "argv", [tool.__name__, *argv])
    with pytest.raises(SystemExit, match=message) as exit_info:
        tool.main()
    assert "python -m bench.report --device cpu" in str(exit_info.value)


def test_plot_without_matplotlib_fails_before_measuring(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setattr(report, "run", lambda *a, **k: pytest.fail("measured before checking --plot"))
    monkeypatch.setattr(sys, "argv", ["bench.report", "--device", "cpu", "--plot", str(tmp_path / "r.png")])
    with pytest.raises(SystemExit, match=r"--plot needs matplotlib, which is not installed \(checked before measuring"):
        report.main()


def test_requirements_pass_when_met(monkeypatch):
    pytest.importorskip("matplotlib")
    needs.matplotlib_or_exit("--plot")
    needs.device_or_exit("bench.report", "cpu")
