"""The front door cannot go stale: every marked table in the README and the
docs matches the results file it is rendered from, and the demo's results
were made by the code in this checkout. (The code blocks themselves run
under ``--markdown-docs``; the site builds strictly in .ci/check_docs.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import tables
from mixup_ext_demo import results

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_matches_its_results_file(page):
    assert tables.stale(page) == [], (
        f"{page.relative_to(ROOT)}: rerun python -m bench.tables --write {page.relative_to(ROOT)}"
    )


def test_the_readme_shows_the_headline_and_the_demo_tables():
    text = (ROOT / "README.md").read_text()
    for name in ("headline", "demo"):
        assert f"<!-- table: {name} -->" in text, name
    assert len(text.splitlines()) <= 150


def test_a_stale_table_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(tables.render_markers("<!-- table: losses -->\n<!-- /table -->\n").replace("0.", "9.", 1))
    assert tables.stale(page) == ["losses"]
    assert tables.main(["--check", str(page)]) == 1
    assert tables.main(["--write", str(page)]) == 0 and tables.stale(page) == []


def test_the_demo_results_come_from_this_code():
    saved = json.loads((ROOT / "examples" / "mixup_demo.json").read_text())
    assert saved["fingerprint"] == results.fingerprint(), (
        "the demo's code (mixup_ext_demo/results.py: FINGERPRINTED) changed since examples/mixup_demo.json was "
        "made: rerun python -m mixup_ext.demo --out examples/mixup_demo.png and commit both files"
    )
    assert "--quick" not in saved["command"], "the committed results must be a full run, not a smoke run"


def test_the_fingerprint_sees_a_change(tmp_path):
    for pattern in results.FINGERPRINTED:
        for path in ROOT.glob(pattern):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    before = results.fingerprint(tmp_path)
    assert before == results.fingerprint()
    (tmp_path / "csrc" / "fused_mix_math.h").write_text("// changed\n")
    assert results.fingerprint(tmp_path) != before


def test_the_api_reference_lists_exactly_the_public_surface():
    """What ``mixup_ext`` exports is what docs/reference.md documents: a new
    public name needs its page entry, and a documented name must exist."""
    import re

    import mixup_ext
    from mixup_ext import transforms

    page = (ROOT / "docs" / "reference.md").read_text()
    documented = set(re.findall(r"^::: (mixup_ext\.[\w.]+)$", page, flags=re.M))
    documented |= {f"mixup_ext.{name}" for name in re.findall(r"`mixup_ext\.(\w+)`", page)}
    exported = {f"mixup_ext.{name}" for name in mixup_ext.__all__}  # the two modules by name in the prose
    exported |= {f"mixup_ext.transforms.{name}" for name in transforms.__all__}
    exported |= {f"mixup_ext.reference.{name}" for name in mixup_ext.reference.__all__ if not name.startswith("_")}
    assert documented == exported, (
        f"exported, not in docs/reference.md: {sorted(exported - documented)}; "
        f"documented, not exported: {sorted(documented - exported)}"
    )
    assert not hasattr(mixup_ext, "sampling"), "the sampler's helpers are internal (mixup_ext._sampling)"


def test_every_results_file_is_one_run_at_one_commit(tmp_path, monkeypatch):
    """What the tables render comes from bench/results/<machine>.json, each
    one `python -m bench --save` run; a file that merges runs is refused."""
    files = sorted(tables.RESULTS.glob("*.json"))
    assert files and tables.CPU_RESULTS in files and tables.gpu_results() in files
    for path in files:
        saved = tables._load(path)  # raises for a merged file
        assert set(saved["suites"]) == {"fused_mix", "fused_mix_uint8", "mixup_loss", "naflex_mix"}, path
    merged = tmp_path / "merged.json"
    merged.write_text(json.dumps(dict(json.loads(tables.CPU_RESULTS.read_text()), commit="per suite")))
    monkeypatch.setattr(tables, "ROOT", tmp_path)
    with pytest.raises(ValueError, match="is not one run at one commit"):
        tables._load(merged)
    orphans = sorted(p.name for p in tables.RESULTS.iterdir() if p.suffix not in (".json", ".png"))
    assert not orphans and all(p.with_suffix(".json").exists() for p in tables.RESULTS.glob("*.png"))
