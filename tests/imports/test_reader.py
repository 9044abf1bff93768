"""The pure CSV reader (SPEC §6, issue 6) over a corpus built here, byte by byte.

Every file below is written out in the test module (no fixtures on disk, no database). Each test
states, by hand, the exact rows that come back valid, the exact rows that come back invalid with
their reason, and the fields of the mapped contacts. Known defects of the reader are asserted as
the correct behaviour; the reader bugs they found are fixed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.imports.reader import (
    SAMPLE_BYTES,
    Dialect,
    Row,
    UnreadableFile,
    map_header,
    read_rows,
    sniff,
)

P = "https://www.linkedin.com/in/"
CRLF = "\r\n"


# ---------------------------------------------------------------------------------------------
# Building the corpus
# ---------------------------------------------------------------------------------------------


def encode(text: str, encoding: str) -> bytes:
    """Bytes as the tool in question writes them (Excel puts a BOM before UTF-16 and 'UTF-8 CSV')."""
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if encoding == "utf-16-le":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


def table(rows: list[list[str]], delimiter: str = ",", newline: str = CRLF) -> str:
    """CSV text as a spreadsheet writes it: minimal quoting, doubled quotes."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


@dataclass
class Read:
    dialect: Dialect
    rows: list[Row]

    @property
    def valid(self) -> list[dict[str, object]]:
        return [row.contact for row in self.rows if row.contact is not None]

    @property
    def invalid(self) -> list[tuple[int, str]]:
        return [(row.number, row.reason) for row in self.rows if row.reason is not None]

    @property
    def numbers(self) -> list[int]:
        return [row.number for row in self.rows]


def read(data: bytes, encoding: str | None = None, **kwargs: object) -> Read:
    raw = io.BytesIO(data)
    dialect = sniff(raw, encoding=encoding)
    rows = list(read_rows(raw, dialect, **kwargs))  # type: ignore[arg-type]
    for row in rows:  # every row is exactly one of: a contact, or a reason
        assert (row.contact is None) != (row.reason is None), row
    return Read(dialect, rows)


def refusal(data: bytes) -> str:
    with pytest.raises(UnreadableFile) as info:
        sniff(io.BytesIO(data))
    return str(info.value)


def contact(
    slug: str,
    first: str | None = None,
    last: str | None = None,
    *,
    email: str | None = None,
    company: str | None = None,
    title: str | None = None,
    custom: dict[str, str] | None = None,
) -> dict[str, object]:
    return {
        "linkedin_url": P + slug,
        "first_name": first,
        "last_name": last,
        "email": email,
        "company": company,
        "title": title,
        "custom_fields": custom or {},
    }


def assert_reasons(actual: list[tuple[int, str]], expected: list[tuple[int, str]]) -> None:
    """Same row numbers, and each expected reason is a substring of the actual one."""
    assert [number for number, _ in actual] == [number for number, _ in expected], actual
    for (_, reason), (_, part) in zip(actual, expected, strict=True):
        assert part in reason, (part, reason)


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------

# Western European text that every one of the encodings below can hold (cp1252 included):
# umlauts, ñ, the euro sign, smart double and single quotes, a decimal comma.
WESTERN = [
    ["URL", "First Name", "Last Name", "Company", "Position", "Score"],
    ["linkedin.com/in/hans-mueller", "Hans", "Müller", "Café €uro GmbH", "Geschäftsführer", "3,5"],
    [
        "https://es.linkedin.com/in/senor-garcia/",
        "Señor",
        "García",
        "Muñoz; Hijos, S.A.",
        "“Director” General",
        "",
    ],
    [
        "https://www.linkedin.com/in/siobhan-obrien?trk=x",
        "Siobhán",
        "O’Brien",
        "Zoë & Co",
        "Head of ‘Growth’",
        "7",
    ],
    ["", "Without", "Url", "Nowhere", "", ""],
]
WESTERN_CONTACTS = [
    contact(
        "hans-mueller",
        "Hans",
        "Müller",
        company="Café €uro GmbH",
        title="Geschäftsführer",
        custom={"Score": "3,5"},
    ),
    contact(
        "senor-garcia", "Señor", "García", company="Muñoz; Hijos, S.A.", title="“Director” General"
    ),
    contact(
        "siobhan-obrien",
        "Siobhán",
        "O’Brien",
        company="Zoë & Co",
        title="Head of ‘Growth’",
        custom={"Score": "7"},
    ),
]
DETECTED = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf-16-le": "utf-16",
    "utf-16-be": "utf-16",
    "cp1252": "cp1252",
}


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ","),  # Google Sheets, most CRMs
        ("utf-8-sig", ","),  # Excel "CSV UTF-8"
        ("utf-8-sig", ";"),  # Excel "CSV UTF-8" in a European locale
        ("utf-16-le", "\t"),  # Excel "Unicode text" on Windows
        ("utf-16-be", "\t"),  # the same, big-endian
        ("cp1252", ","),  # Excel "CSV (Comma delimited)" on a US/UK Windows
        ("cp1252", ";"),  # the same in a German/French Windows
    ],
)
def test_each_encoding_decodes_names_companies_and_quotes(encoding: str, delimiter: str) -> None:
    data = encode(table(WESTERN, delimiter), encoding)
    result = read(data)
    assert result.dialect.encoding == DETECTED[encoding]
    assert result.dialect.delimiter == delimiter
    assert result.dialect.header == WESTERN[0]  # no BOM glued to 'URL'
    assert result.valid == WESTERN_CONTACTS
    assert_reasons(result.invalid, [(4, "Missing LinkedIn profile URL")])
    assert result.numbers == [1, 2, 3, 4]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"])
