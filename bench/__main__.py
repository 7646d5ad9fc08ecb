"""Runs benchmark suites (bench/suites/) through the one harness and writes
their tables, and on request the JSON results and the fused_mix chart.

    python -m bench                                    # every suite, CUDA if visible, else CPU
    python -m bench --suite fused_mix --json r.json --plot r.png
    python -m bench --suite mixup_loss --device cpu --threads 2
    python -m bench --suite fused_mix --modes backward,full --providers fused_fwd_bwd,eager_formula_fwd_bwd

Every time is a median after warm-up (CUDA events through triton's do_bench
on the GPU), given as a ratio to the suite's baseline measured in the same
run (x.clone() for the mix), with GB/s, host ms per call and, on CUDA, the
peak memory a call allocates.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from . import harness, needs
from .suites import all_suites


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    """One group of bars per case, one bar per provider: time as a multiple of
    the baseline on a log axis (the peers span 1x to over 100x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["ratio"] is not None and not r["provider"].startswith("hidden_mix")]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    providers = [p for p in dict.fromkeys(r["provider"] for r in rows) if p != "clone"]
    ratio = {(r["case"], r["provider"]): r["ratio"] for r in rows}
    width = 0.8 / max(len(providers), 1)
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


def main(argv: list[str] | None = None) -> None:
    suites = all_suites()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default=",".join(suites), help=f"comma-separated, of {', '.join(suites)}")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--providers", help="comma-separated provider names (default: all; the baseline always runs)")
    parser.add_argument("--modes", help=f"comma-separated, of {', '.join(harness.MODES)} (default: all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the CUDA peak-memory measurement")
    parser.add_argument("--no-extra", action="store_true", help="skip suite-level extras (timm's collation costs)")
    parser.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads); default: torch's")
    parser.add_argument("--json", type=Path, help="also write every row and the environment here")
    parser.add_argument("--plot", type=Path, help="also chart the fused_mix ratios to clone (PNG, needs matplotlib)")
    args = parser.parse_args(argv)
    chosen = args.suite.split(",")
    unknown = [s for s in chosen if s not in suites]
    if unknown:
        parser.error(f"--suite: unknown {', '.join(unknown)}; choose from {', '.join(suites)}")
    modes = args.modes.split(",") if args.modes else None
    if modes and set(modes) - set(harness.MODES):
        parser.error(f"--modes: choose from {', '.join(harness.MODES)}, got {args.modes}")
    needs.device_or_exit("python -m bench", args.device)
    if args.plot:
        needs.matplotlib_or_exit("--plot")
    if args.threads:
        torch.set_num_threads(args.threads)

    meta = harness.environment(args.device)
    print(f"{meta}\n")
    results = {}
    for name in chosen:
        suite = suites[name]
        rows = harness.run(suite, args.device, args.providers.split(",") if args.providers else None, modes,
                           memory=not args.no_memory)
        extra = {} if args.no_extra else suite.extra(args.device)
        results[name] = dict(rows=rows, **extra)
        print(f"## {name}\n\n{harness.markdown(suite, rows)}\n")
        for key, extra_rows in extra.items():
            print(f"{key}: " + json.dumps(extra_rows, indent=1) + "\n")
    if args.json:
        args.json.write_text(json.dumps(dict(meta, suites=results), indent=2))
    if args.plot and "fused_mix" in results:
        plot(results["fused_mix"]["rows"], meta, args.plot)


if __name__ == "__main__":
    main()
