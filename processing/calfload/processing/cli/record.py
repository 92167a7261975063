"""``calfload record``: run the recorder against a broker until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from calfload.bridge import topics

COMMAND = "record"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "record", help="record every athlete session from the broker (SQLite per session)"
    )
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    p.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (sessions go to DIR/recordings)")
    p.add_argument(
        "--no-auto",
        action="store_true",
        help="open sessions only on a start command (dashboard or MQTT), not when data arrives",
    )


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.bridge.mqtt import BrokerUrl
    from calfload.processing.recorder.recorder import Recorder
    from calfload.processing.recorder.store import recordings_folder

    folder = recordings_folder(data_dir(args.data_dir))
    recorder = Recorder(
        BrokerUrl.parse(args.broker),
        folder,
        base=topics.check_base(args.base_topic),
        auto_start=not args.no_auto,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    recorder.start()
    print(f"calfload recorder: {recorder.broker} → {folder}; Ctrl-C to stop", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        recorder.stop()
    return 0
