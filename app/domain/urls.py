"""LinkedIn profile URL normalisation (SPEC §6, "Each row is validated").

Every contact is keyed by one canonical spelling of its profile URL,
``https://www.linkedin.com/in/<slug>``, so the same person pasted as
``HTTP://UK.LinkedIn.com/in/Jane-Doe/?trk=x`` and ``linkedin.com/in/jane-doe`` is one contact.

What is accepted: http, https or no scheme; ``linkedin.com`` or any one-label subdomain of it
(``www``, ``uk``, ``de``, ``m``, ``mobile``…); the ``/mwlite/`` mobile-web prefix; surrounding
whitespace and zero-width characters; any query string, fragment, trailing slash or path after
the slug (``/in/jane/details/experience/``, ``/in/jane/en``). The slug is percent-decoded as
UTF-8, lower-cased and put in Unicode NFC form, so two spellings of an accented name agree.

What is refused, each with a reason a person can act on: anything that is not a public
``/in/`` profile — other sites and lookalike hosts, company, school, showcase, job, post, group
and event pages, Sales Navigator and Recruiter links, user names or ports in the host, schemes
other than http(s), and slugs LinkedIn could not have issued.

Two legacy forms are refused rather than converted, because converting them means guessing
at an identity LinkedIn resolves server-side: ``/pub/first-last/1a/2b/3c`` links (LinkedIn
redirects them to an ``/in/`` address whose slug is not derivable with certainty) and
``/in/ACoAA…`` member-ID links (case-sensitive ids that lower-casing would corrupt, and that
would let the same person appear twice, once under the id and once under the vanity name).
Opening either in a browser shows the ``/in/`` address to use instead.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

CANONICAL_PREFIX = "https://www.linkedin.com/in/"
MAX_INPUT_LENGTH = 2048
MIN_SLUG_LENGTH = 3
MAX_SLUG_LENGTH = 100

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_LINKEDIN_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)?linkedin\.com")
_MEMBER_ID = re.compile(r"AC[ow]AA[A-Za-z0-9_-]{20,}")
_SLUG_PUNCTUATION = frozenset("-_.")
_PROFILE_HINT = "paste the person's profile address, linkedin.com/in/<name>"
_OPEN_AND_COPY = "open it in a browser and copy the linkedin.com/in/... address it leads to"

_NOT_A_PROFILE: dict[str, str] = {
    "company": "a company page, not a person's profile (linkedin.com/company/...)",
    "school": "a school page, not a person's profile (linkedin.com/school/...)",
    "showcase": "a showcase page, not a person's profile (linkedin.com/showcase/...)",
    "jobs": "a job listing, not a person's profile (linkedin.com/jobs/...)",
    "job": "a job listing, not a person's profile (linkedin.com/job/...)",
    "posts": "a post, not a person's profile (linkedin.com/posts/...)",
    "feed": "a post or feed link, not a person's profile (linkedin.com/feed/...)",
    "pulse": "an article, not a person's profile (linkedin.com/pulse/...)",
    "groups": "a group page, not a person's profile (linkedin.com/groups/...)",
    "events": "an event page, not a person's profile (linkedin.com/events/...)",
    "sales": f"a Sales Navigator link; use the person's public profile URL: {_OPEN_AND_COPY}",
    "talent": f"a LinkedIn Recruiter link; use the person's public profile URL: {_OPEN_AND_COPY}",
    "pub": f"an old-style /pub/ profile link; {_OPEN_AND_COPY}",
    "profile": f"an old-style profile/view link; {_OPEN_AND_COPY}",
}


class InvalidProfileUrl(ValueError):
    """Not a LinkedIn profile URL; ``reason`` says why, in words a person can act on."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# A strict subset of what the full rules accept (member-ID slugs, "ACoA…", take the careful path):
# http(s) or no scheme, www/a country or no
# subdomain, /in/<3-100 ASCII letters, digits, hyphens with at least one letter or digit>, an
# optional trailing slash. Anything else takes the careful path.
_PLAIN = re.compile(
    r"(?:https?://)?(?:[a-z]{2,3}\.|www\.)?linkedin\.com/in/"
    r"((?!acoa)(?=[A-Za-z0-9-]{0,99}[A-Za-z0-9])[A-Za-z0-9-]{3,100})/?",
    re.IGNORECASE | re.ASCII,
)
_PLAIN_MATCH = _PLAIN.fullmatch


def normalize_profile_url(raw: str) -> str:
    """Return the canonical ``https://www.linkedin.com/in/<slug>`` for ``raw``.

    Idempotent: a canonical URL normalises to itself. Raises InvalidProfileUrl, and nothing
    else, for any text that is not a LinkedIn profile URL.
    """
    # Most real inputs are plain ASCII spellings; they skip the per-character checks below.
    quick = _PLAIN_MATCH(raw)
    if quick:
        return CANONICAL_PREFIX + quick.group(1).lower()
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidProfileUrl(
            f"the profile URL is longer than {MAX_INPUT_LENGTH} characters; {_PROFILE_HINT}"
        )
    text = raw.strip().strip(_ZERO_WIDTH).strip()
    if not text:
        raise InvalidProfileUrl(f"the profile URL is empty; {_PROFILE_HINT}")
    if any(char.isspace() for char in text):
        raise InvalidProfileUrl(f"the profile URL contains spaces or line breaks; {_PROFILE_HINT}")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise InvalidProfileUrl(
            f"the profile URL contains invisible control characters; {_PROFILE_HINT}"
        )
    host, path = _split_host_and_path(_strip_scheme(text))
    _check_host(host)
    return CANONICAL_PREFIX + _slug_from_path(path)


