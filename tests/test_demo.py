"""The demo, the project's main job: a quick run in-process (both scenarios),
a 2-process DistributedDataParallel run over gloo on CPU, the label noise,
the picture, the progress bar, and every flag checked before training."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("sklearn", reason="the demo needs the demo extra: pip install -e '.[demo]'")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from mixup_ext_demo import demo  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUNS = ["no mixing", "Mixup", "Mixup+CutMix elem"]


@pytest.mark.slow
def test_quick_run_trains_both_scenarios_and_draws(tmp_path, capsys):
    out = tmp_path / "demo.png"
    results = demo.main(["--quick", "--device", "cpu", "--out", str(out)])
    assert [(r.scenario, r.name) for r in results] == [(s, n) for s in ("clean", "40% noisy") for n in RUNS]
    for r in results:
        assert len(r.accuracy) == len(r.nll) == 3
        assert r.accuracy[-1] > 0.4, f"{r.scenario} {r.name} did not learn: {r.accuracy}"
        assert 0.0 <= r.ece <= 1.0 and r.seconds_per_epoch > 0
        assert (r.memorized is None) == (r.scenario == "clean")
        assert r.memorized is None or 0.0 <= r.memorized <= 1.0
    printed = capsys.readouterr().out
    assert "| labels | run | test accuracy | test NLL | ECE | noise memorized | s / epoch | backend |" in printed
    assert printed.count("| 40% noisy |") == 3 and printed.count("| clean |") == 3
    assert "--quick: 3 epochs is a smoke run" in printed
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 20_000
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["command"].endswith("--quick") and "3 epochs" in saved["setup"]
    assert [(r["labels"], r["run"]) for r in saved["runs"]] == [(r.scenario, r.name) for r in results]
    assert [r["accuracy"] for r in saved["runs"]] == [r.accuracy[-1] for r in results]


def test_label_noise_replaces_the_share_asked_by_a_wrong_class():
    data = demo.load_digits_split()
    noisy = demo.with_label_noise(data, 0.4, seed=3)
    changed = noisy.train_y != data.train_y
    assert torch.equal(changed, noisy.corrupted), "every corrupted label changed class, no other did"
    assert int(changed.sum()) == round(0.4 * len(data.train_y))
    assert torch.equal(noisy.test_y, data.test_y) and torch.equal(noisy.train_x, data.train_x), "test labels stay clean"
    assert noisy.train_y.min() >= 0 and noisy.train_y.max() < data.classes
    assert torch.equal(demo.with_label_noise(data, 0.4, seed=3).train_y, noisy.train_y), "seeded"
    assert torch.bincount(noisy.train_y[changed], minlength=10).min() > 0.5 * int(changed.sum()) / 10, (
        "wrong classes drawn uniformly"
    )


@pytest.mark.slow
def test_two_process_ddp_over_gloo(tmp_path):
    out = tmp_path / "ddp.png"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "mixup_ext.demo",
            "--ddp",
            "--quick",
            "--epochs",
            "2",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("| labels | run | test accuracy") == 1, "rank 0 alone prints"
    assert result.stdout.count("x2 ranks") == 6
    assert out.read_bytes()[:8] == PNG_MAGIC


GLOO_THREAD_SCRIPT = """
import os, torch, torch.distributed as dist
from mixup_ext_demo import demo
world = demo.setup_world(True, "cpu")
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 3))
model(torch.randn(2, 3)).sum().backward()
del model
dist.destroy_process_group()
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(sorted(n for n in names if "gloo" in n))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through Linux's /proc")
def test_ddp_leaves_no_gloo_thread_behind(tmp_path):
    """A gloo thread that outlives destroy_process_group can abort the rank at
    interpreter exit (see setup_world); one rank is enough to see one survive."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }
    result = subprocess.run(
        [sys.executable, "-c", GLOO_THREAD_SCRIPT], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", f"gloo threads alive after destroy: {result.stdout}"


def test_ddp_without_a_launcher_is_refused(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun"):
        demo.main(["--ddp", "--quick", "--device", "cpu"])


# Flags: all checked before any training ----------------------------------------


def test_out_names_a_file_or_a_folder_and_creates_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "pictures"
    existing.mkdir()
    default = demo.parse_args(["--device", "cpu"])
    assert (default.out, default.results) == (Path("mixup_demo/mixup_demo.png"), Path("mixup_demo/mixup_demo.json"))
    cases = {
        str(existing): existing / "mixup_demo.png",  # an existing folder: the picture goes inside
        "fresh/": tmp_path / "fresh" / "mixup_demo.png",  # a trailing slash: a folder, created
        "missing/deeper/pic.png": tmp_path / "missing" / "deeper" / "pic.png",  # created before training
        "plot.svg": tmp_path / "plot.svg",
    }
    for given, expected in cases.items():
        path = demo.parse_args(["--out", given, "--device", "cpu"]).out
        assert path.resolve() == expected.resolve(), given
        assert path.parent.is_dir(), f"{given}: the folder exists before any training"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--out", "results"], r"--out 'results': give a \.png, \.pdf, \.svg or \.jpg file, or a folder"),
        (["--data", "/nonexistent/images"], "--data '/nonexistent/images': no such folder"),
        (["--device", "tpu"], "--device 'tpu'"),
        (["--device", "banana"], "--device 'banana' is not a device"),
        (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got '0'"),
        (["--batch-size", "x"], "argument --batch-size: must be an integer >= 1, got 'x'"),
        (["--noise", "1"], r"argument --noise: must be in \[0, 1\)"),
        (["--smoothing", "-0.1"], r"argument --smoothing: must be in \[0, 1\)"),
        (["--mixup-alpha", "-1"], "argument --mixup-alpha: must be a number >= 0"),
        (["--mixup-alpha", "0", "--cutmix-alpha", "0"], "nothing to mix"),
    ],
)
def test_bad_flags_are_refused_before_training(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(demo, "train_one", lambda *a, **k: pytest.fail("trained despite a bad flag"))
    with pytest.raises(SystemExit):
        demo.main(argv)
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_plainly(capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(["--device", "cuda"])
    assert "--device cuda: this machine has no usable CUDA GPU" in capsys.readouterr().err


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag, default in [
        ("--epochs", "40"),
        ("--batch-size", "64"),
        ("--mixup-alpha", "0.4"),
        ("--cutmix-alpha", "1.0"),
        ("--mode", "elem"),
        ("--smoothing", "0.0"),
        ("--noise", "0.4"),
        ("--seed", "0"),
        ("--out", "mixup_demo/mixup_demo.png"),
    ]:
        block = text[text.index(f"\n  {flag} ") :]
        block = block[: block.find("\n  --", 3) if block.find("\n  --", 3) > 0 else None]  # this flag's entry only
        assert f"(default: {default})" in re.sub(r"\s+", " ", block), flag


# What it shows ---------------------------------------------------------------


def test_progress_bar_counts_the_steps(monkeypatch):
    """The bar must advance with every step (a postfix redraw used to show a stale 0/N)."""
    from tqdm import tqdm

    stream = io.StringIO()
    monkeypatch.setattr(
        demo,
        "_progress",
        lambda steps, description, world: tqdm(total=steps, desc=description, file=stream, mininterval=0, leave=True),
    )
    args = demo.parse_args(["--epochs", "1", "--device", "cpu", "--batch-size", "128"])
    data = demo.load_digits_split().to(torch.device("cpu"), slice(None))
    demo.train_one("clean", "no mixing", None, data, args, demo.World(), torch.device("cpu"))
    steps = -(-len(data.train_y) // 128)
    shown = [int(n) for n in re.findall(rf"(\d+)/{steps}", stream.getvalue())]
    assert shown[-1] == steps and sorted(set(shown)) == list(range(0, steps + 1)), shown
    assert "loss=" in stream.getvalue()


def test_picture_names_the_mode_marks_pastes_and_shows_every_epoch(tmp_path, monkeypatch):
    import matplotlib.figure
    from matplotlib.patches import Rectangle

    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    results = []
    for scenario, level in (("clean", 0.97), ("40% noisy", 0.8)):
        for k, name in enumerate(["no mixing", "Mixup", "Mixup+CutMix pair"]):
            accuracy = [0.1, 0.5] + [level + 0.01 * k] * 4
            results.append(demo.RunResult(scenario, name, accuracy, [1.0] * 6, 0.05, None, 0.1))
    boxes = torch.tensor([[-1, -1, -1, -1], [1, 5, 2, 6]]).repeat(8, 1)  # blends and pastes, alternating
    example = (torch.rand(16, 1, 8, 8), torch.arange(16) % 10, torch.arange(16).flip(0) % 10, torch.rand(16), boxes)
    demo.draw(results, example, "pair", tmp_path / "x.png")
    (fig,) = saved
    titles = [sub._suptitle.get_text() for sub in fig.subfigs if sub._suptitle is not None]
    assert any("pair mode" in t for t in titles) and not any("elem" in t for t in titles)
    samples = [ax for ax in fig.get_axes() if ax.get_title().startswith(("paste", "blend"))]
    assert [ax.get_title().split(":")[0] for ax in samples] == ["blend", "paste"] * 8
    assert all(
        any(isinstance(p, Rectangle) for p in ax.patches) == ax.get_title().startswith("paste") for ax in samples
    )
    accuracy_axes = [ax for ax in fig.get_axes() if ax.get_ylabel() == "test accuracy (%)"]
    assert len(accuracy_axes) == 2
    for ax, level in zip(accuracy_axes, (97, 80)):
        low, high = ax.get_ylim()
        assert low <= 10 and level + 2 <= high <= 100, (low, high)  # the first epoch (10%) is on the panel


def test_the_default_output_folder_is_ignored_by_the_checkout():
    """The README's main command may run in the clone: what it writes must
    leave `git status` clean."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    probe = root / "mixup_demo" / "mixup_demo.json"
    ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(probe)])
    assert ignored.returncode == 0, f"{probe.relative_to(root)} is not ignored by .gitignore"


