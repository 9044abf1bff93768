"""The reader resynchronises after a malformed stretch (SPEC §6, issue 16), over raw bytes.

A stray or unclosed quote costs its own line only: the row's opening line comes back rejected with
its line number, and the lines the quote would have swallowed are read again as rows. An oversize
cell, an over-long line and a ragged row are rejected rows, never a refused file. Every row carries
its physical lines and the byte just past it, and a read resumed from any row's `resume_at` yields
exactly the rows a whole read yields after that row: in each encoding, whatever the block size.

Every file is built here from its physical lines, so each line's byte offset is known by hand.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.imports import reader
from app.imports.reader import (
    MAX_CELL,
    MAX_LINE_BYTES,
    MAX_RECORD_LINES,
    Position,
    Row,
    read_batches,
    read_rows,
    sniff,
)

P = "https://www.linkedin.com/in/"
CRLF = "\r\n"
HEADER = "URL,First Name,Last Name,Notes\r\n"
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "cp932"]
# A first and last name each encoding holds: accents in cp1252; in cp932 characters whose second
# byte is an ASCII byte (ソ 83 5C, 表 95 5C, 能 94 5C); beyond U+FFFF in the Unicode ones.
NAMES = {
    "utf-8": ("Zoë", "Ōtani🚀"),
    "utf-8-sig": ("Zoë", "Ōtani🚀"),
    "utf-16": ("Zoë", "Ōtani🚀"),
    "cp1252": ("Zoë", "Müller"),
    "cp932": ("ソニー", "表能"),
}
# SPEC §6's Windows code pages beyond cp1252, with a name in each script; the CJK ones include
# characters whose second byte is '\\', '@', '|' or a letter.
CODE_PAGE_NAMES = {
    "cp1250": ("Łukasz", "Żółć"),
    "cp1251": ("Иван", "Щукин"),
    "cp1253": ("Ελένη", "Παπαδοπούλου"),
    "cp1254": ("Şükrü", "Öztürk"),
    "cp1255": ("דוד", "כהן"),
    "cp1256": ("محمد", "الحسن"),
    "cp1257": ("Jānis", "Bērziņš"),
    "cp1258": ("Nguyên", "Đăng"),
    "cp874": ("สมชาย", "ใจดี"),
    "cp932": ("ソニー", "表能"),
    "gb18030": ("张伟", "€𠀀"),
    "cp949": ("김민준", "똠방각하"),
    "cp950": ("許功蓋", "陳"),
}


# ---------------------------------------------------------------------------------------------
# Building files line by line, and reading them
# ---------------------------------------------------------------------------------------------


@dataclass
class File:
    data: bytes
    ends: list[int]  # ends[n]: the byte just past physical line n (ends[0]: where line 1 starts)
    encoding: str


def build(lines: list[str], encoding: str) -> File:
    """A file of these physical lines (each with its own line break, the last one may lack it)."""
    bom = {"utf-8-sig": codecs.BOM_UTF8, "utf-16": codecs.BOM_UTF16_LE}.get(encoding, b"")
    codec = {"utf-8-sig": "utf-8", "utf-16": "utf-16-le"}.get(encoding, encoding)
    ends = [len(bom)]
    for line in lines:
        ends.append(ends[-1] + len(line.encode(codec)))
    return File(bom + "".join(lines).encode(codec), ends, encoding)


def read(file: File, **kwargs: object) -> list[Row]:
    raw = io.BytesIO(file.data)
    # The reader is given the file's encoding (detected, or chosen in the preview).
    dialect = dataclasses.replace(sniff(raw), encoding=file.encoding)
    rows = list(read_rows(raw, dialect, **kwargs))  # type: ignore[arg-type]
    for row in rows:
        assert (row.contact is None) != (row.reason is None), row
        assert row.end_offset == file.ends[row.last_line], row  # exact: seeking there works
    return rows


def person(i: int, encoding: str, notes: str = "") -> str:
    first, last = NAMES.get(encoding) or CODE_PAGE_NAMES[encoding]
    return f"linkedin.com/in/person-{i:05d},{first},{last},{notes}\r\n"


def people(n: int, encoding: str) -> list[str]:
    return [HEADER] + [person(i, encoding) for i in range(1, n + 1)]


def url(i: int) -> str:
    return f"{P}person-{i:05d}"


def valid(rows: list[Row]) -> list[tuple[int, str, int]]:
    """(row number, profile URL, line) of each valid row."""
    return [(r.number, str(r.contact["linkedin_url"]), r.first_line) for r in rows if r.contact]


def rejected(rows: list[Row]) -> list[tuple[int, str, int, int]]:
    """(row number, reason, first line, last line) of each rejected row."""
    return [(r.number, r.reason, r.first_line, r.last_line) for r in rows if r.reason]


def unclosed(line: int, why: str) -> str:
    return f"Unclosed quote on line {line}: a quoted cell does not end {why}"


WITHIN_LINES = f"within {MAX_RECORD_LINES} lines"
WITHIN_CHARACTERS = f"within {MAX_CELL:,} characters"
BEFORE_THE_END = "before the end of the file"


def oversize(line: int) -> str:
    return f"Line {line} has a cell longer than {MAX_CELL:,} characters"


# ---------------------------------------------------------------------------------------------
# A stray or unclosed quote
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("stray_row", "why"),
    [
        (2, WITHIN_LINES),  # the file: 1 imported, 1 invalid, 4,998 gone
        (2500, WITHIN_LINES),
        (4990, BEFORE_THE_END),  # ten lines before the end: the file ends inside the quote
        (5000, BEFORE_THE_END),  # on the last line
    ],
    ids=["row 2", "mid-file", "near the end", "last line"],
)
def test_a_stray_quote_costs_its_own_line_only(encoding: str, stray_row: int, why: str) -> None:
    lines = people(5000, encoding)
    lines[stray_row] = lines[stray_row].replace(",", ',"', 1)  # url,"First,Last,
    rows = read(build(lines, encoding))
    assert [r.number for r in rows] == list(range(1, 5001))
    line = stray_row + 1  # the header is line 1
    assert rejected(rows) == [(stray_row, unclosed(line, why), line, line)]
    assert valid(rows) == [(i, url(i), i + 1) for i in range(1, 5001) if i != stray_row]
    first, last = NAMES[encoding]
    stray = rows[stray_row - 1]
    assert stray.cells == [f"linkedin.com/in/person-{stray_row:05d}", f"{first},{last},"]
    assert stray.lines == f"line {line}"
    assert {(r.contact["first_name"], r.contact["last_name"]) for r in rows if r.contact} == {
        (first, last)
    }


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_stray_quote_closed_by_another_a_few_lines_on_costs_its_own_line_only(
    encoding: str,
) -> None:
    """Two stray quotes pair up within 20 lines: the "cell" between them holds lines that are rows
    of their own (a profile URL in the URL column), so it is no note: the opening line is rejected
    and the lines it swallowed are read again, the closing line included."""
    lines = people(12, encoding)
    lines[3] = lines[3].replace(",", ',"', 1)  # row 3 opens a quote ...
    lines[9] = lines[9].replace(",", ',x"', 1)  # ... that row 9's stray quote would close
    rows = read(build(lines, encoding))
    reason = "Stray quote on line 4: the quoted cell it opens runs on to line 10 across rows of their own"
    assert rejected(rows) == [(3, reason, 4, 4)]
    assert [n for n, _, _ in valid(rows)] == [i for i in range(1, 13) if i != 3]
    assert valid(rows)[-1] == (12, url(12), 13)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_unclosed_quote_at_the_very_end_without_a_line_break(encoding: str) -> None:
    lines = people(3, encoding)
    lines[3] = 'linkedin.com/in/person-00003,"Ann'
    rows = read(build(lines, encoding))
    assert valid(rows) == [(1, url(1), 2), (2, url(2), 3)]
    assert rejected(rows) == [(3, unclosed(4, BEFORE_THE_END), 4, 4)]
    assert rows[-1].cells == ["linkedin.com/in/person-00003", "Ann"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "note_lines", [MAX_RECORD_LINES - 1, MAX_RECORD_LINES, MAX_RECORD_LINES + 1]
)
def test_a_quoted_note_may_span_up_to_20_lines(encoding: str, note_lines: int) -> None:
    note = CRLF.join(f"point {k}" for k in range(1, note_lines + 1))
    lines = [HEADER, person(1, encoding), person(2, encoding, f'"{note}"')]
    lines += [person(3, encoding)]
    rows = read(build("".join(lines).splitlines(keepends=True), encoding))
    after = 3 + note_lines  # the line after the note
    if note_lines <= MAX_RECORD_LINES:  # read whole, on its lines
        assert valid(rows) == [(1, url(1), 2), (2, url(2), 3), (3, url(3), after)]
        assert rows[1].contact["custom_fields"] == {"Notes": note}  # type: ignore[index]
        assert (rows[1].first_line, rows[1].last_line) == (3, 2 + note_lines)
        assert rows[1].lines == f"lines 3–{2 + note_lines}"
        assert rejected(rows) == []
        return
    # Past the limit, the row is cut: its opening line is rejected and the note's other lines are
    # read as rows of their own (no profile URL in them), never swallowed silently.
    assert valid(rows) == [(1, url(1), 2), (note_lines + 2, url(3), after)]
    assert rejected(rows)[0] == (2, unclosed(3, WITHIN_LINES), 3, 3)
    assert [(n, line) for n, _, line, _ in rejected(rows)[1:]] == [
        (k + 1, k + 2) for k in range(2, note_lines + 1)
    ]
    assert [r.cells for r in rows[2:-1]] == [[f"point {k}"] for k in range(2, note_lines)] + [
        [f'point {note_lines}"']
    ]
    assert all(r.reason.startswith("Invalid profile URL") for r in rows[2:-1])  # type: ignore[union-attr]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_legitimate_three_line_address_imports_intact_on_lines_2_to_4(encoding: str) -> None:
    first, last = NAMES[encoding]
    address = f'Flat 3, "The Old Mill"{CRLF}12 High Street\nLondon'  # Excel's LF inside a CRLF file
    text = (
        HEADER
        + f'linkedin.com/in/person-00001,{first},{last},"{address.replace(chr(34), 2 * chr(34))}"\r\n'
        + person(2, encoding)
    )
    rows = read(build(text.splitlines(keepends=True), encoding))
    assert [(r.first_line, r.last_line, r.lines) for r in rows] == [
        (2, 4, "lines 2–4"),
        (5, 5, "line 5"),
    ]
    assert rows[0].contact == {
        "linkedin_url": url(1),
        "first_name": first,
        "last_name": last,
        "email": None,
        "company": None,
        "title": None,
        "custom_fields": {"Notes": address},
    }
    assert valid(rows) == [(1, url(1), 2), (2, url(2), 5)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_quote_that_runs_past_the_cell_limit_before_20_lines_is_cut_there(encoding: str) -> None:
    long_notes = "n" * 20_000  # four such lines pass MAX_CELL characters
    lines = [HEADER, person(1, encoding)]
    lines += [person(2, encoding).replace(",", ',"', 1)]
    lines += [person(i, encoding, long_notes) for i in range(3, 9)] + [person(9, encoding)]
    rows = read(build(lines, encoding))
    assert rejected(rows) == [(2, unclosed(3, WITHIN_CHARACTERS), 3, 3)] + [
        (i, "'Notes' is longer than 1000 characters", i + 1, i + 1) for i in range(3, 9)
    ]
    assert valid(rows) == [(1, url(1), 2), (9, url(9), 10)]


# ---------------------------------------------------------------------------------------------
# Oversize cells, over-long lines, ragged rows: rejected rows, never a refused file
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted"])
def test_a_2_mb_cell_rejects_its_row_and_no_other(encoding: str, quoted: bool) -> None:
    big = "x" * 2_000_000
    lines = [HEADER, person(1, encoding), person(2, encoding, f'"{big}"' if quoted else big)]
    lines += [person(3, encoding)]
    rows = read(build(lines, encoding))
    assert valid(rows) == [(1, url(1), 2), (3, url(3), 4)]
    assert rejected(rows) == [(2, oversize(3), 3, 3)]
    first, last = NAMES[encoding]
    assert rows[1].cells[:3] == ["linkedin.com/in/person-00002", first, last]
    assert len("".join(rows[1].cells)) <= MAX_CELL  # what the rejected-rows file keeps is bounded


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("size", "reason"),
    [
        (MAX_CELL, "'Notes' is longer than 1000 characters"),  # read whole, then judged
        (MAX_CELL + 1, oversize(3)),
    ],
    ids=["at the limit", "one over"],
)
def test_the_cell_limit_is_exact(encoding: str, size: int, reason: str) -> None:
    lines = [HEADER, person(1, encoding), person(2, encoding, "y" * size), person(3, encoding)]
    rows = read(build(lines, encoding))
    assert rejected(rows) == [(2, reason, 3, 3)]
    assert valid(rows) == [(1, url(1), 2), (3, url(3), 4)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_line_over_the_line_limit_of_cells_under_the_cell_limit(encoding: str) -> None:
    cells = ",".join(["z" * 60_000] * 20)  # 1.2 million characters in 20 cells
    lines = [HEADER, person(1, encoding), person(2, encoding, cells), person(3, encoding)]
    rows = read(build(lines, encoding))
    limit = MAX_LINE_BYTES // 2**20
    assert rejected(rows) == [(2, f"Line 3 is longer than {limit} MiB", 3, 3)]
    assert valid(rows) == [(1, url(1), 2), (3, url(3), 4)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ragged_rows_are_rejected_with_their_lines(encoding: str) -> None:
    lines = people(5, encoding)
    lines[2] = lines[2].replace(CRLF, ",stray,cells\r\n")  # two non-empty cells too many
    lines[4] = lines[4].replace(CRLF, ",,  ,\r\n")  # empty extra cells (Excel): fine
    rows = read(build(lines, encoding))
    assert rejected(rows) == [
        (2, "Malformed row: 6 cells for 4 columns (check quoting and delimiters)", 3, 3)
    ]
    assert valid(rows) == [(i, url(i), i + 1) for i in (1, 3, 4, 5)]


def test_line_numbers_count_the_preamble_header_and_blank_lines() -> None:
    lines = [
        "Notes:\n",
        '"Exported from somewhere, with a preamble"\n',
        "\n",
        HEADER,  # line 4
        "\r\n",
        person(1, "utf-8"),  # line 6
        " , ,\r\n",
        "\r",  # a lone CR is a line break too
        person(2, "utf-8", '"two\nlines"'),
    ]
    file = build("".join(lines).splitlines(keepends=True), "utf-8")
    rows = read(file)
    assert [(r.number, r.first_line, r.last_line) for r in rows] == [(1, 6, 6), (2, 9, 10)]
    assert rows[1].end_offset == len(file.data)


# ---------------------------------------------------------------------------------------------
# Resuming from a byte offset
# ---------------------------------------------------------------------------------------------


def mixed(encoding: str) -> list[str]:
    """A file with one of everything: blank lines, notes over lines, a stray quote early, a ragged
    row, an oversize cell, a cell at the limit, and an unclosed quote on its last line."""
    lines = people(60, encoding)
    lines[2] = lines[2].replace(",", ',"', 1)  # stray quote: swallows 20 lines, then resyncs
    lines[30] = person(30, encoding, '"a note\r\nover\nthree lines"')
    lines[33] = person(33, encoding, "x" * (MAX_CELL + 10))
    lines[34] = person(34, encoding, "y" * MAX_CELL)
    lines[36] = lines[36].replace(CRLF, ",ragged,row\r\n")
    lines[40] = "\r\n" + lines[40] + ",,,\r\n\r\n"
    lines[60] = lines[60].replace(",", ',"', 1).removesuffix(CRLF)
    return "".join(lines).splitlines(keepends=True)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resuming_at_any_row_reads_exactly_the_rows_after_it(encoding: str) -> None:
    file = build(mixed(encoding), encoding)
    everything = read(file)
    assert len(everything) == 60
    assert [(n, line) for n, _, line, _ in rejected(everything)] == [
        (2, 3),
        (33, 36),
        (34, 37),
        (36, 39),
        (60, 66),
    ]
    start = Position(file.ends[1], 0, 1)  # just after the header: the whole file
    assert read(file, start_at=start) == everything
    for index, row in enumerate(everything):
        assert read(file, start_at=row.resume_at) == everything[index + 1 :], row.number
    for skipped in (0, 1, 2, 3, 25, 59, 60, 61):
        assert read(file, start_after=skipped) == everything[skipped:]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resuming_inside_a_resync_region_reads_what_the_whole_read_did(encoding: str) -> None:
    lines = people(40, encoding)
    lines[2] = lines[2].replace(",", ',"', 1)  # row 2, line 3: its quote would swallow lines 4–22
    file = build(lines, encoding)
    everything = read(file)
    assert rejected(everything) == [(2, unclosed(3, WITHIN_LINES), 3, 3)]
    stray = everything[1]
    assert stray.resume_at == Position(file.ends[3], 2, 3)  # after the opening line only
    resumed = read(file, start_at=stray.resume_at)
    assert resumed == everything[2:]
    assert (resumed[0].number, resumed[0].first_line) == (3, 4)
    inside = everything[6]  # row 7, line 8: a line the quote would have swallowed
    assert read(file, start_at=inside.resume_at) == everything[7:]
    assert read(file, start_at=inside.resume_at, start_after=10) == everything[10:]


def test_read_batches_resumes_from_a_position_and_keeps_its_positional_call(
    tmp_path: Path,
) -> None:
    lines = people(12, "utf-8")
    lines[4] = lines[4].replace(",", ',"', 1)
    file = build(lines, "utf-8")
    path = tmp_path / "contacts.csv"
    path.write_bytes(file.data)
    everything = read(file)
    mapping = {0: "linkedin_url", 1: "first_name", 2: "last_name"}
    whole = [row for batch in read_batches(str(path), mapping, 0, 5) for row in batch]
    assert [(r.number, r.reason, r.end_offset) for r in whole] == [
        (r.number, r.reason, r.end_offset) for r in everything
    ]
    assert [len(batch) for batch in read_batches(str(path), mapping, 3, 5)] == [5, 4]
    tail = read_batches(str(path), mapping, 0, 5, start_at=whole[6].resume_at)
    assert [row for batch in tail for row in batch] == whole[7:]


@pytest.mark.parametrize(
    "where",
    [
        lambda file: Position(file.ends[3] - 2, 2, 3),  # inside line 4
        lambda file: Position(file.ends[1], 0, 0),  # numbered as if before the header
        lambda file: Position(0, 0, 0),  # the header itself
        lambda file: Position(len(file.data) + 10, 9, 9),  # past the end
    ],
    ids=["mid-line", "wrong line number", "header", "past the end"],
)
def test_a_position_that_is_not_a_row_boundary_is_refused(where: object) -> None:
    file = build(people(5, "utf-8"), "utf-8")
    with pytest.raises(ValueError, match="is not a row boundary"):
        read(file, start_at=where(file))  # type: ignore[operator]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resuming_at_the_end_of_a_file_without_a_final_line_break_reads_nothing(
    encoding: str,
) -> None:
    lines = people(3, encoding)
    lines[3] = lines[3].removesuffix(CRLF)
    file = build(lines, encoding)
    everything = read(file)
    assert everything[-1].end_offset == len(file.data)
    assert read(file, start_at=everything[-1].resume_at) == []


# ---------------------------------------------------------------------------------------------
# Blocks, line breaks and encodings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13])
def test_rows_do_not_depend_on_where_the_blocks_fall(encoding: str, block: int) -> None:
    """Every CR LF, character and quote straddles a block boundary somewhere in here."""
    lines = mixed(encoding)[:34]  # the stray quote, the note over three lines; no huge cell
    lines[5] = lines[5].replace(CRLF, "\r")
    lines[6] = lines[6].replace(CRLF, "\n")
    file = build(lines, encoding)
    everything = read(file)
    with mock.patch.object(reader, "BLOCK_BYTES", block):
        assert read(file) == everything
        assert read(file, start_at=everything[20].resume_at) == everything[21:]
    assert len(everything) == 31


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp932"])
def test_a_long_line_ending_across_blocks_keeps_the_lines_after_it(encoding: str) -> None:
    lines = [HEADER, person(1, encoding), person(2, encoding, ",".join(["w" * 30] * 6))]
    lines += [person(3, encoding).replace(CRLF, "\r"), person(4, encoding)]
    file = build(lines, encoding)
    for block in range(1, 20):  # the long line's CR LF falls across a block boundary somewhere
        with (
            mock.patch.object(reader, "BLOCK_BYTES", block),
            mock.patch.object(reader, "MAX_LINE_BYTES", 120),
        ):
            rows = read(file)
        assert valid(rows) == [(1, url(1), 2), (3, url(3), 4), (4, url(4), 5)], block
        assert [(n, line) for n, _, line, _ in rejected(rows)] == [(2, 3)]
        assert rejected(rows)[0][1].startswith("Line 3 is longer than")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_long_line_inside_a_resync_region_rejects_its_own_row_only(encoding: str) -> None:
    lines = people(30, encoding)
    lines[2] = lines[2].replace(",", ',"', 1)  # row 2's quote swallows lines 3-22 on a first pass
    lines[8] = person(8, encoding, ",".join(["w" * 30] * 6))  # line 9, over the line limit
    with mock.patch.object(reader, "MAX_LINE_BYTES", 120):
        rows = read(build(lines, encoding))
    assert [(n, line) for n, _, line, _ in rejected(rows)] == [(2, 3), (8, 9)]
    assert rejected(rows)[1][1].startswith("Line 9 is longer than")
    assert valid(rows) == [(i, url(i), i + 1) for i in range(1, 31) if i not in (2, 8)]


SPECIAL_BYTES = {ord(c) for c in '\r\n",;\t'}


@pytest.mark.parametrize("codec", [*CODE_PAGE_NAMES, "cp1252"])
def test_in_the_code_pages_a_line_break_quote_or_delimiter_byte_is_always_that_character(
    codec: str,
) -> None:
    """Why the reader may split these files into lines as bytes: no character of a multi-byte
    code page has CR, LF, '"' or a delimiter among its bytes (their trail bytes are 0x30 or above)."""
    top = 0x110000 if codec == "gb18030" else 0x10000  # gb18030 encodes all of Unicode
    for point in range(top):
        try:
            data = chr(point).encode(codec)
        except UnicodeEncodeError:
            continue
        if len(data) > 1:
            assert not SPECIAL_BYTES & set(data), (hex(point), data)


@pytest.mark.parametrize("codec", list(CODE_PAGE_NAMES))
def test_each_code_page_reads_names_resyncs_and_resumes(codec: str) -> None:
    lines = people(30, codec)
    lines[3] = lines[3].replace(",", ',"', 1)
    file = build(lines, codec)
    rows = read(file)
    assert rejected(rows) == [(3, unclosed(4, WITHIN_LINES), 4, 4)]
    assert valid(rows) == [(i, url(i), i + 1) for i in range(1, 31) if i != 3]
    first, last = CODE_PAGE_NAMES[codec]
    assert {(r.contact["first_name"], r.contact["last_name"]) for r in rows if r.contact} == {
        (first, last)
    }
    assert read(file, start_at=rows[2].resume_at) == rows[3:]


# ---------------------------------------------------------------------------------------------
# Property: any mix of rows, quotes and line breaks
# ---------------------------------------------------------------------------------------------

FRAGMENT = st.sampled_from(
    [
        "linkedin.com/in/some-person",
        "Ann",
        "Zoë",
        '"',
        '""',
        '"quoted, cell"',
        '"two\r\nlines"',
        '"open',
        'close"',
        "",
        " ",
        ",",
        "é€🚀",
    ]
)
LINE = st.tuples(st.lists(FRAGMENT, max_size=6), st.sampled_from(["\r\n", "\n", "\r"])).map(
    lambda parts: ",".join(parts[0]) + parts[1]
)


@settings(deadline=None)
@given(
    body=st.lists(LINE, max_size=45),
    last_break=st.booleans(),
    encoding=st.sampled_from(ENCODINGS),
    block=st.integers(min_value=1, max_value=9),
    line_limit=st.sampled_from([8, 40, 100, MAX_LINE_BYTES]),
)
def test_any_file_reads_the_same_in_any_blocks_and_from_any_row(
    body: list[str], last_break: bool, encoding: str, block: int, line_limit: int
) -> None:
    text = HEADER + "".join(body)
    if not last_break:
        text = text.rstrip("\r\n")
    if encoding == "cp1252":
        text = text.replace("🚀", "")
    elif encoding == "cp932":
        text = text.replace("é€🚀", "ソ表").replace("Zoë", "Zoe")
    file = build(text.splitlines(keepends=True), encoding)
    with mock.patch.object(reader, "MAX_LINE_BYTES", line_limit):
        everything = read(file)
        assert [r.number for r in everything] == list(range(1, len(everything) + 1))
        previous = 1
        for row in everything:
            assert previous < row.first_line <= row.last_line < row.first_line + MAX_RECORD_LINES
            previous = row.last_line
        with mock.patch.object(reader, "BLOCK_BYTES", block):
            assert read(file) == everything
        for index, row in enumerate(everything):
            assert read(file, start_at=row.resume_at) == everything[index + 1 :]
