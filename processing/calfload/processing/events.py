"""Ground-contact detection from insole force: one streaming detector for live and offline use.

Method (the threshold family evaluated by Blades S et al. 2023, "Evaluation of Different
Pressure-Based Foot Contact Event Detection Algorithms across Different Slopes and Speeds",
*Sensors* 23(5):2736, whose reference is a 40 N force threshold with a 20-sample "wait"):

* **Adaptive levels.** All levels are fractions of the athlete's *loaded level* (body weight
  as the insole sees it) above a tracked *unloaded baseline*, because insoles drift and their
  force scale differs from a force plate's (walking insoles: PMC6453056). The loaded level
  starts at the body weight (or ``default_loaded_n``) and is then tracked from the mechanics:
  over a whole stride the mean vertical force of one foot is half the body weight, so
  ``2 × impulse / stride time`` of each stride updates it (and ``2 × mean force`` of a standing
  period). The baseline is the median of the unloaded swing samples (below the opening level),
  taken at once from the first swing and then updated at each contact.
* **Hysteresis.** A contact opens when force rises to ``on_frac`` and closes when it falls below
  ``off_frac`` of the loaded level (``off < on``), so ripple and noise near the floor do not
  split or create contacts.
* **Event timing.** The opening and closing are found on the steep part of the edge; from
  there the detector walks back (IC) or forward (TO) to the ``event_frac`` level and
  interpolates linearly between the two samples that straddle it (evaluated at
  ``onset_frac``; equal to ``event_frac`` by default, because extrapolating the straddling
  segment further down to 5 % raised the noise: GCT SD 6.1 vs 5.2 ms on the Alcantara
  stand-in). ``event_frac`` (7 % of the loaded level ≈ 3 noise SD at 2 % BW noise) is low
  enough to sit on the toe of the edge and high enough above the noise floor that a noisy
  swing sample rarely moves the event by a whole sample. Extrapolating the steepest segment
  to the onset level was evaluated too during development: it carried a shape-dependent
  bias of 3–14 ms and a larger SD, so the walk-back interpolation was kept.
* **Refractory period** (``refractory_ms``, the "wait" of Blades 2023): no new contact opens
  within that time after a toe-off. **Minimum contact** (``min_contact_ms``, 80 ms as in the
  Alcantara 2022 ground truth) drops ripple; contacts cut by the data edges or by a gap are
  dropped, never guessed.
* **Gait gate.** Contacts longer than ``max_contact_ms`` are ``standing`` and never steps (the
  pipeline adds a two-foot gate against weight shifting while standing). Every step is
  classified ``running`` (duty factor GCT / stride time below 0.5, i.e. a flight phase:
  Alexander RM 1984, "The gaits of bipedal and quadrupedal animals", *Int J Robot Res*
  3(2):49) or ``walking`` (double support); without a stride yet, a GCT under 400 ms counts as
  running (own threshold between the data here: running 198–264 ms in Alcantara 2022, walking
  stance 0.75–0.97 s in the Moticon recording).
* **Quality.** Each step is ``ok`` or ``suspect`` with a reason (``no_swing_before``,
  ``short_swing``, ``low_peak``, ``long_contact``, ``gap_in_contact``).
* **Gaps.** Lost samples are never filled: see :meth:`InsoleContactDetector.gap`.

The detector is fed chunks of any size: feeding a signal in one piece or in many pieces gives
the same contacts (tested); it keeps the last few samples for the walk-back. Work per chunk is
vectorised: numpy finds the next level crossing; Python only runs once per event.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

ContactKind = Literal["step", "standing"]
Gait = Literal["running", "walking", "standing"]
StepQuality = Literal["ok", "suspect"]

_IDLE, _CONTACT, _CLOSING = 0, 1, 2
RUNNING_MAX_GCT_S = 0.4
SWING_KEEP = 256  # swing samples kept for the baseline (median)


@dataclass(frozen=True, slots=True)
class Contact:
    """One foot contact. Times in seconds on the caller's clock."""

    ic_s: float
    to_s: float
    peak_force_n: float
    impulse_ns: float
    kind: ContactKind = "step"
    gait: Gait = "running"
    quality: StepQuality = "ok"
    reason: str = ""
    loaded_level_n: float = 0.0
    baseline_n: float = 0.0
    prev_to_s: float | None = None  # this foot's previous toe-off (start of the swing)

    @property
    def gct_ms(self) -> float:
        return (self.to_s - self.ic_s) * 1000.0


