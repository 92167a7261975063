"""The processing part's sub-commands: live worker, offline analysis, recording, protocols.

Each module has ``COMMAND``, ``add_parser(subparsers)`` and ``run(args) -> int``;
:mod:`calfload.cli.main` wires them into the ``calfload`` command.
"""

from __future__ import annotations

from calfload.processing.cli import analyze, export, process, protocol, record, sessions

COMMANDS = (process, analyze, record, sessions, export, protocol)
