"""Print a report's HTML to PDF with headless Chromium (Playwright), A4."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync")


def chromium() -> str:
    """The system Chromium (Debian ``chromium``), as the tests use."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("PDF reports need Chromium: install the `chromium` package")
    return path


def html_to_pdf(
    html: str, out: Path, *, executable: str | None = None, args: Sequence[str] = CHROMIUM_ARGS
) -> None:
    """Write ``html`` as an A4 PDF to ``out`` (page breaks from its CSS)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError(
            "PDF reports need Playwright: pip install 'calfload[pdf]' (or write .html)"
        ) from None

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable or chromium(), args=list(args))
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            page.pdf(
                path=str(out),
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()
