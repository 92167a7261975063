"""Sensor clocks → the session clock, and gap detection. Pure, no I/O.

The session clock is seconds since the Unix epoch on the bridge host. A sensor with
its own clock keeps its sample spacing; its clock is mapped to the session clock by
a line ``offset(s) = alpha + beta · s`` (offset *and* drift) fitted to the host
arrival times of its packets.

Transport delay only ever adds to ``arrival − sensor time``, so the true clock
relation is the *lower envelope* of those points, not their mean. We fit the line
that lies below every point and is closest to them in total (the linear-programming
estimator of Moon, Skelly and Towsley 1999, "Estimation and removal of clock skew
from network delay measurements", IEEE INFOCOM; its optimum is the edge of the
points' lower convex hull that spans their mean time), after reducing the points to
one minimum per second (the minimum-delay filter of Paxson 1998, "On calibrating
measurements of packet transit times", ACM SIGMETRICS), over a sliding window so
slow temperature drift of the crystal is followed.

Devices without a clock (``SampleBlock.t0_sensor_us is None``) get the same
treatment with the sample count at the nominal rate as their "clock": the fitted
slope is then the true sample-rate error, and the stamped times are smooth instead
of carrying every packet's BLE jitter.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
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


def lower_envelope_line(s: list[float], y: list[float]) -> tuple[float, float]:
    """The line ``y = alpha + beta · s`` below every point with the least total
    distance to them (Moon et al. 1999): the lower convex hull's edge over mean(s).

    ``s`` must be increasing. Returns ``(alpha, beta)``; one point gives slope 0.
    """
    if not s:
        raise ValueError("no points to fit")
    hull: list[tuple[float, float]] = []
    for p in zip(s, y, strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or above the chord (not convex from below).
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    if len(hull) == 1:
        return hull[0][1], 0.0
    s_mean = sum(s) / len(s)
    k = 1
    while k < len(hull) - 1 and hull[k][0] < s_mean:
        k += 1
    (x1, y1), (x2, y2) = hull[k - 1], hull[k]
    beta = (y2 - y1) / (x2 - x1)
    return y1 - beta * x1, beta


@dataclass
class SensorClock:
    """Maps a sensor's time base (its clock, or its sample count) to session seconds.

    Feed it every packet with :meth:`observe` (the sensor time of the packet's last
    sample and its host arrival time); it returns the offset to add to that packet's
    sensor times. Until ``min_span_s`` of sensor time is seen the offset is the
    minimum ``arrival − sensor time`` (drift 0). After that, once per ``bin_s``, the
    line is refitted every ``refit_every_s`` to the per-bin minima of the last
    ``window_s`` (a young fit, under ``window_s`` of history, is refitted every bin).

    A refit never makes time jump: the jump is absorbed into a *correction* that
    decays towards zero by at most ``max_slew_ppm`` of elapsed sensor time, so sample
    spacing stays true to that rate and session time never runs backwards.
    A point more than ``reset_s`` away from the line (a rebooted sensor, a clock
    jump) restarts the fit.

    ``follow_arrivals`` (for sensors without a clock, whose "clock" is their sample
    count at a nominal rate that may be far off): until a fit with ``|beta| <=
    max_skew`` exists, each packet's last sample is put at its arrival (plain arrival
    stamping), then the fitted line takes over, the step slewed away as above.
    """

    bin_s: float = 1.0
    window_s: float = 600.0
    min_span_s: float = 5.0
    refit_every_s: float = 10.0
    max_slew_ppm: float = 2000.0
    max_skew: float = 0.05
    reset_s: float = 2.0
    follow_arrivals: bool = False
    fitted: bool = False
    alpha_s: float | None = None
    beta: float = 0.0
    correction_s: float = 0.0
    offset_s: float | None = None
    resets: int = 0
    _origin_s: float | None = None
    _last_s: float | None = None
    _bin: int | None = None
    _bin_point: tuple[float, float] | None = None
    _bins: deque[tuple[float, float]] = field(default_factory=deque)
    _last_fit_x: float = -math.inf

    def line_s(self, sensor_s: float) -> float:
        """The fitted offset at ``sensor_s`` (without the decaying correction)."""
        if self.alpha_s is None or self._origin_s is None:
            raise ValueError("the clock has seen no packet yet")
        return self.alpha_s + self.beta * (sensor_s - self._origin_s)

    def observe(self, sensor_last_s: float, arrival_s: float) -> float:
        """Update with one packet; return the offset to apply to its sensor times."""
        if self._origin_s is None or self.alpha_s is None:
            self._start(sensor_last_s, arrival_s)
        assert self._origin_s is not None and self.alpha_s is not None
        x = sensor_last_s - self._origin_s
        y = arrival_s - sensor_last_s
        if self.follow_arrivals and not self.fitted:
            # Arrival stamping until the first trustworthy fit (the line follows the point).
            self.alpha_s = y - self.beta * x
        elif abs(y - self.line_s(sensor_last_s)) > self.reset_s:
            self.resets += 1
            self._start(sensor_last_s, arrival_s)
            x, y = 0.0, arrival_s - sensor_last_s
        assert self._last_s is not None
        elapsed = max(sensor_last_s - self._last_s, 0.0)
        self._last_s = max(self._last_s, sensor_last_s)
        # Keep the envelope below this point at once (a faster packet): no waiting a bin.
        below = y - self.line_s(sensor_last_s)
        if below < 0:
            self._shift(below)
        self._add_point(x, y, sensor_last_s)
        room = elapsed * self.max_slew_ppm * 1e-6
        self.correction_s -= max(-room, min(room, self.correction_s))
        self.offset_s = self.line_s(sensor_last_s) + self.correction_s
        return self.offset_s

    def _start(self, sensor_s: float, arrival_s: float) -> None:
        self._origin_s = sensor_s
        self._last_s = sensor_s
        self.alpha_s = arrival_s - sensor_s
        self.beta = 0.0
        self.fitted = False
        self.correction_s = 0.0
        self._bins.clear()
        self._last_fit_x = -math.inf
        self._bin = None
        self._bin_point = None

    def _shift(self, delta_s: float) -> None:
        """Move the line by ``delta_s`` at ``sensor_s``, absorbing the step into the
        correction so the applied offset moves only at the slew rate."""
        assert self.alpha_s is not None
        self.alpha_s += delta_s
        self.correction_s -= delta_s

    def _add_point(self, x: float, y: float, sensor_s: float) -> None:
        k = math.floor(x / self.bin_s)
        if self._bin is None or self._bin_point is None:
            self._bin, self._bin_point = k, (x, y)
            return
        if k == self._bin:
            if y < self._bin_point[1]:
                self._bin_point = (x, y)
            return
        self._bins.append(self._bin_point)
        while self._bins and self._bins[0][0] < x - self.window_s:
            self._bins.popleft()
        self._bin, self._bin_point = k, (x, y)
        self._refit(sensor_s)

    def _refit(self, sensor_s: float) -> None:
        span_s = self._bins[-1][0] - self._bins[0][0] if self._bins else 0.0
        if len(self._bins) < 3 or span_s < self.min_span_s:
            return
        x_now = self._bins[-1][0]
        if span_s > 0.5 * self.window_s and x_now - self._last_fit_x < self.refit_every_s:
            return
        self._last_fit_x = x_now
        xs = [p[0] for p in self._bins]
        ys = [p[1] for p in self._bins]
        alpha, beta = lower_envelope_line(xs, ys)
        if abs(beta) > self.max_skew:
            return  # not a clock we can trust; keep the previous line
        before = self.line_s(sensor_s)
        self.alpha_s, self.beta = alpha, beta
        self.fitted = True
        self.correction_s += before - self.line_s(sensor_s)

    def sensor_time_at(self, session_s: float) -> float:
        """The sensor time the fitted line maps to ``session_s`` (its inverse)."""
        if self.alpha_s is None or self._origin_s is None:
            raise ValueError("the clock has seen no packet yet")
        return (session_s - self.alpha_s + self.beta * self._origin_s) / (1.0 + self.beta)

    def uncertainty_s(self) -> float:
        """How far this clock's mapping may be off: the correction still to be slewed
        away plus the median height of the per-second minimum delays above the
        fitted envelope (the envelope cannot be known better than the minima hug it)."""
        if self.alpha_s is None or self._origin_s is None:
            return math.inf
        if not self._bins:
            return abs(self.correction_s)
        heights = sorted(y - (self.alpha_s + self.beta * x) for x, y in self._bins)
        return abs(self.correction_s) + heights[len(heights) // 2]


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