def _strip_scheme(text: str) -> str:
    """Drop an http(s) scheme and leading slashes; refuse any other scheme."""
    match = _SCHEME.fullmatch(text)
    # A "scheme" with a dot in it is a host followed by a port: linkedin.com:443/in/x.
    if match is None or "." in match.group(1):
        return text.lstrip("/")
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme in {"http", "https"}:
        return rest.lstrip("/")
    shown = f"{scheme}://" if rest.startswith("//") else f"{scheme}:"
    raise InvalidProfileUrl(
        f"a {_shorten(shown)} link, not a web page; only http and https links are accepted"
    )


def _split_host_and_path(rest: str) -> tuple[str, str]:
    """Split what follows the scheme into its host part (netloc) and path."""
    try:
        parts = urlsplit("https://" + rest)
    except ValueError as error:
        raise InvalidProfileUrl(f"not a web address; {_PROFILE_HINT}") from error
    return parts.netloc, parts.path


def _check_host(netloc: str) -> None:
    """Refuse anything but linkedin.com or one of its one-label subdomains."""
    if "@" in netloc:
        raise InvalidProfileUrl(
            "the address contains a user name before the host (user@...); "
            "remove it and link to linkedin.com/in/<name>"
        )
    if ":" in netloc:
        raise InvalidProfileUrl(
            f"the address includes a port number ({_shorten(netloc)}); "
            "remove it and link to linkedin.com/in/<name>"
        )
    host = netloc.lower().removesuffix(".")
    if "." not in host:
        raise InvalidProfileUrl(f"not a web address; {_PROFILE_HINT}")
    if host == "lnkd.in":
        raise InvalidProfileUrl(f"a shortened lnkd.in link; {_OPEN_AND_COPY}")
    if _LINKEDIN_HOST.fullmatch(host) is None:
        raise InvalidProfileUrl(
            f"not a LinkedIn address ({_shorten(host)}); the link must point to "
            "linkedin.com/in/<name>"
        )


def _slug_from_path(path: str) -> str:
    """Return the canonical slug from a LinkedIn path, which must be /in/<slug>[/anything]."""
    segments = [segment for segment in path.split("/") if segment]
    if segments and segments[0].lower() == "mwlite":
        segments = segments[1:]
    if not segments:
        raise InvalidProfileUrl(
            f"a link to LinkedIn itself, not to a person's profile; {_PROFILE_HINT}"
        )
    section = segments[0].lower()
    if section != "in":
        reason = _NOT_A_PROFILE.get(
            section, f"a LinkedIn page that is not a person's profile; {_PROFILE_HINT}"
        )
        raise InvalidProfileUrl(reason)
    if len(segments) < 2:
        raise InvalidProfileUrl(f"the link has no profile name after /in/; {_PROFILE_HINT}")
    return _canonical_slug(segments[1])


def _canonical_slug(encoded: str) -> str:
    """Decode, lower-case and NFC-normalise one slug, then check LinkedIn could have issued it."""
    try:
        decoded = unquote(encoded, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise InvalidProfileUrl(
            "the profile name is badly percent-encoded; copy the URL again from the browser"
        ) from error
    if _MEMBER_ID.fullmatch(decoded):
        raise InvalidProfileUrl(
            f"a LinkedIn member-ID link, not the person's public profile name; {_OPEN_AND_COPY}"
        )
    slug = unicodedata.normalize("NFC", decoded.lower())
    for char in slug:
        if char.isspace():
            raise InvalidProfileUrl("the profile name contains a space; LinkedIn names have none")
        if not _is_slug_char(char):
            raise InvalidProfileUrl(
                f"the profile name contains a character that can't appear in a LinkedIn URL: "
                f"{char!r}"
            )
    if len(slug) < MIN_SLUG_LENGTH:
        raise InvalidProfileUrl(
            f"the profile name {slug!r} is too short; LinkedIn profile names are "
            f"{MIN_SLUG_LENGTH} to {MAX_SLUG_LENGTH} characters"
        )
    if len(slug) > MAX_SLUG_LENGTH:
        raise InvalidProfileUrl(
            f"the profile name is too long ({len(slug)} characters); LinkedIn profile names are "
            f"{MIN_SLUG_LENGTH} to {MAX_SLUG_LENGTH} characters"
        )
    if not any(char.isalnum() for char in slug):
        raise InvalidProfileUrl("the profile name has no letters or digits")
    return slug


def _is_slug_char(char: str) -> bool:
    """Letters, marks and digits of any script, plus the '-', '_' and '.' of older slugs."""
    return char in _SLUG_PUNCTUATION or unicodedata.category(char)[0] in {"L", "M", "N"}


def _shorten(text: str, limit: int = 60) -> str:
    """Keep a quoted fragment of user input short enough to read in an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
