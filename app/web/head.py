"""HEAD wherever GET works (RFC 9110 §9.3.2: the same status and headers, no body). FastAPI's routes
answer only the methods they declare, so every page, probe, download and API read answered HEAD
with 405; declaring HEAD on each route would also give the OpenAPI document a HEAD twin of every
GET. Here a HEAD request runs as the GET it mirrors and its body is dropped."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a streamed download: its chunks go nowhere, its end is sent below
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server keeps its own scope, and knows the answer to HEAD has no body.
        await self.app({**scope, "method": "GET"}, receive, without_body)