@pytest.mark.slow
def test_the_package_imports_from_the_folder_above_the_clone(tmp_path):
    """From the folder that holds a clone named mixup_ext/ (a folder with no
    __init__.py), Python must still import the installed package, not take the
    clone for a namespace package."""

    def run(*argv):
        return subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    if run("-c", "import mixup_ext").returncode != 0:
        pytest.skip("mixup_ext is not installed (only importable from the checkout)")
    (tmp_path / "mixup_ext" / "csrc").mkdir(parents=True)  # what a clone looks like from above: no __init__.py
    found = run("-c", "import mixup_ext; print(mixup_ext.__file__)")
    assert found.returncode == 0 and found.stdout.strip().endswith("__init__.py"), found.stderr[-2000:]
    helped = run("-m", "mixup_ext.demo", "--help")
    assert helped.returncode == 0 and "--quick" in helped.stdout, helped.stderr[-2000:]


def test_a_quick_run_says_so_on_the_picture_and_counts_whole_epochs(tmp_path, monkeypatch):
    import matplotlib.figure

    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    results = [demo.RunResult("clean", name, [0.5, 0.6, 0.7], [1.0] * 3, 0.05, None, 0.1) for name in RUNS]
    example = (
        torch.rand(16, 1, 8, 8),
        torch.arange(16) % 10,
        torch.arange(16) % 10,
        torch.rand(16),
        torch.tensor([[-1, -1, -1, -1]]).repeat(16, 1),
    )
    for smoke in (True, False):
        demo.draw(results, example, "elem", tmp_path / "x.png", smoke=smoke)
        fig = saved.pop()
        title = fig._suptitle.get_text() if fig._suptitle is not None else ""
        assert ("smoke run" in title) == smoke
        for ax in (a for a in fig.get_axes() if a.get_xlabel() == "epoch"):
            fig.canvas.draw()
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
