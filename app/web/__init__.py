"""The web layer. Importing it registers the `{name:id}` path convertor the dashboard's routes use:
1 to 18 digits (every id a row can have, 64-bit safe), so a longer number is simply no page (404)
instead of an integer the database refuses (a 500)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
