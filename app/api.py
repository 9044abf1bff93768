"""The JSON API under /api/v1: its routers, its OpenAPI document and its docs page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from app.campaigns.api import router as campaigns_router
from app.contacts.api import router as contacts_router
from app.contacts.schemas import ContactIn
from app.engine.api import router as engine_router
from app.events.api import router as events_router
from app.imports.api import router as imports_router
from app.senders.api import router as senders_router
from app.web.api_common import COMMON_PROBLEMS, UNPARSABLE_BODY, forbid_unknown_query_params
from app.web.problems import PROBLEM_JSON
from app.web.templating import templates
from app.webhooks.api import router as webhooks_router
from app.workspaces.api import router as workspace_router

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
SWAGGER_JS = "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js"
SWAGGER_CSS = "/static/vendor/swagger-ui-5.35.0/swagger-ui.css"
PROBLEM_REF = "#/components/schemas/Problem"

DESCRIPTION = """
The campaign contact tracker's API for integrations. Authenticate with `Authorization: Bearer <API key>`.
Errors are `application/problem+json` (RFC 9457). Lists use cursor pagination: pass `next_cursor` back as
`cursor`. Unknown query parameters are refused with 422. Each API key may make a limited number of requests
per minute (429 with `Retry-After` beyond it); every authenticated answer carries the budget in
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the minute turns).
"""


# Every operation has one of these tags (generated clients group their functions by it) and a
# camelCase operationId (createCampaign → a client's `create_campaign`); tests/web/test_openapi.py
# keeps both stable.
TAGS = [
    {"name": "senders", "description": "Sender accounts: tier, time zone, working hours, caps"},
    {"name": "campaigns", "description": "Campaigns, their templates, state and statistics"},
    {
        "name": "contacts",
        "description": "A campaign's contacts, their activity, and what integrations report",
    },
    {"name": "executor", "description": "An external executor: lease due actions, report results"},
    {"name": "imports", "description": "CSV imports, run in the background"},
    {"name": "events", "description": "The event log, read in order"},
    {"name": "webhooks", "description": "Subscriptions that receive the event log as signed POSTs"},
    {"name": "workspace", "description": "The caller's workspace"},
]


def _integer_header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "integer"}}


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _integer_header("Requests this API key may make per minute"),
    "RateLimit-Remaining": _integer_header("Requests it has left this minute"),
    "RateLimit-Reset": _integer_header("Seconds until the minute turns and the budget renews"),
}


def document_rate_limit_headers(paths: dict[str, Any]) -> None:
    """Every authenticated answer carries the key's budget; a 429 also says when to retry, and so
    does a 503 (the database is unavailable for a moment)."""
    for operations in paths.values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if code.startswith("2") or code == "429":
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
                if code in ("429", "503"):
                    response.setdefault("headers", {})["Retry-After"] = _integer_header(
                        "Seconds to wait"
                    )


def document_problems_as_sent(paths: dict[str, Any]) -> None:
    """FastAPI files a response's model under application/json; problems are sent as
    application/problem+json only, so the schema goes there (a generated client parses them)."""
    for operations in paths.values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_JSON in content and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")


def document_unparsable_bodies(paths: dict[str, Any]) -> None:
    """A JSON body that does not parse is refused with 400 before any field is looked at: every
    operation that takes one says so."""
    for operations in paths.values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                operation["responses"]["400"] = {
                    "description": UNPARSABLE_BODY,
                    "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
                }
                operation["responses"] = dict(
                    sorted(operation["responses"].items(), key=lambda item: item[0])
                )


def api_router() -> APIRouter:
    router = APIRouter(
        prefix=API_PREFIX,
        responses=COMMON_PROBLEMS,
        dependencies=[Depends(forbid_unknown_query_params)],
    )
    router.include_router(senders_router)
    router.include_router(campaigns_router)
    router.include_router(contacts_router)
    router.include_router(engine_router)
    router.include_router(imports_router)
    router.include_router(events_router)
    router.include_router(webhooks_router)
    router.include_router(workspace_router)
    return router


def install_api(app: FastAPI) -> None:
    app.include_router(api_router())

    def build_schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title="Campaign contact tracker API",
                version="1",
                description=DESCRIPTION,
                routes=app.routes,
                tags=TAGS,
            )
            schema["paths"] = {
                p: v for p, v in schema.get("paths", {}).items() if p.startswith(API_PREFIX)
            }
            document_rate_limit_headers(schema["paths"])
            document_unparsable_bodies(schema["paths"])
            document_problems_as_sent(schema["paths"])
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {})["ContactIn"] = ContactIn.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components["securitySchemes"] = {"ApiKey": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"ApiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(build_schema())

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        html = templates.env.get_template("api_docs.html").render(
            openapi_url=OPENAPI_URL, js_url=SWAGGER_JS, css_url=SWAGGER_CSS
        )
        return HTMLResponse(html)
