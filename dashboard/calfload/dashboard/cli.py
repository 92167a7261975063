"""The ``calfload`` command: one entry point wiring bridge, processing and dashboard."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Sequence

from calfload.bridge import bridge_cli, cli_calibrate, decode_cli, scan_cli, topics
from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard import (
    analyze_cli,
    export_cli,
    linkcli,
    protocolcli,
    record_cli,
    report_cli,
    sessions_cli,
    usercli,
)

PLUGINS = (
    usercli,
    linkcli,
    bridge_cli,
    scan_cli,
    decode_cli,
    cli_calibrate,
    analyze_cli,
    record_cli,
    sessions_cli,
    export_cli,
    protocolcli,
    report_cli,
)
"""Subcommands in their own modules: ``COMMAND``, ``add_parser(sub)``, ``run(args)``."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="calfload", description="Calf and Achilles load for runners.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="virtual runners through the real bridge, worker and dashboard"
    )
    demo.add_argument("--athletes", type=int, default=2, metavar="N", help="virtual athletes (2)")
    demo.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    demo.add_argument(
        "--mqtt-port", type=int, default=1883, metavar="PORT", help="embedded broker port (1883)"
    )
    demo.add_argument("--broker", metavar="URL", help="external broker, e.g. mqtt://127.0.0.1:1884")
    demo.add_argument(
        "--http-port", type=int, default=8000, metavar="PORT", help="dashboard port (8000)"
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    demo.add_argument("--data-dir", metavar="DIR", help="data folder (the demo uses DIR/demo)")

    proc = sub.add_parser("process", help="run the live processing worker against a broker")
    proc.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    proc.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    proc.add_argument("--data-dir", metavar="DIR", help="data folder: compare with past sessions")

    dash = sub.add_parser("dashboard", help="serve the live dashboard for a broker")
    dash.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    dash.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--http-port", type=int, default=8000, metavar="PORT")
    dash.add_argument("--data-dir", metavar="DIR", help="data folder with the users")
    for plugin in PLUGINS:
        plugin.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "process":
            return _process(args)
        if args.command == "dashboard":
            return _dashboard(args)
        for plugin in PLUGINS:
            if args.command == plugin.COMMAND:
                return int(plugin.run(args))
    except (ValueError, RuntimeError) as exc:
        print(f"calfload: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def _demo(args: argparse.Namespace) -> int:
    from calfload.dashboard.demo import DemoOptions, run_demo

    options = DemoOptions(
        athletes=args.athletes,
        duration_s=args.duration,
        mqtt_port=args.mqtt_port,
        broker=args.broker,
        http_port=args.http_port,
        open_browser=not args.no_browser,
        base=topics.check_base(args.base_topic),
        data_dir=args.data_dir,
    )
    asyncio.run(run_demo(options))
    return 0


def _process(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.processing.worker import Worker

    folder = data_dir(args.data_dir) if args.data_dir else None
    worker = Worker(
        BrokerUrl.parse(args.broker), base=topics.check_base(args.base_topic), data_dir=folder
    )
    worker.start()
    print(f"calfload worker: processing raw data from {worker.broker}; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.dashboard.app import DashboardSettings, serve
    from calfload.dashboard.demo import check_port_free

    broker = BrokerUrl.parse(args.broker)
    check_port_free(args.http_port, "--http-port")
    from calfload.dashboard.recorded_history import RecordedHistory
    from calfload.processing.recorder.store import recordings_folder

    folder = data_dir(args.data_dir)
    settings = DashboardSettings(
        broker=broker,
        base=topics.check_base(args.base_topic),
        data_dir=folder,
        history=RecordedHistory(recordings_folder(folder)),  # steps missed in an outage
    )
    print(f"Dashboard: http://{args.host}:{args.http_port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, args.host, args.http_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
