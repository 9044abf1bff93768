"""Which encoding a contact CSV is in (SPEC §6): sampled as it uploads, chosen among SPEC's candidates.

A BOM decides (UTF-8 or UTF-16). Without one, a NUL byte means binary data, and a file that decodes
as UTF-8 is UTF-8. Otherwise it comes from Excel on a Windows set to another language, and it is
read in each legacy code page of SPEC §6 that decodes it strictly. Only the lines carrying non-ASCII
bytes are looked at: the rest of an export (URLs, ASCII names and companies) reads the same in every
candidate. A reading scores the share of its non-ASCII words that read as words of a language that
code page serves (one script per word, the letters of one alphabet and a few of its spelling rules,
no control or symbol inside a word, characters from the national standard rather than its
extensions), less charset-normalizer's mess ratio of the same cells. Of readings that score alike,
the one needing the fewest languages wins (a contact list is written in a few), then the code page
serving the most people (`LEGACY_ENCODINGS`); the detection says when another reading stays
plausible, so the preview can show both and let the admin choose.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import combinations
from typing import BinaryIO

import charset_normalizer

UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
UTF16 = "utf-16"

# The legacy code pages of SPEC §6, in the order that settles a tie between readings that score
# alike. A tie is a guess, so it goes to the code page serving the most people who export contact
# lists from Excel on Windows (the locales whose ANSI code page it is, weighted by office PCs):
# cp1252 serves the Americas, Western Europe and every English Windows; then mainland China (cp936,
# read as its superset gb18030), the Cyrillic countries, Japan, Central Europe, the Arabic-speaking
# countries, Turkey, Korea, Taiwan and Hong Kong, Vietnam, Thailand, Greece, Israel, the Baltics.
LEGACY_ENCODINGS: tuple[str, ...] = (
    "cp1252",
    "gb18030",
    "cp1251",
    "cp932",
    "cp1250",
    "cp1256",
    "cp1254",
    "cp949",
    "cp950",
    "cp1258",
    "cp874",
    "cp1253",
    "cp1255",
    "cp1257",
)
ENCODINGS: tuple[str, ...] = (UTF8, UTF8_BOM, UTF16, *LEGACY_ENCODINGS)

SAMPLE_BUDGET_BYTES = (
    64 * 1024
)  # the non-ASCII lines kept for detection, at most: memory stays flat
SAMPLE_BUDGET_LINES = 500  # and at most this many: hundreds of names tell the code pages apart
LINE_BYTES = 4 * 1024  # a longer line (a long note) is kept up to here
HEAD_BYTES = 4 * 1024  # the start of the file: its BOM, and a UTF-16 file's preview
BINARY_WINDOW = 64 * 1024  # a NUL byte this early means binary data (the reader's own window)
PREVIEW_LINES = 5  # a candidate's samples: the non-ASCII cells of this many lines...
PREVIEW_CHARS = 60  # ...each cut to this length

# A reading within TIE_MARGIN of the best score ties with it. One within PLAUSIBLE_MARGIN, or within
# one and a half odd words on a small sample, stays plausible: the detection is then ambiguous.
TIE_MARGIN = 0.01
PLAUSIBLE_MARGIN = 0.02
PLAUSIBLE_ODD_WORDS = 1.5
MAX_LANGUAGES = 4  # counting the languages a reading needs stops here ("many")

BINARY_MESSAGE = (
    "This is not a text file (it contains binary data). Export the list as CSV and upload that."
)


class BinaryFile(ValueError):
    """The file holds binary data (a NUL byte early on, and no UTF-16 BOM): it is no CSV."""

    def __init__(self) -> None:
        super().__init__(BINARY_MESSAGE)


class UnknownEncoding(ValueError):
    """A name that is none of SPEC §6's encodings, nor a usual name for one."""


# --- Sampling a file as it streams past ---------------------------------------------------------------

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# No candidate uses a byte below 0x30 inside a character (UTF-8 continuation bytes are >= 0x80, CJK
# trail bytes >= 0x40, gb18030's four-byte digits >= 0x30): a line cut just after one, or split at
# a comma, semicolon or tab, never splits a character.
_INSIDE_A_CHARACTER = bytes(range(0x30, 0x100))
_CELL_BREAK = re.compile(rb"[,;\t]")


