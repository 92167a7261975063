"""``calfload dashboard``: serve the live dashboard for a broker, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from calfload.bridge import topics

COMMAND = "dashboard"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("dashboard", help="serve the live dashboard for a broker")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    p.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=8000, metavar="PORT")
    p.add_argument("--data-dir", metavar="DIR", help="data folder with the users")


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.bridge.mqtt import BrokerUrl
    from calfload.bridge.ports import check_port_free
    from calfload.dashboard.app import DashboardSettings, serve
    from calfload.dashboard.recorded_history import RecordedHistory
    from calfload.processing.recorder.store import recordings_folder

    broker = BrokerUrl.parse(args.broker)
    check_port_free(args.http_port, "--http-port")
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
