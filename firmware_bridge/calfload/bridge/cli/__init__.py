"""The bridge's sub-commands: ``bridge``, ``scan``, ``decode``, ``calibrate``.

Each module has ``COMMAND``, ``add_parser(subparsers)`` and ``run(args) -> int``;
:mod:`calfload.cli.main` wires them into the ``calfload`` command.
"""

from __future__ import annotations

from calfload.bridge.cli import bridge, calibrate, decode, scan

COMMANDS = (bridge, scan, decode, calibrate)
