"""Ground-contact detection from insole force: one streaming detector for live and offline use.

Method: summed insole force thresholded with hysteresis, minimum and maximum
contact durations, and linear sub-sample interpolation of the event crossings —
the threshold family evaluated by Blades et al. (2023), "Evaluation of Different
Pressure-Based Foot Contact Event Detection Algorithms across Different Slopes and
Speeds", *Sensors* 23(5):2736, whose reference is a 40 N force threshold.

A contact *opens* when force rises to ``on_n`` and *closes* when it falls below
``off_n`` (``off_n < on_n``: hysteresis against ripple). Both events are timed at
the ``off_n`` level, interpolated between samples, so that a symmetric force pulse
gets an unbiased duration. Contacts shorter than ``min_contact_ms`` (ripple) are
dropped; longer than ``max_contact_ms`` (standing) are reported as ``standing``
and not counted as steps.

The detector is fed chunks of any size: feeding a signal in one piece or in many
pieces gives the same contacts (tested). Work per chunk is vectorised: numpy finds
the threshold crossings, and a short Python loop walks only those crossings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

ContactKind = Literal["step", "standing"]


@dataclass(frozen=True, slots=True)
class Contact:
    """One foot contact. Times in seconds on the caller's clock."""

    ic_s: float
    to_s: float
    peak_force_n: float
    impulse_ns: float
    kind: ContactKind = "step"

    @property
    def gct_ms(self) -> float:
        return (self.to_s - self.ic_s) * 1000.0


@dataclass(frozen=True, slots=True)
class ContactParams:
    """Detector settings (forces in N, durations in ms)."""

    on_n: float = 60.0
    off_n: float = 40.0
    min_contact_ms: float = 80.0
    max_contact_ms: float = 1500.0


class InsoleContactDetector:
    """Streaming hysteresis contact detector over summed insole force.

    Parameters
    ----------
    params : ContactParams
        Thresholds and duration limits.

    Notes
    -----
    Call :meth:`feed` with consecutive chunks; call :meth:`reset` after a gap in
    the data (a contact in progress across a gap is discarded, never guessed).
    """

    def __init__(self, params: ContactParams | None = None) -> None:
        self.params = params or ContactParams()
        self.contacts_rejected = 0
        self.reset()

    def reset(self) -> None:
        """Forget the signal's past (call after lost samples)."""
        self._prev_t: float | None = None
        self._prev_f = 0.0
        self._above_off = False  # accumulating since the last upward off-crossing
        self._in_contact = False
        self._ic_s: float | None = None
        self._last_up_s: float | None = None
        self._peak = 0.0
        self._impulse = 0.0

    def feed(self, t0_s: float, fs_hz: float, force_n: npt.ArrayLike) -> list[Contact]:
        """Process samples taken at ``t0_s + i / fs_hz``; return contacts that closed."""
        f = np.asarray(force_n, dtype=np.float64)
        if f.size == 0:
            return []
        if not np.all(np.isfinite(f)):
            raise ValueError("force contains NaN or infinite values; split the data at gaps")
        dt = 1.0 / fs_hz
        t = t0_s + np.arange(f.size, dtype=np.float64) * dt
        first_new = 0
        if self._prev_t is not None:
            # Carry the previous chunk's last sample so crossings at the seam are seen.
            t = np.concatenate(([self._prev_t], t))
            f = np.concatenate(([self._prev_f], f))
            first_new = 1
        p = self.params
        lo, hi = f[:-1], f[1:]
        up_off = np.flatnonzero((lo < p.off_n) & (hi >= p.off_n)) + 1
        up_on = np.flatnonzero((lo < p.on_n) & (hi >= p.on_n)) + 1
        down_off = np.flatnonzero((lo >= p.off_n) & (hi < p.off_n)) + 1
        # Walk the crossings in time order: 0 = up through off, 1 = up through on,
        # 2 = down through off; at the same sample that order holds.
        idx = np.concatenate((up_off, up_on, down_off))
        kind = np.concatenate(
            (np.zeros(up_off.size, int), np.ones(up_on.size, int), np.full(down_off.size, 2))
        )
        order = np.lexsort((kind, idx))
        contacts: list[Contact] = []
        seg_start = first_new
        for i, k in zip(idx[order].tolist(), kind[order].tolist(), strict=True):
            if k == 0:
                self._last_up_s = _cross(t, f, i, p.off_n)
                self._above_off = True
                self._peak = 0.0
                self._impulse = 0.0
                seg_start = i
            elif k == 1:
                if not self._in_contact:
                    self._in_contact = True
                    self._ic_s = self._last_up_s if self._above_off else None
            else:
                if self._above_off:
                    self._accumulate(f, seg_start, i, dt)
                self._above_off = False
                if self._in_contact:
                    contact = self._close(_cross(t, f, i, p.off_n))
                    if contact is not None:
                        contacts.append(contact)
        if self._above_off:
            self._accumulate(f, seg_start, f.size, dt)
        self._prev_t = float(t[-1])
        self._prev_f = float(f[-1])
        return contacts

    def _accumulate(self, f: npt.NDArray[np.float64], a: int, b: int, dt: float) -> None:
        if b > a:
            seg = f[a:b]
            self._peak = max(self._peak, float(seg.max()))
            self._impulse += float(seg.sum()) * dt

    def _close(self, to_s: float) -> Contact | None:
        self._in_contact = False
        ic_s, self._ic_s = self._ic_s, None
        if ic_s is None:
            return None  # began before the data did (or before a gap)
        duration_ms = (to_s - ic_s) * 1000.0
        if duration_ms < self.params.min_contact_ms:
            self.contacts_rejected += 1
            return None
        kind: ContactKind = "standing" if duration_ms > self.params.max_contact_ms else "step"
        return Contact(ic_s, to_s, self._peak, self._impulse, kind)


def _cross(t: npt.NDArray[np.float64], f: npt.NDArray[np.float64], i: int, level: float) -> float:
    """Time at which the segment between samples i-1 and i crosses ``level``."""
    f0, f1 = f[i - 1], f[i]
    frac = (level - f0) / (f1 - f0) if f1 != f0 else 0.0
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))


def detect_contacts(
    force_n: npt.ArrayLike, *, fs_hz: float, t0_s: float = 0.0, params: ContactParams | None = None
) -> list[Contact]:
    """Offline convenience: all contacts in one signal (same code as the live path)."""
    return InsoleContactDetector(params).feed(t0_s, fs_hz, force_n)
