"""The ``calfload`` command: one entry point wiring the sub-commands of every part.

Each part keeps its own commands next to the code they drive (``calfload.bridge.cli``,
``calfload.processing.cli``, ``calfload.dashboard.cli``); this module only collects them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from calfload.bridge.cli import COMMANDS as BRIDGE_COMMANDS
from calfload.cli import demo
from calfload.dashboard.cli import COMMANDS as DASHBOARD_COMMANDS
from calfload.processing.cli import COMMANDS as PROCESSING_COMMANDS

PLUGINS: tuple[ModuleType, ...] = (
    demo,
    *PROCESSING_COMMANDS,
    *DASHBOARD_COMMANDS,
    *BRIDGE_COMMANDS,
)
"""Sub-commands in their own modules: ``COMMAND``, ``add_parser(sub)``, ``run(args)``."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="calfload", description="Calf and Achilles load for runners.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", required=True)
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
        for plugin in PLUGINS:
            if args.command == plugin.COMMAND:
                return int(plugin.run(args))
    except (ValueError, RuntimeError) as exc:
        print(f"calfload: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
