"""CSV downloads written as they are read, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from fastapi.responses import StreamingResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 1000


def neutralise(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs: formula starts get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[object]]
) -> StreamingResponse:
    """`rows` written a thousand at a time as the client reads them: pass a lazy iterable (one
    that reads in short sessions of its own) and memory stays flat however long the file."""

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([neutralise(c) for c in header])  # an uploaded file's own header too
        for count, row in enumerate(rows, 1):
            writer.writerow([neutralise(c) for c in row])
            if count % CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        # Contact data: never kept by a browser's or a proxy's cache (SPEC §8).
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