@dataclass(frozen=True, slots=True)
class Sample:
    """What detection reads of a file: its head, its lines with non-ASCII bytes, a binary flag."""

    head: bytes  # the first HEAD_BYTES bytes
    lines: tuple[bytes, ...]  # the lines with a byte >= 0x80, in file order, without line breaks
    binary: bool  # a NUL byte within the first BINARY_WINDOW bytes


def _cut(line: bytes, limit: int) -> bytes:
    """The line, cut to at most `limit` bytes between two characters (empty if it cannot be)."""
    return line if len(line) <= limit else line[:limit].rstrip(_INSIDE_A_CHARACTER)


_LINE_BREAK = re.compile(rb"[\r\n]")


def _line_start(data: bytes, low: int, high: int) -> int:
    """Where the line holding data[high] starts, knowing it starts at `low` or later."""
    found = max(data.rfind(b"\n", low, high), data.rfind(b"\r", low, high))
    return found + 1 if found >= 0 else low


class EncodingSampler:
    """Fed a file chunk by chunk, at any boundaries, keeps the Sample that `detect` reads.

    It keeps the head, and the lines (ended by LF, CR or CRLF) that carry a byte >= 0x80 until they
    fill SAMPLE_BUDGET_BYTES or SAMPLE_BUDGET_LINES: ASCII lines cost nothing, and memory stays flat
    whatever the file's size. Call `sample()` after the last chunk.
    """

    def __init__(
        self, *, budget: int = SAMPLE_BUDGET_BYTES, max_lines: int = SAMPLE_BUDGET_LINES
    ) -> None:
        self._budget = budget
        self._max_lines = max_lines
        self._head = bytearray()
        self._lines: list[bytes] = []
        self._kept = 0
        self._seen = 0
        self._binary = False
        self._pending = b""  # the line the last chunk ended in, up to LINE_BYTES of it
        self._skipping = False  # that line outgrew LINE_BYTES: the rest of it is not kept

    @property
    def kept_bytes(self) -> int:
        """The bytes of the lines kept so far (never more than the budget)."""
        return sum(map(len, self._lines))

    @property
    def full(self) -> bool:
        return self._kept >= self._budget or len(self._lines) >= self._max_lines

    @property
    def done(self) -> bool:
        """More chunks would not change the sample: a reader may stop here."""
        return self.full and self._seen >= max(HEAD_BYTES, BINARY_WINDOW)

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        if self._seen < BINARY_WINDOW and b"\x00" in chunk[: BINARY_WINDOW - self._seen]:
            self._binary = True
        self._seen += len(chunk)
        if self.full or not chunk:
            return
        if self._skipping:
            if not (line_break := _LINE_BREAK.search(chunk)):
                return
            chunk = chunk[line_break.start() :]  # it ends the part of the long line kept so far
            self._skipping = False
        data = self._pending + chunk
        end = _line_start(data, 0, len(data))  # data[:end] is whole lines
        # Most of a file is ASCII: bytes.isascii clears a chunk at memory speed, where the search
        # for a high byte took 7 ms a MiB (0.16 s of a 24 MB file's copy).
        position = end if data.isascii() else 0
        while not self.full and (high := _HIGH_BYTE.search(data, position, end)):
            start = _line_start(data, position, high.start())
            line_break = _LINE_BREAK.search(data, high.start(), end)
            stop = line_break.start() if line_break else end
            self._keep(data[start:stop])
            position = stop + 1
        rest = data[end:]
        if len(rest) > LINE_BYTES:
            rest, self._skipping = _cut(rest, LINE_BYTES), True
        self._pending = rest

    def _keep(self, line: bytes) -> None:
        line = _cut(line, LINE_BYTES)
        if not _HIGH_BYTE.search(line):
            return
        if self._kept + len(line) > self._budget:
            self._kept = self._budget  # full: a shorter line further on would break file order
            return
        self._lines.append(line)
        self._kept += len(line)

    def sample(self) -> Sample:
        lines = self._lines
        last = self._pending  # a last line without a line break
        if not self.full and _HIGH_BYTE.search(last) and self._kept + len(last) <= self._budget:
            lines = [*lines, last]
        return Sample(head=bytes(self._head), lines=tuple(lines), binary=self._binary)


