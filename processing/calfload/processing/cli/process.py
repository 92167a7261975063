"""``calfload process``: the live processing worker against a broker, until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from calfload.bridge import topics

COMMAND = "process"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("process", help="run the live processing worker against a broker")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    p.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    p.add_argument("--data-dir", metavar="DIR", help="data folder: compare with past sessions")


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.bridge.mqtt import BrokerUrl
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
