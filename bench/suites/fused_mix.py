"""The fused_mix suite: the fused op against the reference, torch.compile of
it, the hand-written formula (eager and compiled), timm and torchvision where
installed, forward, backward and forward+backward, every time a ratio to
``x.clone()`` of the same tensor: the floor, which reads x once and writes
it once, as any mix must. The ``hidden_mix_*`` rows time a whole small
training step (Manifold Mixup: the mix inside the model), so compare them
with each other, not with clone.

    python -m bench --suite fused_mix [--device cpu --threads 1]
"""

from __future__ import annotations

import torch

from mixup_ext import reference

from .. import needs
from ..case_data import CPU_CASES, CUDA_CASES, NUM_CLASSES, SMOOTHING, Case, setup
from ..harness import Provider, Suite

__all__ = ["CPU_CASES", "CUDA_CASES", "Case", "PROVIDERS", "SUITE", "setup"]


def _args(a):
    return a["x"], a["target"], a["index"], a["lam"], a["box"], NUM_CLASSES, SMOOTHING


_compiled_reference = None


def _compiled():
    global _compiled_reference
    if _compiled_reference is None:
        _compiled_reference = torch.compile(reference.fused_mix_op, fullgraph=True)
    return _compiled_reference


def _forward_backward(fn, a):
    x = a["x"].detach().requires_grad_()
    grad = a["grad"]

    def run():
        out, _ = fn(x, *_args(a)[1:])
        (g,) = torch.autograd.grad(out, x, grad)
        return g

    return run


def _graphed(run):
    """`run` captured once in a CUDA graph and replayed: the GPU's time alone,
    without the Python dispatch and autograd overhead of each eager call
    (what a captured or compiled training step pays)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up outside the capture, as CUDA graphs require
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    return graph.replay


def _eager_formula(x, target, index, lam, box, num_classes, smoothing):
    """What users write by hand: the peer every library's batch mode reduces to."""
    w = lam.view(-1, *([1] * (x.dim() - 1)))
    mixed = w * x + (1 - w) * x[index]
    one_hot = torch.nn.functional.one_hot(target, num_classes).float() * (1 - smoothing) + smoothing / num_classes
    return mixed, lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[index]


_compiled_formula = None


def _compiled_eager():
    global _compiled_formula
    if _compiled_formula is None:
        _compiled_formula = torch.compile(_eager_formula, fullgraph=True)
    return _compiled_formula


def _front_end(a, mode):
    from mixup_ext import Mixup

    cutmix_alpha = 1.0 if a["x"].dim() >= 3 else 0.0  # features have no H, W to cut
    mixup = Mixup(0.8, cutmix_alpha, mode=mode, num_classes=NUM_CLASSES, label_smoothing=SMOOTHING)
    return lambda: mixup(a["x"], a["target"])


def _timm(a, mode, cutmix):
    # timm's own timm/data/mixup.py, loaded by path when `import timm` fails
    # (installed --no-deps, without torchvision), as the parity tests load it.
    module = needs.timm_mixup_module()
    if module is None:
        raise ImportError("timm is not installed (pip install --no-deps timm)")
    mixup = module.Mixup(
        mixup_alpha=0.0 if cutmix else 0.8,
        cutmix_alpha=1.0 if cutmix else 0.0,
        mode=mode,
        label_smoothing=SMOOTHING,
        num_classes=NUM_CLASSES,
    )
    x = a["x"].clone()  # timm mixes in place: give it its own copy, outside the timed call
    return lambda: mixup(x, a["target"])


def _torchvision(a, cutmix):
    from torchvision.transforms import v2  # optional peer

    transform = (v2.CutMix if cutmix else v2.MixUp)(alpha=1.0, num_classes=NUM_CLASSES)
    return lambda: transform(a["x"], a["target"])


class _HiddenMixNet(torch.nn.Module):
    """Manifold Mixup in miniature: x -> Linear -> ReLU -> mix the hidden
    features -> Linear -> soft-target cross-entropy. The mix sits inside a
    real autograd graph, so its marginal cost (host and GPU) shows against
    the same step written with the formula."""

    def __init__(self, features: int, hidden: int = 512, classes: int = NUM_CLASSES):
        super().__init__()
        self.inner = torch.nn.Linear(features, hidden)
        self.outer = torch.nn.Linear(hidden, classes)


def _hidden_mix_step(a, fused: bool):
    x = a["x"].flatten(1)
    net = _HiddenMixNet(x.shape[1]).to(device=x.device, dtype=x.dtype)
    target, index, lam = a["target"], a["index"], a["lam"]

    def step():
        h = torch.relu(net.inner(x))
        if fused:
            h, soft = torch.ops.mixup.fused_mix(h, target, index, lam, None, NUM_CLASSES, SMOOTHING)
        else:
            h, soft = _eager_formula(h, target, index, lam, None, NUM_CLASSES, SMOOTHING)
            h = h.to(x.dtype)  # float32 lam promotes a bf16 blend; the next layer is bf16
        loss = torch.sum(-soft * torch.log_softmax(net.outer(h).float(), dim=-1), dim=-1).mean()
        return torch.autograd.grad(loss, list(net.parameters()))

    return step


