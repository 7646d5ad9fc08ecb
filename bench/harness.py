"""The one benchmark harness: suites of cases x providers, each provider a
forward, backward or full (forward + backward) step, timed and, on CUDA,
measured for peak memory, with the results saved as JSON beside the
environment (device, torch, commit, backend, threads).

A suite (bench/suites/) names its cases, how to build a case's inputs, its
providers, the provider every time is a ratio to (``x.clone()`` for the mix,
the fused op for the losses), and the bytes a provider must move at least.
``python -m bench`` runs suites and writes the tables; the pytest-benchmark
view (bench/test_bench.py) times the same providers one by one.

Timing (DEVLOG.md, "Method"): CUDA times are ``triton.testing.do_bench``
medians after warm-up (CUDA events by hand without triton); CPU times are
medians of repeated runs, each long enough for the timer. ``host ms`` is what
a call costs the host: on CUDA, calls issued back to back with no sync.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

MODES = ("forward", "backward", "full")


@dataclass(frozen=True)
class Provider:
    """One way to compute a case. ``make(inputs)`` returns the zero-argument
    step to time; ``applies(case)`` says whether it runs on a case at all."""

    name: str
    make: Callable[[dict], Callable[[], Any]]
    mode: str = "forward"
    peer: bool = False  # another library or hand-written code: skipped, not failed, when it cannot run
    cuda_only: bool = False
    applies: Callable[[Any], bool] = lambda case: True
    moves: float | Callable[[Any], float] = 1.0  # multiples of the case's floor bytes this step moves at least
    versus: str | None = None  # the provider this one's ratio is to (run before it); default: the suite's baseline


@dataclass(frozen=True)
class Suite:
    name: str
    cases: dict[str, list]  # device -> cases; a case has an ``id``
    setup: Callable[[Any, str], dict]  # (case, device) -> inputs
    providers: list[Provider]
    baseline: str  # the provider every ratio is to
    floor_bytes: Callable[[Any, dict], int]  # (case, inputs) -> the bytes a forward must move
    notes: str = ""
    extra: Callable[[str], dict] = field(default=lambda device: {})  # suite-level rows (e.g. collation costs)
    # What each provider times, in a few words, by name: the legend under the
    # suite's table and in docs/performance.md. A name of the form
    # "family/what" (the losses) is looked up by "what".
    about: dict[str, str] = field(default_factory=dict)

    def provider(self, name: str) -> Provider:
        return next(p for p in self.providers if p.name == name)

    def describe(self, name: str) -> str:
        family, _, what = name.rpartition("/")
        forward_only = family and what.endswith("_fwd")
        key = what.removesuffix("_fwd") if forward_only else what
        if key not in self.about:  # checked for every provider by tests/test_bench_tools.py
            raise KeyError(f"suite {self.name}: provider {name!r} has no description in its `about`")
        if forward_only:
            return f"{family}: the forward of `{family}/{key}` alone"
        return f"{family}: {self.about[key]}" if family else self.about[key]


# ---- timers -------------------------------------------------------------------


#: ``python -m bench --quick``: shorter timing, for a smoke run of every
#: provider (never for a results file).
QUICK = False


def time_cuda_ms(fn) -> float:
    try:
        from triton.testing import do_bench
    except ImportError:  # CUDA events by hand, the same method
        for _ in range(10):
            fn()
        times = []
        for _ in range(100):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times)
    return do_bench(fn, warmup=10 if QUICK else 50, rep=30 if QUICK else 300, return_mode="median")


def time_cpu_ms(fn, repeats: int | None = None) -> float:
    """Median over repeats of the mean time of a run of calls, each run at
    least ~2 ms long, so microsecond calls are not lost in timer noise."""
    repeats = repeats or (3 if QUICK else 21)
    start = time.perf_counter()
    for _ in range(3):
        fn()
    estimate_ms = (time.perf_counter() - start) * 1e3 / 3
    calls = max(1, min(2000, int(2.0 / max(estimate_ms, 1e-4))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) * 1e3 / calls)
    return statistics.median(times)


def time_host_ms(fn, device_ms: float, rounds: int = 15) -> float:
    """Host (CPU) time per call: calls issued back to back right after a sync,
    with no sync among them, median over rounds. Few enough calls that the
    launch queue never fills, so the host never waits for the GPU: what is
    measured is the Python, dispatch, autograd and launch cost of a call."""
    calls = max(3, min(50, int(20.0 / max(device_ms, 1e-3))))
    times = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) * 1e3 / calls)
    torch.cuda.synchronize()
    return statistics.median(times)


def peak_extra_mib(fn) -> float:
    """CUDA memory one call allocates beyond what was live before it (its
    outputs and temporaries at their peak), in MiB."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


# ---- environment ----------------------------------------------------------------


