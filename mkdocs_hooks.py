"""mkdocs hooks: the pages' tables are rendered from the committed results
files at build time (bench/tables.py), and the benchmark charts are copied
into docs/assets (git ignores it) before the build, so the docs can never show a number typed by hand."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import tables  # noqa: E402

# Each chart and its name under docs/assets: the GPU run's, whichever GPU
# file the tables read, and the demo's.
CHARTS = {"chart.png": tables.gpu_results().with_suffix(".png"), "mixup_demo.png": ROOT / "examples" / "mixup_demo.png"}


def on_page_markdown(markdown, page, config, files):
    return tables.render_markers(markdown)


def on_pre_build(config):
    # Before the pages are gathered, so their links to the charts resolve.
    assets = Path(config["docs_dir"]) / "assets"
    assets.mkdir(exist_ok=True)
    for name, chart in CHARTS.items():
        shutil.copy2(chart, assets / name)
