"""Ground contacts from a foot- or shank-mounted IMU: one streaming detector, live and offline.

Frame
-----
calfload's segment frame for a foot (or shank) IMU is the one in ``hardware.md``:
x forward (heel → toe), y to the athlete's **left**, z up, right-handed, the same for
both feet. The sagittal ("pitch") angular velocity is ``gyr_y``; with this frame a
**positive** pitch rate turns the toes **down** (plantarflexion: heel rise and push-off,
and the foot slapping flat after a heel strike) and the swing phase is **negative**.
A sensor mounted another way is mapped with :class:`ImuFrame` (which of its axes is
medio-lateral and with which sign); :func:`detect_ml_sign` finds the sign from a few
strides with sharp ground impacts (tested on the gaitmap foot IMUs; an IMU inside an insole,
as in the Moticon recording, shows no sharp impact and gets no decision: set the sign).

Method (foot placement, ``foot_top`` / ``heel``)
----------------------------------------------
Falbriard M, Meyer F, Mariani B, Millet GP, Aminian K (2018) "Accurate Estimation of
Running Temporal Parameters Using Foot-Worn Inertial Sensors", *Front. Physiol.* 9:610,
doi:10.3389/fphys.2018.00610: the stride is cut from mid-swing to mid-swing (the swing
extreme of the pitch rate); the pitch-rate extreme of the stance sign in the **first half**
is their initial-contact (IC) feature and the one in the **second half** their terminal-contact
(TC, toe-off) feature; they chose them for precision (IC 2 ± 1 ms, TC 4 ± 2 ms) and report
the remaining biases separately (GCT bias < 12 ± 10 ms). In calfload's sign these are maxima;
the IC one is the foot-slap peak, which on the data here lies 37–63 ms after touchdown
(Dorschky mean cycle below; gaitmap walking, ``docs/validation.md``). calfload therefore
anchors IC on the **zero crossing of the pitch rate that ends the swing**, just before that
peak (the instant the swing rotation stops; within about a sample of touchdown on both data
sets), and
refines it with the **acceleration signature of the impact**: the first sample where the
norm of the acceleration jumps by more than ``impact_jump_mps2`` from one sample to the next,
while the swing rotation has at least halved (a knock in mid-swing is not a landing).
IC is the earlier of the two, so a forefoot strike, whose heel drop keeps the swing-sign
rotation going after touchdown, is timed by its impact. TC is the push-off peak, timed by
parabolic interpolation: the last peak of the cycle reaching half its maximum (in a
double-humped push-off, seen in turning steps, the one followed by the rapid reversal into
swing). calfload does not split the cycle into halves: in running the swing extreme comes late
in the swing (~75 % of it in the Dorschky mean cycle), so push-off can fall in the first half;
IC is searched before push-off minus ``min_contact_ms`` instead.
Both anchors are checked on the gaitmap walking recording with motion-capture events
(``docs/validation.md``). In the running mean cycle of Dorschky et al. (2019, *J Biomech*
95:109278; ``biomac_running_mean_cycles``, P01 right foot) the pitch rate crosses zero at
force onset (sample 14–15 of 100) and its foot-slap extreme comes ~5 samples (~37 ms) later,
which is why the zero crossing, not the extreme, is the IC anchor.

Shank placement
---------------
After Aminian K, Najafi B, Büla C, Leyvraz P-F, Robert P (2002) "Spatio-temporal parameters
of gait measured by an ambulatory system using miniature gyroscopes", *J Biomech*
35(5):689–699, who time shank events on the sagittal rate around the mid-swing peak. calfload
uses the same IC as for the foot (the rate's rise through zero ending the swing, or an earlier
impact) and takes toe-off as the **trough between the stance peak and the early-swing hump**
(knee flexion after toe-off makes that hump the last major peak of a shank cycle). On the
Dorschky running mean cycle this gives IC −14 ms and TO −6 ms against the GRF; the trough rule
was chosen on that cycle, so it is a plausibility check, not a validation
(``docs/validation.md``). Shank events are far less certain per step: Kiernan D, Dunn Siino K,
Hawkins DA (2023) *Sensors* 23(11):5022 report for the best shank methods in running biases of
+17.4 ms (IC) and +3.5 ms (TC) with 95 % limits of agreement of −96.8…+131.6 ms and
−143.9…+150.9 ms. Use shank GCT for averages, not per step; :data:`SHANK_LOA_MS` carries those
limits for display.

Speed correction
----------------
Falbriard et al. (2018) found that running speed significantly changes the bias of the
foot-IMU temporal estimates and advised a speed-dependent correction; the ISBS 2017
proceedings (35(1):504–507, "Contact time and foot strike angles estimation using foot worn
inertial sensors in running") corrected contact time with a model on speed and strike angle.
Neither per-speed table is reproduced in the project's reference, and no running IMU data
with force truth is in ``../shared/data``, so calfload applies the linear form

    IC += (ic_offset_ms + ic_slope_ms_per_mps · (v − ref_speed_mps)) / 1000
    TC += (to_offset_ms + to_slope_ms_per_mps · (v − ref_speed_mps)) / 1000

with **all coefficients zero by default** (identity), and :func:`fit_speed_correction` fits
them by least squares from a lab session (event errors against force truth at several speeds).

Streaming
---------
The detector keeps a short buffer. A swing is a run of pitch rate below ``-swing_dps``;
once the swing after a contact has ended (the next mid-swing is known), the cycle between
the two mid-swings is analysed and its contact emitted: latency is about half a swing
after toe-off, well within one stride. Chunk size never changes the result (tested).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.processing.events import Contact

ImuPlacement = Literal["foot_top", "heel", "shank"]
FloatArray = npt.NDArray[np.float64]

#: Kiernan et al. 2023, best shank methods in running: (bias, LoA low, LoA high) in ms.
SHANK_LOA_MS: Final = {"ic": (17.4, -96.8, 131.6), "to": (3.5, -143.9, 150.9)}
#: The foot-slap (or shank) IC peak is looked for this long after the swing rotation ends.
SLAP_WINDOW_S: Final = 0.12


@dataclass(frozen=True, slots=True)
class ImuFrame:
    """Where the sensor's medio-lateral axis is. ``ml_axis`` 0/1/2 = sensor x/y/z;
    ``ml_sign`` +1 or −1 makes ``ml_sign · gyr[:, ml_axis]`` point to the athlete's left
    (positive = toes down); 0 = detect the sign from the data (:func:`detect_ml_sign`)."""

    ml_axis: int = 1
    ml_sign: int = 1

    def __post_init__(self) -> None:
        if self.ml_axis not in (0, 1, 2):
            raise ValueError(f"ml_axis must be 0, 1 or 2 (sensor x, y, z), not {self.ml_axis}")
        if self.ml_sign not in (-1, 0, 1):
            raise ValueError(f"ml_sign must be +1, -1 or 0 (auto), not {self.ml_sign}")


@dataclass(frozen=True, slots=True)
class SpeedCorrection:
    """Linear speed-dependent event correction (see the module docstring; identity by default)."""

    ic_offset_ms: float = 0.0
    ic_slope_ms_per_mps: float = 0.0
    to_offset_ms: float = 0.0
    to_slope_ms_per_mps: float = 0.0
    ref_speed_mps: float = 3.0

    def apply(self, contact: Contact, speed_mps: float | None) -> Contact:
        """The contact with corrected IC/TC; without a known speed only the offsets apply."""
        dv = 0.0 if speed_mps is None else speed_mps - self.ref_speed_mps
        d_ic = (self.ic_offset_ms + self.ic_slope_ms_per_mps * dv) / 1000.0
        d_to = (self.to_offset_ms + self.to_slope_ms_per_mps * dv) / 1000.0
        if d_ic == 0.0 and d_to == 0.0:
            return contact
        return replace(contact, ic_s=contact.ic_s + d_ic, to_s=contact.to_s + d_to)


def fit_speed_correction(
    speed_mps: npt.ArrayLike,
    ic_error_ms: npt.ArrayLike,
    to_error_ms: npt.ArrayLike,
    *,
    ref_speed_mps: float = 3.0,
) -> SpeedCorrection:
    """Least-squares line through per-step event errors (detected − truth) against speed;
    the correction subtracts it. Needs at least two distinct speeds."""
    v = np.asarray(speed_mps, dtype=np.float64) - ref_speed_mps
    if np.unique(v).size < 2:
        raise ValueError("fit_speed_correction needs errors at two or more speeds")
    design = np.column_stack((np.ones_like(v), v))
    ic = np.linalg.lstsq(design, np.asarray(ic_error_ms, dtype=np.float64), rcond=None)[0]
    to = np.linalg.lstsq(design, np.asarray(to_error_ms, dtype=np.float64), rcond=None)[0]
    return SpeedCorrection(
        ic_offset_ms=-float(ic[0]),
        ic_slope_ms_per_mps=-float(ic[1]),
        to_offset_ms=-float(to[0]),
        to_slope_ms_per_mps=-float(to[1]),
        ref_speed_mps=ref_speed_mps,
    )


@dataclass(frozen=True, slots=True)
class ImuParams:
    """Detector settings (angular rates in deg/s, durations in ms)."""

    placement: ImuPlacement = "foot_top"
    frame: ImuFrame = field(default_factory=ImuFrame)
    swing_dps: float = 50.0  # a swing is pitch rate below -swing_dps …
    min_swing_ms: float = 40.0  # … for at least this long
    merge_gap_ms: float = 60.0  # swing runs closer than this are one swing
    min_stride_ms: float = 300.0
    max_stride_ms: float = 2500.0
    min_contact_ms: float = 80.0
    max_contact_ms: float = 1500.0
    impact_jump_mps2: float = 35.0  # rise of |acc| between samples = impact (set for 100–200 Hz)
    speed_correction: SpeedCorrection = field(default_factory=SpeedCorrection)
    auto_sign_window_s: float = 6.0


class ImuContactDetector:
    """Streaming foot/shank IMU contact detector (same shape as ``InsoleContactDetector``).

    Call :meth:`feed` with consecutive chunks of ``acc_mps2`` (n×3) and ``gyr_dps`` (n×3)
    in the sensor frame; call :meth:`reset` after a gap (a stride across a gap is dropped,
    never guessed). Contacts carry ``peak_force_n`` and ``impulse_ns`` as NaN (not measured).
    Set :attr:`speed_mps` when the running speed is known (speed correction).
    """

    def __init__(self, params: ImuParams | None = None) -> None:
        self.params = params or ImuParams()
        self.speed_mps: float | None = None
        self.ml_sign: int = self.params.frame.ml_sign
        self.cycles_rejected = 0
        self.reset()

    @property
    def buffered_samples(self) -> int:
        """Samples held: at most ``max_stride_ms`` plus one swing; ~``merge_gap_ms`` while still."""
        return int(self._g.size) + self._pending_n

    def reset(self) -> None:
        """Forget the signal's past (call after lost samples)."""
        self._fs: float | None = None
        self._t0: float = 0.0  # time of buffer sample 0
        self._g: FloatArray = np.empty(0)
        self._a: FloatArray = np.empty(0)
        self._pending_g: list[FloatArray] = []  # raw ML gyro awaiting the auto sign
        self._pending_a: list[FloatArray] = []
        self._pending_n = 0
        self._pending_t0 = 0.0
        self._sign_blocks_used = 0

    def feed(
        self,
        t0_s: float,
        fs_hz: float,
        acc_mps2: npt.ArrayLike,
        gyr_dps: npt.ArrayLike,
    ) -> list[Contact]:
        """Process samples taken at ``t0_s + i / fs_hz``; return contacts now complete."""
        acc = np.asarray(acc_mps2, dtype=np.float64)
        gyr = np.asarray(gyr_dps, dtype=np.float64)
        for name, x in (("acc_mps2", acc), ("gyr_dps", gyr)):
            if x.ndim != 2 or x.shape[1] != 3:
                raise ValueError(f"{name} must be n×3 (x, y, z per sample), got shape {x.shape}")
        if acc.shape[0] != gyr.shape[0]:
            raise ValueError(f"acc has {acc.shape[0]} samples but gyr has {gyr.shape[0]}")
        if gyr.shape[0] == 0:
            return []
        if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(gyr))):
            raise ValueError("IMU data contains NaN or infinite values; split the data at gaps")
        if self._fs is not None and fs_hz != self._fs:
            self.reset()
        g_raw = gyr[:, self.params.frame.ml_axis]
        a = np.sqrt(np.einsum("ij,ij->i", acc, acc))
        if self.ml_sign == 0:
            return self._feed_unsigned(t0_s, fs_hz, g_raw, a)
        return self._feed_signed(t0_s, fs_hz, self.ml_sign * g_raw, a)

    # -- automatic sign ---------------------------------------------------------------

    def _feed_unsigned(
        self, t0_s: float, fs_hz: float, g_raw: FloatArray, a: FloatArray
    ) -> list[Contact]:
        """Hold raw samples until a block of ``auto_sign_window_s`` decides the sign.

        Blocks are counted from the first sample after a reset, so chunking cannot change the
        decision. Only the deciding block and the one before it are kept (memory stays
        bounded while standing); the detector then runs on those samples.
        """
        if self._pending_n == 0:
            self._pending_t0 = t0_s
        self._pending_g.append(g_raw)
        self._pending_a.append(a)
        self._pending_n += g_raw.size
        block = max(1, round(self.params.auto_sign_window_s * fs_hz))
        g_all = np.concatenate(self._pending_g)
        a_all = np.concatenate(self._pending_a)
        decided_at: int | None = None
        while g_all.size >= 2 * block or (self._sign_blocks_used == 0 and g_all.size >= block):
            # Pending data starts one block before the next undecided block (or at 0).
            k = 0 if self._sign_blocks_used == 0 else block
            sign = detect_ml_sign(g_all[k : k + block], a_all[k : k + block], fs_hz)
            self._sign_blocks_used += 1
            if sign is not None:
                self.ml_sign = sign
                decided_at = k
                break
            if k:  # drop the older block: it can no longer be the one before a decision
                g_all, a_all = g_all[block:], a_all[block:]
                self._pending_t0 += block / fs_hz
        if decided_at is None:
            self._pending_g, self._pending_a = [g_all], [a_all]
            self._pending_n = g_all.size
            return []
        t0 = self._pending_t0
        self._pending_g, self._pending_a, self._pending_n = [], [], 0
        return self._feed_signed(t0, fs_hz, self.ml_sign * g_all, a_all)

    # -- the detector proper ----------------------------------------------------------

    def _feed_signed(
        self, t0_s: float, fs_hz: float, g: FloatArray, a: FloatArray
    ) -> list[Contact]:
        if self._g.size == 0:
            self._t0 = t0_s
            self._fs = fs_hz
            self._g, self._a = g.copy(), a.copy()
        else:
            self._g = np.concatenate((self._g, g))
            self._a = np.concatenate((self._a, a))
        fs = fs_hz
        p = self.params
        merge_n = max(1, round(p.merge_gap_ms * fs / 1000.0))
        contacts: list[Contact] = []
        # One scan per call (linear in the chunk), then walk consecutive swing pairs.
        closed, open_start = _swings(
            self._g, p.swing_dps, merge_n, round(p.min_swing_ms * fs / 1000.0)
        )
        mids = [s0 + int(np.argmin(self._g[s0:e0])) for s0, e0 in closed]
        for m0, m1 in itertools.pairwise(mids):
            contact = self._cycle(m0, m1, fs)  # rejects strides longer than max_stride_ms
            if contact is not None:
                contacts.append(p.speed_correction.apply(contact, self.speed_mps))
        n = self._g.size
        if closed and (n - mids[-1]) * 1000.0 / fs <= p.max_stride_ms:
            self._drop(closed[-1][0])  # the last swing opens the next cycle
        elif open_start is not None:
            self._drop(open_start)  # keep only what a future swing could still need
        else:
            self._drop(max(0, n - merge_n, closed[-1][1] if closed else 0))
        return contacts

    def _drop(self, k: int) -> None:
        if k <= 0:
            return
        assert self._fs is not None
        self._t0 += k / self._fs
        self._g = self._g[k:]
        self._a = self._a[k:]

    def _time(self, index: float) -> float:
        assert self._fs is not None
        return self._t0 + index / self._fs

    def _cycle(self, m0: int, m1: int, fs: float) -> Contact | None:
        """The contact between mid-swings ``m0`` and ``m1`` (buffer indices), or None."""
        p = self.params
        stride_ms = (m1 - m0) * 1000.0 / fs
        if not p.min_stride_ms <= stride_ms <= p.max_stride_ms:
            self.cycles_rejected += 1
            return None
        g = self._g
        # Push-off first: the last major positive peak before the next mid-swing. (The swing
        # extreme comes late in a running swing, so push-off can fall in the first half of a
        # mid-swing → mid-swing cycle; halves are not used.)
        rel = _last_major_peak(g[m0:m1])
        if rel is None:
            self.cycles_rejected += 1
            return None
        p_to = m0 + rel
        hi = p_to - int(np.ceil(p.min_contact_ms * fs / 1000.0))
        if hi <= m0 + 1:
            self.cycles_rejected += 1
            return None
        # Initial contact, before push-off by at least the minimum contact time: the swing
        # rotation's end (first rise of the rate through zero after mid-swing) and the
        # foot-slap peak that follows it within SLAP_WINDOW_S.
        seg = g[m0 : hi + 1]
        up = np.flatnonzero((seg[:-1] < 0.0) & (seg[1:] >= 0.0))
        k_zc = m0 + int(up[0]) if up.size else None
        w0 = m0 if k_zc is None else k_zc
        w1 = min(hi, w0 + max(2, round(SLAP_WINDOW_S * fs)))
        p_ic = w0 + int(np.argmax(g[w0 : w1 + 1]))
        ic = self._foot_ic(m0, hi, k_zc)
        if ic is None:
            self.cycles_rejected += 1
            return None
        if p.placement == "shank":
            # Shank: the last major peak is the early-swing knee-flexion hump, after toe-off;
            # toe-off is the trough between the stance peak and that hump.
            k_to = p_ic + int(np.argmin(g[p_ic : p_to + 1]))
            to = _peak_index(-g, k_to) if p_ic < k_to < p_to else float(k_to)
        else:
            to = _peak_index(g, p_to)
        gct_ms = (to - ic) * 1000.0 / fs
        if not p.min_contact_ms <= gct_ms <= p.max_contact_ms:
            self.cycles_rejected += 1
            return None
        nan = float("nan")
        return Contact(self._time(ic), self._time(to), nan, nan, "step")

    def _foot_ic(self, m0: int, hi: int, k_zc: int | None) -> float | None:
        """Zero crossing ending the swing, or an earlier impact (fractional buffer index)."""
        p = self.params
        g, a = self._g, self._a
        zc = None if k_zc is None else _zero_crossing(g, k_zc, m0, hi)
        # Impact: |acc| rises by more than the limit while the swing rotation has at least
        # halved; the onset lies between the last quiet and the first loud sample: midpoint.
        rise = np.diff(a[m0 : hi + 1])
        swing_ended = g[m0 + 1 : hi + 1] >= 0.5 * g[m0]
        hits = np.flatnonzero((rise > p.impact_jump_mps2) & swing_ended)
        impact = m0 + float(hits[0]) + 0.5 if hits.size else None
        if zc is None:
            return impact
        if impact is None:
            return zc
        return min(zc, impact)


