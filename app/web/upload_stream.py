"""Reading a multipart upload ourselves, as it streams, AFTER the session check (SPEC §8).

FastAPI parses a route's declared File/Form parameters before its dependencies run, so a route
that declared them read (and spooled) a whole upload for an anonymous or forged request before it
looked at the session. The upload route declares none: its session check runs first, then this
parser reads the body chunk by chunk. The form's CSRF field comes before the file (the template
puts it first, as browsers send fields in document order): the token is checked the moment its part
ends, and a file part that arrives before a valid token is refused without reading it. The file
part is written straight to disk, within the upload cap."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import IO

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from app.errors import Forbidden, PayloadTooLarge, ValidationFailed

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class StreamedForm:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ValidationFailed(
            "Send the file as multipart/form-data", {"file": ["Choose a CSV file"]}
        )
    return boundary


async def read_upload(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str,
    csrf_token: str,
    open_file: Callable[[], IO[bytes]],
    max_bytes: int,
    file_field: str = "file",
    header_token: str | None = None,
) -> StreamedForm:
    """Parse the body: small fields into `fields`, the file part into `open_file()`. Raises
    Forbidden for a missing or wrong CSRF token (field or `header_token`; before any file byte is
    written), PayloadTooLarge
    past `max_bytes`, ValidationFailed for a body that is not a form with a file."""
    form = StreamedForm()
    state: dict[str, object] = {"name": None, "filename": None, "value": bytearray(), "out": None}
    header: dict[str, bytes] = {"field": b"", "value": b""}
    headers: dict[bytes, bytes] = {}
    # htmx sends the token as a header too: then it is checked before the body is read at all.
    csrf_ok = bool(header_token) and hmac.compare_digest(header_token or "", csrf_token)
    failure: list[Exception] = []

    def on_part_begin() -> None:
        headers.clear()
        state.update(name=None, filename=None, value=bytearray(), out=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        headers[header["field"].lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def on_headers_finished() -> None:
        _kind, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field:
            if not csrf_ok:
                raise Forbidden(
                    "The form expired or was not sent from this site. Reload the page and try again."
                )
            form.filename = options.get(b"filename", b"upload.csv").decode("utf-8", "replace")
            state["out"] = open_file()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        out = state["out"]
        if out is not None:
            form.size += end - start
            if form.size > max_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than {max_bytes:,} bytes; split it into smaller files"
                )
            out.write(data[start:end])  # type: ignore[attr-defined]
            return
        value = state["value"]
        assert isinstance(value, bytearray)  # noqa: S101 - set by on_part_begin
        value += data[start:end]
        if len(value) > MAX_FIELD_BYTES:
            raise PayloadTooLarge("A form field is too long")

    def on_part_end() -> None:
        nonlocal csrf_ok
        name = state["name"]
        if state["out"] is not None:
            return
        value = state["value"]
        assert isinstance(value, bytearray) and isinstance(name, str)  # noqa: S101
        text = value.decode("utf-8", "replace")
        form.fields[name] = text
        if name == "csrf_token":
            csrf_ok = bool(text) and hmac.compare_digest(text, csrf_token)

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except (Forbidden, PayloadTooLarge) as exc:
        failure.append(exc)
    if failure:
        raise failure[0]
    if not csrf_ok:
        raise Forbidden(
            "The form expired or was not sent from this site. Reload the page and try again."
        )
    if form.filename is None:
        raise ValidationFailed("Choose a CSV file to upload", {"file": ["Choose a CSV file"]})
    return form
