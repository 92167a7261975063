"""`calfload demo` as a user runs it: steps for every athlete and side, live in a browser."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import CHROMIUM_ARGS, free_port
from tests.helpers import Collector

ATHLETES = 2


def _start_demo(data: Path, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    command = [sys.executable, "-m", "calfload.cli", "demo", "--no-browser"]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _wait_for_line(lines: queue.Queue[str], prefix: str, timeout_s: float) -> str:
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"demo never printed {prefix!r}; printed {seen}") from None
        seen.append(line)
        if line.startswith(prefix):
            return line


def test_demo_runs_streams_steps_and_exits_cleanly(
    chromium_path: str, artifacts_dir: Path, tmp_path: Path
) -> None:
    mqtt_port, http_port = free_port(), free_port()
    proc, lines = _start_demo(
        tmp_path,
        "--duration", "15", "--athletes", str(ATHLETES),
        "--mqtt-port", str(mqtt_port), "--http-port", str(http_port),
    )  # fmt: skip
    try:
        url = _wait_for_line(lines, "Dashboard:", 60).split(None, 1)[1].strip()
        # a one-time login link, so the demo opens straight into the grid
        prefix = f"http://127.0.0.1:{http_port}/login/once?token="
        assert url.startswith(prefix) and len(url) > len(prefix) + 40, url
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=10) as anonymous:
            assert anonymous.url == f"http://127.0.0.1:{http_port}/login?next=/"  # no way in
        collector = Collector("127.0.0.1", mqtt_port, ["calfload/steps/#"]).start()
        errors: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" else None,  # type: ignore[func-returns-value]
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            assert page.url == f"http://127.0.0.1:{http_port}/"
            # GCT points for both sides of every athlete reach the page.
            page.wait_for_function(
                """(n) => {
                    const s = window.calfload && window.calfload.stepsReceived;
                    if (!s) return false;
                    const ids = Object.keys(s);
                    return ids.length >= n && ids.every(a => s[a].left >= 2 && s[a].right >= 2);
                }""",
                arg=ATHLETES,
                timeout=30_000,
            )
            page.screenshot(path=str(artifacts_dir / "demo-dashboard.png"), full_page=True)
            used = browser.new_page()  # the token worked once: a second use is refused
            reply = used.goto(url)
            assert reply is not None and reply.status == 400
            used.close()
            browser.close()
        assert errors == []
        rc = proc.wait(timeout=60)
        stderr = proc.stderr.read() if proc.stderr else ""
        assert rc == 0, stderr
        (artifacts_dir / "demo-stderr.txt").write_text(stderr)
        assert "Traceback" not in stderr
        collector.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    steps = collector.payloads("calfload/steps/")
    seen = {(s["athlete"], s["side"]) for s in steps}
    expected = {(f"a{i + 1}", side) for i in range(ATHLETES) for side in ("left", "right")}
    assert seen == expected
    for s in steps:
        assert 150.0 < s["gct_ms"] < 400.0
    # the demo recorded one session per athlete, closed when it stopped, every step in it
    from calfload.processing.recorder import store

    rows, errors = store.list_sessions(store.recordings_folder(tmp_path))
    assert errors == []
    assert sorted(r.athlete for r in rows) == [f"a{i + 1}" for i in range(ATHLETES)]
    for r in rows:
        assert r.state == "stopped" and r.samples > 0
        assert r.steps == sum(1 for s in steps if s["athlete"] == r.athlete)


@pytest.mark.parametrize("option", ["--http-port", "--mqtt-port"])
def test_a_port_in_use_gets_a_one_line_error(option: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = str(free_port())
        ports = {"--http-port": other, "--mqtt-port": other, option: str(port)}
        proc = subprocess.run(
            [sys.executable, "-m", "calfload.cli", "demo", "--no-browser",
             "--data-dir", str(tmp_path), "--duration", "1",
             *[x for kv in ports.items() for x in kv]],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2
    message = proc.stderr.strip()
    assert message.count("\n") == 0
    assert str(port) in message and option in message


def test_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    proc, lines = _start_demo(
        tmp_path, "--mqtt-port", str(free_port()), "--http-port", str(free_port())
    )
    try:
        _wait_for_line(lines, "Press Ctrl-C", 60)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, stderr
    assert "Traceback" not in stderr
    assert "calfload demo: stopped." in _wait_for_line(lines, "calfload demo: stopped.", 5)