def _zero_crossing(g: FloatArray, k: int, lo: int, hi: int) -> float:
    """Where ``g`` rises through zero between samples k and k+1: a least-squares line over
    the 4 samples k-1…k+2 (within lo…hi), which halves the timing noise of a two-point
    interpolation; falls back to the two-point value if the line is not rising there."""
    two_point = k + float(-g[k] / (g[k + 1] - g[k]))
    i = np.arange(max(lo, k - 1), min(hi, k + 2) + 1, dtype=np.float64)
    if i.size < 3:
        return two_point
    slope, icpt = np.polyfit(i, g[i.astype(np.intp)], 1)
    if slope <= 0.0:
        return two_point
    zc = float(-icpt / slope)
    return zc if k - 1 <= zc <= k + 2 else two_point


def _last_major_peak(seg: FloatArray) -> int | None:
    """Index of the last local maximum of ``seg`` that reaches half its (positive) maximum.

    Normally that is the maximum itself (push-off, just before the rapid reversal into
    swing). In double-humped push-offs (seen in turning steps) the foot leaves the ground
    at the second hump, right before the reversal, so the last major peak is taken.
    """
    if seg.size == 0:
        return None
    top = float(seg.max())
    if top <= 0.0:
        return None
    inner = np.flatnonzero(
        (seg[1:-1] >= seg[:-2]) & (seg[1:-1] > seg[2:]) & (seg[1:-1] >= 0.5 * top)
    )
    if inner.size == 0:
        return int(np.argmax(seg))
    return int(inner[-1]) + 1


