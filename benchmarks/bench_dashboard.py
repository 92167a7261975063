"""Live dashboard: latency from a step's MQTT publish to the screen, and browser memory.

Everything real: mosquitto, the dashboard in its own process (``serve`` under
uvicorn), Debian Chromium through Playwright with a logged-in therapist's grid and
one athlete's detail page (six uPlot charts) open side by side. A publisher sends
every athlete's steps at ``--rate`` steps/s per foot (QoS 1, not waiting for each
acknowledgement) and notes the wall-clock time of each publish.

Each page records, after every animation frame in which it drew, which newest step
of each athlete and foot is now on screen and when (``window.calfload.drawn``:
``performance.timeOrigin + performance.now()``, the same wall clock as Python's
``time.time()`` on this host). A step's latency is the time of the first frame that
shows it or a later step of the same foot, minus its publish time. The frame is
painted right after that callback, so this is publish-to-pixels within one frame
(16.7 ms at 60 Hz).

Memory: the JS heap after a forced garbage collection (Chrome DevTools Protocol
``HeapProfiler.collectGarbage`` then ``Runtime.getHeapUsage``), sampled every
``--sample-s`` seconds over ``--memory-minutes``; the slope is a least-squares line
over the samples after the history cap is full.

Run: .venv/bin/python benchmarks/bench_dashboard.py --athletes 10 50 --seconds 60 \\
         --memory-minutes 20
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import BrowserContext, Page, sync_playwright

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, encode
from calfload.bridge.topics import SIDES, Side
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import LoginTokens
from calfload.dashboard.users import Users
from calfload.processing.messages import StepMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/ helpers
from tests.conftest import CHROMIUM_ARGS, Mosquitto, free_port

BASE = topics.DEFAULT_BASE
SERVER = """
import asyncio, sys
from pathlib import Path
from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard.app import DashboardSettings, serve
settings = DashboardSettings(broker=BrokerUrl.parse(sys.argv[1]), data_dir=Path(sys.argv[3]),
                             history_steps=int(sys.argv[4]))
asyncio.run(serve(settings, "127.0.0.1", int(sys.argv[2])))
"""


@dataclass
class Published:
    times: dict[tuple[str, Side, int], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def athlete_ids(n: int) -> list[str]:
    return [f"b{i:03d}" for i in range(n)]


@contextlib.contextmanager
def dashboard(broker: Mosquitto, history_steps: int) -> Iterator[tuple[str, Path, int]]:
    with tempfile.TemporaryDirectory(prefix="calfload-bench-") as tmp:
        folder = Path(tmp)
        Users(AuthDB(folder)).add("bench", "benchmark password", "admin")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, broker.url, str(port), str(folder), str(history_steps)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                        if json.loads(r.read())["broker_connected"]:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the dashboard did not start")
                time.sleep(0.2)
            yield url, folder, proc.pid
        finally:
            proc.terminate()
            proc.wait(10)


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("the publisher could not connect")
    return client


def run_steps(
    client: mqtt.Client,
    ids: list[str],
    rate_hz: float,
    seconds: float,
    published: Published,
    stop: threading.Event,
) -> int:
    """Publish each athlete's and foot's steps at ``rate_hz`` for ``seconds``."""
    period = 1.0 / rate_hz
    start = time.time() + 0.5
    queue: list[tuple[float, str, Side, int]] = []
    for k, athlete in enumerate(ids):
        for j, side in enumerate(SIDES):
            offset = (k / max(1, len(ids)) + 0.5 * j) * period
            heapq.heappush(queue, (start + offset, athlete, side, 1))
    sent = 0
    while queue and not stop.is_set():
        due, athlete, side, index = heapq.heappop(queue)
        if due > start + seconds:
            break
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        gct = 240.0 + (10.0 if side == "left" else 0.0)
        message = StepMessage(
            schema=SCHEMA, athlete=athlete, side=side, sensor_id=f"{athlete}-{side}",
            step_index=index, ic_s=due, to_s=due + gct / 1000, gct_ms=gct, flight_ms=100.0,
            cadence_spm=60.0 * rate_hz * 2, peak_force_bw=2.4, achilles_force_bw=6.0,
            push_off_impulse_ns=108.0, achilles_impulse_ns=510.0,
        )  # fmt: skip
        payload = encode(message)
        now = time.time()
        with published.lock:
            published.times[(athlete, side, index)] = now
        client.publish(topics.steps(BASE, athlete, side), payload, qos=1)
        sent += 1
        heapq.heappush(queue, (due + period, athlete, side, index + 1))
    return sent


def latencies(published: Published, drawn: list[list[object]]) -> tuple[np.ndarray, int]:
    """Per published step: first draw of it (or a later step of its foot) − publish."""
    by_foot: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for athlete, side, index, t_ms in drawn:
        by_foot.setdefault((str(athlete), str(side)), []).append((int(index), float(t_ms)))  # type: ignore[call-overload]
    for events in by_foot.values():
        events.sort(key=lambda e: e[1])
    out: list[float] = []
    missing = 0
    with published.lock:
        items = list(published.times.items())
    for (athlete, side, index), t_pub in items:
        events = by_foot.get((athlete, side), [])
        shown = next((t for i, t in events if i >= index and t / 1000.0 >= t_pub - 0.001), None)
        if shown is None:
            missing += 1
        else:
            out.append(shown - t_pub * 1000.0)
    return np.asarray(out), missing


LONG_TASKS = """
window.__longTasks = 0;
new PerformanceObserver((list) => { window.__longTasks += list.getEntries().length; })
  .observe({ type: 'longtask', buffered: true });
