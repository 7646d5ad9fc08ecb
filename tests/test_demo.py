"""The demo, the project's main job: a quick run in-process, a 2-process
DistributedDataParallel run over gloo on CPU, and its argument checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn", reason="the demo needs the demo extra: pip install -e '.[demo]'")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from mixup_ext import demo  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_quick_run_trains_three_ways_and_draws(tmp_path, capsys):
    out = tmp_path / "demo.png"
    results = demo.main(["--quick", "--device", "cpu", "--out", str(out)])
    assert [r.name for r in results] == ["no mixing", "Mixup", "Mixup+CutMix elem"]
    for r in results:
        assert len(r.accuracy) == len(r.nll) == 3
        assert r.accuracy[-1] > 0.5, f"{r.name} did not learn: {r.accuracy}"
        assert 0.0 <= r.ece <= 1.0 and r.seconds_per_epoch > 0
    printed = capsys.readouterr().out
    assert "| run | test accuracy | test NLL | ECE | s / epoch | backend |" in printed
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 20_000


@pytest.mark.slow
def test_two_process_ddp_over_gloo(tmp_path):
    out = tmp_path / "ddp.png"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "mixup_ext.demo", "--ddp", "--quick", "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("| run | test accuracy") == 1, "rank 0 alone prints"
    assert "x2 ranks" in result.stdout
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_ddp_without_a_launcher_is_refused(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun"):
        demo.main(["--ddp", "--quick", "--device", "cpu"])
