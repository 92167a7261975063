"""Per-athlete settings that the load estimates need, validated once.

Frame: the *insole frame* has x along the insole's long axis, from the back edge of
the heel (x = 0) towards the toes, in metres; y to the medial side. The open insole
cell map (``hardware.md``, :data:`calfload.bridge.simulator.CELL_XY_FRACTION`) gives
cell positions as fractions of the insole length, so a cell sits at
``fraction × insole_length_m``.

Defaults and their sources:

* Achilles moment arm ``r_AT``: :data:`REFERENCE_MOMENT_ARM_M` (4.0 cm) scaled by
  foot length relative to :data:`REFERENCE_FOOT_LENGTH_M`. 4.0 cm lies between the
  ultrasound values of Manal K, Cowder JD, Buchanan TS (2013) "Subject-specific
  measures of Achilles tendon moment arm using ultrasound and video-based motion
  capture", *Physiol Rep* 1(6):e00139 (35.7–38.1 mm during MVC) and the MRI values of
  Maganaris CN, Baltzopoulos V, Sargeant AJ (2000) *Eur J Appl Physiol* 83:363–369
  (4.3–5.6 cm at rest). The reference foot length is 0.152 × stature for a 1.73 m
  adult, the segment proportion of Winter DA (2009) *Biomechanics and Motor Control of
  Human Movement*, 4th ed., Wiley, Fig. 4.1. Scaling by foot length is a convention:
  Baxter JR, Piazza SJ (2014) *J Appl Physiol* 116:538 found r_AT uncorrelated with
  body size, so a measured moment arm (ultrasound or MRI) should replace it. A ±1 cm
  error changes Achilles force by about ±25 % (science.md §4.3).
* Ankle joint centre: :data:`DEFAULT_ANKLE_X_FRACTION` × foot length in front of the
  heel edge (own estimate: the malleoli lie 4–6 cm in front of the back of the heel in
  an adult foot. Cross-check on the Dorschky et al. 2019 running cycle in
  ``../shared/data``: just after touchdown, with a dorsiflexor moment that suggests a
  heel contact, moment / force = −0.02 m; a CoP at the heel cells (0.10 × foot length)
  would put the ankle near 0.18 × foot length. The file has no CoP, so this is a
  plausibility check, not a measurement). Set it per athlete where it was measured.
* Leg length for the spring–mass model: 0.53 × stature, as used by Morin JB et al.
  (2005) "A simple method for measuring stiffness during running", *J Appl Biomech*
  21(2):167–180.
* Foot length from an EU (Paris point) shoe size: shoe size = 1.5 × (foot length in
  cm + 1.5 cm allowance), i.e. last length in units of 2/3 cm (own convention; shoe
  makers differ by ±1 size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

G0_MPS2: Final = 9.80665
REFERENCE_MOMENT_ARM_M: Final = 0.040
REFERENCE_FOOT_LENGTH_M: Final = 0.152 * 1.73
DEFAULT_FOOT_LENGTH_M: Final = REFERENCE_FOOT_LENGTH_M
DEFAULT_ANKLE_X_FRACTION: Final = 0.20
LEG_LENGTH_PER_STATURE: Final = 0.53


class SettingsError(ValueError):
    """An athlete setting outside its plausible range (message names the setting)."""


def _check(name: str, value: float | None, lo: float, hi: float, unit: str) -> None:
    if value is None:
        return
    if not isinstance(value, int | float) or not math.isfinite(value) or not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo:g} and {hi:g} {unit}, got {value!r}")


def foot_length_from_eu_size(shoe_size_eu: float) -> float:
    """Foot length (m) for an EU shoe size (Paris point: 2/3 cm per size, 1.5 cm allowance)."""
    _check("shoe_size_eu", shoe_size_eu, 15.0, 55.0, "(EU size)")
    return (shoe_size_eu / 1.5 - 1.5) / 100.0


@dataclass(frozen=True, slots=True)
class AthleteSettings:
    """Everything per athlete that the load estimates use. SI units, validated.

    Only ``body_mass_kg`` is required; every other setting has a documented default
    (module docstring). Explicit values always win over derived ones.
    """

    body_mass_kg: float
    foot_length_m: float | None = None
    shoe_size_eu: float | None = None
    insole_length_m: float | None = None
    achilles_moment_arm_m: float | None = None
    ankle_x_m: float | None = None
    height_m: float | None = None
    leg_length_m: float | None = None
    load_budget_bw_s: float | None = None
    speed_mps: float | None = None

    def __post_init__(self) -> None:
        _check("body_mass_kg", self.body_mass_kg, 20.0, 250.0, "kg")
        _check("foot_length_m", self.foot_length_m, 0.15, 0.36, "m")
        _check("shoe_size_eu", self.shoe_size_eu, 15.0, 55.0, "(EU size)")
        _check("insole_length_m", self.insole_length_m, 0.15, 0.37, "m")
        _check("achilles_moment_arm_m", self.achilles_moment_arm_m, 0.02, 0.08, "m")
        _check("ankle_x_m", self.ankle_x_m, 0.0, 0.15, "m")
        _check("height_m", self.height_m, 1.0, 2.5, "m")
        _check("leg_length_m", self.leg_length_m, 0.5, 1.4, "m")
        _check("load_budget_bw_s", self.load_budget_bw_s, 0.0, 1.0e6, "BW·s")
        _check("speed_mps", self.speed_mps, 0.0, 12.0, "m/s")
        if self.ankle_x_m is not None and self.ankle_x_m >= self.insole_m:
            raise SettingsError(
                f"ankle_x_m ({self.ankle_x_m} m) must lie inside the insole "
                f"(length {self.insole_m:.3f} m)"
            )

    @property
    def weight_n(self) -> float:
        """Body weight in newtons (standard gravity)."""
        return self.body_mass_kg * G0_MPS2

    @property
    def foot_m(self) -> float:
        """Foot length: given, else from the shoe size, else the reference adult foot."""
        if self.foot_length_m is not None:
            return self.foot_length_m
        if self.shoe_size_eu is not None:
            return foot_length_from_eu_size(self.shoe_size_eu)
        return DEFAULT_FOOT_LENGTH_M

    @property
    def insole_m(self) -> float:
        """Insole length that the cell-map fractions refer to (default: the foot length)."""
        return self.insole_length_m if self.insole_length_m is not None else self.foot_m

    @property
    def moment_arm_m(self) -> float:
        """Achilles moment arm: given, else 4.0 cm scaled by foot length."""
        if self.achilles_moment_arm_m is not None:
            return self.achilles_moment_arm_m
        return REFERENCE_MOMENT_ARM_M * self.foot_m / REFERENCE_FOOT_LENGTH_M

    @property
    def moment_arm_is_default(self) -> bool:
        return self.achilles_moment_arm_m is None

    @property
    def ankle_m(self) -> float:
        """Ankle joint centre, x in the insole frame (m from the heel edge)."""
        if self.ankle_x_m is not None:
            return self.ankle_x_m
        return DEFAULT_ANKLE_X_FRACTION * self.foot_m

    @property
    def leg_m(self) -> float | None:
        """Leg length for the spring–mass model: given, else 0.53 × stature, else unknown."""
        if self.leg_length_m is not None:
            return self.leg_length_m
        if self.height_m is not None:
            return LEG_LENGTH_PER_STATURE * self.height_m
        return None