def _backward_only(fn_backward, a):
    """The backward alone: the adjoint of the mix applied to a gradient."""
    return lambda: fn_backward(a["grad"], a["index"], a["lam"], a["box"], 1.0)


def _hidden(case) -> bool:
    return case.hidden_mix


def _own(name, make, mode="forward", **kw) -> Provider:
    return Provider(name, make, mode, moves=1.0 if mode == "forward" else 2.0, **kw)


def _peer(name, make, mode="forward", **kw) -> Provider:
    return Provider(name, make, mode, peer=True, moves=1.0 if mode == "forward" else 2.0, **kw)


# forward+backward moves the floor's bytes twice (x in/out, grad in/out); the
# backward alone once (grad in, grad_x out).
PROVIDER_LIST = [
    _own("clone", lambda a: lambda: a["x"].clone()),
    _own("fused", lambda a: lambda: torch.ops.mixup.fused_mix(*_args(a))),
    _own("reference", lambda a: lambda: reference.fused_mix_op(*_args(a))),
    _own("compiled_reference", lambda a: lambda: _compiled()(*_args(a))),
    _own("mixup_elem", lambda a: _front_end(a, "elem")),
    Provider("fused_bwd", lambda a: _backward_only(torch.ops.mixup._fused_mix_backward, a), "backward"),
    Provider("reference_bwd", lambda a: _backward_only(reference._fused_mix_backward, a), "backward"),
    _own("fused_fwd_bwd", lambda a: _forward_backward(torch.ops.mixup.fused_mix, a), "full"),
    _own(
        "fused_fwd_bwd_graphed",
        lambda a: _graphed(_forward_backward(torch.ops.mixup.fused_mix, a)),
        "full",
        cuda_only=True,
    ),
    _own("reference_fwd_bwd", lambda a: _forward_backward(reference.fused_mix_op, a), "full"),
    _peer("eager_formula", lambda a: lambda: _eager_formula(*_args(a))),
    _peer("compiled_formula", lambda a: lambda: _compiled_eager()(*_args(a))),
    _peer("eager_formula_fwd_bwd", lambda a: _forward_backward(_eager_formula, a), "full"),
    _peer("compiled_formula_fwd_bwd", lambda a: _forward_backward(_compiled_eager(), a), "full"),
    _peer("timm_batch", lambda a: _timm(a, "batch", cutmix=False)),
    _peer("timm_batch_cutmix", lambda a: _timm(a, "batch", cutmix=True)),
    _peer("timm_elem", lambda a: _timm(a, "elem", cutmix=False)),
    _peer("tv_mixup", lambda a: _torchvision(a, cutmix=False)),
    _peer("tv_cutmix", lambda a: _torchvision(a, cutmix=True)),
    # A whole small training step: its own floor is the step, not x.clone().
    Provider("hidden_mix_fused", lambda a: _hidden_mix_step(a, fused=True), "full", applies=_hidden),
    Provider("hidden_mix_formula", lambda a: _hidden_mix_step(a, fused=False), "full", peer=True, applies=_hidden),
]
PROVIDERS = {p.name: p.make for p in PROVIDER_LIST}

SUITE = Suite(
    name="fused_mix",
    cases={"cuda": CUDA_CASES, "cpu": CPU_CASES},
    setup=setup,
    providers=PROVIDER_LIST,
    baseline="clone",
    floor_bytes=lambda case, a: case.bytes_moved(a["x"]),
    about={
        "clone": "`x.clone()`: the floor (x read once, written once), which every ratio is to",
        "fused": "`torch.ops.mixup.fused_mix`, the forward: x and its targets in one launch",
        "reference": "`mixup_ext.reference`, the pure-PyTorch twin of the op, eager",
        "compiled_reference": "`torch.compile(fullgraph=True)` of that reference",
        "mixup_elem": 'a whole `mixup_ext.Mixup(mode="elem")` call: the draws and the fused mix',
        "fused_bwd": "`torch.ops.mixup._fused_mix_backward` alone: the adjoint of the mix on a gradient",
        "reference_bwd": "the reference's backward",
        "fused_fwd_bwd": "the fused forward and its backward through autograd",
        "fused_fwd_bwd_graphed": "the same, captured in a CUDA graph and replayed: the GPU's time alone",
        "reference_fwd_bwd": "the reference's forward and backward",
        "eager_formula": "the formula by hand, eager: `lam * x + (1 - lam) * x[index]` and one-hot targets",
        "compiled_formula": "`torch.compile` of that formula: the strongest alternative",
        "eager_formula_fwd_bwd": "the eager formula, forward and backward",
        "compiled_formula_fwd_bwd": "the compiled formula, forward and backward",
        "timm_batch": "timm's `Mixup(mode='batch')`, Mixup only (in place on its own copy)",
        "timm_batch_cutmix": "timm's `Mixup(mode='batch')`, CutMix only",
        "timm_elem": "timm's `Mixup(mode='elem')`: its per-sample Python loop",
        "tv_mixup": "torchvision v2 `MixUp`",
        "tv_cutmix": "torchvision v2 `CutMix`",
        "hidden_mix_fused": "a small training step that mixes hidden features with the op (compare with the next)",
        "hidden_mix_formula": "the same step with the formula by hand",
    },
)
