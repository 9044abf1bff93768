"""What every /api/v1 route shares: problem responses in the schema and strict query strings."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.errors import ValidationFailed
from app.web.problems import PROBLEM_JSON


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, list[str]] | None = Field(
        default=None, description="For validation errors: field path → what to fix"
    )


class InvalidTransitionProblem(Problem):
    current_status: str | None = None
    event: str | None = None
    campaign_type: str | None = None


def _problem(description: str, model: type[BaseModel] = Problem) -> dict[str, Any]:
    return {"description": description, "model": model, "content": {PROBLEM_JSON: {}}}


COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("Missing, unknown or revoked API key"),
    413: _problem("Request body too large"),
    422: _problem("Invalid input; `errors` says what to fix per field"),
    429: _problem("Rate limit exceeded; retry after the `Retry-After` seconds"),
    503: _problem(
        "The database is unavailable for a moment; retry after the `Retry-After` seconds"
    ),
}
Responses = dict[int | str, dict[str, Any]]
# Added to every operation with a JSON body when the OpenAPI document is built (app/api.py).
UNPARSABLE_BODY = "The body is not JSON (or not UTF-8); nothing was read"
NOT_FOUND: Responses = {404: _problem("Not found in this workspace")}
GONE: Responses = {410: _problem("Asked for something removed for good (events past retention)")}
CONFLICT: Responses = {409: _problem("Conflicts with the current state", InvalidTransitionProblem)}


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def forbid_unknown_query_params(request: Request) -> None:
    """Refuse query parameters the route does not declare: a typo must not silently widen a filter."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        hint = ", ".join(sorted(allowed)) or "none"
        raise ValidationFailed(
            f"Unknown query parameter {', '.join(unknown)}",
            {name: [f"Not a parameter of this endpoint; allowed: {hint}"] for name in unknown},
        )


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """A model serialised by pydantic-core in one pass, skipping FastAPI's re-validation of what
    we built ourselves (a page of contacts; the route's response_model still documents it)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
