"""Reading contact CSV files as people export them (SPEC §6): pure, streaming, no database.

Encodings: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), and the Windows
code pages of SPEC §6, detected from the lines that carry non-ASCII bytes (app.imports.encoding); a
byte a code page leaves undefined reads as its cp1252 / latin-1 character, never failing a row.
Delimiters: comma, semicolon or tab, detected. Quoted fields may hold newlines.
LinkedIn's own Connections.csv starts with a "Notes:" preamble before its header; it is skipped.
Headers are mapped from common names in several languages; unknown columns become custom fields.
One bad row never stops the file: it comes back with a reason a person can act on. A malformed
stretch never swallows the rows after it: a row that cannot end within MAX_RECORD_LINES physical
lines or MAX_CELL characters (a stray or unclosed quote) is cut, its opening line comes back
rejected, and reading starts again at the line after it. Every row knows its physical lines and
the byte just past it, so a resumed read continues from a byte offset.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import AnyStr, BinaryIO

from app.domain.urls import InvalidProfileUrl, normalize_profile_url
from app.imports.encoding import BinaryFile, detect, sample_file

SAMPLE_BYTES = 64 * 1024
MAX_PREAMBLE_LINES = 30
DELIMITERS = (",", ";", "\t")
FIELD_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "company": 300, "title": 300}
MAX_CUSTOM_VALUE = 1000
# One cell, in characters: above Excel's own cell limit (32,767) and Google Sheets' (50,000), so a
# note a spreadsheet can hold is read whole (and then judged by the field limits above); a quoted
# cell that runs on past it is a missing closing quote, not a note.
MAX_CELL = 64 * 1024
# Physical lines one row may span: an address or a note over several lines, never a whole file.
MAX_RECORD_LINES = 20
# One physical line, in bytes: beyond it the line is read cut short and its row rejected, so a line
# without an end (a 200 MB file with no line break) never has to fit in memory. A row the field
# limits accept is far shorter (a thousand columns of a thousand characters).
MAX_LINE_BYTES = 1024 * 1024
BLOCK_BYTES = 64 * 1024
csv.field_size_limit(MAX_CELL)

FIELDS = ("linkedin_url", "first_name", "last_name", "full_name", "email", "company", "title")
ALIASES: dict[str, set[str]] = {
    "linkedin_url": {
        "linkedinurl",
        "profileurl",
        "url",
        "linkedin",
        "linkedinprofile",
        "linkedinprofileurl",
        "profile",
        "publicprofileurl",
        "personlinkedinurl",
        "linkedinlink",
        "profillink",
        "profil",
        "perfil",
        "profilo",
        "urldeprofil",
        "urldelperfil",
        "linkedinprofil",
        "lienlinkedin",
        "linkedinurlprofile",
        "profilelink",
        "link",
    },
    "first_name": {
        "firstname",
        "first",
        "givenname",
        "forename",
        "prenom",
        "vorname",
        "nombre",
        "nome",
        "voornaam",
    },
    "last_name": {
        "lastname",
        "last",
        "surname",
        "familyname",
        "nom",
        "nachname",
        "apellido",
        "apellidos",
        "cognome",
        "achternaam",
    },
    "full_name": {
        "name",
        "fullname",
        "contactname",
        "personname",
        "nomcomplet",
        "vollstandigername",
        "nombrecompleto",
    },
    "email": {
        "email",
        "emailaddress",
        "mail",
        "workemail",
        "emailadresse",
        "courriel",
        "correo",
        "correoelectronico",
        "adressemail",
    },
    "company": {
        "company",
        "companyname",
        "organization",
        "organisation",
        "employer",
        "firma",
        "unternehmen",
        "entreprise",
        "societe",
        "empresa",
        "azienda",
        "currentcompany",
        "account",
        "accountname",
    },
    "title": {
        "title",
        "position",
        "jobtitle",
        "headline",
        "role",
        "poste",
        "titel",
        "cargo",
        "funktion",
        "fonction",
        "posizione",
    },
}
_LOOKUP = {alias: target for target, names in ALIASES.items() for alias in names}


class UnreadableFile(ValueError):
    """The file cannot be imported at all; the message says why."""


def _key(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def map_header(header: list[str]) -> dict[int, str]:
    """Column index → field for the columns we recognise (the first column wins for a field)."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, name in enumerate(header):
        target = _LOOKUP.get(_key(name))
        if target and target not in taken:
            mapping[index] = target
            taken.add(target)
    return mapping


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    skip_lines: int
    header: list[str]
    mapping: dict[int, str]

    @property
    def delimiter_name(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab"}[self.delimiter]


def detect_encoding(raw: BinaryIO) -> str:
    """The encoding of a file, detected among SPEC §6's from the lines that carry non-ASCII bytes
    (app.imports.encoding), reading from the start; the file is left at its start. Raises
    UnreadableFile for binary data. An upload is sampled as it is copied (app.imports.upload) and
    passes the encoding it found to `sniff` instead."""
    raw.seek(0)
    try:
        return detect(sample_file(raw)).encoding
    except BinaryFile as exc:
        raise UnreadableFile(str(exc)) from exc
    finally:
        raw.seek(0)


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # pragma: no cover - registered for decoding only
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


codecs.register_error("tracker_cp1252_fallback", _fallback)


def sniff(raw: BinaryIO, *, require_url: bool = True, encoding: str | None = None) -> Dialect:
    """Encoding (`encoding` when given, else detected), delimiter, preamble length, header and its
    mapping, from the start of the file.

    Raises UnreadableFile when the file is empty, binary, or has no profile-URL column.
    """
    head = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise UnreadableFile("The file is empty.")
    encoding = encoding or detect_encoding(raw)
    try:
        if encoding == "utf-16":
            text = head.decode("utf-16", errors="ignore")
        else:
            text = head.decode(
                "utf-8-sig" if encoding == "utf-8-sig" else encoding,
                errors="tracker_cp1252_fallback",
            )
    except UnicodeDecodeError as exc:  # pragma: no cover - guarded by detect_encoding
        raise UnreadableFile("The file's characters cannot be read; save it as UTF-8 CSV.") from exc
    lines = re.split(r"\r\n|\r|\n", text)[:MAX_PREAMBLE_LINES]
    best: tuple[int, int, str, list[str]] | None = None
    for index, line in enumerate(lines):
        for delimiter in DELIMITERS:
            cells = next(csv.reader([line], delimiter=delimiter), [])
            mapping = map_header(cells)
            score = len(mapping) + (3 if "linkedin_url" in mapping.values() else 0)
            if any(c.strip() for c in cells):
                if best is None or (score, len(cells)) > (best[0], len(best[3])):
                    best = (score, index, delimiter, cells)
        if best is not None and best[0] >= 5:
            break
    if best is None:
        raise UnreadableFile(
            "No header row found: the first line should name the columns (e.g. 'LinkedIn URL')."
        )
    _, skip, delimiter, header = best
    header = [h.strip() for h in header]
    mapping = map_header(header)
    if require_url and "linkedin_url" not in mapping.values():
        raise UnreadableFile(
            "No profile-URL column: name one 'LinkedIn URL', 'Profile URL' or 'URL' "
            f"(found: {', '.join(h for h in header if h) or 'no column names'})."
        )
    return Dialect(
        encoding=encoding, delimiter=delimiter, skip_lines=skip, header=header, mapping=mapping
    )


@dataclass(frozen=True, slots=True)
class Position:
    """A row boundary in a file: a read started here yields exactly the rows a whole read yields after it.

    `offset` is the byte where the next physical line starts; `row_number` and `line_number` count
    the data rows and the physical lines (preamble and header included) before it.
    """

    offset: int
    row_number: int
    line_number: int


@dataclass(slots=True)
class Row:
    """One data row: where it was, its cells, and either the contact it gives or why it can't."""

    number: int  # 1-based, counting data rows after the header
    cells: list[str]
    contact: dict[str, object] | None
    reason: str | None
    first_line: int  # the physical lines it was read from, 1-based, counting every line of the file
    last_line: int
    end_offset: int  # the byte just past its last line

    @property
    def lines(self) -> str:
        """Where it is in the file, for a person: 'line 7' or 'lines 7–9'."""
        if self.first_line == self.last_line:
            return f"line {self.first_line}"
        return f"lines {self.first_line}–{self.last_line}"

    @property
    def resume_at(self) -> Position:
        """Where a read continues after this row (`read_rows(..., start_at=row.resume_at)`)."""
        return Position(self.end_offset, self.number, self.last_line)


class RowPlan:
    """How the cells of one file's rows become contacts: worked out once per file, not per row."""

    def __init__(self, header: list[str], mapping: Mapping[int, str]) -> None:
        self.width = len(header)
        self.mapped = [(i, target) for i in range(len(header)) if (target := mapping.get(i))]
        self.custom = [
            (i, name, name[:100]) for i, name in enumerate(header) if name and not mapping.get(i)
        ]

    def build(self, cells: list[str]) -> tuple[dict[str, object] | None, str | None]:
        """The contact a row describes, or the reason it is invalid."""
        n = len(cells)
        if n > self.width and any(c.strip() for c in cells[self.width :]):
            return (
                None,
                f"Malformed row: {n} cells for {self.width} columns (check quoting and delimiters)",
            )
        values = {target: cells[i].strip() if i < n else "" for i, target in self.mapped}
        custom: dict[str, str] = {}
        for i, name, key in self.custom:
            if i < n and (value := cells[i].strip()):
                if len(value) > MAX_CUSTOM_VALUE:
                    return None, f"'{name}' is longer than {MAX_CUSTOM_VALUE} characters"
                custom[key] = value
        raw_url = values.get("linkedin_url", "")
        if not raw_url:
            return None, "Missing LinkedIn profile URL"
        try:
            url = normalize_profile_url(raw_url)
        except InvalidProfileUrl as exc:
            return None, f"Invalid profile URL: {exc.reason}"
        full_name = values.get("full_name")
        if full_name and not (values.get("first_name") or values.get("last_name")):
            first, _, last = full_name.partition(" ")
            values["first_name"], values["last_name"] = first, last.strip()
        elif full_name and not values.get("last_name"):
            first = values.get("first_name", "")
            values["last_name"] = (
                full_name.removeprefix(first).strip() if full_name.startswith(first) else full_name
            )
        contact: dict[str, object] = {"linkedin_url": url, "custom_fields": custom}
        for name, limit in FIELD_LIMITS.items():
            value = values.get(name, "")
            if len(value) > limit:
                return (
                    None,
                    f"{name.replace('_', ' ').capitalize()} is longer than {limit} characters",
                )
            if "\x00" in value:
                return None, f"{name.replace('_', ' ').capitalize()} contains a NUL character"
            contact[name] = value or None
        email = contact.get("email")
        if isinstance(email, str) and ("@" not in email or " " in email):
            return None, f"'{email}' is not an email address"
        return contact, None


class _Cut(Exception):
    """The row being read cannot end within the limits: raised through csv.reader by its lines."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


_TOO_MANY_LINES = f"within {MAX_RECORD_LINES} lines"
_TOO_MANY_CHARACTERS = f"within {MAX_CELL:,} characters"
_END_OF_FILE = "before the end of the file"
# Line breaks as csv and spreadsheets see them: LF, CR LF and a lone CR. str.splitlines also breaks
# at form feeds, U+2028 and others, which are text inside a cell.
_TEXT_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+").findall


class _Lines:
    """A file's physical lines, decoded, counted and measured, for csv.reader to read rows from.

    `line` is the number of the last line handed out and `offset` the byte just past it;
    `before_row` is the line the row being read starts after, which the caller moves on as each row
    ends. A row that would need a line past MAX_RECORD_LINES, or that the file ends inside (an open
    quote), raises _Cut from the lines, which csv.reader passes on. A line longer than
    MAX_LINE_BYTES is handed out cut short, and `long_line` names it.

    Encodings whose line breaks are their ASCII bytes (UTF-8, the Windows code pages: in cp932,
    cp936/gb18030, cp949 and cp950 every byte of a multi-byte character after the first is 0x30 or
    above, never CR or LF) are split as bytes and each line decoded alone; UTF-16 is decoded first
    and each line's bytes counted back.
    """

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self.raw = raw
        codec = codecs.lookup(encoding).name
        if codec == "utf-16":  # its BOM says which; a read that resumes past the BOM needs to know
            raw.seek(0)
            codec = "utf-16-be" if raw.read(2) == codecs.BOM_UTF16_BE else "utf-16-le"
        elif codec == "utf-8-sig":  # the BOM is on line 1, which is never a data row
            codec = "utf-8"
        self.codec = codec
        self.in_bytes = "\r\n".encode(codec) == b"\r\n"
        # cp1252 leaves five bytes undefined; latin-1 decodes everything, so a stray byte never
        # fails a row. Broken UTF-16 is refused whole.
        self.errors = "tracker_cp1252_fallback" if self.in_bytes else "strict"
        self.line = self.before_row = self.long_line = self.offset = 0

    def start(self, at: Position) -> Iterator[str]:
        """The lines from `at` (a line boundary) on."""
        self.raw.seek(at.offset)
        self.line = self.before_row = at.line_number
        self.offset = at.offset
        self.long_line = 0
        return self._byte_lines() if self.in_bytes else self._text_lines()

    def is_line_start(self, offset: int) -> bool:
        """Whether a line starts at `offset`, or the file ends there."""
        width = 1 if self.in_bytes else 2
        end = self.raw.seek(0, 2)
        if offset == end:
            return True
        if not width <= offset < end:
            return False
        self.raw.seek(offset - width)
        return self.raw.read(width) in ("\n".encode(self.codec), "\r".encode(self.codec))

    def _byte_lines(self) -> Iterator[str]:
        codec, errors, line, offset = self.codec, self.errors, self.line, self.offset
        chunks = iter(partial(self.raw.read, min(BLOCK_BYTES, MAX_LINE_BYTES)), b"")
        for lines, size in _line_groups(chunks, _split_bytes, len, b"\n", b"\r", MAX_LINE_BYTES):
            if size >= 0:  # a long line, cut short: count the bytes it had
                offset += size - len(lines[0])
                self.long_line = line + 1
            for text in lines:
                if line - self.before_row >= MAX_RECORD_LINES:
                    raise _Cut(_TOO_MANY_LINES)
                self.line = line = line + 1
                self.offset = offset = offset + len(text)
                yield text.decode(codec, errors)  # a line alone: no character spans a line break
        self._end()

    def _text_lines(self) -> Iterator[str]:
        codec, line, offset = self.codec, self.line, self.offset
        chunks = self._decoded_chunks()
        for lines, size in _line_groups(
            chunks, _TEXT_LINES, self._size, "\n", "\r", MAX_LINE_BYTES // 2
        ):
            if size >= 0:
                offset += size - self._size(lines[0])
                self.long_line = line + 1
            # two bytes a character, unless a character beyond U+FFFF takes four
            narrow = 2 * sum(map(len, lines)) == len("".join(lines).encode(codec))
            for text in lines:
                if line - self.before_row >= MAX_RECORD_LINES:
                    raise _Cut(_TOO_MANY_LINES)
                self.line = line = line + 1
                self.offset = offset = offset + (2 * len(text) if narrow else self._size(text))
                yield text
        self._end()

    def _end(self) -> None:
        if self.line > self.before_row:  # csv.reader asked for more of a row: a quote never closed
            raise _Cut(_END_OF_FILE)

    def _decoded_chunks(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.codec)(self.errors)
        while block := self.raw.read(min(BLOCK_BYTES, MAX_LINE_BYTES)):
            yield decoder.decode(block)
        yield decoder.decode(b"", final=True)

    def _size(self, text: str) -> int:
        return len(text.encode(self.codec))


def _line_groups(
    chunks: Iterator[AnyStr],
    split: Callable[[AnyStr], list[AnyStr]],
    size: Callable[[AnyStr], int],
    nl: AnyStr,
    cr: AnyStr,
    limit: int,
) -> Iterator[tuple[list[AnyStr], int]]:
    """The lines in `chunks`, a chunk's whole lines at a time, with -1.

    A line longer than `limit` comes alone, cut to its first `limit` units, with its full size in
    bytes in place of -1; the rest of it is read past, never held.
    """
    empty = nl[:0]
    pending = empty  # the start of a line whose end is in a later chunk
    carry: AnyStr | None = None  # what followed a long line in the chunk it ended in
    while True:
        if carry is not None:
            chunk, carry = carry, None
        elif (following := next(chunks, None)) is not None:
            chunk = following
        else:
            break
        grown = bool(pending)
        if grown:
            chunk, pending = pending + chunk, empty
        if not chunk:
            continue
        lines = split(chunk)
        if not lines[-1].endswith(nl):  # unfinished, or a CR whose LF may open the next chunk
            pending = lines.pop()
        # Only a line begun in an earlier chunk can be long: a chunk is never longer than `limit`.
        if grown and lines and len(lines[0]) > limit:
            whole = lines.pop(0)
            yield [whole[:limit]], size(whole)
        if lines:
            yield lines, -1
        if len(pending) > limit:
            head, full, carry = _rest_of_line(pending, chunks, size, nl, cr)
            pending = empty
            yield [head[:limit]], full
    if pending:
        yield [pending], -1


def _rest_of_line(
    start: AnyStr, chunks: Iterator[AnyStr], size: Callable[[AnyStr], int], nl: AnyStr, cr: AnyStr
) -> tuple[AnyStr, int, AnyStr | None]:
    """A long line's start, its full size in bytes, and what follows it in the chunk it ends in."""
    length, chunk = 0, start  # `start` holds no line break, unless a CR at its very end
    while True:
        n, r = chunk.find(nl), chunk.find(cr)
        if n < 0 and r < 0:
            length += size(chunk)
            if (following := next(chunks, None)) is None:
                return start, length, None
            chunk = following
            continue
        end = (r if r >= 0 and (n < 0 or r < n) else n) + 1
        if chunk[end - 1 : end] == cr:
            if end == len(chunk):  # a CR that ends the chunk: an LF opening the next one is its
                length += size(chunk)
                rest = next((c for c in chunks if c), None)
                if rest is not None and rest[:1] == nl:
                    return start, length + size(nl), rest[1:]
                return start, length, rest
            if chunk[end : end + 1] == nl:
                end += 1
        return start, length + size(chunk[:end]), chunk[end:]


def _split_bytes(chunk: bytes) -> list[bytes]:
    return chunk.splitlines(keepends=True)  # at LF, CR LF and CR only, unlike str.splitlines


def _line_cells(text: str, delimiter: str) -> list[str]:
    """The cells of one line read alone (an open quote ends with it), for the row it is rejected as."""
    return next(csv.reader([text.rstrip("\r\n")[:MAX_CELL]], delimiter=delimiter), [])


def _long(line: int) -> str:
    return f"Line {line} is longer than {MAX_LINE_BYTES // 2**20} MiB"


class _Swallowed(_Cut):
    """A quote opened on a row's first line closes lines later, across lines that are rows of
    their own: a stray quote, not a note over several lines."""

    def __init__(self, last_line: int) -> None:
        super().__init__(f"runs on to line {last_line} across rows of their own")
        self.last_line = last_line


def _swallows_rows(cells: list[str], url_column: int | None, delimiter: str) -> bool:
    """Whether a row read over several lines holds, inside a cell, a line that is a row itself:
    read alone, it has a profile URL in the URL column. A real note over three lines has none."""
    if url_column is None:
        return False
    for cell in cells:
        if "\n" not in cell and "\r" not in cell:
            continue
        for segment in re.split(r"\r\n|\r|\n", cell)[1:]:
            inner = next(csv.reader([segment], delimiter=delimiter), [])
            if len(inner) > url_column and _is_profile_url(inner[url_column]):
                return True
    return False


def _is_profile_url(value: str) -> bool:
    try:
        normalize_profile_url(value.strip())
    except InvalidProfileUrl:
        return False
    return True


def _cut_reason(cause: Exception, line: int, lines_read: int) -> str:
    """Why a row that could not end is rejected, named by its opening line."""
    if isinstance(cause, _Swallowed):
        return f"Stray quote on line {line}: the quoted cell it opens {cause.why}"
    if isinstance(cause, _Cut):
        why = cause.why
    elif "field limit" not in str(cause):  # pragma: no cover - csv's only error without strict
        return f"Line {line} cannot be read as CSV: {cause}"
    elif lines_read == 1:
        return f"Line {line} has a cell longer than {MAX_CELL:,} characters"
    else:
        why = _TOO_MANY_CHARACTERS
    return f"Unclosed quote on line {line}: a quoted cell does not end {why}"


def read_rows(
    raw: BinaryIO,
    dialect: Dialect,
    *,
    mapping: Mapping[int, str] | None = None,
    start_after: int = 0,
    start_at: Position | None = None,
) -> Iterator[Row]:
    """Stream the data rows (memory stays flat).

    `start_at` (a `Row.resume_at` from an earlier read of this file) seeks to that row boundary and
    reads exactly the rows a whole read would have read after it, numbered alike; `start_after`
    skips rows by their number. Raises UnreadableFile when UTF-16 text is broken, and ValueError
    when `start_at` is not a line boundary after the header.
    """
    used = dict(mapping) if mapping is not None else dialect.mapping
    build = RowPlan(dialect.header, used).build
    url_column = next((i for i, target in used.items() if target == "linkedin_url"), None)
    delimiter = dialect.delimiter
    lines = _Lines(raw, dialect.encoding)
    number = 0
    try:
        header = lines.start(Position(0, 0, 0))
        for _ in range(dialect.skip_lines + 1):
            if next(header, None) is None:
                break
            lines.before_row = lines.line
        here = Position(lines.offset, 0, lines.line)
        if start_at is not None:
            if start_at.line_number < here.line_number or not (
                start_at.offset == here.offset
                or (start_at.offset > here.offset and lines.is_line_start(start_at.offset))
            ):
                raise ValueError(f"{start_at} is not a row boundary after this file's header")
            here = start_at
        number = here.row_number
        while True:  # one csv.reader from the start, and another after each row that is cut
            row_offset = here.offset
            try:
                last = here.line_number
                for cells in csv.reader(lines.start(here), delimiter=delimiter):
                    first, start = last + 1, row_offset
                    lines.before_row = last = lines.line
                    row_offset = end = lines.offset
                    if not "".join(cells).strip():
                        continue  # a blank line, or one of empty cells only
                    if last > first and _swallows_rows(cells, url_column, delimiter):
                        lines.before_row, row_offset = first - 1, start
                        raise _Swallowed(last)
                    number += 1
                    if number <= start_after:
                        continue
                    contact, reason = (
                        build(cells) if lines.long_line < first else (None, _long(lines.long_line))
                    )
                    yield Row(number, cells, contact, reason, first, last, end)
                return
            except (_Cut, csv.Error) as cause:
                reason = _cut_reason(cause, lines.before_row + 1, lines.line - lines.before_row)
            # The row's opening line alone is rejected; reading starts again at the line after it.
            text = next(lines.start(Position(row_offset, number, lines.before_row)))
            number += 1
            here = Position(lines.offset, number, lines.line)
            if number > start_after:
                cells = _line_cells(text, delimiter)
                yield Row(number, cells, None, reason, lines.line, lines.line, lines.offset)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"Row {number + 1} has bytes that are not valid {dialect.encoding.upper()}; save the file as UTF-8 CSV."
        ) from exc


def read_batches(
    path: str,
    mapping: Mapping[int, str],
    start_after: int,
    size: int,
    *,
    start_at: Position | None = None,
    encoding: str | None = None,
    pause: Callable[[], object] | None = None,
) -> Generator[list[Row]]:
    """The file's rows after `start_at` (a row boundary) and `start_after` (a row number), in lists
    of `size`. `pause`, when given, is called every 64 rows (a reading thread waits there while
    the thread writing the batches has work of its own)."""
    with open(path, "rb") as raw:
        dialect = sniff(raw, require_url=False, encoding=encoding)
        batch: list[Row] = []
        for row in read_rows(
            raw, dialect, mapping=mapping, start_after=start_after, start_at=start_at
        ):
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
            elif pause is not None and not len(batch) & 63:
                pause()
        if batch:
            yield batch
