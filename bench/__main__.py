"""Runs benchmark suites (bench/suites/) through the one harness and writes
their tables, and on request the JSON results and their chart
(bench/plot.py, which also charts a saved JSON file).

    python -m bench                                    # every suite, CUDA if visible, else CPU
    python -m bench --suite fused_mix --json r.json --plot r.png
    python -m bench --suite mixup_loss --device cpu --threads 2
    python -m bench --suite fused_mix --modes backward,full --providers fused_fwd_bwd,eager_formula_fwd_bwd
    python -m bench --quick                            # one case a suite, short timing: a smoke run
    python -m bench --save                             # every suite, into bench/results/<machine>.json (+ .png)

``--save`` is how a results file is made: one run of every suite at one
commit, written to the file of this machine's kind (bench/results/h100.json,
h200.json or cpu.json), whose figures the README and the docs render
(bench/tables.py). On the GPU machine: ``bash .ci/gpu_run bench``.

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
from .plot import plot_results
from .suites import all_suites

RESULTS = Path(__file__).resolve().parent / "results"


def machine_kind(device: str) -> str:
    """The results file's name for this machine: h100, h200 (any other GPU by
    its name), or cpu."""
    if torch.device(device).type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name().lower()
    for kind in ("h100", "h200"):
        if kind in name:
            return kind
    return "".join(ch if ch.isalnum() else "_" for ch in name.removeprefix("nvidia "))


def main(argv: list[str] | None = None) -> None:
    suites = all_suites()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default=",".join(suites), help=f"comma-separated, of {', '.join(suites)}")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--providers", help="comma-separated provider names (default: all; the baseline always runs)")
    parser.add_argument("--modes", help=f"comma-separated, of {', '.join(harness.MODES)} (default: all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the CUDA peak-memory measurement")
    parser.add_argument("--no-extra", action="store_true", help="skip suite-level extras (timm's collation costs)")
    parser.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads); default: torch's")
    parser.add_argument("--json", type=Path, help="also write every row and the environment here")
    parser.add_argument("--plot", type=Path, help="also chart the ratios, a panel per suite (PNG, needs matplotlib)")
    parser.add_argument("--quick", action="store_true", help="one case a suite and short timing: a smoke run")
    parser.add_argument(
        "--save", action="store_true", help="every suite, saved as bench/results/<machine>.json and .png"
    )
    args = parser.parse_args(argv)
    if args.save and (args.quick or args.suite != ",".join(suites) or args.providers or args.modes):
        parser.error(
            "--save writes a results file: one full run of every suite (no --quick, --suite, --providers or --modes)"
        )
    chosen = args.suite.split(",")
    unknown = [s for s in chosen if s not in suites]
    if unknown:
        parser.error(f"--suite: unknown {', '.join(unknown)}; choose from {', '.join(suites)}")
    modes = args.modes.split(",") if args.modes else None
    if modes and set(modes) - set(harness.MODES):
        parser.error(f"--modes: choose from {', '.join(harness.MODES)}, got {args.modes}")
    needs.device_or_exit("python -m bench", args.device)
    if args.save:
        args.json = RESULTS / f"{machine_kind(args.device)}.json"
        args.plot = args.json.with_suffix(".png")
    if args.plot:
        needs.matplotlib_or_exit("--plot")
    if args.threads:
        torch.set_num_threads(args.threads)
    harness.QUICK = args.quick

    meta = harness.environment(args.device)
    print(f"{meta}\n")
    results = {}
    for name in chosen:
        suite = suites[name]
        skipped: list[str] = []
        rows = harness.run(
            suite,
            args.device,
            args.providers.split(",") if args.providers else None,
            modes,
            memory=not args.no_memory,
            skipped=skipped,
        )
        extra = {} if args.no_extra else suite.extra(args.device)
        results[name] = dict(rows=rows, skipped=skipped, **extra)
        print(f"## {name}\n\n{harness.markdown(suite, rows, skipped, args.device)}\n")
        for key, extra_rows in extra.items():
            print(f"{key}: " + json.dumps(extra_rows, indent=1) + "\n")
    if args.json:
        args.json.write_text(json.dumps(dict(meta, suites=results), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        plot_results(dict(meta, suites=results), args.plot)


if __name__ == "__main__":
    main()
