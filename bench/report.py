"""Ratio report: each provider's median time as a ratio to ``x.clone()`` of the
same tensor, measured in the same run, plus the bandwidth of the floor's bytes.

    python -m bench.report                 # CUDA if visible, else CPU
    python -m bench.report --device cpu --json results.json

CUDA times come from ``triton.testing.do_bench`` (CUDA events, median after
warm-up); CPU times are the median of repeated wall-clock runs. ``host ms`` is
the CPU time a call costs the host (on CUDA: calls enqueued back to back with
no sync, see time_host_ms), which bounds small steps however fast the kernels.
The ``hidden_mix_*`` rows time a whole small training step (Manifold Mixup:
the mix inside the model), so compare them with each other, not with clone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import torch

from . import needs
from .cases import (
    ALL_PROVIDERS,
    BACKWARD_PROVIDERS,
    CPU_CASES,
    CUDA_CASES,
    CUDA_ONLY_PROVIDERS,
    HIDDEN_MIX_PROVIDERS,
    PEER_PROVIDERS,
    PROVIDERS,
    backend,
    setup,
)


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
    return do_bench(fn, warmup=50, rep=300, return_mode="median")


def time_cpu_ms(fn, repeats: int = 21) -> float:
    """Median over repeats of the mean time of a run of calls, each run at
    least ~2 ms long, so microsecond calls are not lost in timer noise."""
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


def commit() -> str:
    if os.environ.get("MIXUP_EXT_COMMIT"):
        return os.environ["MIXUP_EXT_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(device: str, providers: list[str]) -> list[dict]:
    cases = CUDA_CASES if device == "cuda" else CPU_CASES
    timer = time_cuda_ms if device == "cuda" else time_cpu_ms
    rows = []
    for case in cases:
        inputs = setup(case, device)
        floor_bytes = case.bytes_moved(inputs["x"])
        clone_ms = timer(PROVIDERS["clone"](inputs))
        fused_ms = None
        for provider in providers:
            if device != "cuda" and provider in CUDA_ONLY_PROVIDERS:
                continue
            if provider in HIDDEN_MIX_PROVIDERS and not case.hidden_mix:
                continue
            if provider == "clone":
                ms = clone_ms
            else:
                try:
                    fn = PROVIDERS[provider](inputs)
                    if provider in PEER_PROVIDERS:
                        fn()  # a peer may not handle this case at all (timm's CutMix on 2-D features)
                except Exception as e:  # noqa: BLE001 -- only peers and missing optional libraries are skipped
                    if provider not in PEER_PROVIDERS and not isinstance(e, ImportError):
                        raise
                    print(f"skipping {provider} on {case.id}: {type(e).__name__}: {e}")
                    continue
                ms = timer(fn)
            # On the CPU the host time is the time; on CUDA it is measured apart.
            host_ms = ms if device != "cuda" else time_host_ms(PROVIDERS[provider](inputs) if provider == "clone" else fn, ms)
            if provider == "fused":
                fused_ms = ms
            # forward+backward moves the floor's bytes twice (x in/out, grad in/out)
            moved = floor_bytes * (2 if provider in BACKWARD_PROVIDERS else 1)
            rows.append(dict(case=case.id, provider=provider, ms=ms, host_ms=host_ms, gbps=moved / (ms * 1e-3) / 1e9,
                             x_clone=ms / clone_ms, x_fused=ms / fused_ms if fused_ms else None))
        del inputs
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| case | provider | ms | host ms | GB/s | × clone | × fused |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        vs_fused = f"{r['x_fused']:.2f}" if r["x_fused"] is not None else ""
        lines.append(
            f"| {r['case']} | {r['provider']} | {r['ms']:.4f} | {r['host_ms']:.4f} | {r['gbps']:.0f} | {r['x_clone']:.2f} | {vs_fused} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    """One group of bars per case, one bar per provider: time as a multiple of
    x.clone() on a log axis (the peers span 1x to over 100x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r["case"] for r in rows))
    providers = [p for p in dict.fromkeys(r["provider"] for r in rows) if p != "clone" and p not in HIDDEN_MIX_PROVIDERS]
    ratio = {(r["case"], r["provider"]): r["x_clone"] for r in rows}
    width = 0.8 / len(providers)
    fig, ax = plt.subplots(figsize=(max(10, 1.6 * len(cases)), 5.5))
    cmap = plt.get_cmap("tab20")
    for k, provider in enumerate(providers):
        xs = [i + (k - (len(providers) - 1) / 2) * width for i, c in enumerate(cases) if (c, provider) in ratio]
        ys = [ratio[(c, provider)] for c in cases if (c, provider) in ratio]
        bold = provider.startswith("fused") or provider == "mixup_elem"
        ax.bar(xs, ys, width, label=provider, color=cmap(k % 20), edgecolor="black" if bold else "none", linewidth=1.2)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="x.clone() (the floor)")
    ax.set_yscale("log")
    ax.set_ylabel("time / x.clone() time (log; lower is better)")
    ax.set_xticks(range(len(cases)), cases, rotation=20, ha="right", fontsize=8)
    ax.set_title(f"mixup_ext vs peers -- {meta['device']}, torch {meta['torch']}, commit {meta['commit']}", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--providers", default=",".join(ALL_PROVIDERS))
    parser.add_argument("--json", type=Path, help="also write the rows and the environment here")
    parser.add_argument("--plot", type=Path, help="also draw the ratios to clone as a bar chart (PNG, needs matplotlib)")
    parser.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads); default: torch's")
    args = parser.parse_args()
    needs.device_or_exit("bench.report", args.device)
    if args.plot:
        needs.matplotlib_or_exit("--plot")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.device, args.providers.split(","))
    device_name = (
        torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )
    meta = dict(device=device_name, torch=torch.__version__, commit=commit(), backend=backend())
    print(f"\n{meta}\n")
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(dict(meta, rows=rows), indent=2))
    if args.plot:
        plot(rows, meta, args.plot)


if __name__ == "__main__":
    main()