@dataclass(frozen=True, slots=True)
class ContactParams:
    """Detector settings: levels as fractions of the loaded level, durations in ms.

    ``ic_offset_ms`` / ``to_offset_ms`` shift the events to the force-plate definition (5 % BW
    at 500 Hz); the defaults were calibrated on the even-numbered trials of the Alcantara 2022
    insole stand-in and are checked on the odd-numbered ones (``validation/alcantara_insole``).
    """

    on_frac: float = 0.25
    off_frac: float = 0.12
    event_frac: float = 0.07
    onset_frac: float = 0.07
    min_contact_ms: float = 80.0
    max_contact_ms: float = 1500.0
    refractory_ms: float = 60.0
    min_swing_ms: float = 100.0
    max_walkback: int = 12
    max_gap_samples: int = 3
    default_loaded_n: float = 700.0
    level_alpha: float = 0.3
    baseline_alpha: float = 0.3
    low_peak_frac: float = 0.5
    ic_offset_ms: float = -0.9
    to_offset_ms: float = 4.0


class InsoleContactDetector:
    """Streaming adaptive hysteresis contact detector over summed insole force (one foot).

    Parameters
    ----------
    params : ContactParams
        Levels and duration limits.
    loaded_level_n : float, optional
        Initial loaded level (the athlete's body weight in N); tracked from the data after.

    Notes
    -----
    Call :meth:`feed` with consecutive chunks; call :meth:`reset` after a gap in the data (a
    contact in progress across a gap is discarded, never guessed; the levels are kept).
    """

    def __init__(self, params: ContactParams | None = None, loaded_level_n: float | None = None):
        self.params = params or ContactParams()
        self.loaded_level_n = float(loaded_level_n or self.params.default_loaded_n)
        self.baseline_n = 0.0
        self._baseline_known = False
        self.contacts_rejected = 0
        #: Recent toe-offs of every closed contact (steps, standing, contacts begun before the
        #: data), for the two-foot gait gate of the pipeline.
        self.toe_offs: deque[float] = deque(maxlen=16)
        self.reset()

    def reset(self) -> None:
        """Forget the signal's recent past (call after lost samples)."""
        self._hist = np.empty(0, dtype=np.float64)
        self._state = _IDLE
        self._ic_s: float | None = None
        self._peak = 0.0
        self._impulse = 0.0
        self._refractory_until: float | None = None
        self._prev_to_s: float | None = None
        self._prev_ic_s: float | None = None
        self._prev_impulse = 0.0
        self._swing = np.empty(0, dtype=np.float64)
        self._gap_in_contact = False

    def gap(self, missing_samples: int) -> None:
        """Samples were lost just before the next chunk.

        A short gap (up to ``max_gap_samples``) inside a contact, with force above the closing
        level before it, keeps the contact open: both its events are still measured on real
        samples, never interpolated across the gap, and the step is flagged ``suspect``
        (``gap_in_contact``). Any other gap forgets the recent signal (:meth:`reset`); a contact
        whose event could lie in the gap is dropped.
        """
        p = self.params
        last = float(self._hist[-1]) if self._hist.size else -np.inf
        off = self.baseline_n + p.off_frac * self.loaded_level_n
        if self._state == _CONTACT and missing_samples <= p.max_gap_samples and last >= off:
            self._hist = np.empty(0, dtype=np.float64)
            self._gap_in_contact = True
            return
        if self._state == _IDLE and missing_samples <= p.max_gap_samples:
            self._hist = np.empty(0, dtype=np.float64)  # swing continues; nothing to guess
            return
        self.reset()

    def open_since_s(self) -> float | None:
        """Initial contact of the contact in progress (``-inf`` if unknown), ``None`` if none."""
        if self._state == _IDLE:
            return None
        return self._ic_s if self._ic_s is not None else -np.inf

    @property
    def lookback_samples(self) -> float:
        """How far (in samples) an initial contact can lie before the sample that opens it."""
        return float(self.params.max_walkback + 1)

    def set_loaded_level(self, loaded_level_n: float) -> None:
        """Restart the loaded-level tracker from a known body weight (N)."""
        self.loaded_level_n = float(loaded_level_n)

    def feed(self, t0_s: float, fs_hz: float, force_n: npt.ArrayLike) -> list[Contact]:
        """Process samples taken at ``t0_s + i / fs_hz``; return contacts that closed."""
        new = np.asarray(force_n, dtype=np.float64).ravel()
        if new.size == 0:
            return []
        if not np.all(np.isfinite(new)):
            raise ValueError("force contains NaN or infinite values; split the data at gaps")
        dt = 1.0 / fs_hz
        f = np.concatenate((self._hist, new)) if self._hist.size else new
        i = self._hist.size
        tb = t0_s - i * dt  # time of buffer sample 0
        n = f.size
        p = self.params
        out: list[Contact] = []
        while i < n:
            lv, base = self.loaded_level_n, self.baseline_n
            ev = base + p.event_frac * lv
            if self._state == _IDLE:
                start = i
                if self._refractory_until is not None:
                    start = max(i, int(np.ceil((self._refractory_until - tb) / dt - 1e-9)))
                hit = _first(f, start, n, -np.inf, base + p.on_frac * lv)
                end = n if hit < 0 else hit
                swing = f[i:end]
                low = swing[swing < base + p.on_frac * lv]
                if low.size:
                    self._swing = np.concatenate((self._swing, low))[-SWING_KEEP:]
                if hit < 0:
                    i = n
                    break
                self._open(f, hit, tb, dt)
                i = hit
            elif self._state == _CONTACT:
                hit = _first(f, i, n, base + p.off_frac * lv, np.inf)
                end = n if hit < 0 else hit
                self._accumulate(f[i:end], dt)
                if hit < 0:
                    i = n
                    break
                self._state = _CLOSING
                i = hit
            else:
                hit = _first(f, i, n, ev, base + p.on_frac * lv)
                end = n if hit < 0 else hit
                self._accumulate(f[i:end], dt)
                if hit < 0:
                    i = n
                    break
                if f[hit] >= ev:
                    self._state = _CONTACT  # dipped between the levels and rose again
                    i = hit
                    continue
                if hit == 0:  # the toe-off fell into a gap: never guessed
                    self._state = _IDLE
                    self._ic_s = None
                    self._prev_to_s = None
                    self._gap_in_contact = False
                    i = hit + 1
                    continue
                to_s = _cross(tb, dt, f, hit, base + p.onset_frac * lv) + p.to_offset_ms / 1000.0
                contact = self._close(to_s)
                if contact is not None:
                    out.append(contact)
                i = hit
        keep = min(n, p.max_walkback + 1)
        self._hist = f[n - keep :].copy()
        return out

    def _open(self, f: npt.NDArray[np.float64], j: int, tb: float, dt: float) -> None:
        p = self.params
        if self._swing.size >= 3:
            k = self._swing.size // 2
            level = float(np.partition(self._swing, k)[k])  # median (upper for even counts)
            alpha = p.baseline_alpha if self._baseline_known else 1.0
            self.baseline_n += alpha * (level - self.baseline_n)
            self._baseline_known = True
        self._swing = np.empty(0, dtype=np.float64)
        self._gap_in_contact = False
        ev = self.baseline_n + p.event_frac * self.loaded_level_n
        k = j
        stop = max(0, j - p.max_walkback)
        while k > stop and f[k - 1] >= ev:
            k -= 1
        if k == 0 or f[k - 1] >= ev:
            self._ic_s = None  # the rise began before the data (or the gap) did
        else:
            onset = self.baseline_n + p.onset_frac * self.loaded_level_n
            self._ic_s = _cross(tb, dt, f, k, onset) + p.ic_offset_ms / 1000.0
        self._peak = 0.0
        self._impulse = 0.0
        self._accumulate(f[k:j], dt)
        self._state = _CONTACT

    def _accumulate(self, seg: npt.NDArray[np.float64], dt: float) -> None:
        if seg.size:
            self._peak = max(self._peak, float(seg.max()))
            self._impulse += float(seg.sum() - seg.size * self.baseline_n) * dt

    def _close(self, to_s: float) -> Contact | None:
        p = self.params
        self._state = _IDLE
        self._refractory_until = to_s + p.refractory_ms / 1000.0
        ic_s, self._ic_s = self._ic_s, None
        prev_to, self._prev_to_s = self._prev_to_s, to_s
        gap_in_contact, self._gap_in_contact = self._gap_in_contact, False
        if ic_s is None:
            self._prev_ic_s = None
            self.toe_offs.append(to_s)
            return None  # began before the data (or a gap): never guessed
        duration_s = to_s - ic_s
        if duration_s * 1000.0 < p.min_contact_ms:
            self.contacts_rejected += 1
            self._prev_to_s = prev_to
            return None
        self.toe_offs.append(to_s)
        lv = self.loaded_level_n
        prev_ic, self._prev_ic_s = self._prev_ic_s, ic_s
        prev_impulse, self._prev_impulse = self._prev_impulse, self._impulse
        peak = self._peak - self.baseline_n
        if duration_s * 1000.0 > p.max_contact_ms:
            # Standing: both feet carry the body, so twice this foot's mean force ≈ body weight.
            self._update_level(2.0 * self._impulse / duration_s)
            self._prev_ic_s = None
            return Contact(
                ic_s,
                to_s,
                peak,
                self._impulse,
                "standing",
                "standing",
                "ok",
                "",
                lv,
                self.baseline_n,
                prev_to,
            )
        stride_s = ic_s - prev_ic if prev_ic is not None else None
        if stride_s is not None and 0.3 <= stride_s <= 2.5:
            self._update_level(2.0 * prev_impulse / stride_s)
            gait: Gait = "running" if duration_s < 0.5 * stride_s else "walking"
        else:
            stride_s = None
            gait = "running" if duration_s < RUNNING_MAX_GCT_S else "walking"
        reasons = []
        if gap_in_contact:
            reasons.append("gap_in_contact")
        if prev_to is None:
            reasons.append("no_swing_before")
        elif (ic_s - prev_to) * 1000.0 < p.min_swing_ms:
            reasons.append("short_swing")
        if peak < p.low_peak_frac * lv:
            reasons.append("low_peak")
        if gait == "walking" and duration_s > 0.8 * p.max_contact_ms / 1000.0:
            reasons.append("long_contact")
        quality: StepQuality = "suspect" if reasons else "ok"
        return Contact(
            ic_s,
            to_s,
            peak,
            self._impulse,
            "step",
            gait,
            quality,
            ",".join(reasons),
            lv,
            self.baseline_n,
            prev_to,
        )

    def _update_level(self, sample_n: float) -> None:
        lv = self.loaded_level_n
        sample_n = min(max(sample_n, 0.5 * lv), 2.0 * lv)
        self.loaded_level_n = lv + self.params.level_alpha * (sample_n - lv)