def _peak_index(g: FloatArray, k: int) -> float:
    """Sub-sample position of the local maximum at ``k`` (parabola through 3 samples)."""
    if k <= 0 or k >= g.size - 1:
        return float(k)
    y0, y1, y2 = float(g[k - 1]), float(g[k]), float(g[k + 1])
    den = y0 - 2.0 * y1 + y2
    if den >= 0.0:
        return float(k)
    return k + 0.5 * (y0 - y2) / den


def _swings(
    g: FloatArray, swing_dps: float, merge_n: int, min_n: int
) -> tuple[list[tuple[int, int]], int | None]:
    """Runs of ``g < -swing_dps`` (merged across gaps < merge_n samples, at least min_n
    long): the closed ones [start, end) and the start of a run that may still grow."""
    mask = g < -swing_dps
    if not mask.any():
        return [], None
    d = np.diff(mask.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    runs: list[list[int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if runs and s - runs[-1][1] < merge_n:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    n = g.size
    closed: list[tuple[int, int]] = []
    open_start: int | None = None
    for s, e in runs:
        if e + merge_n > n:
            open_start = s
        elif e - s >= min_n:
            closed.append((s, e))
    return closed, open_start


def detect_ml_sign(
    gyr_ml_dps: npt.ArrayLike, acc_norm_mps2: npt.ArrayLike, fs_hz: float
) -> int | None:
    """+1 if the swing is negative (calfload's convention), −1 if positive, None if unclear.

    Cue: each ground impact (a sample-to-sample rise of |acc| above 35 m/s²) ends a swing,
    so the sagittal rate in the 100 ms before an impact has the swing's sign — whether the
    foot lands on the heel or the forefoot, walking or running. (Amplitude or time-above-
    threshold cues fail in walking, where push-off is as large and as long as the swing.)
    Needs at least 3 impacts agreeing 4:1; returns None for standing or mixed evidence.
    """
    g = np.asarray(gyr_ml_dps, dtype=np.float64)
    a = np.asarray(acc_norm_mps2, dtype=np.float64)
    hits = np.flatnonzero(np.diff(a) > 35.0) + 1
    pre0, pre1 = round(0.1 * fs_hz), round(0.01 * fs_hz)
    gap = round(0.3 * fs_hz)
    votes: list[float] = []
    last = -gap
    for k in hits.tolist():
        if k - last < gap or k - pre0 < 0:
            continue
        last = k
        before = g[k - pre0 : k - pre1 + 1]
        if np.abs(before).max() >= 30.0:
            votes.append(float(np.sign(before.mean())))
    neg = votes.count(-1.0)
    pos = votes.count(1.0)
    if neg + pos < 3:
        return None
    if neg >= 4 * pos:
        return 1
    if pos >= 4 * neg:
        return -1
    return None


def detect_imu_contacts(
    acc_mps2: npt.ArrayLike,
    gyr_dps: npt.ArrayLike,
    *,
    fs_hz: float,
    t0_s: float = 0.0,
    params: ImuParams | None = None,
) -> list[Contact]:
    """Offline convenience: all contacts in one recording (same code as the live path)."""
    return ImuContactDetector(params).feed(t0_s, fs_hz, acc_mps2, gyr_dps)
