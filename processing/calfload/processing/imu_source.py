"""The IMU side of one athlete's pipeline: a streaming detector per IMU sensor (gaps reset
it, like the insole path) and, where an insole is worn on the same foot, the insole-led
fusion of :mod:`calfload.processing.fusion`. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from calfload.bridge.messages import RawBatch, Side
from calfload.processing.events import Contact
from calfload.processing.fusion import ContactFusion, FusionParams
from calfload.processing.imu_events import (
    ImuContactDetector,
    ImuFrame,
    ImuParams,
    ImuPlacement,
)

IMU_PLACEMENTS: Final = ("foot_top", "heel", "shank")


@dataclass
class _ImuStream:
    detector: ImuContactDetector
    next_t_s: float | None = None


@dataclass
class ImuSource:
    """IMU side of one athlete: a detector per IMU sensor and, where an insole is worn on the
    same foot, the insole-led fusion (:mod:`calfload.processing.fusion`).

    ``params`` sets the detector and the default frame (calfload's foot frame, y = left);
    ``frames`` maps a sensor id to its own :class:`ImuFrame` (bridges publish each sensor's
    axes as the device reports them, unrotated; ``ml_sign=0`` detects the sign from impacts);
    ``check_insole_imu`` also checks insole contacts against the insole's own IMU.
    """

    params: ImuParams = field(default_factory=ImuParams)
    frames: dict[str, ImuFrame] = field(default_factory=dict)
    check_insole_imu: bool = False
    streams: dict[str, _ImuStream] = field(default_factory=dict)
    fusion: dict[Side, ContactFusion] = field(default_factory=dict)
    insole_sides: dict[Side, str] = field(default_factory=dict)  # side → insole sensor id
    gaps_reset: int = 0
    speed_mps: float | None = None

    def set_speed(self, speed_mps: float | None) -> None:
        """Running speed for the speed correction (e.g. from a footpod), all IMU sensors."""
        for imu in self.streams.values():
            imu.detector.speed_mps = speed_mps
        self.speed_mps = speed_mps

    def feed(self, batch: RawBatch, placement: str) -> list[Contact]:
        """Run the batch's IMU samples through its sensor's detector."""
        assert batch.acc_mps2 is not None and batch.gyr_dps is not None
        imu = self.streams.get(batch.sensor_id)
        if imu is None:
            kind: ImuPlacement = "shank" if placement == "shank" else "foot_top"
            imu = self.streams[batch.sensor_id] = _ImuStream(
                ImuContactDetector(
                    replace(
                        self.params,
                        placement=kind,
                        frame=self.frames.get(batch.sensor_id, self.params.frame),
                    )
                )
            )
            imu.detector.speed_mps = self.speed_mps
        period = 1.0 / batch.fs_hz
        expected = imu.next_t_s
        if batch.gap_samples > 0 or (
            expected is not None and abs(batch.t0_s - expected) > 1.5 * period
        ):
            imu.detector.reset()
            self.gaps_reset += 1
        imu.next_t_s = batch.t0_s + batch.n * period
        return imu.detector.feed(batch.t0_s, batch.fs_hz, batch.acc_mps2, batch.gyr_dps)

    def fusion_for(self, side: Side, placement: str) -> ContactFusion:
        fusion = self.fusion.get(side)
        if fusion is None:
            fusion = self.fusion[side] = ContactFusion(FusionParams.for_placement(placement))
        return fusion
