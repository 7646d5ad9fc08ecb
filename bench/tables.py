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

Results files: ``bench/results/<machine>.json``, one per kind of machine
(``h200``, ``h100``, ``cpu``), each written whole by one ``python -m bench
--save`` run at one commit (the tables refuse a file that merges runs); and
``examples/mixup_demo.json``, what ``python -m mixup_ext.demo`` wrote. The GPU
tables read the first GPU file of ``GPU_KINDS`` that exists. In every table
lower is better: times, and ratios of a time to a time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GPU_KINDS = ("h200", "h100")
CPU_RESULTS = RESULTS / "cpu.json"
DEMO_RESULTS = ROOT / "examples" / "mixup_demo.json"

_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def gpu_results() -> Path:
    for kind in GPU_KINDS:
        if (RESULTS / f"{kind}.json").exists():
            return RESULTS / f"{kind}.json"
    raise FileNotFoundError(f"no GPU results file in {RESULTS} (one of {', '.join(GPU_KINDS)}.json)")


def _load(path: Path) -> dict:
    """A results file, once checked to be one run at one commit."""
    results = json.loads(path.read_text())
    if "suite_commits" in results or not re.fullmatch(r"[0-9a-f]{7,40}", str(results.get("commit"))):
        raise ValueError(
            f"{path.relative_to(ROOT)} is not one run at one commit (commit {results.get('commit')!r}): "
            "write it with python -m bench --save"
        )
    return results


def _rows(results: dict, suite: str) -> list[dict]:
    return results["suites"][suite]["rows"]


def _find(rows: list[dict], case: str, provider: str) -> dict | None:
    return next((r for r in rows if r["case"] == case and r["provider"] == provider), None)


def _where(results: dict) -> str:
    """The machine, short: "H200", or the CPU's model and threads."""
    device = results["device"]
    if "(" in device and "cores" in device:  # a CPU
        return f"{device.split(' (')[0]}, {results['threads']} threads"
    return device.replace("NVIDIA ", "").replace(" 80GB HBM3", "")


def _run(results: dict) -> str:
    return f"{results['device']}, torch {results['torch']}, commit {results['commit']}"


def _x(value: float | None, bold: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}×" if value < 10 else f"{value:.0f}×"
    return f"**{text}**" if bold else text


def _ms(value: float | None, bold: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return f"**{text}**" if bold else text


def _best_bold(values: list[float | None], fmt: Callable) -> list[str]:
    """Each value formatted, the lowest in bold."""
    present = [v for v in values if v is not None]
    best = min(present) if present else None
    return [fmt(v, bold=v is not None and v == best) for v in values]


def _source(*files: Path) -> str:
    return "Rendered by `python -m bench.tables` from " + ", ".join(f"`{f.relative_to(ROOT)}`" for f in files) + "."


# ---- the tables -------------------------------------------------------------

_MIX_CASES = [
    ("256x3x224x224-fp32-mixup", "mix 256×3×224×224 fp32"),
    ("256x3x224x224-bf16-cl-mixup", "mix 256×3×224×224 bf16 channels_last"),
]
_MIX_PEERS = (("timm_batch", "timm"), ("timm_elem", "timm elem"), ("tv_mixup", "torchvision"))
_UINT8_CASES = [("256x3x224x224-u8-bfloat16-nchw-mixup", "uint8 → normalised bf16 mix 256×3×224×224")]
_NAFLEX_CASE = "256x3x[128-512]^2-float32-mixup"
_LOSS_CASES = [
    ("ce", "4096x32000-bfloat16", "cross-entropy 4096×32000 bf16, forward + backward", "dense_soft_targets"),
    ("bce", "4096x32000-bfloat16", "timm's BCE 4096×32000 bf16, forward + backward", "dense_timm"),
]


def _headline_row(label: str, unit: str, where: str, ours, compiled, peers: list[tuple[str, float | None]], fmt):
    cells = _best_bold([ours, compiled, *(v for _, v in peers)], fmt)
    named = ", ".join(f"{name} {cell}" for (name, _), cell in zip(peers, cells[2:]) if cell != "–")
    return f"| {label} | {unit} | {where} | {cells[0]} | {cells[1]} | {named or '–'} |"


def headline() -> str:
    """The README's one table: each workload in one unit, mixup_ext beside
    ``torch.compile`` of the formula and the eager peers, the best in bold."""
    gpu_path = gpu_results()
    gpu, cpu = _load(gpu_path), _load(CPU_RESULTS)
    lines = [
        "| workload | unit | where | mixup_ext | `torch.compile` of the formula | eager peers |",
        "|---|---|---|---:|---:|---|",
    ]
    rows = _rows(gpu, "fused_mix")
    for case, label in _MIX_CASES:
        r = {p: (_find(rows, case, p) or {}).get("ratio") for p in ("fused", "compiled_formula", *dict(_MIX_PEERS))}
        peers = [(name, r[p]) for p, name in _MIX_PEERS]
        lines.append(_headline_row(label, "× `x.clone()`", _where(gpu), r["fused"], r["compiled_formula"], peers, _x))
    rows = _rows(gpu, "fused_mix_uint8")
    for case, label in _UINT8_CASES:
        r = {p: (_find(rows, case, p) or {}).get("ratio") for p in ("fused", "compile", "timm_normalize")}
        peers = [("timm normalize alone", r["timm_normalize"])]
        lines.append(_headline_row(label, "× fp32 `x.clone()`", _where(gpu), r["fused"], r["compile"], peers, _x))
    rows = _rows(gpu, "mixup_loss")
    for kind, case, label, dense in _LOSS_CASES:
        r = {p: (_find(rows, case, f"{kind}/{p}") or {}).get("ms") for p in ("fused", "compile", dense)}
        lines.append(
            _headline_row(label, "ms", _where(gpu), r["fused"], r["compile"], [("dense targets", r[dense])], _ms)
        )
    for results in (gpu, cpu):
        rows = _rows(results, "naflex_mix")
        r = {p: (_find(rows, _NAFLEX_CASE, p) or {}).get("ms") for p in ("fused", "timm")}
        label = "NaFlex batch, 256 images 3×[128–512]² fp32"
        lines.append(
            _headline_row(label, "ms", _where(results), r["fused"], None, [("timm `NaFlexMixup`", r["timm"])], _ms)
        )
    return "\n".join(
        lines
        + [
            "",
            f"Lower is better in every column; the best of each row is in bold. {_run(gpu)}; {_run(cpu)}. "
            + _source(gpu_path, CPU_RESULTS),
        ]
    )


def _ratio_table(path: Path, suite: str, providers: list[tuple[str, str]], caption: str, versus: str | None = None):
    """Every case of a suite: each provider's ratio, the lowest in bold; with
    ``versus``, a last column of that provider's time over ours."""
    results = _load(path)
    rows = _rows(results, suite)
    extra = f" | {dict(providers)[versus]} / fused" if versus else ""
    lines = [
        "| case | " + " | ".join(name for _, name in providers) + extra + " |",
        "|---|" + "---:|" * (len(providers) + bool(versus)),
    ]
    for case in dict.fromkeys(r["case"] for r in rows):
        found = {p: _find(rows, case, p) for p, _ in providers}
        cells = _best_bold([found[p]["ratio"] if found[p] else None for p, _ in providers], _x)
        if versus:
            ours, other = found["fused"], found[versus]
            cells.append(_x(other["ms"] / ours["ms"] if ours and other else None))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", f"{_run(results)}; {caption} Lower is better. " + _source(path)])


def mix() -> str:
    """The fused_mix suite: every case, ours and the peers, × ``x.clone()``."""
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
    return _ratio_table(
        gpu_results(), "fused_mix", providers, "times are ratios to `x.clone()` of the same tensor in the same run."
    )


def uint8() -> str:
    """uint8 in, normalised and mixed out, × an fp32 ``x.clone()``, beside torch.compile."""
    providers = [
        ("fused", "`fused_mix`"),
        ("Mixup call", "`Mixup` call"),
        ("compile", "`torch.compile` of the formula"),
        ("timm_normalize", "timm normalize alone"),
    ]
    return _ratio_table(
        gpu_results(),
        "fused_mix_uint8",
        providers,
        "ratios to an fp32 `x.clone()` in the same run; the last column above 1 means ours is faster.",
        versus="compile",
    )


def losses() -> str:
    """The loss suite: forward + backward ms, GB/s, and each peer over ours."""
    path = gpu_results()
    results = _load(path)
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
                f"{_x(compiled['ratio'] if compiled else None)} | "
                f"{_x(dense['ratio'] if dense else None)} | {peak} |"
            )
    return "\n".join(
        lines
        + [
            "",
            f"{_run(results)}; GB/s counts the logits read once and the gradient written once; a ratio above 1 "
            "means ours is faster. " + _source(path),
        ]
    )