def sample_file(
    source: str | os.PathLike[str] | BinaryIO, *, chunk_size: int = 64 * 1024
) -> Sample:
    """The Sample of a file, given its path or opened in binary mode (read from where it stands).

    Reading stops once the sample is full; an open file is put back where it was if it can seek.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as raw:
            return sample_file(raw, chunk_size=chunk_size)
    start = source.tell() if source.seekable() else None
    sampler = EncodingSampler()
    while not sampler.done and (chunk := source.read(chunk_size)):
        sampler.feed(chunk)
    if start is not None:
        source.seek(start)
    return sampler.sample()


# --- What a word looks like, per script and per language --------------------------------------------


def _both_cases(letters: str) -> frozenset[str]:
    return frozenset(letters) | {c.upper() for c in letters if len(c.upper()) == 1}


_VIETNAMESE_VOWELS = "".join(
    unicodedata.normalize("NFC", vowel + tone)
    for vowel in "aăâeêioôơuưy"
    for tone in ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
)
# The non-ASCII letters of the languages written in the Latin code pages.
ALPHABETS: dict[str, frozenset[str]] = {
    language: _both_cases(letters)
    for language, letters in {
        "fr": "àâæçéèêëîïôœùûüÿ",
        "de": "äöüß",
        "es": "áéíñóúü",
        "pt": "áâãàçéêíóôõú",
        "it": "àèéìíîòóùú",
        "nl": "áéíóúèëïöü",
        "da": "æøåéó",
        "sv": "åäöé",
        "fi": "åäöšž",
        "is": "áðéíóúýþæö",
        "ca": "àçèéíïòóúü",
        "pl": "ąćęłńóśźż",
        "cs": "áčďéěíňóřšťúůýž",
        "sk": "áäčďéíĺľňóôŕšťúýž",
        "hu": "áéíóöőúüű",
        "hr": "čćđšž",
        "ro": "ăâîşţșț",
        "sq": "çë",
        "tr": "çğıöşüâîûİ",
        "lt": "ąčęėįšųūž",
        "lv": "āčēģīķļņšūž",
        "et": "äöõüšž",
        "vi": _VIETNAMESE_VOWELS + "đ",
    }.items()
}
_WESTERN = ("fr", "de", "es", "pt", "it", "nl", "da", "sv", "fi", "ca")
# The languages each Latin code page serves: a word of its reading is spelled in one of them.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "cp1252": (*_WESTERN, "is"),
    "cp1250": ("pl", "cs", "sk", "hu", "hr", "ro", "sq", "de"),
    "cp1254": (*_WESTERN, "tr"),
    "cp1257": ("lt", "lv", "et", "pl", "de", "sv", "da", "fi"),
    "cp1258": ("vi", "fr", "de", "es", "ca", "pt", "it"),
}
_GRAVE_THEN_VOWEL = r"(?!.*[àèìòù][aeiouyàâäèéêëìíîïòóôöùúûü])"
_ONE_ACCENT = r"[^àáâãéêíóôõú]*([àáâãéêíóôõú][^àáâãéêíóôõú]*)?"
# Spelling beyond the alphabet, where a misreading tends to produce a word a language cannot have:
# no Romance language (nor Dutch) writes a vowel after a grave accent; Italian accents only the last
# vowel; Spanish and Portuguese words carry one accent at most; Polish writes ni, ci, si, zi before
# a vowel, not ń ć ś ź; Czech and Slovak write ý after a consonant only; Turkish starts no word with
# ğ; Icelandic starts none with ð, writes þ only first and has no c, q, w or z; a Vietnamese word is
# one syllable.
_SPELLING: dict[str, re.Pattern[str]] = {
    **{lang: re.compile(_GRAVE_THEN_VOWEL + ".*", re.IGNORECASE) for lang in ("fr", "nl", "ca")},
    "it": re.compile(r"[^àèéìíîòóùú]*[àèéìíîòóùú]?", re.IGNORECASE),
    **{lang: re.compile(_ONE_ACCENT, re.IGNORECASE) for lang in ("es", "pt")},
    "pl": re.compile(r"(?!.*[ńćśź][aąeęioóuy]).*", re.IGNORECASE),
    **{lang: re.compile(r"(?!ý|.*[aeiouyáéíóúůýěäô]ý).*", re.IGNORECASE) for lang in ("cs", "sk")},
    "tr": re.compile(r"(?!ğ).*", re.IGNORECASE),
    "is": re.compile(r"(?!ð)þ?[^þcqwz]*", re.IGNORECASE),
    "vi": re.compile(
        r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
        rf"[{_VIETNAMESE_VOWELS}]{{1,3}}(ch|ng|nh|[cmnpt])?",
        re.IGNORECASE,
    ),
}

_CYRILLIC_VOWELS = "аеёиоуыэюяєіїў"
# Russian, Ukrainian, Bulgarian: no word starts with ь ъ ы, none puts ь or ъ after a vowel or ends
# in ъ, й follows a vowel.
_IMPLAUSIBLE_CYRILLIC = re.compile(
    rf"^[ьъы]|[{_CYRILLIC_VOWELS}][ьъ]|[ьъ][ьъ]|[бвгджзклмнпрстфхцчшщ]й|ъ$"
)
_GREEK_VOWELS = "αεηιουωάέήίόύώϊϋΐΰ"
_GREEK_ENDINGS = _GREEK_VOWELS + "ςνρ"  # a native Greek word ends in a vowel, ς, ν or ρ
# Greek: a final sigma inside a word, a medial one at its end, a diaeresis not after a vowel.
_IMPLAUSIBLE_GREEK = re.compile(rf"ς\w|σ$|(^|[^{_GREEK_VOWELS}{_GREEK_VOWELS.upper()}])[ϊϋΐΰΪΫ]")
_HEBREW_FINAL_FORMS = "ךםןףץ"  # only at the end of a word
_THAI_VOWEL_BEFORE_CONSONANT = re.compile(r"[เแโใไ]([^ก-ฮ]|$)")  # written before the consonant
_QUOTES = {"Ps", "Pe", "Pi", "Pf"}  # brackets and quotes around a word: «Газпром», 「株」
_ALLOWED_INSIDE = "’·・"  # apostrophe, Catalan middle dot, katakana middle dot
_ALLOWED_AT_EDGES = "™®©°"


@cache
def _char_class(char: str) -> tuple[str, str]:
    """A character's Unicode category and script (from its name; CJK ideographs and kana are one)."""
    script = unicodedata.name(char, "?").split(" ", 1)[0]
    if script in {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC", "FULLWIDTH"}:
        script = "HAN"
    elif script in {"FEMININE", "MASCULINE"}:  # ª º
        script = "LATIN"
    return unicodedata.category(char), script


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@cache
def _in_national_standard(char: str, encoding: str) -> bool:
    """Whether a CJK letter is one the code page's users write: in the national standard the code
    page extends (a misreading picks from the extensions), and no Hanja in a Korean list."""
    script = _char_class(char)[1]
    if encoding == "cp949":  # KS X 1001: two bytes in EUC-KR, which spells other syllables in eight
        return script == "HANGUL" and len(char.encode("euc_kr")) == 2
    if script != "HAN":
        return True
    if encoding == "gb18030":
        return _encodes(char, "gb2312")
    if encoding == "cp950":  # Big5's frequent characters
        return char.encode("big5", "replace") <= b"\xc6\x7e"
    if encoding == "cp932":  # JIS X 0208, without the NEC and IBM extensions
        return _encodes(char, "shift_jis")
    return True


def _languages_spelling(word: str, encoding: str) -> tuple[str, ...]:
    """The languages of a Latin code page whose alphabet and spelling fit a word's non-ASCII letters."""
    letters = {c for c in word if not c.isascii() and c.isalpha()}
    return tuple(
        language
        for language in LANGUAGES[encoding]
        if letters <= ALPHABETS[language]
        and (language not in _SPELLING or _SPELLING[language].fullmatch(word))
    )


def _spelled_like_its_script(word: str, script: str, encoding: str) -> bool:
    if script == "LATIN" and encoding in LANGUAGES:
        return bool(_languages_spelling(word, encoding))
    lower = word.lower()
    needs_vowel = len(word) > 1 and not word.isupper()  # an abbreviation is all capitals
    if script == "CYRILLIC":
        has_vowel = any(c in _CYRILLIC_VOWELS for c in lower)
        return (has_vowel or not needs_vowel) and not _IMPLAUSIBLE_CYRILLIC.search(lower)
    if script == "GREEK":
        has_vowel = any(c in _GREEK_VOWELS for c in lower)
        ending = word[-1].isupper() or word[-1] in _GREEK_ENDINGS or len(word) == 1
        return (has_vowel or not needs_vowel) and ending and not _IMPLAUSIBLE_GREEK.search(word)
    if script == "HEBREW":
        return not any(c in _HEBREW_FINAL_FORMS for c in word[:-1])
    if script == "THAI":
        return not _THAI_VOWEL_BEFORE_CONSONANT.search(word)
    return True


def _reads_as_word(word: str, encoding: str) -> bool:  # noqa: C901 - one rule a line
    """Whether a word (between ASCII separators, with a non-ASCII character) reads as a word."""
    word = word.strip("".join(c for c in word if unicodedata.category(c) in _QUOTES))
    if not any(unicodedata.category(c)[0] == "L" for c in word):
        return True  # a number or a symbol: "100€", "№5", "•"
    scripts: set[str] = set()
    previous = ""
    for index, char in enumerate(word):
        category, script = _char_class(char)
        if category == "Cf":  # soft hyphen, direction marks, joiners
            continue
        if category[0] == "C":  # a control, unassigned or private-use character
            return False
        if category[0] in "SP" or category == "No":
            if char not in (_ALLOWED_INSIDE if 0 < index < len(word) - 1 else _ALLOWED_AT_EDGES):
                return False
        elif category == "Nd" and not char.isascii():
            return False  # Thai or Arabic-Indic digits among letters
        elif category == "Mn":
            if not previous or _char_class(previous)[1] in {"LATIN", "?"}:
                return False  # a mark on nothing, or one that NFC could not join to its letter
            if script != _char_class(previous)[1]:
                return False
        elif category[0] == "L":
            scripts.add(script)
            lower_before = previous and _char_class(previous)[0] == "Ll"
            if category == "Lu" and lower_before and not (char + previous).isascii():
                return False  # "ÄìèÒ"; ASCII camel case ("LinkedIn", "iPhone") is fine
            if script in {"HANGUL", "HAN"} and not _in_national_standard(char, encoding):
                return False
        previous = char
    if len(scripts) != 1:
        return False
    return _spelled_like_its_script(word, scripts.pop(), encoding)


_WORD = re.compile(r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\s]+")  # split at spaces, ASCII symbols


@dataclass(frozen=True, slots=True)
class _Judgement:
    words: int  # the non-ASCII words, counted as often as they occur
    share: float  # the share of them that read as words
    # the fewest languages spelling all of those, up to MAX_LANGUAGES (1 outside the Latin pages)
    languages: int


def _judge(text: str, encoding: str) -> _Judgement:
    words = Counter(word for word in _WORD.findall(text) if not word.isascii())
    total = sum(words.values())
    read = [word for word in words if _reads_as_word(word, encoding)]
    share = sum(words[word] for word in read) / total if total else 1.0
    if encoding not in LANGUAGES:
        return _Judgement(total, share, 1)
    spellings = {frozenset(s) for word in read if (s := _languages_spelling(word, encoding))}
    for size in range(1, MAX_LANGUAGES):
        for languages in combinations(LANGUAGES[encoding], size):
            if all(spelling.intersection(languages) for spelling in spellings):
                return _Judgement(total, share, size)
    return _Judgement(total, share, MAX_LANGUAGES)


def _mess(lines: Sequence[bytes], encodings: Sequence[str]) -> dict[str, float]:
    """charset-normalizer's mess ratio (0 clean … 1 chaos) of the non-ASCII cells, per encoding.

    It sees the cells alone, one a line: the ASCII around them would dilute the mess.
    """
    cells = (cell.strip(b' "') for line in lines for cell in _CELL_BREAK.split(line))
    payload = b"\n".join(cell for cell in cells if _HIGH_BYTE.search(cell))
    matches = charset_normalizer.from_bytes(
        payload,
        cp_isolation=list(encodings),
        threshold=1.0,  # score every candidate, rule none out
        preemptive_behaviour=False,  # a cell saying "charset=..." proves nothing
        steps=1,
        chunk_size=max(len(payload), 1),  # all of it, not five 512-byte slices
    )
    mess: dict[str, float] = {}
    for match in matches:
        for encoding in match.could_be_from_charset:
            mess[codecs.lookup(encoding).name] = match.chaos
    return mess


# --- Detection -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """The sample read in one encoding: how plausible that is, and how names would look."""

    encoding: str
    # 1.0: every non-ASCII word reads as a word of a language the encoding serves, and nothing is
    # messy (and BOM or valid UTF-8, which prove their encoding); lower is worse.
    score: float
    samples: tuple[str, ...]  # the non-ASCII cells of the first lines, as this reading shows them
    plausible: bool  # close enough to the best reading that it may be the right one
    equivalent: tuple[str, ...] = ()  # other candidates that read the sample as the very same text


@dataclass(frozen=True, slots=True)
class Detection:
    """The encoding to read the file with, and the candidates ranked for a preview, best first."""

    encoding: str
    candidates: tuple[Candidate, ...]  # every reading that decodes: the chosen one, then by score
    ambiguous: bool  # another reading of different text stays plausible: let the admin confirm


def _previews(lines: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for line in lines:
        cells = (cell.strip(' "') for cell in re.split(r"[,;\t]", line))
        shown = " ".join(cell for cell in cells if cell and not cell.isascii())[:PREVIEW_CHARS]
        if shown and shown not in found:
            found.append(shown)
            if len(found) == PREVIEW_LINES:
                break
    return tuple(found)


CP1252 = "cp1252"
LATIN1_FOR_UNDEFINED = "tracker_latin1_for_undefined"


def _latin1(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # pragma: no cover - registered for decoding only
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(LATIN1_FOR_UNDEFINED, _latin1)


def _read(lines: Sequence[bytes], encoding: str, errors: str = "strict") -> str | None:
    """The sampled lines in one encoding, one a line and NFC, or None if they do not decode."""
    try:
        text = b"\n".join(lines).decode(encoding, errors)  # no candidate uses \n inside a character
    except UnicodeDecodeError:
        return None
    return unicodedata.normalize("NFC", text)


def _proven(encoding: str, lines: Iterable[str]) -> Detection:
    return Detection(encoding, (Candidate(encoding, 1.0, _previews(lines), True),), False)


def detect(sample: Sample) -> Detection:
    """The encoding of a sampled file, with the candidates ranked for the preview.

    A BOM decides; then a NUL byte means binary data (raises BinaryFile); then a sample that decodes
    as UTF-8 (one without a non-ASCII byte too) is UTF-8. Otherwise each legacy code page that
    decodes every sampled line strictly is a candidate (cp1256 maps all 256 bytes: there is always
    one); the best score wins; of those within TIE_MARGIN of it, the one needing the fewest
    languages, then the earliest in LEGACY_ENCODINGS.
    """
    head = sample.head
    if head.startswith(codecs.BOM_UTF8):
        return _proven(UTF8_BOM, (_read(sample.lines, UTF8_BOM, "replace") or "").split("\n"))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder = codecs.getincrementaldecoder(UTF16)("replace")
        return _proven(UTF16, decoder.decode(head, final=False).splitlines())
    if sample.binary:
        raise BinaryFile
    if (text := _read(sample.lines, UTF8)) is not None:
        return _proven(UTF8, text.split("\n"))
    read = {e: _read(sample.lines, e) for e in LEGACY_ENCODINGS}
    latin1 = read[CP1252] is None
    if latin1:
        # cp1252 leaves five bytes undefined that latin-1 files carry (C1 controls, a stray 0x81):
        # the reader shows them as their latin-1 characters, so they do not rule cp1252 out; its
        # mess is measured as latin-1's (which charset-normalizer can decode).
        read[CP1252] = _read(sample.lines, CP1252, LATIN1_FOR_UNDEFINED)
    texts = {e: text for e, text in read.items() if text is not None}
    mess = _mess(
        sample.lines, [e for e in texts if not (latin1 and e == CP1252)] + ["latin_1"] * latin1
    )
    if latin1:
        mess[CP1252] = mess.pop("iso8859-1", 1.0)
    judged = {encoding: _judge(text, encoding) for encoding, text in texts.items()}
    score = {e: judged[e].share - mess.get(e, 1.0) for e in texts}
    best = max(score.values())
    tied = [e for e in texts if score[e] >= best - TIE_MARGIN]
    chosen = min(tied, key=lambda e: (judged[e].languages, LEGACY_ENCODINGS.index(e)))
    margin = max(PLAUSIBLE_MARGIN, PLAUSIBLE_ODD_WORDS / max(judged[chosen].words, 1))
    ranked = sorted(texts, key=lambda e: (e != chosen, -score[e], LEGACY_ENCODINGS.index(e)))
    candidates: list[Candidate] = []
    for encoding in ranked:
        same = next(
            (i for i, c in enumerate(candidates) if texts[c.encoding] == texts[encoding]), None
        )
        if same is None:
            plausible = score[encoding] >= best - margin
            rounded = round(max(score[encoding], 0.0), 3)
            samples = _previews(texts[encoding].split("\n"))
            candidates.append(Candidate(encoding, rounded, samples, plausible))
        else:
            first = candidates[same]
            candidates[same] = replace(first, equivalent=(*first.equivalent, encoding))
    ambiguous = sum(c.plausible for c in candidates) > 1
    return Detection(chosen, tuple(candidates), ambiguous)


# --- Names an admin may give ------------------------------------------------------------------------------


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_WINDOWS_NUMBERS = {**{e: e[2:] for e in LEGACY_ENCODINGS if e.startswith("cp")}, "gb18030": "936"}
_NAMES: dict[str, str] = {
    **{_name_key(e): e for e in ENCODINGS},
    **{
        f"{prefix}{number}": encoding
        for encoding, number in _WINDOWS_NUMBERS.items()
        for prefix in ("cp", "windows", "win", "ms")
    },
    # ASCII is UTF-8; UTF-16 carries a BOM (SPEC §6), which sets the byte order whatever the name says.
    **dict.fromkeys(["utf8", "cp65001", "ascii", "usascii"], UTF8),
    **dict.fromkeys(["utf8sig", "utf8bom"], UTF8_BOM),
    **dict.fromkeys(["utf16", "utf16le", "utf16be", "unicode", "ucs2"], UTF16),
    # Standards Excel writes as its Windows superset under the standard's name; ISO-8859-1 as every
    # browser reads it (WHATWG).
    **dict.fromkeys(["latin1", "iso88591", "l1"], "cp1252"),
    **dict.fromkeys(["shiftjis", "sjis", "mskanji", "windows31j", "xsjis"], "cp932"),
    **dict.fromkeys(["gbk", "gb2312", "euccn"], "gb18030"),
    **dict.fromkeys(["euckr", "uhc", "ksc56011987"], "cp949"),
    **dict.fromkeys(["big5", "csbig5"], "cp950"),
    **dict.fromkeys(["tis620", "iso885911"], "cp874"),
}


def normalize_encoding(name: str) -> str:
    """The canonical name, one of ENCODINGS, of an encoding an admin chose.

    Accepts the candidates and their usual names ("windows-1251" and "CP1251" → "cp1251",
    "Shift_JIS" → "cp932", "GBK" → "gb18030", "Big5" → "cp950", "latin-1" → "cp1252"); raises
    UnknownEncoding, with the names to use, for anything else (koi8-r, iso-8859-2, mac-roman...).
    """
    encoding = _NAMES.get(_name_key(name))
    if encoding is None:
        raise UnknownEncoding(
            f"Unknown encoding {name.strip()[:40]!r}: use one of {', '.join(ENCODINGS)} "
            "(windows-1251, shift_jis, gbk, big5, euc-kr, latin-1 and the like are understood too)."
        )
    return encoding
