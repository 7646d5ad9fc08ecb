"""How the op library is found and loaded. The JIT and fallback paths run in
subprocesses: a process can hold only one definition of the `mixup` library."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import mixup_ext
from mixup_ext import _build, _contract

ROOT = Path(__file__).resolve().parent.parent

# Makes importlib believe there is no ahead-of-time build.
HIDE_AOT = textwrap.dedent(
    """
    import importlib.machinery, sys
    class _HideAot:
        def find_spec(self, name, path=None, target=None):
            return importlib.machinery.ModuleSpec(name, None) if name == "mixup_ext._C" else None
    sys.meta_path.insert(0, _HideAot())
    """
)

# Runs the op on every device against the reference, forward and backward.
EXERCISE = textwrap.dedent(
    """
    import torch, mixup_ext
    from mixup_ext import reference
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        x = torch.randn(6, 3, 9, 8, device=device, requires_grad=True)
        args = (torch.randint(0, 5, (6,), device=device), torch.randperm(6, device=device),
                torch.rand(6, device=device), torch.tensor([2, 7, 1, 5], device=device))
        out, mixed = mixup_ext.fused_mix(x, *args, 5, 0.1)
        ref_out, ref_mixed = reference.fused_mix(x, *args, 5, 0.1)
        torch.testing.assert_close(out, ref_out)
        torch.testing.assert_close(mixed, ref_mixed)
        (g,) = torch.autograd.grad(out.square().sum(), x)
        (g_ref,) = torch.autograd.grad(ref_out.square().sum(), x)
        torch.testing.assert_close(g, g_ref)
        torch.library.opcheck(torch.ops.mixup.fused_mix.default, (x, *args, 5, 0.1))
        compiled = torch.compile(lambda x, *a: mixup_ext.fused_mix(x, *a, 5, 0.1), fullgraph=True)
        torch.testing.assert_close(compiled(x, *args)[0], ref_out)
    print("BACKEND", mixup_ext.backend(), "DEVICES", devices)
    """
)


def run_python(code: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "torch_extensions"), **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=1800
    )


def test_backend_is_the_one_installed_or_asked_for():
    assert mixup_ext.backend() == os.environ.get("MIXUP_EXT_BACKEND", "aot")


def test_every_op_is_defined_from_the_one_schema_file():
    """csrc/mixup_schemas.def is read by both sides: the loaded library (compiled
    or reference) has exactly its ops, with its schemas and tags."""
    defined = {s.name.split("::", 1)[1] for s in torch._C._jit_get_all_schemas() if s.name.startswith("mixup::")}
    assert defined == set(_contract.SCHEMAS)
    for op in _contract.SCHEMAS.values():
        overload = getattr(torch.ops.mixup, op.name).default
        assert str(overload._schema) == str(torch._C.parse_schema(op.qualified_name + op.schema[len(op.name) :])), (
            op.name
        )
        assert set(op.tags) <= set(overload.tags), op.name


def test_internal_ops_look_internal():
    """The ops no user calls start with an underscore (torchvision's rule):
    those only the autograd kernels call (the backwards, the losses'
    forward-with-gradient and its grad_output step), the sampler's test hook,
    the ISA probe, the value-checks switch (users call its Python wrapper,
    mixup_ext.set_value_checks) and the tests' CUDA tile setting. Every other
    op -- what a user calls -- does not."""
    autograd_only = ("_backward", "_with_grad", "_apply_grad_output")
    diagnostics = {"_sample_mix_params", "_cpu_vector_isa", "_set_value_checks", "_set_cuda_tile"}
    for name in _contract.SCHEMAS:
        assert name.startswith("_") == (name.endswith(autograd_only) or name in diagnostics), name


def test_the_sampler_slots_are_one_list_for_both_languages():
    """The reference indexes its tables by csrc/sample_mix_params_slots.def:
    the slots a draw reads, in the kernels' order, and the box rule's
    no-box row as the kernels write it."""
    from mixup_ext import _sampling as sampling

    assert [s.name for s in _contract.UniformSlot] == [
        "APPLY",
        "SWITCH",
        "CENTRE_Y",
        "CENTRE_X",
        "MINMAX_H",
        "MINMAX_W",
        "MINMAX_Y",
        "MINMAX_X",
    ]
    assert [s.name for s in _contract.GammaSlot] == ["MIXUP_G1", "MIXUP_G2", "CUTMIX_G1", "CUTMIX_G2"]
    assert (_contract.UNIFORMS, _contract.GAMMAS) == (8, 4)
    header = (_build.csrc_dir() / "fused_mix_math.h").read_text()
    assert f"static constexpr int64_t kNoBox = {sampling.NO_BOX};" in header


def test_a_malformed_contract_file_is_refused_by_name(tmp_path):
    (tmp_path / _contract.SCHEMAS_FILE).write_text(
        'MIXUP_OP(fused_mix, PT2, "fused_mix(Tensor x) -> Tensor")\nMIXUP_OP(broken, PT2)\n'
    )
    with pytest.raises(ValueError, match="mixup_schemas.def has 2 MIXUP_OP entries but 1 read"):
        _contract._read_schemas(tmp_path)
    (tmp_path / _contract.SCHEMAS_FILE).write_text('MIXUP_OP(fused_mix, FAST, "fused_mix(Tensor x) -> Tensor")\n')
    with pytest.raises(ValueError, match="one of the tags PT2, PT2_SEEDED, HOST"):
        _contract._read_schemas(tmp_path)
    with pytest.raises(FileNotFoundError, match="is missing; it defines the operators for every backend"):
        _contract._read_schemas(tmp_path / "nowhere")


def test_the_contract_is_read_from_the_package_not_from_mixup_ext_csrc(monkeypatch, tmp_path):
    """$MIXUP_EXT_CSRC says what to compile; the reference backend, the last
    resort when nothing compiles, reads the package's own contract files."""
    monkeypatch.setenv("MIXUP_EXT_CSRC", str(tmp_path / "no_sources_here"))
    assert _build.contract_dir() != tmp_path / "no_sources_here"
    assert set(_contract._read_schemas()) == set(_contract.SCHEMAS)


def test_jit_sources_have_distinct_object_names():
    """torch's JIT build puts every object file in one folder, named after the
    source's stem: cpu/x.cpp and autograd/x.cpp would overwrite each other."""
    for with_cuda in (False, True):
        stems = [
            Path(p).name.rsplit(".", 1)[0] + (".cuda" if p.endswith(".cu") else "")
            for p in _build.sources(_build.csrc_dir(), with_cuda)
        ]
        assert len(stems) == len(set(stems)), sorted(stems)


def test_autograd_is_the_cpp_kernel():
    """No Python on the autograd path of the compiled ops (csrc/autograd/)."""
    if mixup_ext.backend() == "reference":
        pytest.skip("the reference backend's autograd is PyTorch's own")
    for op in (
        "fused_mix",
        "_fused_mix_backward",
        "mixup_cross_entropy",
        "mixup_binary_cross_entropy",
        "draw_mix_params",
    ):
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"mixup::{op}", "Autograd"), op
    x = torch.randn(4, 3, requires_grad=True)
    out, _ = torch.ops.mixup.fused_mix(x, torch.arange(4), torch.tensor([1, 0, 3, 2]), torch.rand(4), None, 4, 0.0)
    assert "FusedMixFunction" in out.grad_fn.name()