def naflex() -> str:
    """Variable-size batches: NaFlexMixup against timm's, per batch, on the
    GPU (CUDA tensors) and the CPU."""
    paths = [gpu_results(), CPU_RESULTS]
    lines = [
        "| batch | where | timm `NaFlexMixup` ms | mixup_ext `NaFlexMixup` ms | speed-up | in place ms | "
        "the op alone ms | copy floor ms | peak MiB: ours / timm |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs = []
    for path in paths:
        results = _load(path)
        runs.append(_run(results))
        rows = _rows(results, "naflex_mix")
        for case in dict.fromkeys(r["case"] for r in rows):
            r = {p: _find(rows, case, p) for p in ("timm", "fused", "fused_in_place", "op", "flat_clone")}
            speedup = r["timm"]["ms"] / r["fused"]["ms"] if r["timm"] else None
            peak = (
                f"{r['fused']['peak_mib']:.0f} / {r['timm']['peak_mib']:.0f}"
                if r["timm"] and r["fused"]["peak_mib"] is not None
                else "–"
            )
            timm_ms, fused_ms = _best_bold([r["timm"]["ms"] if r["timm"] else None, r["fused"]["ms"]], _ms)
            lines.append(
                f"| {case} | {_where(results)} | {timm_ms} | {fused_ms} | {_x(speedup)} | "
                f"{_ms(r['fused_in_place']['ms'])} | {_ms(r['op']['ms'])} | {_ms(r['flat_clone']['ms'])} | {peak} |"
            )
    return "\n".join(
        lines
        + [
            "",
            "Per batch of 256 float32 images, medians; the copy floor is one `clone()` of the batch's bytes; lower "
            f"is better (speed-up: timm over ours). {'; '.join(runs)}. " + _source(*paths),
        ]
    )


def providers() -> str:
    """What each provider name in the results files and ``python -m bench``'s
    output times, from the suites' own descriptions."""
    from bench.suites import all_suites

    lines = ["| suite | provider | what it times |", "|---|---|---|"]
    for name, suite in all_suites().items():
        for provider in suite.providers:
            lines.append(f"| `{name}` | `{provider.name}` | {suite.describe(provider.name)} |")
    return "\n".join(lines)


def demo() -> str:
    """What ``python -m mixup_ext.demo`` printed, from the results file it wrote."""
    results = json.loads(DEMO_RESULTS.read_text())
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
    "uint8": uint8,
    "losses": losses,
    "naflex": naflex,
    "providers": providers,
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
