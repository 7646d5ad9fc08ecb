"""Reads the contracts that csrc/ writes once for both languages.

Both are read from this package's own csrc/ (``_build.contract_dir``).

* ``csrc/mixup_schemas.def``: every operator's schema and tags. The compiled
  library is defined from it (csrc/mixup.cpp), and so is the Python one when
  no compiled build loads (the reference backend, ``_registrations``).
* ``csrc/sample_mix_params_slots.def``: which uniform and which Gamma draw of
  a Mixup/CutMix draw means what, by position. The kernels' enums are built
  from it (csrc/sample_mix_params_math.h) and the reference indexes its
  tables by these names.

The files are plain X-macro lists, one entry each, in the form their
headers describe; this reader refuses anything else, loudly. They travel with
every install (a wheel carries csrc/ for its JIT build; see ``_build``), and
are read from the package's own copy even when $MIXUP_EXT_CSRC points the JIT
build elsewhere: the reference backend, the last resort, must not depend on
sources that could not be compiled.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from . import _build

NAMESPACE = "mixup"
SCHEMAS_FILE = "mixup_schemas.def"
SLOTS_FILE = "sample_mix_params_slots.def"

_TAGS = {
    "PT2": (torch.Tag.pt2_compliant_tag,),
    "PT2_SEEDED": (torch.Tag.pt2_compliant_tag, torch.Tag.nondeterministic_seeded),
    "HOST": (),
}
_STRING = r'"(?:[^"\\]|\\.)*"'
_OP = re.compile(rf"^MIXUP_OP\(\s*(\w+)\s*,\s*(\w+)\s*,\s*((?:{_STRING}\s*)+)\)", re.MULTILINE)
_SLOT = re.compile(r"^MIXUP_(UNIFORM|GAMMA)_SLOT\((\w+)\)", re.MULTILINE)


@dataclass(frozen=True)
class OpSchema:
    name: str
    schema: str
    tags: tuple[torch.Tag, ...]

    @property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}::{self.name}"


def _text(file_name: str, folder: Path | None = None) -> str:
    path = (folder or _build.contract_dir()) / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"mixup_ext: {path} is missing; it defines the operators for every backend. The package is "
            "incomplete: reinstall it."
        )
    return path.read_text()


def _entries(pattern: re.Pattern, text: str, marker: str, file_name: str) -> list[re.Match]:
    found = list(pattern.finditer(text))
    expected = len(re.findall(rf"^{marker}", text, re.MULTILINE))
    if not found or len(found) != expected:
        raise ValueError(
            f"mixup_ext: csrc/{file_name} has {expected} {marker} entries but {len(found)} read; "
            "keep each in the form its header describes"
        )
    return found


def _read_schemas(folder: Path | None = None) -> dict[str, OpSchema]:
    schemas = {}
    for match in _entries(_OP, _text(SCHEMAS_FILE, folder), "MIXUP_OP", SCHEMAS_FILE):
        name, tags, literals = match.groups()
        # The C string literals' text, their escapes (\" around a default) undone.
        schema = "".join(re.sub(r"\\(.)", r"\1", part[1:-1]) for part in re.findall(_STRING, literals))
        if not schema.startswith(f"{name}(") or tags not in _TAGS:
            raise ValueError(
                f"mixup_ext: csrc/{SCHEMAS_FILE}: the entry {name!r} must define {name}(...) with "
                f"one of the tags {', '.join(_TAGS)}, got {tags} {schema!r}"
            )
        schemas[name] = OpSchema(name, schema, _TAGS[tags])
    return schemas


def _read_slots() -> tuple[type[enum.IntEnum], type[enum.IntEnum]]:
    slots = {"UNIFORM": [], "GAMMA": []}
    for match in _entries(_SLOT, _text(SLOTS_FILE), "MIXUP_(?:UNIFORM|GAMMA)_SLOT", SLOTS_FILE):
        kind, name = match.groups()
        slots[kind].append(name)

    # The C++ names (kCentreY) become Python's (CENTRE_Y); the position is the value.
    def python_name(cpp: str) -> str:
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cpp.removeprefix("k")).upper()

    uniform = enum.IntEnum("UniformSlot", [(python_name(n), i) for i, n in enumerate(slots["UNIFORM"])])
    gamma = enum.IntEnum("GammaSlot", [(python_name(n), i) for i, n in enumerate(slots["GAMMA"])])
    return uniform, gamma


#: Every operator of the library, by name, in the order csrc defines them.
SCHEMAS: dict[str, OpSchema] = _read_schemas()

#: Slots of a draw's uniforms (``UniformSlot.CENTRE_Y`` ...) and Gamma draws.
UniformSlot, GammaSlot = _read_slots()
UNIFORMS = len(UniformSlot)  # uniforms per draw (kUniforms)
GAMMAS = len(GammaSlot)  # Gamma draws per draw (kGammas)
