"""``calfload report SESSION --out report.html|report.pdf``: a session report.

Sections and sources: ``docs/reports.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

COMMAND = "report"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="write a session report (HTML, or PDF through headless Chromium)"
    )
    p.add_argument("session", help="session id (see `calfload sessions`) or its .sqlite3 file")
    p.add_argument("--out", type=Path, metavar="FILE", help="report.html or report.pdf")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (sessions in DIR/recordings)")
    p.add_argument("--json", action="store_true", help="print the gathered data as JSON")
    p.add_argument("--sex", choices=("male", "female"), help="athlete's sex, for test norms")
    p.add_argument("--age", type=float, metavar="YEARS", help="athlete's age, for test norms")
    p.add_argument(
        "--protocol",
        action="append",
        default=[],
        metavar="FILE",
        help="a protocol file the session ran (besides the built-in ones and DIR/protocols)",
    )


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.dashboard.reports.data import gather, lab_protocols
    from calfload.dashboard.reports.render import render_html
    from calfload.processing.protocols.definition import load
    from calfload.processing.recorder.store import recordings_folder, session_path

    if args.out is None and not args.json:
        raise ValueError("give --out report.html|report.pdf, or --json")
    suffix = args.out.suffix.lower() if args.out is not None else ""
    if args.out is not None and suffix not in (".html", ".htm", ".pdf"):
        raise ValueError(f"--out {args.out}: the file must end in .html or .pdf")
    folder = recordings_folder(data_dir(args.data_dir))
    path = session_path(folder, args.session)
    protocols = lab_protocols(data_dir(args.data_dir) / "protocols")
    protocols += [load(f) for f in args.protocol]
    data = gather(path, folder, sex=args.sex, age_y=args.age, protocols=protocols)
    if args.json:
        sys.stdout.write(data.to_json().decode() + "\n")
    if args.out is None:
        return 0
    html = render_html(data)
    if suffix == ".pdf":
        from calfload.dashboard.reports.pdf import html_to_pdf

        html_to_pdf(html, args.out)
    else:
        args.out.write_text(html, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0
