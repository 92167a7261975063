"""JSON Schema files of the message contract, generated from the msgspec structs.

:func:`schema_files` renders one schema per message type (a pure function), byte for
byte the same on every run (sorted keys, two-space indent, trailing newline);
:func:`differences` reads a folder and names the files that do not match.
``scripts/make_schemas.py`` writes or checks ``docs/schemas/`` with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from calfload.bridge.messages import Message

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SUFFIX: Final = ".schema.json"


def file_name(kind: type[Message]) -> str:
    return f"{kind.__name__}{SUFFIX}"


def json_schema(kind: type[Message]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message type, nested types in ``$defs``."""
    body: dict[str, Any] = msgspec.json.schema(kind)
    origin = f"{kind.__module__}.{kind.__qualname__}"
    return {
        "$schema": DIALECT,
        "$comment": f"Generated from {origin} by scripts/make_schemas.py; do not edit.",
        **body,
    }


def render(kind: type[Message]) -> str:
    return json.dumps(json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_files(kinds: Iterable[type[Message]]) -> dict[str, str]:
    """File name → text of each message type's schema; names must not collide."""
    files: dict[str, str] = {}
    for kind in kinds:
        name = file_name(kind)
        if name in files:
            raise ValueError(f"two message types would both write {name}")
        files[name] = render(kind)
    return files


def differences(folder: Path, expected: Mapping[str, str]) -> list[str]:
    """One line per schema file in ``folder`` that is missing, stale or left over."""
    problems = []
    for name, text in sorted(expected.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the structs")
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if path.name not in expected:
            problems.append(f"{path}: no message type has this name")
    return problems