@pytest.mark.slow
def test_jit_build_from_csrc(tmp_path):
    result = run_python(EXERCISE, tmp_path, MIXUP_EXT_BACKEND="jit")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "BACKEND jit" in result.stdout
    # A cold cache: the build says what it compiles, how long, and where it caches, once.
    announced = [line for line in result.stderr.splitlines() if line.startswith("mixup_ext: JIT-compiling the ")]
    assert len(announced) == 1 and f"cached in {tmp_path / 'torch_extensions'}" in announced[0], result.stderr[-2000:]


@pytest.mark.slow
def test_forced_reference_backend_is_complete_and_quiet(tmp_path):
    code = "import warnings\nwarnings.simplefilter('error', RuntimeWarning)\n" + EXERCISE
    result = run_python(code, tmp_path, MIXUP_EXT_BACKEND="reference")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "BACKEND reference" in result.stdout


@pytest.mark.slow
def test_falls_back_to_reference_with_one_clear_warning(tmp_path):
    code = (
        HIDE_AOT
        + textwrap.dedent(
            """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import mixup_ext
        ours = [w for w in caught if "mixup_ext" in str(w.message)]
        assert len(ours) == 1, [str(w.message) for w in caught]
        print("WARNING", ours[0].category.__name__, ours[0].message)
        """
        )
        + EXERCISE
    )
    result = run_python(code, tmp_path, MIXUP_EXT_CSRC=str(tmp_path / "no_sources_here"), MIXUP_EXT_BACKEND="")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "BACKEND reference" in result.stdout
    assert "WARNING RuntimeWarning" in result.stdout
    assert "aot: no ahead-of-time build" in result.stdout and "jit: " in result.stdout
    assert "pip install --no-build-isolation -e ." in result.stdout


