"""Jinja2 environment (autoescaping on) and page rendering, whole or one named block for htmx."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from app.domain.errors import ERROR_LABELS
from app.domain.statuses import (
    ACTIVITY_KIND_LABELS,
    CAMPAIGN_TYPE_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
)
from app.domain.transitions import EVENT_LABELS

ROOT = Path(__file__).resolve().parent.parent.parent
HTMX_JS = "/static/vendor/htmx-2.0.11.min.js"
templates = Jinja2Templates(directory=str(ROOT / "templates"))
templates.env.autoescape = True


def fmt_time(value: datetime | None) -> Markup:
    """A <time> the browser rewrites into the viewer's own timezone (UTC until then)."""
    if value is None:
        return Markup("—")
    iso = value.isoformat()
    return Markup('<time datetime="{}">{}</time>').format(iso, value.strftime("%Y-%m-%d %H:%M UTC"))


def fmt_int(value: float) -> str:
    """A whole number with thousands separators (a float is rounded: 66.7 → "67")."""
    return f"{round(value):,}"


def safe_href(url: str | None) -> str | None:
    """Only http(s) links are ever rendered as links (a javascript: URL never becomes one)."""
    if url and (url.startswith("https://") or url.startswith("http://")):
        return url
    return None


templates.env.filters.update(time=fmt_time, int=fmt_int, safe_href=safe_href)
templates.env.globals.update(
    STATUS_LABELS=STATUS_LABELS,
    ERROR_LABELS=ERROR_LABELS,
    KIND_LABELS=ACTIVITY_KIND_LABELS,
    OUTCOME_LABELS=OUTCOME_LABELS,
    TYPE_LABELS=CAMPAIGN_TYPE_LABELS,
    HTMX_JS=HTMX_JS,
    EVENT_LABELS={e.value: label for e, label in EVENT_LABELS.items()},
)


def is_htmx(request: Request) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def page(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The whole page, or only `block` when htmx asks for a fragment."""
    ctx = {"request": request, "viewer": getattr(request.state, "viewer", None), **context}
    if block is not None and is_htmx(request):
        template = templates.env.get_template(name)
        html = "".join(template.blocks[block](template.new_context(ctx)))
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    return templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=dict(headers or {})
    )


def render_error_page(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
    viewer: Any = None,
    path: str = "",
    retry_url: str | None = None,
) -> HTMLResponse:
    """An error page in the dashboard's layout, with its navigation and what to do next. It reads
    nothing from the database: `viewer` is whoever this request had already found signed in (the
    menu is theirs), or None, and the page renders while the database is away."""
    template = templates.env.get_template("errors/error.html")
    html = template.render(
        status=status,
        title=title,
        detail=detail,
        request_id=request_id,
        viewer=viewer,
        show_nav=True,
        error_path=path,
        retry_url=retry_url,
        HTMX_JS=HTMX_JS,
    )
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
