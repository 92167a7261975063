"""The views' HTTP routes: pages, the two forms (CSRF, validation, storage), ids."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard.app import DashboardSettings
from calfload.dashboard.athletestore import NOTES_FILE, THRESHOLDS_FILE
from calfload.dashboard.auth import SESSION_COOKIE
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import Sessions
from tests.conftest import free_port
from tests.dashboard.conftest import athlete_link, ensure_therapist
from tests.dashboard.test_dashboard_app import serving


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(url: str, cookie: str = "", form: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Status, Location header and body of a GET (or a POST of ``form``)."""
    data = None if form is None else urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode()


async def acall(
    url: str, cookie: str = "", form: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """:func:`call` off the event loop (the server runs on it)."""
    return await asyncio.to_thread(call, url, cookie, form)


async def test_pages_and_forms(own_data_dir: Path) -> None:
    ensure_therapist(own_data_dir)
    sessions = Sessions(AuthDB(own_data_dir))
    token = sessions.create("thera")
    session = sessions.get(token)
    assert session is not None
    cookie = f"{SESSION_COOKIE}={token}"
    settings = DashboardSettings(broker=BrokerUrl("127.0.0.1", free_port()), data_dir=own_data_dir)
    async with serving(settings) as addr:
        base = f"http://{addr}"
        status, _, html = await acall(f"{base}/athlete/a1", cookie)
        assert status == 200
        assert 'data-view="detail" data-focus="a1"' in html
        assert f'name="csrf" value="{session.csrf}"' in html
        assert 'data-testid="threshold-asymmetry_pct" value="10"' in html
        assert (await acall(f"{base}/athlete/a%20b", cookie))[0] == 404
        assert (await acall(f"{base}/athlete/a1"))[1].startswith(
            "/login"
        )  # no session: log in first
        status, _, html = await acall(f"{base}/athlete/a1/runner", cookie)
        assert status == 200 and 'data-view="runner" data-focus="a1"' in html

        # notes: CSRF, length, stored
        notes = f"{base}/athlete/a1/notes"
        assert (await acall(notes, cookie, {"text": "no token"}))[0] == 403
        status, _, body = await acall(notes, cookie, {"csrf": session.csrf, "text": "x" * 501})
        assert status == 400 and "1 to 500 characters" in body
        assert (await acall(notes, cookie, {"csrf": session.csrf, "text": "   "}))[0] == 400
        status, location, _ = await acall(
            notes, cookie, {"csrf": session.csrf, "text": " new\n  cue "}
        )
        assert (status, location) == (303, "/athlete/a1")
        lines = (own_data_dir / NOTES_FILE).read_text().splitlines()
        assert [json.loads(line)["text"] for line in lines] == ["new cue"]
        assert json.loads(lines[0])["author"] == "thera"

        # thresholds: validated, stored, shown in the form again
        alerts = f"{base}/athlete/a1/alerts"
        form = {
            "csrf": session.csrf,
            "asymmetry_pct": "7.5",
            "gct_drift_ms": "",
            "baseline_s": "90",
        }
        assert (await acall(alerts, cookie, form))[0] == 303
        stored = json.loads((own_data_dir / THRESHOLDS_FILE).read_text())
        assert stored["a1"]["asymmetry_pct"] == 7.5
        assert stored["a1"]["gct_drift_ms"] is None
        assert stored["a1"]["baseline_s"] == 90.0
        html = (await acall(f"{base}/athlete/a1", cookie))[2]
        assert 'data-testid="threshold-asymmetry_pct" value="7.5"' in html
        assert 'data-testid="threshold-gct_drift_ms" value=""' in html
        status, _, body = await acall(alerts, cookie, {"csrf": session.csrf, "baseline_s": "1"})
        assert status == 400 and "baseline s must be between 10 and 600" in body
        assert json.loads((own_data_dir / THRESHOLDS_FILE).read_text()) == stored

        # an athlete link gets the runner view of its athlete, and no forms
        _, link = athlete_link("x1", own_data_dir)
        status, _, html = await acall(f"{base}/a/{link}")
        assert status == 200 and 'data-view="runner" data-focus="x1"' in html
        assert "csrf" not in html
        assert (await acall(f"{base}/a/{link}", form={"text": "x"}))[0] == 403
