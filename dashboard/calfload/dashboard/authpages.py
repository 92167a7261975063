"""The login and athlete-link pages, rendered on the server. Pure: text in, HTML out.

Every value put into a page goes through :func:`html.escape` (quotes included);
no page has inline script (the Content-Security-Policy forbids it anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from calfload.dashboard.tokens import AthleteLink


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n'
        '  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{escape(title)}</title>\n"
        '  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        '  <link rel="stylesheet" href="/static/auth.css">\n'
        "</head>\n<body>\n"
        f"{body}"
        "</body>\n</html>\n"
    )


def csrf_field(token: str) -> str:
    """The hidden form field every POST form must carry."""
    return f'<input type="hidden" name="csrf" value="{escape(token)}">'


def login_page(*, csrf: str, next_path: str = "/", user: str = "", message: str = "") -> str:
    alert = (
        f'<p class="alert" role="alert" data-testid="login-error">{escape(message)}</p>\n'
        if message
        else ""
    )
    return _page(
        "calfload · log in",
        '<main class="card">\n'
        '<h1>calfload <span class="sub">log in</span></h1>\n'
        f"{alert}"
        '<form method="post" action="/login" data-testid="login-form">\n'
        f"  {csrf_field(csrf)}\n"
        f'  <input type="hidden" name="next" value="{escape(next_path)}">\n'
        '  <label>User name <input name="user" autocomplete="username" required '
        f'autofocus value="{escape(user)}" data-testid="login-user"></label>\n'
        '  <label>Password <input name="password" type="password" '
        'autocomplete="current-password" required data-testid="login-password"></label>\n'
        '  <button type="submit" data-testid="login-submit">Log in</button>\n'
        "</form>\n"
        '<p class="hint">No account yet? An admin creates one with '
        "<code>calfload user add NAME</code>.</p>\n"
        "</main>\n",
    )


def message_page(
    title: str, message: str, *, link: str = "/login", link_text: str = "Log in"
) -> str:
    return _page(
        f"calfload · {title}",
        f'<main class="card">\n<h1>{escape(title)}</h1>\n'
        f'<p class="alert" role="alert" data-testid="message">{escape(message)}</p>\n'
        f'<p><a href="{escape(link)}">{escape(link_text)}</a></p>\n</main>\n',
    )


def _when(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def links_page(
    *,
    csrf: str,
    user: str,
    links: Sequence[AthleteLink],
    created: tuple[AthleteLink, str] | None = None,
    error: str = "",
) -> str:
    """The therapist's athlete-link manager; ``created`` is a new link and its full
    URL, shown this once (only its hash is stored)."""
    parts = [
        '<main class="card wide">\n<h1>calfload <span class="sub">athlete links</span></h1>\n',
        f'<p class="who">Logged in as <b data-testid="user">{escape(user)}</b> · '
        '<a href="/">dashboard</a></p>\n',
        "<p>An athlete link opens a live view of one athlete only, without a login. "
        "Anyone who has the link sees that athlete; revoke it when it is no longer needed.</p>\n",
    ]
    if error:
        parts.append(
            f'<p class="alert" role="alert" data-testid="links-error">{escape(error)}</p>\n'
        )
    if created is not None:
        link, url = created
        parts.append(
            f'<p class="created" data-testid="created">New link for '
            f"<b>{escape(link.athlete)}</b> (copy it now, it is shown only once):<br>"
            f'<a data-testid="created-url" href="{escape(url)}">{escape(url)}</a></p>\n'
        )
    parts.append(
        '<form method="post" action="/links" data-testid="link-create">\n'
        f"  {csrf_field(csrf)}\n"
        '  <label>Athlete id <input name="athlete" required maxlength="128" '
        'data-testid="link-athlete"></label>\n'
        '  <button type="submit">Create link</button>\n</form>\n'
    )
    if links:
        parts.append(
            '<table data-testid="links">\n<thead><tr><th>athlete</th><th>link id</th>'
            "<th>created</th><th>by</th><th></th></tr></thead>\n<tbody>\n"
        )
        for link in links:
            parts.append(
                f'<tr data-link="{escape(link.id)}"><td>{escape(link.athlete)}</td>'
                f"<td><code>{escape(link.id)}</code></td><td>{_when(link.created_s)}</td>"
                f"<td>{escape(link.created_by)}</td><td>"
                f'<form method="post" action="/links/{escape(link.id)}/revoke">'
                f'{csrf_field(csrf)}<button type="submit" data-testid="revoke">Revoke</button>'
                "</form></td></tr>\n"
            )
        parts.append("</tbody>\n</table>\n")
    else:
        parts.append('<p data-testid="no-links">No active athlete links.</p>\n')
    parts.append("</main>\n")
    return _page("calfload · athlete links", "".join(parts))
