"""Reading contact CSV files as people export them (SPEC §6): pure, streaming, no database.

Encodings: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), and a cp1252 /
latin-1 fallback. Delimiters: comma, semicolon or tab, detected. Quoted fields may hold newlines.
LinkedIn's own Connections.csv starts with a "Notes:" preamble before its header; it is skipped.
Headers are mapped from common names in several languages; unknown columns become custom fields.
One bad row never stops the file: it comes back with a reason a person can act on.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from app.domain.urls import InvalidProfileUrl, normalize_profile_url

SAMPLE_BYTES = 64 * 1024
MAX_PREAMBLE_LINES = 30
DELIMITERS = (",", ";", "\t")
FIELD_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "company": 300, "title": 300}
MAX_CUSTOM_VALUE = 1000
csv.field_size_limit(1024 * 1024)

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


def detect_encoding(head: bytes) -> str:
    """The encoding of a file from its first bytes. Raises UnreadableFile for binary data."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise UnreadableFile(
            "This is not a text file (it contains binary data). Export the list as CSV and upload that."
        )
    try:  # only a truncated sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # pragma: no cover - registered for decoding only
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


codecs.register_error("tracker_cp1252_fallback", _fallback)


def _text_stream(raw: BinaryIO, encoding: str) -> io.TextIOWrapper:
    # cp1252 leaves five bytes undefined; latin-1 decodes everything, so a stray byte never fails a row.
    errors = "strict" if encoding == "utf-16" else "tracker_cp1252_fallback"
    codec = "cp1252" if encoding == "cp1252" else encoding
    return io.TextIOWrapper(raw, encoding=codec, errors=errors, newline="")


def sniff(raw: BinaryIO, *, require_url: bool = True) -> Dialect:
    """Encoding, delimiter, preamble length, header and its mapping, from the start of the file.

    Raises UnreadableFile when the file is empty, binary, or has no profile-URL column.
    """
    head = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise UnreadableFile("The file is empty.")
    encoding = detect_encoding(head)
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


@dataclass(slots=True)
class Row:
    """One data row: where it was, its cells, and either the contact it gives or why it can't."""

    number: int  # 1-based, counting data rows after the header
    cells: list[str]
    contact: dict[str, object] | None = None
    reason: str | None = None


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


def read_rows(
    raw: BinaryIO,
    dialect: Dialect,
    *,
    mapping: Mapping[int, str] | None = None,
    start_after: int = 0,
) -> Iterator[Row]:
    """Stream the data rows (memory stays flat). `start_after` skips rows already processed."""
    stream = _text_stream(raw, dialect.encoding)
    used = dict(mapping) if mapping is not None else dialect.mapping
    number = 0
    try:
        for _ in range(dialect.skip_lines + 1):
            stream.readline()
        reader = csv.reader(stream, delimiter=dialect.delimiter)
        build = RowPlan(dialect.header, used).build
        for cells in reader:
            if not "".join(cells).strip():
                continue  # a blank line, or one of empty cells only
            number += 1
            if number <= start_after:
                continue
            contact, reason = build(cells)
            yield Row(number, cells, contact, reason)
    except csv.Error as exc:
        raise UnreadableFile(f"The file stops being valid CSV after row {number}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"Row {number + 1} has bytes that are not valid {dialect.encoding.upper()}; save the file as UTF-8 CSV."
        ) from exc
    finally:
        stream.detach()


def read_batches(
    path: str, mapping: Mapping[int, str], start_after: int, size: int
) -> Generator[list[Row]]:
    """The file's rows after `start_after`, in lists of `size`."""
    with open(path, "rb") as raw:
        dialect = sniff(raw, require_url=False)
        batch: list[Row] = []
        for row in read_rows(raw, dialect, mapping=mapping, start_after=start_after):
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
