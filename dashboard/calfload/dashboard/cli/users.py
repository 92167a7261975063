"""``calfload user``: add, list and remove dashboard users (the first admin comes from here).

calfload user add NAME [--admin] [--password-stdin]   # asks twice on a terminal
calfload user list
calfload user remove NAME
calfload user passwd NAME [--password-stdin]
calfload user login-link NAME [--url URL]            # a one-time login URL (10 min)
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from typing import Any

from calfload.bridge.datadir import data_dir
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import LOGIN_TOKEN_TTL_S, LoginTokens
from calfload.dashboard.users import UserError, Users, check_password

COMMAND = "user"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(COMMAND, help="manage dashboard users (therapists and admins)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: CALFLOAD_DATA_DIR)")
    sub = p.add_subparsers(dest="user_command", required=True)
    add = sub.add_parser("add", help="add a user; asks for the password")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="an admin (default: therapist)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    sub.add_parser("list", help="list the users")
    rm = sub.add_parser("remove", help="remove a user and end their sessions")
    rm.add_argument("name")
    pw = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    once = sub.add_parser("login-link", help="print a one-time login URL for a user")
    once.add_argument("name")
    once.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the dashboard's address (%(default)s)"
    )


def read_password(from_stdin: bool) -> str:
    """One line from stdin, or asked twice (not echoed) on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        return check_password(password)
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password: pass it with --password-stdin")
    password = check_password(getpass.getpass("Password: "))
    if getpass.getpass("Password again: ") != password:
        raise UserError("the two passwords differ; nothing was changed")
    return password


def run(args: argparse.Namespace) -> int:
    try:
        db = AuthDB(data_dir(args.data_dir))
        users = Users(db)
        command = args.user_command
        if command == "add":
            password = read_password(args.password_stdin)
            user = users.add(args.name, password, "admin" if args.admin else "therapist")
            print(f"added {user.role} {user.name!r} to {db.path}")
        elif command == "list":
            for user in users.all():
                created = dt.datetime.fromtimestamp(user.created_s, dt.UTC)
                print(f"{user.name}\t{user.role}\tcreated {created:%Y-%m-%d %H:%M} UTC")
        elif command == "remove":
            users.remove(args.name)
            print(f"removed user {args.name!r}")
        elif command == "passwd":
            if users.get(args.name) is None:
                raise UserError(f"there is no user {args.name!r}")
            users.set_password(args.name, read_password(args.password_stdin))
            print(f"new password set for {args.name!r}; their sessions were ended")
        elif command == "login-link":
            found = users.get(args.name)
            if found is None:
                raise UserError(f"there is no user {args.name!r}")
            token = LoginTokens(db).create(found.name)
            minutes = int(LOGIN_TOKEN_TTL_S // 60)
            print(f"{args.url.rstrip('/')}/login/once?token={token}")
            print(f"(works once, within {minutes} minutes)", file=sys.stderr)
    except (UserError, ValueError) as exc:
        print(f"calfload user: {exc}", file=sys.stderr)
        return 2
    return 0
