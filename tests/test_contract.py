"""The message contract: checked-in JSON Schemas match the structs, every message has an
example that both its schema and its struct accept, and bad payloads are refused."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from calfload.bridge import messages as bm
from calfload.bridge import topics
from calfload.bridge.schemas import SUFFIX, differences, file_name, schema_files
from calfload.processing import messages as pm

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "docs" / "schemas"
SCRIPT = REPO / "scripts" / "make_schemas.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MESSAGES: tuple[type[bm.Message], ...] = _load_script().MESSAGES
KINDS = {kind.__name__: kind for kind in MESSAGES}
# examples/<Type>.json, plus variants examples/<Type>.<variant>.json
EXAMPLES = sorted((SCHEMAS / "examples").glob("*.json"))


def _kind(example: Path) -> str:
    return example.name.split(".")[0]


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}{SUFFIX}").read_text())
    return schema


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = _schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_checked_in_schemas_match_the_structs() -> None:
    assert differences(SCHEMAS, schema_files(MESSAGES)) == []


def test_make_schemas_check_names_a_stale_missing_or_extra_file(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(SCRIPT), "--out", str(tmp_path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert run().returncode == 0
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(first) == {file_name(k) for k in MESSAGES}
    assert run().returncode == 0  # regenerating gives the same bytes
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert run("--check").returncode == 0

    stale = tmp_path / file_name(pm.StepMessage)
    stale.write_text(stale.read_text().replace('"gct_ms"', '"contact_ms"'))
    (tmp_path / file_name(bm.BridgeState)).unlink()
    (tmp_path / f"OldMessage{SUFFIX}").write_text("{}\n")
    result = run("--check")
    assert result.returncode == 1
    assert f"{stale}: differs from the structs" in result.stderr
    assert f"{file_name(bm.BridgeState)}: missing" in result.stderr
    assert f"OldMessage{SUFFIX}: no message type has this name" in result.stderr

    assert run().returncode == 0  # regenerating repairs all three
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first


def test_every_message_struct_is_in_the_contract() -> None:
    """A Message subclass is a published message or nested inside one."""

    def subclasses(cls: type[bm.Message]) -> set[type[bm.Message]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found))

    nested = {name for kind in MESSAGES for name in _schema(kind.__name__)["$defs"]}
    missing = {c.__qualname__ for c in subclasses(bm.Message)} - set(KINDS) - nested
    assert missing == set()


def test_every_message_type_has_an_example_and_no_example_is_orphaned() -> None:
    assert {_kind(p) for p in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_matches_its_schema_decodes_and_round_trips(example: Path) -> None:
    name = _kind(example)
    payload = json.loads(example.read_text())
    _validator(name).validate(payload)
    message = bm.decode(example.read_bytes(), KINDS[name])
    assert bm.decode(bm.encode(message), KINDS[name]) == message


@pytest.mark.parametrize("name", sorted(KINDS))
def test_schema_and_struct_both_refuse_a_missing_field_or_another_schema(name: str) -> None:
    payload = json.loads((SCHEMAS / "examples" / f"{name}.json").read_text())
    validator = _validator(name)
    required = _schema(name)["$defs"][name]["required"]
    assert "schema" in required
    for field in required:
        broken = {k: v for k, v in payload.items() if k != field}
        assert not validator.is_valid(broken), field
        with pytest.raises(bm.MessageError):
            bm.decode(json.dumps(broken), KINDS[name])
    newer = payload | {"schema": bm.SCHEMA + 1}
    assert not validator.is_valid(newer)
    with pytest.raises(bm.MessageError, match=f"schema {bm.SCHEMA + 1}"):
        bm.decode(json.dumps(newer), KINDS[name])


def test_raw_example_force_is_the_sum_of_its_cells() -> None:
    raw = bm.decode((SCHEMAS / "examples" / "RawBatch.json").read_bytes(), bm.RawBatch)
    assert raw.cell_force_n is not None and raw.force_n is not None
    assert len(raw.force_n) == raw.n
    for total, cells in zip(raw.force_n, raw.cell_force_n, strict=True):
        assert total == pytest.approx(sum(cells), abs=0.1)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"not json", "not a valid StepMessage"),
        (
            b'{"schema": 2, "athlete": "a", "side": "left", "sensor_id": "s", "step_index": 1,'
            b' "ic_s": 0, "to_s": 1, "gct_ms": 1}',
            "schema 2",
        ),
        (
            b'{"schema": 1, "athlete": "a", "side": "up", "sensor_id": "s", "step_index": 1,'
            b' "ic_s": 0, "to_s": 1, "gct_ms": 1}',
            "side",
        ),
        (
            b'{"schema": 1, "athlete": "a", "side": "left", "sensor_id": "s", "step_index": 1,'
            b' "ic_s": "soon", "to_s": 1, "gct_ms": 1}',
            "ic_s",
        ),
    ],
)
def test_bad_payloads_raise_message_error(payload: bytes, words: str) -> None:
    with pytest.raises(bm.MessageError, match=words):
        bm.decode(payload, pm.StepMessage)
    if payload.startswith(b"{"):  # the published schema refuses it too
        assert not _validator("StepMessage").is_valid(json.loads(payload))


def test_topics_refuse_wildcards_and_slashes() -> None:
    assert topics.steps("calfload", "a1", "left") == "calfload/steps/a1/left"
    for bad in ("a/1", "a+", "#", "", "a b"):
        with pytest.raises(ValueError, match="athlete id"):
            topics.steps("calfload", bad, "left")


def test_contract_page_links_every_schema_and_example_and_nothing_else() -> None:
    page = (REPO / "docs" / "contract.md").read_text()
    linked = set(re.findall(r"\]\((schemas/[^)]+)\)", page))
    for target in linked:
        assert (REPO / "docs" / target).is_file(), target
    expected = {f"schemas/{file_name(k)}" for k in MESSAGES}
    expected |= {f"schemas/examples/{p.name}" for p in EXAMPLES}
    assert linked == expected