def test_unicode_encodings_keep_every_script_and_astral_characters(encoding: str) -> None:
    rows = [
        ["Profile URL", "Vorname", "Nachname", "Firma"],
        ["https://pl.linkedin.com/in/%C5%81ukasz-nowak", "Łukasz", "Nowak", "Żabka Polska"],
        ["linkedin.com/in/yamada-taro", "太郎", "山田", "株式会社🚀ロケット"],
        ["linkedin.com/in/eleni-papadopoulou", "Ελένη", "Παπαδοπούλου", "Αθήνα Α.Ε."],
    ]
    result = read(encode(table(rows, "\t" if "16" in encoding else ","), encoding))
    assert result.valid == [
        contact("łukasz-nowak", "Łukasz", "Nowak", company="Żabka Polska"),
        contact("yamada-taro", "太郎", "山田", company="株式会社🚀ロケット"),
        contact("eleni-papadopoulou", "Ελένη", "Παπαδοπούλου", company="Αθήνα Α.Ε."),
    ]
    assert result.invalid == []


def _straddling_file(encoding: str, special: str) -> tuple[bytes, str, int]:
    """A file over 64 KiB whose `special` character straddles the end of the sniffing sample."""
    text = "URL,First Name,Last Name\r\nlinkedin.com/in/first-row,Zoë,Müller\r\n"
    size, bom, filler = len(encode(text, encoding)), len(encode("", encoding)), 0
    while size < SAMPLE_BYTES - 150:
        line = f"linkedin.com/in/filler-{filler:06d},Ann,Lee\r\n"
        text += line
        size += len(encode(line, encoding)) - bom
        filler += 1
    start = text + "linkedin.com/in/straddle,"
    unit = len(encode("xx", encoding)) - len(encode("x", encoding))
    target = SAMPLE_BYTES - 1 if unit == 1 else SAMPLE_BYTES - 2
    gap = target - len(encode(start, encoding))
    assert gap % unit == 0 and 0 <= gap // unit < 200
    first_name = "x" * (gap // unit) + special + "z"
    text = start + first_name + ",Straddle\r\n"
    text += "".join(f"linkedin.com/in/after-{i:02d},Bob,Ng\r\n" for i in range(20))
    data = encode(text, encoding)
    assert data.index(encode(special, encoding).removeprefix(encode("", encoding))) == target
    return data, first_name, filler


@pytest.mark.parametrize(
    ("encoding", "special"),
    [
        ("utf-8", "€"),
        ("utf-8-sig", "€"),
        ("utf-16-le", "🚀"),
        ("utf-16-be", "🚀"),
        ("cp1252", "€"),
    ],
)
def test_files_larger_than_the_sample_with_a_character_cut_by_its_edge(
    encoding: str, special: str
) -> None:
    data, first_name, filler = _straddling_file(encoding, special)
    result = read(data)
    assert result.dialect.encoding == DETECTED[encoding]
    assert len(result.valid) == 1 + filler + 1 + 20
    assert result.invalid == []
    assert result.valid[0]["last_name"] == "Müller"
    straddle = result.valid[1 + filler]
    assert straddle["linkedin_url"] == P + "straddle"
    assert straddle["first_name"] == first_name
    assert result.valid[-1] == contact("after-19", "Bob", "Ng")


def test_latin1_bytes_undefined_in_cp1252_never_refuse_the_file_or_spoil_other_names() -> None:
    # 0x81 is undefined in cp1252 (a C1 control in latin-1); 0xE9 'é', 0xFC 'ü', 0xF1 'ñ'.
    data = (
        b"URL;Vorname;Nachname;Notiz\r\n"
        b"linkedin.com/in/jose-munoz;Jos\xe9;Mu\xf1oz;ok\r\n"
        b"linkedin.com/in/juergen-mueller;J\xfcrgen;M\xfcller;odd \x81 byte\r\n"
    )
    result = read(data)
    assert result.dialect.encoding == "cp1252"
    assert result.invalid == []
    assert [(c["first_name"], c["last_name"]) for c in result.valid] == [
        ("José", "Muñoz"),
        ("Jürgen", "Müller"),
    ]


def test_latin1_byte_undefined_in_cp1252_decodes_to_its_latin1_character() -> None:
    data = b"URL,First Name,Last Name\r\nlinkedin.com/in/jose-x,Jos\xe9,X\x81Y\r\n"
    # Two names are too few to tell cp1252 from cp1256 (both have é): the file is read as cp1252,
    # as an admin would pick at the preview; detection is tests/imports/test_encoding.py's.
    result = read(data, encoding="cp1252")
    assert result.valid == [contact("jose-x", "José", "X\x81Y")]


@pytest.mark.parametrize("ending", ["\r\n", "\n", ""])
def test_cp1252_file_whose_only_accent_is_at_its_very_end(ending: str) -> None:
    data = b"First Name,URL,Company\r\nJane,linkedin.com/in/jane-doe,Caf\xe9" + ending.encode()
    result = read(data)
    assert result.dialect.encoding == "cp1252"
    assert result.valid == [contact("jane-doe", "Jane", company="Café")]


def test_cp1252_accent_after_the_first_64_kib_does_not_stop_the_file() -> None:
    rows = [f"linkedin.com/in/person-{i:05d},Ann,Lee\r\n".encode() for i in range(3000)]
    data = (
        b"URL,First Name,Last Name\r\n"
        + b"".join(rows)
        + b"linkedin.com/in/hans-mueller,Hans,M\xfcller\r\n"
        + b"linkedin.com/in/last-one,Zed,Last\r\n"
    )
    assert len(data) > SAMPLE_BYTES
    result = read(data)
    assert len(result.valid) == 3002
    assert result.invalid == []
    assert result.valid[3000] == contact("hans-mueller", "Hans", "Müller")
    assert result.valid[3001] == contact("last-one", "Zed", "Last")


def test_utf16_excel_unicode_text_read_from_disk(tmp_path: Path) -> None:
    text = table(
        [
            ["First Name", "Last Name", "LinkedIn URL", "E-mail", "Organisation", "Job Title"],
            [
                "Chloé",
                "Lefèvre",
                "fr.linkedin.com/in/chloe-lefevre",
                "chloe@exemple.fr",
                "Société Générale",
                "Analyste",
            ],
            ["Tab", "Inside", "linkedin.com/in/tab-inside", "", "A\tB", "Line\nBreak"],
        ],
        "\t",
    )
    path = tmp_path / "contacts.txt"
    path.write_bytes(encode(text, "utf-16-le"))
    with path.open("rb") as raw:
        dialect = sniff(raw)
        rows = list(read_rows(raw, dialect))
    assert (dialect.encoding, dialect.delimiter_name) == ("utf-16", "tab")
    assert [row.contact for row in rows] == [
        contact(
            "chloe-lefevre",
            "Chloé",
            "Lefèvre",
            email="chloe@exemple.fr",
            company="Société Générale",
            title="Analyste",
        ),
        contact("tab-inside", "Tab", "Inside", company="A\tB", title="Line\nBreak"),
    ]


# ---------------------------------------------------------------------------------------------
# Delimiters, quoting and line endings
# ---------------------------------------------------------------------------------------------

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
NEWLINES = {"CRLF": "\r\n", "LF": "\n", "CR": "\r"}


@pytest.mark.parametrize("newline_name", list(NEWLINES))
@pytest.mark.parametrize("delimiter_name", list(DELIMITERS))
def test_delimiters_quoting_and_line_endings(delimiter_name: str, newline_name: str) -> None:
    d, nl = DELIMITERS[delimiter_name], NEWLINES[newline_name]
    text = (
        f"First Name{d}Last Name{d}URL{d}Company{d}Notes{nl}"
        # a quoted company holding the delimiter; notes spanning lines (file's own + Excel's LF)
        f'Jane{d}Doe{d}https://www.linkedin.com/in/jane-doe{d}"Acme{d} Inc."{d}"Line one{nl}line two\nline three"{nl}'
        # doubled quotes inside quoted fields
        f'"Robert ""Bob"""{d}Smith{d}linkedin.com/in/bob-smith{d}"The ""Best"" Co"{d}plain{nl}'
        f"{nl}"  # a blank line: skipped, not counted
        f"Ann{d}Lee{d}https://uk.linkedin.com/in/ann-lee/{d}{d}{nl}"
        f"X{d}Y{d}https://www.linkedin.com/company/acme{d}Acme{d}{nl}"
    )
    result = read(text.encode())
    assert result.dialect.delimiter == d
    assert result.dialect.delimiter_name == delimiter_name
    assert result.valid == [
        contact(
            "jane-doe",
            "Jane",
            "Doe",
            company=f"Acme{d} Inc.",
            custom={"Notes": f"Line one{nl}line two\nline three"},
        ),
        contact(
            "bob-smith", 'Robert "Bob"', "Smith", company='The "Best" Co', custom={"Notes": "plain"}
        ),
        contact("ann-lee", "Ann", "Lee"),
    ]
    assert_reasons(result.invalid, [(4, "company page")])
    assert result.numbers == [1, 2, 3, 4]


def test_semicolon_file_with_excel_sep_hint_line() -> None:
    # Excel writes (and honours) a first line 'sep=;' — it is not the header.
    data = (
        b"sep=;\r\n"
        b"Vorname;Nachname;Profil-Link;Firma;Umsatz\r\n"
        b"Anna;Schmidt;de.linkedin.com/in/anna-schmidt;Schmidt, M\xfcller & Co;1.234,56\r\n"
    )
    result = read(data)
    assert (result.dialect.delimiter, result.dialect.skip_lines) == (";", 1)
    assert result.valid == [
        contact(
            "anna-schmidt",
            "Anna",
            "Schmidt",
            company="Schmidt, Müller & Co",
            custom={"Umsatz": "1.234,56"},
        )
    ]


def test_comma_in_headers_does_not_fool_semicolon_detection() -> None:
    data = (
        "Name, Vorname;LinkedIn URL;E-Mail\nDoe, Jane;linkedin.com/in/jane-doe;jane@example.com\n"
    )
    result = read(data.encode())
    assert result.dialect.delimiter == ";"
    assert result.dialect.header == ["Name, Vorname", "LinkedIn URL", "E-Mail"]
    assert result.valid == [
        contact("jane-doe", email="jane@example.com", custom={"Name, Vorname": "Doe, Jane"})
    ]


# ---------------------------------------------------------------------------------------------
# LinkedIn's own Connections.csv
# ---------------------------------------------------------------------------------------------

LINKEDIN_NOTES = (
    '"When exporting your connection data, you may notice that some of the email addresses are '
    "missing. You will only see email addresses for connections who have allowed their connections "
    "to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    'https://www.linkedin.com/help/linkedin/answer/261"'
)
LINKEDIN_HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"


def linkedin_export(data_rows: list[str], newline: str = "\n") -> str:
    lines = ["Notes:", LINKEDIN_NOTES, "", LINKEDIN_HEADER, *data_rows]
    return newline.join(lines) + newline


LINKEDIN_ROWS = [
    'Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,"Acme, Inc.",Head of Sales,12 Mar 2024',
    'John,Smith,https://www.linkedin.com/in/john-smith-1a2b3c,,Globex,"VP, Engineering",01 Feb 2023',
    "Zoë,Ångström,https://www.linkedin.com/in/zo%C3%AB-%C3%A5ngstr%C3%B6m,,Initech,CTO,30 Dec 2022",
    ",,,,,,05 Jan 2021",  # a member who hides their profile: no name, no URL
    "Li,Wei,https://cn.linkedin.com/in/li-wei-88,,,,17 Aug 2020",
]


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", False), ("\r\n", True)])
def test_linkedin_connections_export_with_notes_preamble(newline: str, bom: bool) -> None:
    text = linkedin_export(LINKEDIN_ROWS, newline)
    result = read(encode(text, "utf-8-sig" if bom else "utf-8"))
    assert result.dialect.skip_lines == 3
    assert result.dialect.header == LINKEDIN_HEADER.split(",")
    assert result.dialect.mapping == {
        0: "first_name",
        1: "last_name",
        2: "linkedin_url",
        3: "email",
        4: "company",
        5: "title",
    }
    assert result.valid == [
        contact(
            "jane-doe",
            "Jane",
            "Doe",
            email="jane@example.com",
            company="Acme, Inc.",
            title="Head of Sales",
            custom={"Connected On": "12 Mar 2024"},
        ),
        contact(
            "john-smith-1a2b3c",
            "John",
            "Smith",
            company="Globex",
            title="VP, Engineering",
            custom={"Connected On": "01 Feb 2023"},
        ),
        contact(
            "zoë-ångström",
            "Zoë",
            "Ångström",
            company="Initech",
            title="CTO",
            custom={"Connected On": "30 Dec 2022"},
        ),
        contact("li-wei-88", "Li", "Wei", custom={"Connected On": "17 Aug 2020"}),
    ]
    assert_reasons(result.invalid, [(4, "Missing LinkedIn profile URL")])


def test_linkedin_export_without_any_connection_is_valid_and_empty() -> None:
    result = read(linkedin_export([]).encode())
    assert result.dialect.skip_lines == 3
    assert result.rows == []


# ---------------------------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------------------------

SPELLINGS = {
    "first_name": [
        "First Name",
        "first_name",
        "FIRST NAME",
        "Vorname",
        "Prénom",
        "PRENOM",
        "Nombre",
        "Given name",
    ],
    "last_name": ["Last Name", "last-name", "Surname", "Nachname", "Nom", "Apellidos"],
    "linkedin_url": [
        "LinkedIn URL",
        "Profile URL",
        "URL",
        "linkedin_profile_url",
        "LinkedIn Profile",
        "Person Linkedin Url",
        "URL del perfil",
        "Lien LinkedIn",
    ],
    "email": [
        "Email Address",
        "E-mail",
        "Courriel",
        "email",
        "E-Mail-Adresse",
        "Correo electrónico",
    ],
    "company": [
        "Company",
        "Organisation",
        "Organization",
        "Firma",
        "Empresa",
        "Company Name",
        "Société",
    ],
    "title": ["Position", "Job Title", "Titel", "Poste", "Title", "Headline", "Cargo"],
    "full_name": ["Name", "Full Name", "full_name", "Nombre completo"],
}


@pytest.mark.parametrize(
    ("target", "spelling"),
    [(target, spelling) for target, spellings in SPELLINGS.items() for spelling in spellings],
)
def test_header_spellings_map_to_their_field(target: str, spelling: str) -> None:
    assert map_header(["Something Else", f"  {spelling} "]) == {1: target}


def test_first_column_wins_when_two_name_the_same_field() -> None:
    assert map_header(["E-mail", "Email Address", "URL", "Profile URL"]) == {
        0: "email",
        2: "linkedin_url",
    }


@pytest.mark.parametrize(
    ("header", "delimiter", "encoding"),
    [
        (["Vorname", "Nachname", "LinkedIn-Profil", "E-Mail", "Firma", "Titel"], ";", "cp1252"),
        (["Prénom", "Nom", "Lien LinkedIn", "Courriel", "Organisation", "Poste"], ";", "utf-8-sig"),
        (["Nombre", "Apellido", "URL del perfil", "Correo", "Empresa", "Cargo"], ",", "utf-8"),
        (
            ["first_name", "surname", "linkedin_profile_url", "email", "company", "job_title"],
            ",",
            "utf-8",
        ),
    ],
)
def test_whole_files_with_headers_in_other_languages(
    header: list[str], delimiter: str, encoding: str
) -> None:
    rows = [
        header,
        [
            "Renée",
            "Dubois-Müller",
            "https://fr.linkedin.com/in/renee-dubois",
            "renee@example.com",
            "Crédit Agricole",
            "Directrice",
        ],
    ]
    result = read(encode(table(rows, delimiter), encoding))
    assert result.valid == [
        contact(
            "renee-dubois",
            "Renée",
            "Dubois-Müller",
            email="renee@example.com",
            company="Crédit Agricole",
            title="Directrice",
        )
    ]


@pytest.mark.parametrize("column", ["Name", "Full Name"])
def test_single_name_column_is_split_into_first_and_last(column: str) -> None:
    rows = [
        [column, "Profile URL"],
        ["Jane Doe", "linkedin.com/in/jane-doe"],
        ["  Jean   Dupont ", "linkedin.com/in/jean-dupont"],
        ["Cher", "linkedin.com/in/cher-official"],
        ["", "linkedin.com/in/no-name"],
    ]
    result = read(table(rows).encode())
    assert [(c["first_name"], c["last_name"]) for c in result.valid] == [
        ("Jane", "Doe"),
        ("Jean", "Dupont"),
        ("Cher", None),
        (None, None),
    ]
    assert all(c["custom_fields"] == {} for c in result.valid)


def test_separate_name_columns_win_over_a_full_name_column() -> None:
    rows = [
        ["Name", "First Name", "Last Name", "URL"],
        ["J. Doe", "Jane", "Doe", "linkedin.com/in/jane-doe"],
    ]
    assert read(table(rows).encode()).valid == [contact("jane-doe", "Jane", "Doe")]


def test_german_vorname_and_name_keeps_the_surname() -> None:
    data = "Vorname;Name;E-Mail;LinkedIn\r\nHans;Müller;hans@example.de;https://de.linkedin.com/in/hans-mueller\r\n"
    result = read(data.encode("cp1252"))
    assert result.valid == [contact("hans-mueller", "Hans", "Müller", email="hans@example.de")]


def test_unknown_columns_become_custom_fields_and_empty_cells_are_not_stored() -> None:
    rows = [
        ["URL", "First Name", "Tags", "Lead Score", "Connected On"],
        ["linkedin.com/in/aaa-one", "Ann", "  vip, q3  ", "87", "2024-01-02"],
        ["linkedin.com/in/bbb-two", "Ben", "", "   ", "2024-02-03"],
        ["linkedin.com/in/ccc-three", "Cy", "", "", ""],
    ]
    result = read(table(rows).encode())
    assert [c["custom_fields"] for c in result.valid] == [
        {"Tags": "vip, q3", "Lead Score": "87", "Connected On": "2024-01-02"},
        {"Connected On": "2024-02-03"},
        {},
    ]


def test_mapping_corrected_in_the_preview_overrides_the_detected_one() -> None:
    rows = [["URL", "First Name", "Org Unit"], ["linkedin.com/in/jane-doe", "Jane", "Acme Ltd"]]
    data = table(rows).encode()
    assert read(data).valid == [contact("jane-doe", "Jane", custom={"Org Unit": "Acme Ltd"})]
    corrected = read(data, mapping={0: "linkedin_url", 2: "company"})
    assert corrected.valid == [
        contact("jane-doe", company="Acme Ltd", custom={"First Name": "Jane"})
    ]


# ---------------------------------------------------------------------------------------------
# Per-row validation
# ---------------------------------------------------------------------------------------------

HEADER7 = ["First Name", "Last Name", "URL", "Email", "Company", "Position", "Notes"]
GOOD_URL = "https://www.linkedin.com/in/jane-doe"


def row7(**overrides: str) -> list[str]:
    cells = dict(
        zip(HEADER7, ["Jane", "Doe", GOOD_URL, "jane@example.com", "Acme", "CEO", ""], strict=True)
    )
    cells.update({key.replace("_", " "): value for key, value in overrides.items()})
    return [cells[name] for name in HEADER7]


INVALID_ROWS = {
    "missing URL": (row7(URL=""), "Missing LinkedIn profile URL"),
    "whitespace URL": (row7(URL="   "), "Missing LinkedIn profile URL"),
    "company page": (row7(URL="https://www.linkedin.com/company/acme-corp/"), "company page"),
    "school page": (row7(URL="linkedin.com/school/mit"), "school page"),
    "Sales Navigator": (
        row7(URL="https://www.linkedin.com/sales/lead/ACwAAB,NAME"),
        "Sales Navigator",
    ),
    "other site": (row7(URL="https://www.facebook.com/jane.doe"), "not a LinkedIn address"),
    "lookalike host": (
        row7(URL="https://linkedin.com.evil.example/in/jane"),
        "not a LinkedIn address",
    ),
    "garbage with spaces": (row7(URL="call me maybe"), "contains spaces"),
    "garbage word": (row7(URL="n/a"), "not a web address"),
    "first name 201": (row7(First_Name="x" * 201), "First name is longer than 200 characters"),
    "last name 201": (row7(Last_Name="y" * 201), "Last name is longer than 200 characters"),
    "company 301": (row7(Company="c" * 301), "Company is longer than 300 characters"),
    "title 301": (row7(Position="t" * 301), "Title is longer than 300 characters"),
    "email 321": (row7(Email="e" * 310 + "@example.com"), "Email is longer than 320 characters"),
    "custom 1001": (row7(Notes="n" * 1001), "'Notes' is longer than 1000 characters"),
    "email without @": (
        row7(Email="jane.doe.example.com"),
        "'jane.doe.example.com' is not an email address",
    ),
    "email with space": (row7(Email="jane doe@example.com"), "is not an email address"),
    "more cells than header": ([*row7(), "stray", "cells"], "Malformed row: 9 cells for 7 columns"),
}
VALID_ROWS = {
    "first name of exactly 200": (row7(First_Name="x" * 200), {"first_name": "x" * 200}),
    "trailing empty cells (Excel)": ([*row7(), "", " "], {}),
    "short row padded": (
        ["Jane", "Doe", GOOD_URL],
        {"email": None, "company": None, "title": None},
    ),
    "URL spelled oddly": (
        row7(URL="HTTP://UK.LinkedIn.com/in/Jane-Doe/?trk=people#x"),
        {"linkedin_url": P + "jane-doe"},
    ),
    "URL without scheme": (row7(URL="linkedin.com/in/jane-doe"), {}),
    "surrounding spaces": (row7(First_Name="  Jane  ", Email=" jane@example.com "), {}),
}


@pytest.mark.parametrize(("cells", "reason"), INVALID_ROWS.values(), ids=INVALID_ROWS.keys())
def test_an_invalid_row_is_reported_and_does_not_stop_the_file(
    cells: list[str], reason: str
) -> None:
    before = row7(URL="linkedin.com/in/before-row")
    after = row7(URL="linkedin.com/in/after-row")
    result = read(table([HEADER7, before, cells, after]).encode())
    assert [c["linkedin_url"] for c in result.valid] == [P + "before-row", P + "after-row"]
    assert_reasons(result.invalid, [(2, reason)])
    assert result.rows[1].cells == cells  # the original cells travel with the reason


@pytest.mark.parametrize(("cells", "fields"), VALID_ROWS.values(), ids=VALID_ROWS.keys())
def test_edge_rows_that_are_valid(cells: list[str], fields: dict[str, object]) -> None:
    result = read(table([HEADER7, cells]).encode())
    assert result.invalid == []
    expected = contact(
        "jane-doe", "Jane", "Doe", email="jane@example.com", company="Acme", title="CEO"
    )
    expected.update(fields)
    assert result.valid == [expected]


def test_one_file_with_every_kind_of_row_gives_exact_counts() -> None:
    rows = [
        HEADER7,
        row7(URL="linkedin.com/in/good-one"),
        *[cells for cells, _ in INVALID_ROWS.values()],
        row7(URL="linkedin.com/in/good-two"),
    ]
    text = table(rows).replace(CRLF, CRLF + CRLF + ",,,,,," + CRLF + "  \t " + CRLF, 3)
    result = read(text.encode())
    assert len(result.rows) == 2 + len(INVALID_ROWS)
    assert [c["linkedin_url"] for c in result.valid] == [P + "good-one", P + "good-two"]
    assert_reasons(
        result.invalid,
        [(number, reason) for number, (_, reason) in enumerate(INVALID_ROWS.values(), 2)],
    )
    assert result.numbers == list(range(1, len(INVALID_ROWS) + 3))


def test_blank_whitespace_and_delimiter_only_lines_are_skipped_and_not_counted() -> None:
    data = (
        "URL,First Name\r\n"
        "\r\n"
        "linkedin.com/in/aaa-one,Ann\r\n"
        "   \r\n"
        ",\r\n"
        " , \t \r\n"
        "\r\n"
        "linkedin.com/in/bbb-two,Ben\r\n"
        "\r\n\r\n"
    )
    result = read(data.encode())
    assert result.numbers == [1, 2]
    assert [c["first_name"] for c in result.valid] == ["Ann", "Ben"]


def test_ragged_short_rows_are_padded() -> None:
    data = (
        "URL,First Name,Last Name,Company,Tags\n"
        "linkedin.com/in/aaa-one\n"
        "linkedin.com/in/bbb-two,Ben\n"
        "linkedin.com/in/ccc-three,Cy,Ng,Acme\n"
    )
    result = read(data.encode())
    assert result.valid == [
        contact("aaa-one"),
        contact("bbb-two", "Ben"),
        contact("ccc-three", "Cy", "Ng", company="Acme"),
    ]
    assert result.invalid == []


# ---------------------------------------------------------------------------------------------
# Files refused whole
# ---------------------------------------------------------------------------------------------


def _zip_of_csv() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Connections.csv", linkedin_export(LINKEDIN_ROWS))
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
REFUSED = {
    "empty": (b"", "The file is empty"),
    "whitespace only": (b"  \r\n\t\n \n", "The file is empty"),
    "UTF-8 BOM only": (codecs.BOM_UTF8, "The file is empty"),
    "UTF-16 LE BOM only": (codecs.BOM_UTF16_LE, "The file is empty"),
    "UTF-16 BE BOM only": (codecs.BOM_UTF16_BE, "The file is empty"),
    "UTF-8 BOM and blank lines": (codecs.BOM_UTF8 + b"\r\n \r\n", "The file is empty"),
    "UTF-16 BOM and blank lines": (encode(" \r\n\t\r\n", "utf-16-le"), "The file is empty"),
    "PNG image": (PNG, "not a text file"),
    "zip archive (the LinkedIn download itself)": (_zip_of_csv(), "not a text file"),
    "gzip of a CSV": (gzip.compress(b"URL\nlinkedin.com/in/aaa-one\n", mtime=0), "not a text file"),
    "JPEG image": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01", "not a text file"),
}


@pytest.mark.parametrize(("data", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_unreadable_files_are_refused_whole_saying_why(data: bytes, message: str) -> None:
    assert message in refusal(data)


@pytest.mark.parametrize(
    ("data", "columns"),
    [
        (
            b"First Name,Last Name,Email Address\r\nJane,Doe,jane@example.com\r\n",
            "First Name, Last Name, Email Address",
        ),
        (
            "Vorname;Nachname;E-Mail;Firma\nJürgen;Müller;j@m.de;ACME\n".encode("cp1252"),
            "Vorname, Nachname, E-Mail, Firma",
        ),
        (encode("Name\tWebsite\r\nJane\thttps://jane.example\r\n", "utf-16-le"), "Name, Website"),
        (
            linkedin_export(["Jane,Doe,jane@example.com,Acme,CEO,01 Jan 2024"])
            .replace("URL,", "")
            .encode(),
            "First Name, Last Name, Email Address, Company, Position, Connected On",
        ),
    ],
    ids=["comma", "semicolon cp1252", "utf-16 tab", "LinkedIn export without URL"],
)
def test_no_profile_url_column_is_refused_listing_the_columns_found(
    data: bytes, columns: str
) -> None:
    message = refusal(data)
    assert "No profile-URL column" in message
    assert "LinkedIn URL" in message  # says what to call it
    assert f"(found: {columns})" in message


def test_single_column_file_without_url_lists_its_column() -> None:
    message = refusal(b"Email\r\njane@example.com\r\nbob@example.com\r\n")
    assert "No profile-URL column" in message
    assert "(found: Email)" in message


@pytest.mark.parametrize(
    "data",
    [
        b"URL,First Name\r\n",
        b"URL,First Name",
        codecs.BOM_UTF8 + b"URL;First Name\r\n\r\n\r\n",
        encode("URL\tFirst Name\r\n", "utf-16-le"),
    ],
    ids=["with newline", "without newline", "BOM and trailing blank lines", "utf-16"],
)
def test_header_only_file_is_valid_with_zero_rows(data: bytes) -> None:
    result = read(data)
    assert result.dialect.mapping == {0: "linkedin_url", 1: "first_name"}
    assert result.rows == []


# ---------------------------------------------------------------------------------------------
# Preamble detection
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2028", "\x0c"], ids=["U+2028", "form feed"])
def test_preamble_with_an_unusual_line_separator_loses_no_row(separator: str) -> None:
    data = (
        f"Exported contacts{separator}page 1\r\n"
        "URL,First Name\r\n"
        "linkedin.com/in/aaa-one,Ann\r\n"
        "linkedin.com/in/bbb-two,Ben\r\n"
    )
    result = read(data.encode())
    assert [c["first_name"] for c in result.valid] == ["Ann", "Ben"]


# ---------------------------------------------------------------------------------------------
# Streaming: resuming and memory
# ---------------------------------------------------------------------------------------------

RESUMABLE = linkedin_export(
    [
        f'Person{i},"Multi\nLine {i}",https://www.linkedin.com/in/person-{i:02d},,Co {i},CEO,01 Jan 2024'
        + ("\n" if i % 3 == 0 else "")  # some blank lines between rows
        for i in range(1, 11)
    ],
    "\r\n",
).encode()


@pytest.mark.parametrize("start_after", [0, 1, 3, 9, 10, 25])
def test_start_after_skips_exactly_the_first_n_data_rows(start_after: int) -> None:
    everything = read(RESUMABLE)
    assert everything.numbers == list(range(1, 11))
    resumed = read(RESUMABLE, start_after=start_after)  # a fresh sniff, as a resumed job does
    assert resumed.numbers == list(range(start_after + 1, 11))
    assert [row.cells for row in resumed.rows] == [
        row.cells for row in everything.rows[start_after:]
    ]
    assert resumed.valid == everything.valid[start_after:]


def test_start_after_counts_invalid_rows_too() -> None:
    data = (
        "URL,First Name\n"
        "linkedin.com/in/aaa-one,A\n"
        "nope,B\n"
        "\n"
        "linkedin.com/in/ccc-three,C\n"
        "linkedin.com/company/x,D\n"
    )
    result = read(data.encode(), start_after=2)
    assert result.numbers == [3, 4]
    assert [c["first_name"] for c in result.valid] == ["C"]
    assert_reasons(result.invalid, [(4, "company page")])


def test_200000_row_file_is_streamed_with_flat_memory(tmp_path: Path) -> None:
    rows = 200_000
    notes = "n" * 100  # makes the file bigger than any whole-file read could hide under the bound
    path = tmp_path / "big.csv"
    with path.open("wb") as out:
        out.write(b"URL,First Name,Last Name,Notes\r\n")
        out.writelines(
            f"linkedin.com/in/u{i:06d},F{i},L{i},{notes}\r\n".encode() for i in range(rows)
        )
    limit = 8 * 1024 * 1024
    assert path.stat().st_size > 3 * limit
    valid = invalid = last = 0
    with path.open("rb") as raw:
        dialect = sniff(raw)
        tracemalloc.start()
        try:
            for row in read_rows(raw, dialect):
                if row.contact is None:
                    invalid += 1
                else:
                    valid += 1
                last = row.number
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (valid, invalid, last) == (rows, 0, rows)
    assert peak < limit, f"peak {peak / 1e6:.1f} MB while streaming"


# ---------------------------------------------------------------------------------------------
# Property: whatever a spreadsheet writes into a cell comes back unchanged
# ---------------------------------------------------------------------------------------------

CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    notes=st.lists(CELL, min_size=1, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_any_cell_text_round_trips(notes: list[str], encoding: str, delimiter: str) -> None:
    rows = [["URL", "First Name", "Note"]]
    rows += [[f"linkedin.com/in/row-{i:03d}", "Ann", note] for i, note in enumerate(notes)]
    result = read(encode(table(rows, delimiter), encoding))
    assert result.numbers == list(range(1, len(notes) + 1))
    assert [row.cells[2] for row in result.rows] == notes
    assert [c["custom_fields"] for c in result.valid] == [
        {"Note": note.strip()} if note.strip() else {} for note in notes
    ]
