"""docs/contract.md's example payloads are valid messages, and bad payloads are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from calfload.bridge import messages as bm
from calfload.bridge import topics
from calfload.dashboard.athletestore import TimelineEvent
from calfload.processing import messages as pm
from calfload.processing.protocols import messages as protocol_messages
from calfload.processing.protocols import results as protocol_results
from calfload.processing.recorder import messages as rm

DOC = Path(__file__).resolve().parent.parent / "docs" / "contract.md"
KINDS: dict[str, type[bm.Message]] = {
    "RawBatch": bm.RawBatch,
    "AthleteInfo": bm.AthleteInfo,
    "SensorAvailability": bm.SensorAvailability,
    "SensorQuality": bm.SensorQuality,
    "BridgeState": bm.BridgeState,
    "StepMessage": pm.StepMessage,
    "SessionSummary": pm.SessionSummary,
    "WorkerState": pm.WorkerState,
    "SessionControl": rm.SessionControl,
    "SessionState": rm.SessionState,
    "Marker": rm.Marker,
    "RecorderState": rm.RecorderState,
    "ProtocolEvent": protocol_messages.ProtocolEvent,
    "ProtocolResult": protocol_results.ProtocolResult,
    "TimelineEvent": TimelineEvent,
}
EXAMPLES = re.findall(r"<!-- example: (\w+) -->\s*```json\n(.*?)```", DOC.read_text(), re.S)


def test_every_message_type_has_an_example() -> None:
    assert {name for name, _ in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize(("name", "payload"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_decodes_and_round_trips(name: str, payload: str) -> None:
    message = bm.decode(payload, KINDS[name])
    assert bm.decode(bm.encode(message), KINDS[name]) == message


def test_raw_example_force_is_the_sum_of_its_cells() -> None:
    raw = bm.decode(next(p for n, p in EXAMPLES if n == "RawBatch"), bm.RawBatch)
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


def test_topics_refuse_wildcards_and_slashes() -> None:
    assert topics.steps("calfload", "a1", "left") == "calfload/steps/a1/left"
    for bad in ("a/1", "a+", "#", "", "a b"):
        with pytest.raises(ValueError, match="athlete id"):
            topics.steps("calfload", bad, "left")
