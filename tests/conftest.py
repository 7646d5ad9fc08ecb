import pytest
import torch

import mixup_ext  # noqa: F401 -- loads the op library once for the session

# The CUDA row kernels run one of two tiles, chosen by a launch's size
# (csrc/row_tile.h); the tests' small tensors mostly take the small one. The
# test files of those kernels use this fixture, so that on a GPU every test
# runs twice: with the size's choice, and with the wide tile pinned for that
# test alone (mixup::_set_cuda_tile, this thread only). On a CPU machine
# there is nothing to pin, and each test runs once.
ROW_TILES = ("by_size", "wide") if torch.cuda.is_available() else ("by_size",)


@pytest.fixture(params=ROW_TILES)
def cuda_tile(request):
    previous = torch.ops.mixup._set_cuda_tile(request.param)
    try:
        yield request.param
    finally:
        torch.ops.mixup._set_cuda_tile(previous)


@pytest.fixture(autouse=True)
def _fresh_seed():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    """A CPU test has no tile to pin: its wide-tile copy is not run."""
    pinned_on_cpu = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("cuda_tile") == "wide"
        and item.callspec.params.get("device", "cuda") == "cpu"
    ]
    if pinned_on_cpu:
        config.hook.pytest_deselected(items=pinned_on_cpu)
        items[:] = [item for item in items if item not in set(pinned_on_cpu)]


def pytest_report_header(config):

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return f"mixup_ext backend: {mixup_ext.backend()}; torch {torch.__version__}; GPU: {gpu}"
