"""``calfload demo``: virtual runners through the real bridge, worker and dashboard."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from calfload.bridge import topics

COMMAND = "demo"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="virtual runners through the real bridge, worker and dashboard"
    )
    p.add_argument("--athletes", type=int, default=2, metavar="N", help="virtual athletes (2)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument(
        "--mqtt-port", type=int, default=1883, metavar="PORT", help="embedded broker port (1883)"
    )
    p.add_argument("--broker", metavar="URL", help="external broker, e.g. mqtt://127.0.0.1:1884")
    p.add_argument(
        "--http-port", type=int, default=8000, metavar="PORT", help="dashboard port (8000)"
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (the demo uses DIR/demo)")


def run(args: argparse.Namespace) -> int:
    from calfload.cli.stack import DemoOptions, run_demo

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