def commit() -> str:
    if os.environ.get("MIXUP_EXT_COMMIT"):
        return os.environ["MIXUP_EXT_COMMIT"]
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name() -> str:
    """The CPU's model, as /proc/cpuinfo names it, and its core count."""
    model = "CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def environment(device: str) -> dict:
    import mixup_ext

    name = torch.cuda.get_device_name() if device == "cuda" else cpu_name()
    return dict(
        device=name,
        torch=torch.__version__,
        commit=commit(),
        backend=mixup_ext.backend(),
        threads=torch.get_num_threads(),
        cpu_vector_isa=torch.ops.mixup._cpu_vector_isa(),
    )


# ---- running ----------------------------------------------------------------------


def selected(suite: Suite, device: str, providers: list[str] | None, modes: list[str] | None) -> list[Provider]:
    chosen = []
    for p in suite.providers:
        if providers and p.name not in providers and p.name != suite.baseline:
            continue
        if modes and p.mode not in modes and p.name != suite.baseline:
            continue
        if p.cuda_only and device != "cuda":
            continue
        chosen.append(p)
    return chosen


def build_step(provider: Provider, inputs: dict, case, skipped: list[str] | None = None) -> Callable[[], Any] | None:
    """The provider's step, or None (with a line saying why, printed and
    added to ``skipped``) for a peer that is not installed or cannot run this
    case. Our own providers never skip."""
    try:
        step = provider.make(inputs)
        if provider.peer:
            step()  # a peer may not handle this case at all (timm's CutMix on 2-D features)
        return step
    except Exception as e:  # noqa: BLE001 -- only peers and missing optional libraries are skipped
        if not provider.peer and not isinstance(e, ImportError):
            raise
        reason = f"{provider.name} on {case.id}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if skipped is not None:
            skipped.append(reason)  # listed once, under the suite's table
        else:
            print(f"skipping {reason}")
        return None


def _moves(provider: Provider, case) -> float:
    return provider.moves(case) if callable(provider.moves) else provider.moves


def run(
    suite: Suite,
    device: str,
    providers: list[str] | None = None,
    modes: list[str] | None = None,
    memory: bool = True,
    skipped: list[str] | None = None,
) -> list[dict]:
    """Every (case, provider) of the suite on ``device``: ms, host ms, GB/s,
    the ratio to the suite's baseline in the same run, and peak extra MiB.
    A provider that could not run is named in ``skipped``, with the reason."""
    timer = time_cuda_ms if device == "cuda" else time_cpu_ms
    chosen = selected(suite, device, providers, modes)
    rows = []
    cases = suite.cases.get(device, [])
    for case in cases[:1] if QUICK else cases:
        inputs = suite.setup(case, device)
        floor = suite.floor_bytes(case, inputs)
        times = {}
        for provider in sorted(chosen, key=lambda p: p.name != suite.baseline):  # the baseline first
            if not provider.applies(case):
                continue
            step = build_step(provider, inputs, case, skipped)
            if step is None:
                continue
            ms = timer(step)
            times[provider.name] = ms
            versus = provider.versus or suite.baseline
            rows.append(
                dict(
                    suite=suite.name,
                    case=case.id,
                    provider=provider.name,
                    mode=provider.mode,
                    ms=ms,
                    host_ms=time_host_ms(step, ms) if device == "cuda" else ms,
                    gbps=_moves(provider, case) * floor / (ms * 1e-3) / 1e9,
                    versus=versus,
                    ratio=ms / times[versus] if versus in times else None,
                    peak_mib=peak_extra_mib(step) if memory and device == "cuda" else None,
                )
            )
        del inputs
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def markdown(suite: Suite, rows: list[dict], skipped: list[str] | None = None, device: str = "cuda") -> str:
    """The suite's rows as a table (lower is better in every time column),
    then a legend of the providers it names and what was not run. On the
    CPU a call's host time is its time, so that column is left out."""
    gpu = device == "cuda"
    lines = [
        f"`{suite.name}`: times are medians; ratio = ms over `{suite.baseline}`'s ms in the same run (or over the "
        "provider a row names under `to`). Lower is better, except GB/s.",
        "",
        "| case | provider | mode | ms | " + ("host ms | " if gpu else "") + "GB/s | ratio | to | peak extra MiB |",
        "|---|---|---|---:|" + ("---:|" if gpu else "") + "---:|---:|---|---:|",
    ]
    for r in rows:
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        versus = "" if r["versus"] == suite.baseline else r["versus"]
        host = f"{r['host_ms']:.4f} | " if gpu else ""
        lines.append(
            f"| {r['case']} | {r['provider']} | {r['mode']} | {r['ms']:.4f} | {host}{r['gbps']:.0f} | {ratio} | "
            f"{versus} | {peak} |"
        )
    named = list(dict.fromkeys(r["provider"] for r in rows))
    lines += ["", "Providers:"] + [f"- `{name}`: {suite.describe(name)}" for name in named]
    if skipped:
        lines += ["", "Not run:"] + [f"- {reason}" for reason in skipped]
    return "\n".join(lines)
