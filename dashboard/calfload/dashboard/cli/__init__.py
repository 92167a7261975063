"""The dashboard's sub-commands: ``dashboard`` (serve), ``user``, ``link``, ``report``.

Each module has ``COMMAND``, ``add_parser(subparsers)`` and ``run(args) -> int``;
:mod:`calfload.cli.main` wires them into the ``calfload`` command.
"""

from __future__ import annotations

from calfload.dashboard.cli import links, serve, users
from calfload.dashboard.reports import cli as report

COMMANDS = (serve, users, links, report)