def _first(f: npt.NDArray[np.float64], a: int, n: int, below: float, at_or_above: float) -> int:
    """Index of the first sample in ``f[a:n]`` below ``below`` or at/above ``at_or_above``, or -1.

    Searches in growing blocks so that the cost is proportional to the distance searched.
    """
    block = 64
    while a < n:
        b = min(n, a + block)
        x = f[a:b]
        hits = (x < below) | (x >= at_or_above)
        j = int(hits.argmax())
        if hits[j]:
            return j + a
        a, block = b, block * 4
    return -1


def _cross(tb: float, dt: float, f: npt.NDArray[np.float64], i: int, level: float) -> float:
    """Time at which the segment between samples i-1 and i crosses ``level``."""
    f0, f1 = float(f[i - 1]), float(f[i])
    frac = (level - f0) / (f1 - f0) if f1 != f0 else 0.0
    return tb + (i - 1 + frac) * dt


def detect_contacts(
    force_n: npt.ArrayLike,
    *,
    fs_hz: float,
    t0_s: float = 0.0,
    params: ContactParams | None = None,
    loaded_level_n: float | None = None,
) -> list[Contact]:
    """Offline convenience: all contacts in one signal (same code as the live path)."""
    return InsoleContactDetector(params, loaded_level_n).feed(t0_s, fs_hz, force_n)