@pytest.mark.slow
def test_forced_aot_failure_is_an_actionable_error(tmp_path):
    result = run_python(HIDE_AOT + "import mixup_ext", tmp_path, MIXUP_EXT_BACKEND="aot")
    assert result.returncode != 0
    assert "MIXUP_EXT_BACKEND=aot failed" in result.stderr
    assert "pip install --no-build-isolation -e ." in result.stderr


@pytest.mark.slow
def test_unknown_backend_name_is_refused(tmp_path):
    result = run_python("import mixup_ext", tmp_path, MIXUP_EXT_BACKEND="fastest")
    assert result.returncode != 0
    assert "MIXUP_EXT_BACKEND must be one of aot, jit, reference, got 'fastest'" in result.stderr


# An installed copy ---------------------------------------------------------------


def _relative_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_wheel_and_sdist_carry_every_cpp_source(tmp_path):
    """An installed copy JIT-builds from mixup_ext/csrc, so the wheel must
    carry csrc/ whole (headers too), and the sdist must too. (.ci/check_wheel
    installs a real wheel and JIT-builds from it.)"""
    import tarfile

    expected = _relative_files(ROOT / "csrc")
    assert {
        "mixup.cpp",
        "fused_mix_math.h",
        "mixup_schemas.def",
        "sample_mix_params_slots.def",
        "cuda/fused_mix_kernel.cu",
    } <= expected
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert _relative_files(tmp_path / "lib" / "mixup_ext" / "csrc") == expected
    sdist = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sdist.returncode == 0, sdist.stderr[-3000:]
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {f"csrc/{name}" for name in expected} <= names


def test_csrc_is_found_by_env_then_package_then_checkout(monkeypatch, tmp_path):
    packaged = tmp_path / "mixup_ext" / "csrc"
    monkeypatch.setattr(_build, "PACKAGED_CSRC", packaged)
    monkeypatch.delenv("MIXUP_EXT_CSRC", raising=False)
    assert _build.csrc_dir() == ROOT / "csrc", "a checkout: its csrc/"
    packaged.mkdir(parents=True)
    assert _build.csrc_dir() == packaged, "an installed copy: the sources it carries"
    monkeypatch.setenv("MIXUP_EXT_CSRC", str(tmp_path / "mine"))
    assert _build.csrc_dir() == tmp_path / "mine", "MIXUP_EXT_CSRC wins"


