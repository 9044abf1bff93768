"""Profile URL normalisation: the spellings a CSV or form may bring, and each refusal's reason."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.urls import InvalidProfileUrl, normalize_profile_url

PREFIX = "https://www.linkedin.com/in/"
JANE = PREFIX + "jane-doe"

SPELLINGS = [
    # Schemes, hosts and their case.
    ("https://www.linkedin.com/in/jane-doe", JANE),
    ("http://www.linkedin.com/in/jane-doe", JANE),
    ("https://linkedin.com/in/jane-doe", JANE),
    ("linkedin.com/in/jane-doe", JANE),
    ("www.linkedin.com/in/jane-doe", JANE),
    ("//www.linkedin.com/in/jane-doe", JANE),
    ("HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE", JANE),
    ("Https://Www.LinkedIn.com/in/Jane-Doe", JANE),
    ("https:/www.linkedin.com/in/jane-doe", JANE),
    ("https://www.linkedin.com./in/jane-doe", JANE),
    # Country and mobile subdomains.
    ("https://uk.linkedin.com/in/jane-doe", JANE),
    ("https://de.linkedin.com/in/jane-doe", JANE),
    ("http://fr.linkedin.com/in/jane-doe", JANE),
    ("br.linkedin.com/in/jane-doe", JANE),
    ("https://m.linkedin.com/in/jane-doe", JANE),
    ("https://mobile.linkedin.com/in/jane-doe", JANE),
    ("https://www.linkedin.com/mwlite/in/jane-doe", JANE),
    # Surrounding whitespace and copy-paste debris.
    ("  https://www.linkedin.com/in/jane-doe  ", JANE),
    ("\thttps://www.linkedin.com/in/jane-doe\r\n", JANE),
    ("\ufeffhttps://www.linkedin.com/in/jane-doe", JANE),
    ("https://www.linkedin.com/in/jane-doe\u200b", JANE),
    ("\u00a0linkedin.com/in/jane-doe\u00a0", JANE),
    # Trailing slashes, queries, fragments.
    ("https://www.linkedin.com/in/jane-doe/", JANE),
    ("https://www.linkedin.com/in/jane-doe//", JANE),
    ("https://www.linkedin.com/in/jane-doe?trk=public_profile", JANE),
    ("https://www.linkedin.com/in/jane-doe/?originalSubdomain=uk", JANE),
    ("https://www.linkedin.com/in/jane-doe#experience", JANE),
    ("https://www.linkedin.com/in/jane-doe/?a=1&b=2#top", JANE),
    ("https://www.linkedin.com/in/jane-doe?", JANE),
    # Extra path after the slug.
    ("https://www.linkedin.com/in/jane-doe/details/experience/", JANE),
    ("https://www.linkedin.com/in/jane-doe/en", JANE),
    ("https://www.linkedin.com/in/jane-doe/overlay/contact-info/", JANE),
    ("https://www.linkedin.com/in/jane-doe/recent-activity/all/", JANE),
    ("https://www.linkedin.com//in//jane-doe", JANE),
    # Percent-encoding and Unicode.
    ("https://www.linkedin.com/in/jane%2Ddoe", JANE),
    ("https://www.linkedin.com/in/ren%C3%A9-dupont", "https://www.linkedin.com/in/rené-dupont"),
    ("https://www.linkedin.com/in/REN%C3%89-DUPONT", "https://www.linkedin.com/in/rené-dupont"),
    ("https://www.linkedin.com/in/ren%c3%a9-dupont", "https://www.linkedin.com/in/rené-dupont"),
    ("https://www.linkedin.com/in/rené-dupont", "https://www.linkedin.com/in/rené-dupont"),
    ("https://www.linkedin.com/in/rene\u0301-dupont", "https://www.linkedin.com/in/rené-dupont"),
    (
        "https://de.linkedin.com/in/j%C3%BCrgen-m%C3%BCller-4a1b2c",
        "https://www.linkedin.com/in/jürgen-müller-4a1b2c",
    ),
    (
        "https://www.linkedin.com/in/%E7%8E%8B%E4%BC%9F-123",
        "https://www.linkedin.com/in/王伟-123",
    ),
    ("https://www.linkedin.com/in/ΑΛΈΞΗΣ-π", "https://www.linkedin.com/in/αλέξης-π"),
    ("https://www.linkedin.com/in/राहुल-शर्मा", "https://www.linkedin.com/in/राहुल-शर्मा"),
    # Slug shapes LinkedIn has issued.
    (
        "https://www.linkedin.com/in/jane-doe-1a2b3c4d",
        "https://www.linkedin.com/in/jane-doe-1a2b3c4d",
    ),
    ("https://www.linkedin.com/in/jane_doe", "https://www.linkedin.com/in/jane_doe"),
    ("https://www.linkedin.com/in/jane.doe", "https://www.linkedin.com/in/jane.doe"),
    ("https://www.linkedin.com/in/abc", "https://www.linkedin.com/in/abc"),
    ("https://www.linkedin.com/in/123", "https://www.linkedin.com/in/123"),
    ("https://www.linkedin.com/in/" + "a" * 100, "https://www.linkedin.com/in/" + "a" * 100),
]

REJECTIONS = [
    # Nothing usable.
    ("", "empty"),
    ("   ", "empty"),
    ("\u200b", "empty"),
    ("jane-doe", "not a web address"),
    ("hello", "not a web address"),
    ("/in/jane-doe", "not a web address"),
    ("https://", "not a web address"),
    ("https:///in/jane-doe", "not a web address"),
    ("http://[linkedin.com/in/jane-doe", "not a web address"),
    ("Jane Doe, Acme", "spaces"),
    ("linkedin.com/in/jane doe", "spaces"),
    ("linkedin.com/in/jane\x00doe", "control characters"),
    ("https://www.linkedin.com/in/" + "a" * 2048, "longer than 2048"),
    # Other schemes.
    ("javascript:alert(1)", "javascript: link"),
    ("JavaScript://www.linkedin.com/in/jane-doe", "only http and https"),
    ("ftp://www.linkedin.com/in/jane-doe", "ftp:// link"),
    ("mailto:jane@linkedin.com", "mailto: link"),
    ("data:text/html,<script>alert(1)</script>", "data: link"),
    ("linkedin://in/jane-doe", "only http and https"),
    # Other sites, lookalikes, user names and ports.
    ("https://example.com/in/jane-doe", "not a LinkedIn address (example.com)"),
    ("https://linkedin.com.evil.com/in/jane-doe", "not a LinkedIn address"),
    ("https://notlinkedin.com/in/jane-doe", "not a LinkedIn address"),
    ("https://www.linkedin.co/in/jane-doe", "not a LinkedIn address"),
    ("https://a.b.linkedin.com/in/jane-doe", "not a LinkedIn address"),
    ("https://-uk.linkedin.com/in/jane-doe", "not a LinkedIn address"),
    ("https://www.linkedin.com\\in\\jane-doe", "not a LinkedIn address"),
    ("https://lnkd.in/abc123", "shortened lnkd.in link"),
    ("https://user@linkedin.com/in/jane-doe", "user name"),
    ("https://linkedin.com@evil.com/in/jane-doe", "user name"),
    ("https://www.linkedin.com:443/in/jane-doe", "port number"),
    ("linkedin.com:8080/in/jane-doe", "port number"),
    # LinkedIn pages that are not a person's public profile.
    ("https://www.linkedin.com/company/acme/", "company page"),
    ("https://www.linkedin.com/school/mit/", "school page"),
    ("https://www.linkedin.com/showcase/acme-cloud/", "showcase page"),
    ("https://www.linkedin.com/jobs/view/123456/", "job listing"),
    ("https://www.linkedin.com/posts/jane-doe_activity-123", "a post"),
    ("https://www.linkedin.com/feed/update/urn:li:activity:123/", "feed"),
    ("https://www.linkedin.com/pulse/some-article-jane-doe", "an article"),
    ("https://www.linkedin.com/groups/12345/", "group page"),
    ("https://www.linkedin.com/events/6789/", "event page"),
    ("https://www.linkedin.com/sales/lead/ACwAAA123,NAME_SEARCH", "Sales Navigator"),
    ("https://www.linkedin.com/sales/people/ACwAAA123,name", "public profile URL"),
    ("https://www.linkedin.com/talent/profile/AEMAAA123", "Recruiter"),
    ("https://www.linkedin.com/pub/jane-doe/1a/2b/3c", "old-style /pub/"),
    ("https://www.linkedin.com/profile/view?id=12345", "old-style profile/view"),
    ("https://www.linkedin.com/search/results/people/?keywords=jane", "not a person's profile"),
    ("https://www.linkedin.com/", "LinkedIn itself"),
    ("linkedin.com", "LinkedIn itself"),
    (
        "https://www.linkedin.com/in/ACoAABcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "member-ID link",
    ),
    # Slugs LinkedIn could not have issued.
    ("https://www.linkedin.com/in/", "no profile name after /in/"),
    ("https://www.linkedin.com/in", "no profile name after /in/"),
    ("https://www.linkedin.com/in/?trk=x", "no profile name after /in/"),
    ("https://www.linkedin.com/in/ab", "too short"),
    ("https://www.linkedin.com/in/" + "a" * 101, "too long"),
    ("https://www.linkedin.com/in/jane%20doe", "contains a space"),
    ("https://www.linkedin.com/in/jane%2Fdoe", "can't appear in a LinkedIn URL: '/'"),
    ("https://www.linkedin.com/in/jane%00doe", "can't appear in a LinkedIn URL"),
    ("https://www.linkedin.com/in/jane<script>", "can't appear in a LinkedIn URL: '<'"),
    ("https://www.linkedin.com/in/%3Cjane%3E", "can't appear in a LinkedIn URL: '<'"),
    ('https://www.linkedin.com/in/jane"doe', "can't appear in a LinkedIn URL: '\"'"),
    ("https://www.linkedin.com/in/jane%zzdoe", "can't appear in a LinkedIn URL: '%'"),
    ("https://www.linkedin.com/in/jane%2541", "can't appear in a LinkedIn URL: '%'"),
    ("https://www.linkedin.com/in/jane%C3", "badly percent-encoded"),
    ("https://www.linkedin.com/in/...", "no letters or digits"),
]


@pytest.mark.parametrize(("raw", "canonical"), SPELLINGS)
def test_spellings_normalise_to_the_canonical_url(raw: str, canonical: str) -> None:
    assert normalize_profile_url(raw) == canonical


@pytest.mark.parametrize(("raw", "reason"), REJECTIONS)
def test_rejections_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidProfileUrl) as caught:
        normalize_profile_url(raw)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_invalid_profile_url_is_a_value_error() -> None:
    assert issubclass(InvalidProfileUrl, ValueError)


ascii_slugs = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=3, max_size=100)
unicode_slugs = st.text(
    alphabet=st.one_of(
        st.characters(categories=("L", "M", "N")),
        st.sampled_from("-_."),
    ),
    min_size=1,
    max_size=110,
)


@given(ascii_slugs)
def test_plain_slugs_are_accepted_and_canonical(slug: str) -> None:
    canonical = f"https://www.linkedin.com/in/{slug}"
    assert normalize_profile_url(canonical) == canonical
    assert normalize_profile_url(f"  HTTP://UK.LinkedIn.com/in/{slug.upper()}/?trk=x ") == canonical


@given(unicode_slugs)
def test_normalisation_is_idempotent(slug: str) -> None:
    for spelling in (f"linkedin.com/in/{slug}", f"linkedin.com/in/{quote(slug)}"):
        try:
            canonical = normalize_profile_url(spelling)
        except InvalidProfileUrl:
            continue
        assert canonical.startswith(PREFIX)
        assert normalize_profile_url(canonical) == canonical
        encoded = "https://www.linkedin.com/in/" + quote(canonical.removeprefix(PREFIX))
        assert normalize_profile_url(encoded) == canonical


@given(st.text())
def test_arbitrary_text_only_ever_raises_invalid_profile_url(raw: str) -> None:
    try:
        normalize_profile_url(raw)
    except InvalidProfileUrl as error:
        assert error.reason


@given(st.text(), st.sampled_from(["", "https://", "linkedin.com/", "linkedin.com/in/"]))
def test_arbitrary_tails_only_ever_raise_invalid_profile_url(tail: str, head: str) -> None:
    try:
        result = normalize_profile_url(head + tail)
    except InvalidProfileUrl as error:
        assert error.reason
    else:
        assert result.startswith(PREFIX)
        assert normalize_profile_url(result) == result
