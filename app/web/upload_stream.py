"""Reading a multipart upload ourselves, as it streams, AFTER the caller was checked (SPEC §8).

FastAPI parses a route's declared File/Form parameters before its dependencies run, so a route that
declared them read (and spooled) a whole upload for an anonymous or forged request before it looked
at the session or the API key. The upload routes (the API's `POST /imports`, the dashboard's
`/imports/upload`) declare none: they check the caller, then read the body with `read_multipart`:

- small fields into `fields` (64 KiB each, 16 parts at most, each once);
- the one file part (the field `file`) into a spool (in memory up to 1 MiB, then on disk), written
  off the event loop, within the upload cap;
- each part fed to an Idempotency-Key fingerprint as it arrives, when the route keeps one;
- `before_file(fields)`, when given, runs the moment the file part begins, with the fields read so
  far: the dashboard checks its CSRF token there (the template puts it first; browsers send fields
  in document order), so a forged form's file is refused before a byte of it is kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast

from fastapi import UploadFile
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.errors import PayloadTooLarge, ValidationFailed
from app.idempotency.fingerprint import FormFingerprint

SPOOLED_IN_MEMORY = 1024 * 1024  # a file part past this goes to a temporary file
MAX_FIELD_BYTES = 64 * 1024  # a form field other than the file
MAX_PARTS = 16
FILE_FIELD = "file"


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass
class _FormReader:
    """python-multipart's callbacks: each part is fed to the fingerprint as it arrives; the file
    part's data waits in `pending` until the reader writes it to the spool (off the event loop)."""

    max_file_bytes: int
    fingerprint: FormFingerprint | None = None
    before_file: Callable[[dict[str, str]], None] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    file: UploadFile | None = None
    pending: list[bytes] = field(default_factory=list)
    ended: bool = False
    _parts: int = 0
    _file_bytes: int = 0
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _header_name: bytes = b""
    _header_value: bytes = b""
    _name: str = ""
    _in_file: bool = False
    _value: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise ValidationFailed(
                f"The form has more than {MAX_PARTS} parts",
                {FILE_FIELD: ["Send the file and its fields"]},
            )
        self._headers, self._value = {}, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if b"name" not in options:
            raise ValidationFailed(
                "A form part has no name",
                {FILE_FIELD: ['Each part needs Content-Disposition: form-data; name="…"']},
            )
        self._name = _text(options[b"name"])
        filename = _text(options[b"filename"]) if b"filename" in options else None
        self._in_file = filename is not None
        if self._in_file:
            if self._name != FILE_FIELD or self.file is not None:
                raise ValidationFailed(
                    "Send one file, as the form field `file`", {FILE_FIELD: ["One CSV file"]}
                )
            if self.before_file is not None:
                self.before_file(self.fields)
            # Closed by read_multipart's caller once the route is done with it.
            spool = SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY)
            self.file = UploadFile(cast(BinaryIO, spool), filename=filename, size=0)
        elif self._name == FILE_FIELD:
            raise ValidationFailed(
                "The form field `file` must be a file", {FILE_FIELD: ["Attach the CSV file"]}
            )
        elif self._name in self.fields:
            raise ValidationFailed(
                f"The form field {self._name} was sent twice", {self._name: ["Send it once"]}
            )
        if self.fingerprint is not None:
            self.fingerprint.begin_part(self._name, filename)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.fingerprint is not None:
            self.fingerprint.update(piece)
        if self._in_file:
            self._file_bytes += len(piece)
            if self._file_bytes > self.max_file_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than {self.max_file_bytes:,} bytes; split it into smaller files"
                )
            self.pending.append(piece)
            return
        if len(self._value) + len(piece) > MAX_FIELD_BYTES:
            raise ValidationFailed(
                f"The form field {self._name} is too long",
                {self._name: [f"At most {MAX_FIELD_BYTES:,} bytes"]},
            )
        self._value += piece

    def on_part_end(self) -> None:
        if self.fingerprint is not None:
            self.fingerprint.end_part()
        if not self._in_file:
            self.fields[self._name] = _text(bytes(self._value))

    def on_end(self) -> None:
        self.ended = True


@dataclass
class MultipartForm:
    fields: dict[str, str]
    file: UploadFile | None  # the caller closes it


async def read_multipart(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    max_file_bytes: int,
    fingerprint: FormFingerprint | None = None,
    before_file: Callable[[dict[str, str]], None] | None = None,
) -> MultipartForm:
    """Read a multipart body as it streams (see the module's docstring). Raises ValidationFailed
    for a body that is not a well-formed multipart form, PayloadTooLarge past `max_file_bytes`, and
    whatever `before_file` raises; the spool is closed then."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise ValidationFailed(
            "Send the upload as multipart/form-data",
            {FILE_FIELD: ["A multipart form with the CSV file"]},
        )
    reader = _FormReader(max_file_bytes, fingerprint=fingerprint, before_file=before_file)
    try:
        parser = MultipartParser(params[b"boundary"], reader.callbacks())
        async for chunk in chunks:
            parser.write(chunk)
            if reader.file is not None:
                for piece in reader.pending:
                    await reader.file.write(piece)  # in a thread once the spool is on disk
            reader.pending.clear()
        parser.finalize()
        if not reader.ended:
            raise ValidationFailed(
                "The multipart body ended before its closing boundary",
                {FILE_FIELD: ["Send it whole"]},
            )
        if reader.file is not None:
            await reader.file.seek(0)
    except FormParserError as exc:
        if reader.file is not None:
            await reader.file.close()
        raise ValidationFailed(
            "The multipart body is malformed", {FILE_FIELD: ["Send a multipart/form-data body"]}
        ) from exc
    except BaseException:
        if reader.file is not None:
            await reader.file.close()
        raise
    return MultipartForm(fields=reader.fields, file=reader.file)
