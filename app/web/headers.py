"""The security headers every response carries (SPEC §8): a CSP without inline script, no sniffing,
no framing, no referrer across sites; and `Cache-Control: no-store` on every answer but the static
files, since pages, downloads and API answers carry contact data (SPEC §8)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


# Pages, fragments, CSV downloads, API answers, probes and errors: nothing dynamic is worth keeping
# in a cache, and most of it is contact data a shared browser or proxy must not keep. A response
# that sets its own Cache-Control keeps it.
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
STATIC_PREFIX = "/static/"


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The headers an answer on `path` carries unless it sets them itself."""
    if path.startswith(STATIC_PREFIX):
        return SECURITY_HEADERS
    return [*SECURITY_HEADERS, NO_STORE]


def headers_for_error(path: str) -> dict[str, str]:
    """The same, for an answer made outside this middleware (the 500 handler runs outside it)."""
    return {k.decode(): v.decode() for k, v in headers_for(path)}


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (API and docs included), no-store to every
    dynamic one, and the headers a request's handling left in `request.state.response_headers`
    (the API's rate-limit budget), which reach error answers too."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        # Behind TLS (TRACKER_PUBLIC_URL is https): browsers use https only, for a year.
        self.hsts = [HSTS] if hsts else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = [*headers_for(scope["path"]), *self.hsts]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in defaults if k not in present]
                extra += scope.get("state", {}).get("response_headers", ())
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
