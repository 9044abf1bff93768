"""Jinja2 environment: autoescaping on, shared filters and globals for every template."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app.domain.errors import ERROR_LABELS
from app.domain.statuses import STATUS_LABELS

ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Templates(directory=str(ROOT / "templates"))
templates.env.autoescape = True
templates.env.globals.update(STATUS_LABELS=STATUS_LABELS, ERROR_LABELS=ERROR_LABELS)


def render_error_page(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    template = templates.env.get_template("errors/error.html")
    html = template.render(status=status, title=title, detail=detail)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
