"""Charts saved benchmark results: one panel per suite, one group of bars
per case, one bar per provider, each bar the provider's time over the time
it is compared with in the same run (the suite's baseline: x.clone() for
the mix, the fused loss for the losses), on a log axis.

    python -m bench.plot bench/results/h200.json bench/results/h200.png

Every provider that did not run is named under its panel, with the reason
the run recorded, so a chart never drops a peer silently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BASELINES = {"fused_mix": "x.clone()", "fused_mix_uint8": "an fp32 x.clone()", "mixup_loss": "the fused loss"}


def _panel(ax, name: str, suite: dict) -> None:
    rows = [r for r in suite["rows"] if r.get("ratio") is not None and not r["provider"].startswith("hidden_mix")]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    providers = list(dict.fromkeys(r["provider"] for r in rows))
    ratio = {(r["case"], r["provider"]): r["ratio"] for r in rows}
    width = 0.8 / max(len(providers), 1)
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20")
    for k, provider in enumerate(providers):
        xs = [i + (k - (len(providers) - 1) / 2) * width for i, c in enumerate(cases) if (c, provider) in ratio]
        ys = [ratio[(c, provider)] for c in cases if (c, provider) in ratio]
        ours = "fused" in provider or provider in ("mixup_elem", "Mixup call")
        ax.bar(xs, ys, width, label=provider, color=cmap(k % 20), edgecolor="black" if ours else "none", linewidth=1.2)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label=BASELINES.get(name, "baseline"))
    ax.set_yscale("log")
    ax.set_ylabel(f"time / {BASELINES.get(name, 'baseline')} (log)")
    ax.set_xticks(range(len(cases)), cases, rotation=20, ha="right", fontsize=7)
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    skipped = suite.get("skipped") or []
    if skipped:
        ax.text(0, -0.35, "not run: " + "; ".join(skipped), transform=ax.transAxes, fontsize=6, va="top", wrap=True)


def plot_results(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = {name: s for name, s in results["suites"].items() if s.get("rows")}
    if not suites:
        raise SystemExit(f"python -m bench.plot: no suite with rows to chart in {path}")
    fig, axes = plt.subplots(len(suites), 1, figsize=(12, 5 * len(suites)), squeeze=False)
    for ax, (name, suite) in zip(axes[:, 0], suites.items()):
        _panel(ax, name, suite)
    fig.suptitle(
        f"mixup_ext vs peers -- {results['device']}, torch {results['torch']}, commit {results['commit']} "
        "(lower is better)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: python -m bench.plot RESULTS.json OUT.png")
    plot_results(json.loads(Path(argv[0]).read_text()), Path(argv[1]))


if __name__ == "__main__":
    main()
