"""A set of virtual athletes, each with a left and a right open insole twin."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from calfload.bridge.devices.open_insole_twin import OpenInsoleTwin, TwinFaults
from calfload.bridge.link import SensorSpec
from calfload.bridge.messages import SCHEMA, AthleteInfo
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.topics import SIDES
from calfload.bridge.virtual.radio import VirtualRadio

DEMO_NAMES = ("Ada", "Bo", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lea")


def demo_profiles(n: int, seed: int = 1) -> list[AthleteProfile]:
    """``n`` athletes with different speeds, cadences and contact times."""
    profiles = []
    for i in range(n):
        name = DEMO_NAMES[i % len(DEMO_NAMES)] + ("" if i < len(DEMO_NAMES) else f" {i}")
        profiles.append(
            AthleteProfile(
                athlete=f"a{i + 1}",
                name=name,
                body_mass_kg=58.0 + 4.0 * (i % 6),
                speed_mps=2.8 + 0.25 * (i % 5),
                cadence_spm=164.0 + 3.0 * (i % 6),
                gct_ms=265.0 - 9.0 * (i % 5),
                asymmetry_pct=4.0 if i % 4 == 1 else 0.0,
                seed=seed + i,
            )
        )
    return profiles


@dataclass
class Fleet:
    radio: VirtualRadio
    profiles: list[AthleteProfile]
    simulators: dict[str, GaitSimulator] = field(default_factory=dict)
    twins: dict[str, OpenInsoleTwin] = field(default_factory=dict)  # by sensor id
    specs: list[SensorSpec] = field(default_factory=list)
    infos: list[AthleteInfo] = field(default_factory=list)

    async def stop(self) -> None:
        await asyncio.gather(*(twin.stop() for twin in self.twins.values()))


async def start_fleet(
    profiles: list[AthleteProfile],
    *,
    radio: VirtualRadio | None = None,
    faults: TwinFaults | None = None,
    rate_hz: int = 100,
) -> Fleet:
    """Power up a twin pair per athlete; simulator time 0 is now."""
    radio = radio or VirtualRadio()
    await radio.power_on()
    fleet = Fleet(radio, profiles)
    origin = asyncio.get_running_loop().time()
    for k, profile in enumerate(profiles):
        sim = GaitSimulator(profile)
        fleet.simulators[profile.athlete] = sim
        sensors = []
        for j, side in enumerate(SIDES):
            sensor_id = f"{profile.athlete}-{side}-insole"
            twin = OpenInsoleTwin(
                radio,
                sim,
                side,
                name=f"CALF-INSOLE-{profile.athlete.upper()}-{side[0].upper()}",
                rate_hz=rate_hz,
                clock_offset_us=(k * 2 + j) * 7_345_678 + 1_000_000,
                faults=faults,
            )
            device = await twin.start(origin)
            fleet.twins[sensor_id] = twin
            fleet.specs.append(
                SensorSpec(
                    sensor_id=sensor_id,
                    athlete=profile.athlete,
                    side=side,
                    placement="insole",
                    family="open-insole",
                    device=radio.ble_device(device),
                    rate_hz=rate_hz,
                )
            )
            sensors.append(sensor_id)
        fleet.infos.append(
            AthleteInfo(
                schema=SCHEMA,
                athlete=profile.athlete,
                name=profile.name,
                body_mass_kg=profile.body_mass_kg,
                sensors=sensors,
            )
        )
    return fleet
