"""Builds the `mixup` operator library ahead of time as mixup_ext/_C*.so.

CUDA kernels are built when torch was built with CUDA and a CUDA toolkit is
present -- decided from the toolchain, not from whether a GPU is visible, so a
GPU-less build machine still produces them. TORCH_CUDA_ARCH_LIST defaults to
Ampere and Hopper ("8.0;9.0"). Install without build isolation, which would
otherwise download a second torch:

    pip install --no-build-isolation -e .

MIXUP_EXT_SANITIZE=1 builds a CPU-only test build under AddressSanitizer and
UndefinedBehaviorSanitizer (see .ci/sanitize_cpu).
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import torch
from setuptools import setup
from setuptools.command.build_py import build_py
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

ROOT = Path(__file__).resolve().parent


def _load_build_config():
    # By path: importing the package itself would try to load the library we
    # are about to build.
    spec = importlib.util.spec_from_file_location("_mixup_ext_build", ROOT / "mixup_ext" / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_config()
with_cuda = build.cuda_toolkit_usable()
if with_cuda:
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", build.DEFAULT_CUDA_ARCH_LIST)

csrc = ROOT / "csrc"
extension = (CUDAExtension if with_cuda else CppExtension)(
    name="mixup_ext._C",
    sources=[os.path.relpath(s, ROOT) for s in build.sources(csrc, with_cuda)],
    include_dirs=[str(csrc)],
    extra_compile_args={"cxx": build.cxx_flags(), "nvcc": build.NVCC_FLAGS},
    extra_link_args=build.link_flags(),
)


class IncrementalBuildExtension(BuildExtension):
    """Keeps the object files in build/ between installs, so that ninja
    recompiles only what changed: pip's editable and wheel builds otherwise
    compile in a fresh temporary directory every time (3 minutes on 2 cores
    for an install that changed nothing). The directory is named after the
    Python and torch it was built for, and ninja itself rebuilds any object
    whose compile command changed. With ccache on PATH, the C++ and CUDA
    compilers run through it too (unless CXX or PYTORCH_NVCC are set)."""

    def finalize_options(self):
        super().finalize_options()
        tag = f"py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}"
        self.build_temp = str(ROOT / "build" / f"temp-{tag}")

    def build_extensions(self):
        # ccache's compiler links (Debian: /usr/lib/ccache) first on PATH make
        # `c++` a cached compiler without changing what CXX names; nvcc is
        # named in the ninja file only, so it can take the wrapper directly.
        ccache = shutil.which("ccache")
        if ccache and not os.environ.get("MIXUP_EXT_NO_CCACHE"):
            links = Path(ccache).resolve().parent.parent / "lib" / "ccache"
            if links.is_dir():
                os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"
            if with_cuda and "PYTORCH_NVCC" not in os.environ:
                from torch.utils.cpp_extension import CUDA_HOME

                os.environ["PYTORCH_NVCC"] = f"{ccache} {os.path.join(CUDA_HOME, 'bin', 'nvcc')}"
        super().build_extensions()


class BuildPyWithSources(build_py):
    """Ships csrc/ inside the package as mixup_ext/csrc, so that an installed
    copy (wheel or sdist, not only a checkout) can JIT-build its kernels
    (MIXUP_EXT_BACKEND=jit, or the fallback when the AOT library will not
    load). Editable installs read the checkout's csrc/ directly."""

    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            shutil.copytree(csrc, Path(self.build_lib) / "mixup_ext" / "csrc", dirs_exist_ok=True)


setup(ext_modules=[extension], cmdclass={"build_ext": IncrementalBuildExtension, "build_py": BuildPyWithSources})
