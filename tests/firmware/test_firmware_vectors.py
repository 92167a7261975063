"""The DIY insole firmware's C encoder against the Python profile v1 encoder/decoder.

The firmware's portable parts (``open_insole_packet.c``, ``insole_signal.c``) are
compiled here with the host's gcc into a small driver (``host_test/oi_host_tool.c``)
and fed the shared vectors in ``test_vectors.json``. Both directions are checked:
the C bytes equal the Python encoder's bytes, and the C bytes decode with the
Python decoder to the inputs (to the wire resolution). The Arduino sketch itself is
not compiled here (no Arduino toolchain); see hardware.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calfload.bridge.devices import open_insole

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware_bridge" / "firmware" / "open_insole"
VECTORS = FIRMWARE / "test_vectors.json"
SOURCES = [
    FIRMWARE / "host_test" / "oi_host_tool.c",
    FIRMWARE / "open_insole_packet.c",
    FIRMWARE / "insole_signal.c",
]
WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"]


def _compiler(name: str) -> str:
    # Never skipped: `make test` installs gcc/g++ through scripts/ensure-tools.sh.
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is missing; install it with scripts/ensure-tools.sh test")
    return exe


class HostTool:
    """The compiled driver, one process for the whole module, line protocol on stdin."""

    def __init__(self, exe: Path) -> None:
        self.proc = subprocess.Popen(
            [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, line: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out: list[str] = []
        while (answer := self.proc.stdout.readline()) != ".\n":
            assert answer, f"host tool exited while answering {line[:40]!r}"
            out.append(answer.strip())
        return out

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("Q\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostTool]:
    gcc = _compiler("gcc")
    exe = tmp_path_factory.mktemp("firmware") / "oi_host_tool"
    subprocess.run(
        [gcc, "-std=c99", *WARNINGS, "-O2", "-o", str(exe), *map(str, SOURCES), "-lm"],
        check=True,
        capture_output=True,
    )
    host = HostTool(exe)
    yield host
    host.close()


def _vectors() -> list[dict[str, Any]]:
    return list(json.loads(VECTORS.read_text())["vectors"])


def _encode_line(seq: int, t0_us: int, dt_us: int, cells: Any, acc: Any, gyr: Any) -> str:
    cells = np.atleast_2d(np.asarray(cells, dtype=np.float64))
    n_samples, n_cells = cells.shape
    imu = acc is not None
    values: list[float] = []
    for i in range(n_samples):
        values += cells[i].tolist()
        if imu:
            values += list(np.asarray(acc, dtype=np.float64)[i]) + list(
                np.asarray(gyr, dtype=np.float64)[i]
            )
    # repr() round-trips a float exactly through C's strtod
    numbers = " ".join(repr(float(v)) for v in values)
    return f"E {seq} {t0_us} {dt_us} {n_samples} {n_cells} {int(imu)} {numbers}"


def _c_encode(tool: HostTool, **kw: Any) -> bytes:
    (answer,) = tool.ask(
        _encode_line(
            kw["seq"], kw["t0_us"], kw["dt_us"], kw["cell_force_n"], kw["acc_mps2"], kw["gyr_dps"]
        )
    )
    assert answer != "ERR"
    return bytes.fromhex(answer)


def _inputs(v: dict[str, Any]) -> dict[str, Any]:
    return {k: v[k] for k in ("seq", "t0_us", "dt_us", "cell_force_n", "acc_mps2", "gyr_dps")}


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["name"]))
def test_python_encoder_still_produces_the_shared_vectors(vector: dict[str, Any]) -> None:
    assert open_insole.encode(**_inputs(vector)).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["name"]))
def test_c_encoder_produces_the_shared_vectors(tool: HostTool, vector: dict[str, Any]) -> None:
    assert _c_encode(tool, **_inputs(vector)).hex() == vector["hex"]


def _clip(values: Any, lo: float, hi: float) -> Any:
    return np.clip(np.asarray(values, dtype=np.float64), lo, hi)


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["name"]))
def test_c_bytes_decode_in_python_to_the_inputs(tool: HostTool, vector: dict[str, Any]) -> None:
    packet = open_insole.decode(_c_encode(tool, **_inputs(vector)))
    assert packet.seq == vector["seq"] & 0xFFFF
    assert packet.t0_us == vector["t0_us"] & 0xFFFFFFFF
    assert packet.dt_us == vector["dt_us"]
    # Within half a count of the input, after clipping the input to the field's range.
    cells = _clip(vector["cell_force_n"], 0.0, 65535 * 0.1)
    np.testing.assert_allclose(packet.cell_force_n, cells, rtol=0, atol=0.05 + 1e-9)
    if vector["acc_mps2"] is None:
        assert packet.acc_mps2 is None and packet.gyr_dps is None
        return
    acc_step, gyr_step = open_insole.ACC_MPS2_PER_COUNT, open_insole.GYR_DPS_PER_COUNT
    acc = _clip(vector["acc_mps2"], -32768 * acc_step, 32767 * acc_step)
    gyr = _clip(vector["gyr_dps"], -32768 * gyr_step, 32767 * gyr_step)
    assert packet.acc_mps2 is not None and packet.gyr_dps is not None
    np.testing.assert_allclose(packet.acc_mps2, acc, rtol=0, atol=acc_step / 2 + 1e-9)
    np.testing.assert_allclose(packet.gyr_dps, gyr, rtol=0, atol=gyr_step / 2 + 1e-9)


def test_random_packets_match_byte_for_byte(tool: HostTool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n_samples, n_cells = int(rng.integers(1, 17)), int(rng.integers(1, 17))
        imu = bool(rng.integers(0, 2))
        kw: dict[str, Any] = {
            "seq": int(rng.integers(0, 65536)),
            "t0_us": int(rng.integers(0, 2**32)),
            "dt_us": int(rng.integers(1, 65536)),
            # a spread of magnitudes, including values far outside the wire range
            "cell_force_n": (rng.standard_normal((n_samples, n_cells)) * 10 ** rng.uniform(0, 4)),
            "acc_mps2": rng.standard_normal((n_samples, 3)) * 10 ** rng.uniform(-2, 3)
            if imu
            else None,
            "gyr_dps": rng.standard_normal((n_samples, 3)) * 10 ** rng.uniform(-2, 4)
            if imu
            else None,
        }
        assert _c_encode(tool, **kw) == open_insole.encode(**kw)


def test_c_encoder_refuses_out_of_range_headers(tool: HostTool) -> None:
    assert tool.ask("E 0 0 10000 0 2 0") == ["ERR"]  # no samples
    assert tool.ask("E 0 0 0 1 2 0 1 2") == ["ERR"]  # zero sample period
    assert tool.ask("E 0 0 10000 1 0 0") == ["ERR"]  # no cells


def test_control_commands_from_the_python_side_parse_in_c(tool: HostTool) -> None:
    assert tool.ask(f"C {open_insole.CMD_START.hex()}") == ["start"]
    assert tool.ask(f"C {open_insole.CMD_STOP.hex()}") == ["stop"]
    for rate in (25, 100, 208, 1000):
        assert tool.ask(f"C {open_insole.set_rate_command(rate).hex()}") == [f"rate {rate}"]
    for bad in ("03", "0101", "0264", "020000", "02640000"):
        assert tool.ask(f"C {bad}") == ["invalid"], bad


def test_documented_packing_at_100_hz(tool: HostTool) -> None:
    # hardware.md: at 100 Hz with 8 cells and the IMU, 5 samples per 152-byte notification.
    assert tool.ask("P 100 8 1") == ["5 10000"]
    for rate in (20, 50, 100, 200, 500):
        for n_cells in (1, 4, 8, 16):
            per_packet, dt_us = map(int, tool.ask(f"P {rate} {n_cells} 1")[0].split())
            assert 1 <= per_packet <= 16
            assert 12 + per_packet * (2 * n_cells + 12) <= 244
            assert dt_us == round(1e6 / rate)


def _sample_line(t_us: int, cells: list[float], acc: list[float], gyr: list[float]) -> str:
    return "S " + " ".join(str(v) for v in [t_us, *cells, *acc, *gyr])


def test_batcher_streams_every_sample_once_and_exposes_gaps(tool: HostTool) -> None:
    """Sketch path: samples on a 100 Hz schedule, one skipped slot, and the u32 clock wrap."""
    assert tool.ask("B 8 1 100 65533") == ["OK"]
    dt = 10_000
    start = 2**32 - 23 * dt  # the µs clock wraps during the stream
    times = [(start + i * dt) % 2**32 for i in range(40) if i != 17]  # slot 17 skipped
    sent: list[tuple[int, list[float]]] = []
    packets: list[bytes] = []
    for k, t in enumerate(times):
        cells = [float(k + c) for c in range(8)]
        sent.append((t, cells))
        packets += [
            bytes.fromhex(h) for h in tool.ask(_sample_line(t, cells, [0, 0, 9.8], [0, 0, 1]))
        ]
    packets += [bytes.fromhex(h) for h in tool.ask("F")]

    got: list[tuple[int, list[float]]] = []
    seqs = []
    for raw in packets:
        assert len(raw) <= 244
        p = open_insole.decode(raw)
        seqs.append(p.seq)
        assert p.dt_us == dt
        got += [
            ((p.t0_us + i * p.dt_us) % 2**32, p.cell_force_n[i].tolist())
            for i in range(p.n_samples)
        ]
    assert got == sent  # every sample exactly once, at its own time, none invented
    assert seqs == [(65533 + i) % 65536 for i in range(len(packets))]  # +1 each, wrapping
    full = [len(p) for p in packets if open_insole.decode(p).n_samples == 5]
    assert full and set(full) == {152}


def test_fsr_divider_and_imu_conversions(tool: HostTool) -> None:
    # Half scale: the FSR equals the fixed resistor, so G = 1 / 10 kΩ = 100 µS (to ADC resolution).
    g_us, force_n = map(float, tool.ask("G 2048 4095 10000 1 0")[0].split())
    assert g_us == pytest.approx(100.0, rel=1e-3) and force_n == g_us
    g_us, force_n = map(float, tool.ask("G 2048 4095 10000 0.5 20")[0].split())
    assert force_n == pytest.approx(0.5 * (g_us - 20.0))
    assert tool.ask("G 0 4095 10000 1 0")[0].split() == ["0", "0"]  # open circuit
    assert float(tool.ask("G 10 4095 10000 1 50")[0].split()[1]) == 0.0  # never negative
    acc, gyr = map(float, tool.ask("I 2049")[0].split())
    # LSM6DS3TR-C ±16 g: 0.488 mg/LSB (close to the profile's 1/2048 g); ±2000 dps: 70 mdps/LSB
    assert acc == pytest.approx(2049 * 0.000488 * 9.80665)
    assert gyr == pytest.approx(2049 * 0.070)


def test_sketch_uses_the_profile_uuids_and_the_shared_encoder() -> None:
    sketch = (FIRMWARE / "open_insole.ino").read_text()
    assert '#include "open_insole_packet.h"' in sketch
    for name, text_uuid in (
        ("kServiceUuid", open_insole.SERVICE_UUID),
        ("kDataUuid", open_insole.DATA_CHAR_UUID),
        ("kControlUuid", open_insole.CONTROL_CHAR_UUID),
    ):
        body = sketch.split(f"{name}[16] = {{", 1)[1].split("}", 1)[0]
        little_endian = bytes(int(b, 16) for b in body.replace("\n", " ").split(","))
        assert little_endian == uuid.UUID(text_uuid).bytes[::-1], name
    assert "CALF-INSOLE-" in sketch


@pytest.mark.parametrize("source", ["open_insole_packet.c", "insole_signal.c"])
def test_portable_sources_also_compile_as_cpp(source: str, tmp_path: Path) -> None:
    """The sketch is C++; the shared files must compile there too."""
    gxx = _compiler("g++")
    subprocess.run(
        [gxx, "-x", "c++", "-std=c++17", *WARNINGS, "-fsyntax-only", str(FIRMWARE / source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )


def test_portable_sources_cross_compile_for_the_nrf52840(tmp_path: Path) -> None:
    """Cortex-M4F with hardware float, newlib's rint/isnan: the board's CPU and C library.

    Needs Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi, which `make test` does not
    install (large); the host build above is the required check.
    """
    arm = shutil.which("arm-none-eabi-gcc")
    if arm is None:
        pytest.skip("arm-none-eabi-gcc not installed (optional: apt-get install gcc-arm-none-eabi)")
    main = tmp_path / "main.c"
    main.write_text(
        '#include "open_insole_packet.h"\n'
        "static oi_batcher_t b; static oi_packet_t out[2];\n"
        "static oi_sample_t s;\n"
        "int main(void) { s.cell_force_n[0] = 1.0; oi_batcher_init(&b, 8, 1, 100, 0);\n"
        "  return oi_batcher_add(&b, 0, &s, out); }\n"
    )
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    subprocess.run(
        [
            arm,
            *cpu,
            "-std=c99",
            *WARNINGS,
            "-Os",
            f"-I{FIRMWARE}",
            str(main),
            str(FIRMWARE / "open_insole_packet.c"),
            str(FIRMWARE / "insole_signal.c"),
            "-lm",
            "--specs=nosys.specs",
            "-o",
            str(tmp_path / "insole.elf"),
        ],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "insole.elf").stat().st_size > 0


def test_sketch_type_checks_against_the_libraries_declared_apis() -> None:
    """The .ino is valid C++ against declaration-only stand-ins of Arduino, Bluefruit and
    LSM6DS3 (host_test/arduino_stubs, from those libraries' public headers). Not a build
    with the real board package, which is not available here."""
    gxx = _compiler("g++")
    subprocess.run(
        [
            gxx,
            "-std=gnu++17",
            "-fsyntax-only",
            *WARNINGS[:-2],
            "-Werror",
            f"-I{FIRMWARE / 'host_test' / 'arduino_stubs'}",
            f"-I{FIRMWARE}",
            "-include",
            "Arduino.h",
            "-x",
            "c++",
            str(FIRMWARE / "open_insole.ino"),
        ],
        check=True,
        capture_output=True,
    )


def test_firmware_notifications_through_the_bridge_link(tool: HostTool) -> None:
    """The C batcher's notifications, fed to the bridge's own SensorLink.process: every sample
    once, on one clock, and the firmware's skipped slots reported as gap_samples."""
    from bleak.backends.device import BLEDevice

    from calfload.bridge.link import SensorLink, SensorSpec

    spec = SensorSpec("ins-L", "a1", "left", "insole", "open-insole", BLEDevice("AA", "x", None))
    link = SensorLink(spec, lambda _b: None, lambda *_a: None)
    assert tool.ask("B 8 1 100 0") == ["OK"]
    dt = 10_000
    skipped = {12, 13, 14, 40}
    notes: list[bytes] = []
    for i in range(60):
        if i in skipped:
            continue
        cells = [float(i)] * 8
        notes += [
            bytes.fromhex(h)
            for h in tool.ask(_sample_line(5_000_000 + i * dt, cells, [0, 0, 9.8], [0, 0, 0]))
        ]
    notes += [bytes.fromhex(h) for h in tool.ask("F")]
    batches = [b for k, raw in enumerate(notes) for b in link.process(100.0 + k * 0.05, raw)]
    forces = [row[0] for b in batches for row in (b.cell_force_n or [])]
    assert forces == [float(i) for i in range(60) if i not in skipped]
    assert sum(b.gap_samples for b in batches) == len(skipped)
    assert link.stats.packets_bad == 0 and link.stats.gaps.samples_lost == len(skipped)
    starts = [b.t0_s for b in batches]
    assert starts == sorted(starts)
