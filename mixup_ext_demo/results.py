"""The demo's results file, and the fingerprint that says which code made it.

The README's and the docs' demo table are rendered from the committed
``examples/mixup_demo.json`` (bench/tables.py), never typed. A number can
still go stale if the code that produced it changes, so the file records a
SHA-256 over every source file that decides the demo's numbers
(``FINGERPRINTED``: the demo itself, and the library code on its path --
the sampler, the mix, the loss, on the CPU), and tests/test_docs.py fails
when the checkout's fingerprint differs from the committed file's: rerun

    python -m mixup_ext.demo --out examples/mixup_demo.png

and commit both files. Comments count: any edit of a listed file asks for a
rerun, which is cheaper (a minute) than deciding by hand which edits matter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The files whose contents decide the demo's numbers, as globs from the checkout's root.
FINGERPRINTED = (
    "mixup_ext_demo/demo.py",
    "mixup_ext/mixup.py",
    "mixup_ext/ops.py",
    "mixup_ext/loss.py",
    "mixup_ext/_sampling.py",
    "mixup_ext/_validation.py",
    "csrc/draw_mix_params*",
    "csrc/sample_mix_params*",
    "csrc/cpu/draw_mix_params_kernel.cpp",
    "csrc/cpu/sample_mix_params_kernel.cpp",
    "csrc/fused_mix*",
    "csrc/cpu/fused_mix_kernel.cpp",
    "csrc/mixup_loss*",
    "csrc/mixup_cross_entropy*",
    "csrc/cpu/mixup_cross_entropy_kernel.cpp",
    "csrc/cpu/mixup_loss_row*",
    "csrc/cpu/isa/*",
    "csrc/autograd/mixup_cross_entropy_autograd.cpp",
    "csrc/autograd/mixup_loss_backward.h",
)


def fingerprint(root: Path = ROOT) -> str | None:
    """SHA-256 over the fingerprinted files (path and contents, in order), or
    None outside a checkout (an installed wheel has no csrc/ at its root)."""
    if not (root / "csrc").is_dir():
        return None
    digest = hashlib.sha256()
    for pattern in FINGERPRINTED:
        for path in sorted(root.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def save(path: Path, results, setup: str, command: str) -> None:
    runs = [
        dict(
            labels=r.scenario,
            run=r.name,
            accuracy=r.accuracy[-1],
            nll=r.nll[-1],
            ece=r.ece,
            memorized=r.memorized,
            seconds_per_epoch=r.seconds_per_epoch,
            accuracy_by_epoch=r.accuracy,
            nll_by_epoch=r.nll,
        )
        for r in results
    ]
    Path(path).write_text(
        json.dumps(dict(setup=setup, command=command, fingerprint=fingerprint(), runs=runs), indent=1) + "\n"
    )
