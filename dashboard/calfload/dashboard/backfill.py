"""The hook through which the dashboard fills in steps it missed.

While the dashboard's broker connection is down, steps (not retained) pass it by.
When it returns, the retained session summaries bring the totals back at once (step
counts, cadence, cumulative load). The individual steps can only come from a
recording: anything that implements :class:`HistorySource` (the recorder's store,
once it exists) can be handed to the dashboard as
``DashboardSettings(history=...)``; after each reconnection the dashboard asks it,
per athlete and foot, for the steps after the newest one it holds, and adds them
(:meth:`calfload.dashboard.state.LiveState.backfill`) so the pages draw them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from calfload.bridge.topics import Side
from calfload.processing.messages import StepMessage


class HistorySource(Protocol):
    """Recorded steps, for the dashboard to backfill from."""

    async def steps_after(
        self, athlete: str, side: Side, after_ic_s: float
    ) -> Sequence[StepMessage]:
        """The recorded steps of one foot with initial contact after ``after_ic_s``
        (session clock), oldest first. May raise; the dashboard logs it and goes on."""
        ...
