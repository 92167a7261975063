"""Sensor clocks → the session clock, and gap detection. Pure, no I/O.

The session clock is seconds since the Unix epoch on the bridge host. A sensor
with its own clock keeps its sample spacing; one offset per connection maps it to
the session clock, estimated as the smallest observed ``arrival − sensor time`` of
a packet's last sample (transport delay only ever adds, so the minimum is the best
estimate of the true offset: the minimum-delay filter of Paxson 1998, "On calibrating
measurements of packet transit times"), applied with a bounded slew rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

U32_WRAP: Final = 1 << 32


@dataclass
class CounterUnwrapper:
    """Turns a wrapping unsigned counter (a sensor clock) into a monotonic integer.

    A value more than half the range below the previous one counts as a wrap.
    """

    bits: int = 32
    _last: int | None = None
    _wraps: int = 0

    def unwrap(self, raw: int) -> int:
        span = 1 << self.bits
        if self._last is not None and raw < self._last - span // 2:
            self._wraps += 1
        self._last = raw
        return raw + self._wraps * span


@dataclass
class SensorClock:
    """Maps an (unwrapped) sensor clock to session seconds.

    The target offset is the minimum-delay estimate; the *applied* offset starts at
    the first estimate and then moves towards the target by at most
    ``max_slew_ppm`` of elapsed sensor time, so sample spacing stays true to within
    that rate and a late first packet never makes time jump backwards mid-step.
    """

    max_slew_ppm: float = 2000.0
    target_offset_s: float | None = None
    offset_s: float | None = None
    _last_sensor_s: float | None = None

    def observe(self, sensor_last_s: float, arrival_s: float) -> float:
        """Update with one packet (its last sample's sensor time and its arrival);
        return the offset to apply to this packet."""
        candidate = arrival_s - sensor_last_s
        if self.target_offset_s is None or candidate < self.target_offset_s:
            self.target_offset_s = candidate
        if self.offset_s is None or self._last_sensor_s is None:
            self.offset_s = self.target_offset_s
        else:
            room = max(sensor_last_s - self._last_sensor_s, 0.0) * self.max_slew_ppm * 1e-6
            error = self.target_offset_s - self.offset_s
            self.offset_s += max(-room, min(room, error))
        self._last_sensor_s = sensor_last_s
        return self.offset_s


@dataclass
class GapTracker:
    """Counts samples lost between consecutive packets from their sensor times."""

    _next_us: float | None = None
    samples_ok: int = 0
    samples_lost: int = 0
    longest_gap_s: float = 0.0

    def step(self, t0_us: float, dt_us: float, n: int) -> int:
        """Register a packet; return how many samples went missing just before it."""
        lost = 0
        if self._next_us is not None:
            missing = round((t0_us - self._next_us) / dt_us)
            if missing > 0:
                lost = missing
                self.longest_gap_s = max(self.longest_gap_s, missing * dt_us / 1e6)
        self._next_us = t0_us + n * dt_us
        self.samples_ok += n
        self.samples_lost += lost
        return lost

    def reset(self) -> None:
        """Forget continuity (after a reconnect the sensor may have restarted)."""
        self._next_us = None