"""


def open_pages(
    url: str, folder: Path, context: BrowserContext, ids: list[str]
) -> tuple[Page, Page]:
    """A therapist's grid and the first athlete's detail page, both live."""
    context.add_init_script(LONG_TASKS)
    token = LoginTokens(AuthDB(folder)).create("bench")
    grid = context.new_page()
    grid.goto(f"{url}/login/once?token={token}")
    detail = context.new_page()
    detail.goto(f"{url}/athlete/{ids[0]}")
    for page in (grid, detail):
        page.wait_for_function("() => window.calfload.status === 'live'", timeout=20_000)
    return grid, detail


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def heap_mb(page: Page) -> float:
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")
        return float(usage["usedSize"]) / 1e6
    finally:
        cdp.detach()


def scenario(n: int, args: argparse.Namespace, chromium: str, memory_minutes: float) -> None:
    ids = athlete_ids(n)
    with tempfile.TemporaryDirectory(prefix="calfload-bench-mosq-") as tmp:
        broker = Mosquitto(port=free_port(), workdir=Path(tmp))
        if os.geteuid() == 0:
            os.chmod(tmp, 0o755)
        broker.start()
        try:
            with dashboard(broker, args.history_steps) as (url, folder, pid):
                client = publisher(broker.port)
                for athlete in ids:
                    info = AthleteInfo(
                        schema=SCHEMA,
                        athlete=athlete,
                        name=f"Runner {athlete}",
                        body_mass_kg=70.0,
                        sensors=[],
                        load_budget_bw_s=500.0,
                    )
                    client.publish(
                        topics.athlete_info(BASE, athlete), encode(info), qos=1, retain=True
                    ).wait_for_publish(5)
                with sync_playwright() as p:
                    browser = p.chromium.launch(
                        executable_path=chromium, args=CHROMIUM_ARGS, headless=True
                    )
                    context = browser.new_context(viewport={"width": 1366, "height": 768})
                    grid, detail = open_pages(url, folder, context, ids)
                    grid.wait_for_function(
                        f"() => document.querySelectorAll('[data-athlete]').length === {n}",
                        timeout=20_000,
                    )
                    seconds = memory_minutes * 60.0 if memory_minutes else args.seconds
                    published = Published()
                    stop = threading.Event()
                    sent_box: list[int] = []
                    worker = threading.Thread(
                        target=lambda: sent_box.append(
                            run_steps(client, ids, args.rate, seconds, published, stop)
                        ),
                        daemon=True,
                    )
                    drawn: dict[str, list[list[object]]] = {"grid": [], "detail": []}
                    heap: dict[str, list[tuple[float, float]]] = {"grid": [], "detail": []}
                    for page in (grid, detail):
                        page.evaluate("window.calfload.takeDrawn()")  # starts the recording
                    t_start = time.monotonic()
                    cpu_start = cpu_seconds(pid)
                    worker.start()
                    next_sample = 0.0
                    while worker.is_alive():
                        if stop.is_set():
                            break
                        time.sleep(1.0)
                        for name, page in (("grid", grid), ("detail", detail)):
                            drawn[name] += page.evaluate("window.calfload.takeDrawn()")
                        elapsed = time.monotonic() - t_start
                        if memory_minutes and elapsed >= next_sample:
                            for name, page in (("grid", grid), ("detail", detail)):
                                heap[name].append((elapsed, heap_mb(page)))
                            next_sample += args.sample_s
                            print(
                                f"  {elapsed:6.0f} s heap grid {heap['grid'][-1][1]:.1f} MB, "
                                f"detail {heap['detail'][-1][1]:.1f} MB",
                                flush=True,
                            )
                    cpu_share = (cpu_seconds(pid) - cpu_start) / (time.monotonic() - t_start)
                    time.sleep(1.5)
                    for name, page in (("grid", grid), ("detail", detail)):
                        drawn[name] += page.evaluate("window.calfload.takeDrawn()")
                    long_tasks = {
                        name: page.evaluate("window.__longTasks ?? null")
                        for name, page in (("grid", grid), ("detail", detail))
                    }
                    browser.close()
                client.loop_stop()
                client.disconnect()
        finally:
            broker.stop()

    sent = sent_box[0] if sent_box else 0
    print(
        f"\n{n} athletes × {args.rate:g} steps/s per foot for {seconds:.0f} s: "
        f"{sent} steps published"
    )
    grid_lat, grid_missing = latencies(published, drawn["grid"])
    detail_pub = Published(times={k: v for k, v in published.times.items() if k[0] == ids[0]})
    detail_lat, detail_missing = latencies(detail_pub, drawn["detail"])
    for name, lat, missing in (
        ("grid", grid_lat, grid_missing),
        (f"detail ({ids[0]})", detail_lat, detail_missing),
    ):
        if lat.size:
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            print(
                f"  {name:16s} publish→screen ms: p50 {p50:.0f}, p95 {p95:.0f}, p99 {p99:.0f}, "
                f"max {lat.max():.0f} over {lat.size} steps; never shown: {missing}"
            )
    print(f"  long tasks (> 50 ms) during the run: {long_tasks}")
    print(f"  dashboard process CPU: {100 * cpu_share:.0f} % of one core")
    if memory_minutes:
        for name, samples in heap.items():
            t = np.asarray([s[0] for s in samples]) / 60.0
            mb = np.asarray([s[1] for s in samples])
            half = t >= t[-1] / 2
            slope_all = np.polyfit(t, mb, 1)[0] if t.size > 1 else float("nan")
            slope_late = np.polyfit(t[half], mb[half], 1)[0] if half.sum() > 1 else float("nan")
            print(
                f"  heap {name}: first {mb[0]:.1f} MB, last {mb[-1]:.1f} MB, "
                f"max {mb.max():.1f} MB; slope {slope_all * 1000:.0f} kB/min overall, "
                f"{slope_late * 1000:.0f} kB/min over the second half "
                f"(→ {slope_late * 60:.1f} MB per hour)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--athletes", type=int, nargs="*", default=[10, 50], help="latency runs (none: skip)"
    )
    parser.add_argument("--rate", type=float, default=3.0, help="steps/s per foot (3)")
    parser.add_argument("--seconds", type=float, default=60.0, help="latency run length (60)")
    parser.add_argument(
        "--memory-minutes", type=float, default=0.0, help="memory run (10 athletes)"
    )
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--history-steps", type=int, default=3000)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_all(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_all(args: argparse.Namespace) -> None:
    for n in args.athletes:
        scenario(n, args, args.chromium, 0.0)
    if args.memory_minutes:
        print(
            f"\nmemory run: {args.memory_minutes:g} min, "
            f"history cap {args.history_steps} steps per foot"
        )
        scenario(10, args, args.chromium, args.memory_minutes)


if __name__ == "__main__":
    main()
