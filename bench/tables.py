"""Every figure the README and the docs show, rendered from the committed
results files, never typed by hand.

A Markdown file holds a generated table between two markers::

    <!-- table: headline -->
    ...rendered here...
    <!-- /table -->

``python -m bench.tables --write README.md docs/*.md`` renders every marked
table from its file; ``--check`` (tests/test_docs.py runs it in CI) fails
when one no longer matches, naming the table and the file it comes from.
The docs site renders the same tables at build time (mkdocs_hooks.py).

Results files: ``bench/results_h100.json`` (the mix, H100),
``bench/results_h200.json`` (the losses, the uint8 mix and NaFlex batches,
H200; the commit of each suite is in its ``suite_commits``),
``bench/results_cpu_naflex_t{1,2}.json`` (NaFlex batches on this project's
2-core CPU) and ``examples/mixup_demo.json`` (what ``python -m mixup_ext.demo``
wrote).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIX_RESULTS = ROOT / "bench" / "results_h100.json"
LOSS_RESULTS = ROOT / "bench" / "results_h200.json"
H200_RESULTS = LOSS_RESULTS
CPU_NAFLEX_RESULTS = [ROOT / "bench" / f"results_cpu_naflex_t{threads}.json" for threads in (1, 2)]
DEMO_RESULTS = ROOT / "examples" / "mixup_demo.json"

_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _rows(results: dict, suite: str) -> list[dict]:
    return results["suites"][suite]["rows"]


def _find(rows: list[dict], case: str, provider: str) -> dict | None:
    return next((r for r in rows if r["case"] == case and r["provider"] == provider), None)


def _commit(results: dict, suite: str) -> str:
    """The commit a suite's rows were measured at (files that merge runs
    name one per suite)."""
    return results.get("suite_commits", {}).get(suite, results["commit"])


def _gpu(results: dict) -> str:
    return results["device"].replace("NVIDIA ", "").replace(" 80GB HBM3", "")


def _x(value: float | None, bold: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}×" if value < 10 else f"{value:.0f}×"
    return f"**{text}**" if bold else text


def _source(*files: Path) -> str:
    return "Rendered by `python -m bench.tables` from " + ", ".join(f"`{f.relative_to(ROOT)}`" for f in files) + "."


# ---- the tables -------------------------------------------------------------

_MIX_CASES = [
    ("256x3x224x224-fp32-mixup", "mix 256×3×224×224 fp32"),
    ("256x3x224x224-bf16-cl-mixup", "mix 256×3×224×224 bf16 channels_last"),
]
_UINT8_CASES = [("256x3x224x224-u8-bfloat16-nchw-mixup", "uint8 → normalised bf16 mix 256×3×224×224")]
_NAFLEX_CASE = "256x3x[128-512]^2-float32-mixup"
_LOSS_CASES = [
    ("ce", "4096x32000-bfloat16", "cross-entropy 4096×32000 bf16"),
    ("bce", "4096x32000-bfloat16", "timm's BCE 4096×32000 bf16"),
]


def headline() -> str:
    """The README's one table: the mix as a ratio to ``x.clone()``, the losses
    in ms, each beside ``torch.compile`` and the eager peers, GPU named."""
    mix, loss = _load(H200_RESULTS), _load(LOSS_RESULTS)
    lines = [
        "| workload (forward + backward for the losses) | where | mixup_ext | `torch.compile` of the formula "
        "| eager peers |",
        "|---|---|---:|---:|---|",
    ]
    rows = _rows(mix, "fused_mix")
    for case, label in _MIX_CASES:
        r = {p: _find(rows, case, p) for p in ("fused", "compiled_formula", "timm_batch", "timm_elem", "tv_mixup")}
        peers = ", ".join(
            f"{name} {_x(r[p]['ratio'])}"
            for p, name in (("timm_batch", "timm"), ("timm_elem", "timm elem"), ("tv_mixup", "torchvision"))
            if r[p] is not None
        )
        lines.append(
            f"| {label}, × `x.clone()` | {_gpu(mix)} | {_x(r['fused']['ratio'], bold=True)} | "
            f"{_x(r['compiled_formula']['ratio'] if r['compiled_formula'] else None)} | {peers} |"
        )
    rows = _rows(loss, "mixup_loss")
    for kind, case, label in _LOSS_CASES:
        ours = _find(rows, case, f"{kind}/fused")
        compiled = _find(rows, case, f"{kind}/compile")
        dense = _find(rows, case, f"{kind}/dense_soft_targets" if kind == "ce" else f"{kind}/dense_timm")
        lines.append(
            f"| {label}, ms | {_gpu(loss)} | **{ours['ms']:.3f}** | {compiled['ms']:.3f} "
            f"({_x(compiled['ratio'])} ours) | dense targets {dense['ms']:.2f} ({_x(dense['ratio'])}) |"
        )
    h200 = _load(H200_RESULTS)
    rows = _rows(h200, "fused_mix_uint8")
    for case, label in _UINT8_CASES:
        r = {p: _find(rows, case, p) for p in ("fused", "compile", "timm_normalize")}
        lines.append(
            f"| {label}, × fp32 `x.clone()` | {_gpu(h200)} | {_x(r['fused']['ratio'], bold=True)} | "
            f"{_x(r['compile']['ratio'])} | timm normalize alone {_x(r['timm_normalize']['ratio'])} |"
        )
    for results, where in ((_load(CPU_NAFLEX_RESULTS[1]), "CPU, 2 threads"), (h200, _gpu(h200))):
        rows = _rows(results, "naflex_mix")
        r = {p: _find(rows, _NAFLEX_CASE, p) for p in ("fused", "timm")}
        lines.append(
            f"| NaFlex batch, 256 images 3×[128–512]² fp32, ms | {where} | **{r['fused']['ms']:.2f}** | – | "
            f"timm `NaFlexMixup` {r['timm']['ms']:.2f} ({_x(r['timm']['ms'] / r['fused']['ms'])}) |"
        )
    return "\n".join(lines + ["", _source(H200_RESULTS, CPU_NAFLEX_RESULTS[1])])


def mix(path: Path = MIX_RESULTS) -> str:
    """The fused_mix suite: every case, ours and the peers, × ``x.clone()``."""
    results = _load(path)
    rows = _rows(results, "fused_mix")
    providers = [
        ("fused", "fused forward"),
        ("mixup_elem", '`Mixup(mode="elem")` call'),
        ("fused_fwd_bwd", "fused fwd + bwd"),
        ("compiled_formula", "`torch.compile` formula"),
        ("eager_formula", "eager formula"),
        ("timm_batch", "timm batch"),
        ("timm_elem", "timm elem"),
        ("tv_mixup", "torchvision MixUp"),
    ]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    lines = ["| case | " + " | ".join(name for _, name in providers) + " |", "|---|" + "---:|" * len(providers)]
    for case in cases:
        cells = []
        for provider, _ in providers:
            r = _find(rows, case, provider)
            cells.append(_x(r["ratio"] if r else None, bold=provider == "fused"))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(
        lines
        + [
            "",
            f"{results['device']}, torch {results['torch']}, commit {_commit(results, 'fused_mix')}; "
            "times are ratios to `x.clone()` of the same tensor in the same run. " + _source(path),
        ]
    )


def uint8() -> str:
    """uint8 in, normalised and mixed out, × an fp32 ``x.clone()``."""
    results = _load(MIX_RESULTS)
    rows = _rows(results, "fused_mix_uint8")
    providers = [("fused", "`fused_mix`"), ("Mixup call", "`Mixup` call"), ("timm_normalize", "timm normalize alone")]
    lines = ["| case | " + " | ".join(name for _, name in providers) + " |", "|---|" + "---:|" * len(providers)]
    for case in dict.fromkeys(r["case"] for r in rows):
        cells = [_x((_find(rows, case, p) or {}).get("ratio"), bold=p == "fused") for p, _ in providers]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(
        lines + ["", f"{results['device']}; ratios to an fp32 `x.clone()` in the same run. " + _source(MIX_RESULTS)]
    )


def losses() -> str:
    """The loss suite: forward + backward ms, GB/s, and each peer over ours."""
    results = _load(LOSS_RESULTS)
    rows = _rows(results, "mixup_loss")
    lines = [
        "| case | loss | fused ms | GB/s | `torch.compile` / fused | dense / fused | peak MiB: fused / compile |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case in dict.fromkeys(r["case"] for r in rows):
        for kind, dense_name in (("ce", "dense_soft_targets"), ("bce", "dense_timm"), ("bce_thr0.2", "dense_timm")):
            ours = _find(rows, case, f"{kind}/fused")
            if ours is None:
                continue
            compiled, dense = _find(rows, case, f"{kind}/compile"), _find(rows, case, f"{kind}/{dense_name}")
            peak = (
                f"{ours['peak_mib']:.1f} / {compiled['peak_mib']:.1f}"
                if compiled and ours["peak_mib"] is not None
                else "–"
            )
            lines.append(
                f"| {case} | {kind} | {ours['ms']:.3f} | {ours['gbps']:.0f} | "
                f"{_x(compiled['ratio'] if compiled else None, bold=True)} | "
                f"{_x(dense['ratio'] if dense else None)} | {peak} |"
            )
    return "\n".join(
        lines
        + [
            "",
            f"{results['device']}, torch {results['torch']}, commit {_commit(results, 'mixup_loss')}; "
            "GB/s counts the logits read once and the gradient written once. " + _source(LOSS_RESULTS),
        ]
    )


def uint8_h200() -> str:
    """uint8 in, normalised and mixed out, on the H200, beside torch.compile."""
    results = _load(H200_RESULTS)
    rows = _rows(results, "fused_mix_uint8")
    providers = [
        ("fused", "`fused_mix`"),
        ("Mixup call", "`Mixup` call"),
        ("compile", "`torch.compile` of the formula"),
        ("timm_normalize", "timm normalize alone"),
    ]
    lines = [
        "| case | " + " | ".join(name for _, name in providers) + " | compile / fused |",
        "|---|" + "---:|" * (len(providers) + 1),
    ]
    for case in dict.fromkeys(r["case"] for r in rows):
        found = {p: _find(rows, case, p) for p, _ in providers}
        cells = [_x(found[p]["ratio"] if found[p] else None, bold=p == "fused") for p, _ in providers]
        versus = found["compile"]["ms"] / found["fused"]["ms"] if found["compile"] and found["fused"] else None
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {_x(versus)} |")
    return "\n".join(
        lines
        + [
            "",
            f"{results['device']}, torch {results['torch']}, commit "
            f"{_commit(results, 'fused_mix_uint8')}; ratios to an fp32 `x.clone()` in the same run; "
            "compile / fused above 1 means ours is faster. " + _source(H200_RESULTS),
        ]
    )


def naflex() -> str:
    """Variable-size batches: NaFlexMixup against timm's, per batch, on the
    2-core CPU (1 and 2 threads) and the H200."""
    sources = [
        (_load(path), f"CPU, {threads} thread{'s' if threads > 1 else ''}")
        for path, threads in zip(CPU_NAFLEX_RESULTS, (1, 2))
    ]
    h200 = _load(H200_RESULTS)
    sources.append((h200, f"{_gpu(h200)}, CUDA tensors"))
    lines = [
        "| batch | where | timm `NaFlexMixup` ms | mixup_ext `NaFlexMixup` ms | speed-up | in place ms | "
        "the op alone ms | copy floor ms | peak MiB: ours / timm |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for results, where in sources:
        rows = _rows(results, "naflex_mix")
        for case in dict.fromkeys(r["case"] for r in rows):
            r = {p: _find(rows, case, p) for p in ("timm", "fused", "fused_in_place", "op", "flat_clone")}
            speedup = r["timm"]["ms"] / r["fused"]["ms"] if r["timm"] else None
            peak = (
                f"{r['fused']['peak_mib']:.0f} / {r['timm']['peak_mib']:.0f}"
                if r["timm"] and r["fused"]["peak_mib"] is not None
                else "–"
            )
            timm_ms = f"{r['timm']['ms']:.2f}" if r["timm"] else "–"
            lines.append(
                f"| {case} | {where} | {timm_ms} | **{r['fused']['ms']:.2f}** | {_x(speedup, bold=True)} | "
                f"{r['fused_in_place']['ms']:.2f} | {r['op']['ms']:.2f} | {r['flat_clone']['ms']:.2f} | {peak} |"
            )
    commits = ", ".join(dict.fromkeys([_commit(results, "naflex_mix") for results, _ in sources]))
    return "\n".join(
        lines
        + [
            "",
            f"Per batch of 256 float32 images, medians; commits {commits}; the copy floor is one "
            "`clone()` of the batch's bytes. " + _source(*CPU_NAFLEX_RESULTS, H200_RESULTS),
        ]
    )


def demo() -> str:
    """What ``python -m mixup_ext.demo`` printed, from the results file it wrote."""
    results = _load(DEMO_RESULTS)
    lines = [
        "| labels | run | test accuracy | test NLL | ECE | noise memorized | s / epoch |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        memorized = "–" if r["memorized"] is None else f"{100 * r['memorized']:.1f}%"
        lines.append(
            f"| {r['labels']} | {r['run']} | {100 * r['accuracy']:.2f}% | {r['nll']:.4f} | {r['ece']:.4f} | "
            f"{memorized} | {r['seconds_per_epoch']:.3f} |"
        )
    setup = results["setup"]
    return "\n".join(lines + ["", f"{setup}. " + _source(DEMO_RESULTS)])


TABLES: dict[str, Callable[[], str]] = {
    "headline": headline,
    "mix": mix,
    "mix_h200": lambda: mix(H200_RESULTS),
    "uint8": uint8,
    "uint8_h200": uint8_h200,
    "losses": losses,
    "naflex": naflex,
    "demo": demo,
}


# ---- the markers --------------------------------------------------------------


def render_markers(text: str) -> str:
    """``text`` with every marked table rendered anew."""

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; the tables are {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return _BLOCK.sub(replace, text)


def stale(path: Path) -> list[str]:
    """The names of the marked tables in ``path`` that differ from their files."""
    text = path.read_text()
    fresh = render_markers(text)
    if fresh == text:
        return []
    old = {m["name"]: m["body"] for m in _BLOCK.finditer(text)}
    new = {m["name"]: m["body"] for m in _BLOCK.finditer(fresh)}
    return [name for name in old if old[name] != new[name]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tables", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail when a marked table differs from its file")
    mode.add_argument("--write", action="store_true", help="render every marked table in place")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    bad = 0
    for path in args.files:
        if args.write:
            path.write_text(render_markers(path.read_text()))
            continue
        for name in stale(path):
            print(
                f"{path}: table {name!r} no longer matches its results file; run python -m bench.tables --write {path}"
            )
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
