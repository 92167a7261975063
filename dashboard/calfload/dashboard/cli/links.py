"""``calfload link``: athlete links (a live view of one athlete, no login needed).

calfload link create ATHLETE [--by NAME] [--url URL]   # prints the link once
calfload link list [--all]
calfload link revoke ID
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from typing import Any

from calfload.bridge.datadir import data_dir
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import AthleteLinks

COMMAND = "link"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(COMMAND, help="athlete links: one athlete's live view, no login")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: CALFLOAD_DATA_DIR)")
    sub = p.add_subparsers(dest="link_command", required=True)
    create = sub.add_parser("create", help="create a link for an athlete id and print it")
    create.add_argument("athlete")
    create.add_argument("--by", help="who made it (default: the login name)")
    create.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the dashboard's address (%(default)s)"
    )
    listing = sub.add_parser("list", help="list active links")
    listing.add_argument("--all", action="store_true", help="include revoked links")
    revoke = sub.add_parser("revoke", help="revoke a link by its id (pages close within 2 s)")
    revoke.add_argument("id")


def run(args: argparse.Namespace) -> int:
    try:
        links = AthleteLinks(AuthDB(data_dir(args.data_dir)))
        if args.link_command == "create":
            link, token = links.create(args.athlete, args.by or getpass.getuser())
            print(f"{args.url.rstrip('/')}/a/{token}")
            print(f"(link id {link.id}; shown only once)", file=sys.stderr)
        elif args.link_command == "list":
            for link in links.all(include_revoked=args.all):
                created = dt.datetime.fromtimestamp(link.created_s, dt.UTC)
                state = "active" if link.active else "revoked"
                print(
                    f"{link.id}\t{link.athlete}\t{state}\tby {link.created_by}\t"
                    f"{created:%Y-%m-%d %H:%M} UTC"
                )
        elif args.link_command == "revoke":
            if not links.revoke(args.id):
                raise ValueError(f"there is no active link with id {args.id!r}")
            print(f"revoked link {args.id}")
    except ValueError as exc:
        print(f"calfload link: {exc}", file=sys.stderr)
        return 2
    return 0