def test_a_jit_build_is_announced_only_when_it_compiles(monkeypatch, tmp_path, capsys):
    from torch.utils import cpp_extension

    from mixup_ext import _loader

    cache = tmp_path / "cache"
    monkeypatch.setattr(cpp_extension, "_get_build_directory", lambda name, verbose: str(cache / name))
    csrc = _build.csrc_dir()
    sources = _build.sources(csrc, with_cuda=False)
    _loader._announce_jit_build("mixup_ext_jit_cpu", sources, csrc, with_cuda=False)
    line = capsys.readouterr().err.strip()
    assert (
        line.startswith("mixup_ext: JIT-compiling the CPU kernels from ")
        and f"cached in {cache / 'mixup_ext_jit_cpu'}" in line
    )
    assert "about a minute" in line and "MIXUP_EXT_VERBOSE=1" in line
    built = cache / "mixup_ext_jit_cpu" / "mixup_ext_jit_cpu.so"
    built.parent.mkdir(parents=True)
    built.touch()  # newer than every source: an up-to-date build loads silently
    _loader._announce_jit_build("mixup_ext_jit_cpu", sources, csrc, with_cuda=False)
    assert capsys.readouterr().err == ""
    os.utime(built, (0, 0))  # older than the sources: it will rebuild, so it says so
    _loader._announce_jit_build("mixup_ext_jit_cpu", sources, csrc, with_cuda=True)
    assert "JIT-compiling the CPU and CUDA kernels" in capsys.readouterr().err


def test_an_installed_copy_hidden_by_the_checkout_is_named(monkeypatch, tmp_path):
    from mixup_ext import _loader

    monkeypatch.setattr(sys, "path", [str(tmp_path / "elsewhere")])
    assert _loader._shadowed_install() is None
    installed = tmp_path / "site-packages" / "mixup_ext"
    installed.mkdir(parents=True)
    assert _loader._shadowed_install() is None, "a copy without a compiled library hides nothing worth naming"
    (installed / "_C.cpython-311-x86_64-linux-gnu.so").touch()
    monkeypatch.setattr(sys, "path", [str(tmp_path / "elsewhere"), str(installed.parent)])
    assert _loader._shadowed_install() == installed.resolve()
    with pytest.warns(
        RuntimeWarning, match=r"hides the installed copy at .*site-packages/mixup_ext; falling back to a JIT build"
    ):
        _loader._warn_if_shadowing()


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_a_killed_jit_build_leaves_no_lock_that_hangs_the_next_import(tmp_path):
    """A build killed mid-way leaves torch's ``lock`` file behind; the next
    import says it was stale, removes it and builds, instead of waiting on it
    for ever. Both builds are killed once that is seen: the test is about the
    lock, not the compile."""
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext"), "MIXUP_EXT_BACKEND": "jit"}
    code = HIDE_AOT + "import mixup_ext"
    lock = tmp_path / "ext" / "mixup_ext_jit_cpu" / "lock"
    if _build.cuda_toolkit_usable():
        lock = lock.parent.with_name("mixup_ext_jit_cuda") / "lock"

    def start():
        return subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stderr=subprocess.PIPE)

    first = start()
    try:
        _wait_for(lock.exists, 120, "the first build to take torch's lock")
    finally:
        first.kill()
        first.wait()
    assert lock.exists(), "the killed build should have left its lock behind"
    second = start()
    try:
        seen, deadline = "", time.monotonic() + 120
        wanted = f"removed {lock}, left by a JIT build that was interrupted"
        while wanted not in seen and time.monotonic() < deadline:
            # select on the raw pipe, never a blocking read: without the fix
            # the second import hangs silently, and the test must fail, not
            # hang with it.
            if select.select([second.stderr], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(second.stderr.fileno(), 65536).decode()
                if not chunk:
                    break
                seen += chunk
        assert wanted in seen, seen
        _wait_for(lock.exists, 60, "the second build to take the lock again, and build")
    finally:
        second.kill()
        second.wait()
