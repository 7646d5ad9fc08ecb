import pytest
import torch

import mixup_ext  # noqa: F401 -- loads the op library once for the session


@pytest.fixture(autouse=True)
def _fresh_seed():
    torch.manual_seed(0)
    yield


def pytest_report_header(config):

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return f"mixup_ext backend: {mixup_ext.backend()}; torch {torch.__version__}; GPU: {gpu}"
