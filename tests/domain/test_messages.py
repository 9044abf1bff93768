"""Templates and connection-note limits (SPEC §2 "Campaign", "Sender account", `message_too_long`)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.messages import (
    TemplateError,
    check_note,
    check_template,
    note_length,
    render,
)
from app.domain.statuses import SenderTier

ANN = {"first_name": "Ann", "last_name": "Lee", "company": "Acme", "title": "CTO"}


# --------------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------------


def test_render_fills_all_four_placeholders() -> None:
    template = "Hi {first_name} {last_name}, as {title} at {company} you might like this."
    assert render(template, ANN) == "Hi Ann Lee, as CTO at Acme you might like this."


def test_render_repeats_a_placeholder() -> None:
    assert render("{first_name}, yes {first_name}!", ANN) == "Ann, yes Ann!"


def test_render_without_placeholders_is_the_template() -> None:
    assert render("Hello there, let's connect.", ANN) == "Hello there, let's connect."


@pytest.mark.parametrize(
    "fields",
    [
        {"first_name": "Ann", "company": "Acme"},
        {"first_name": "Ann", "last_name": None, "company": "Acme"},
        {"first_name": "Ann", "last_name": "", "company": "Acme"},
        {"first_name": "Ann", "last_name": "   ", "company": "Acme"},
    ],
    ids=["absent", "none", "empty", "blank"],
)
def test_missing_value_renders_empty_and_spaces_are_tidied(fields: dict[str, str | None]) -> None:
    assert render("Hi {first_name} {last_name} from {company}", fields) == "Hi Ann from Acme"


def test_missing_values_at_the_edges_leave_no_stray_spaces() -> None:
    assert render("{first_name} great to meet you {company}", {}) == "great to meet you"
    assert render("  {title}  Hello  ", {}) == "Hello"


def test_everything_missing_renders_empty() -> None:
    assert render("{first_name} {last_name} {company} {title}", {}) == ""


def test_values_are_trimmed() -> None:
    fields = {"first_name": "  Ann\t", "company": " Acme "}
    assert render("Hi {first_name} at {company}.", fields) == "Hi Ann at Acme."


def test_line_breaks_are_kept() -> None:
    assert render("Hi {first_name},\n\nBest, Bob", ANN) == "Hi Ann,\n\nBest, Bob"


def test_values_are_not_rendered_again() -> None:
    fields = {"first_name": "{last_name}", "last_name": "Lee", "company": r"\1 \g<0>"}
    assert render("{first_name} {company}", fields) == r"{last_name} \1 \g<0>"


def test_render_keeps_hostile_and_unicode_values_verbatim() -> None:
    fields = {"first_name": "Zoë", "company": "<b>株式会社</b>"}
    assert render("{first_name} @ {company}", fields) == "Zoë @ <b>株式会社</b>"


@settings(max_examples=200, deadline=None)
@given(
    template=st.lists(
        st.one_of(
            st.sampled_from(["{first_name}", "{last_name}", "{company}", "{title}"]),
            st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=10),
        ),
        max_size=8,
    ).map("".join),
    fields=st.dictionaries(
        st.sampled_from(["first_name", "last_name", "company", "title"]),
        st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="{}"))),
    ),
)
def test_render_never_leaves_placeholders_or_double_spaces(
    template: str, fields: dict[str, str | None]
) -> None:
    text = render(template, fields)
    for name in ("first_name", "last_name", "company", "title"):
        assert "{" + name + "}" not in text
    assert "  " not in text
    assert text == text.strip()


# --------------------------------------------------------------------------------------------------
# check_template
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "",
        "Hello!",
        "{first_name}",
        "Hi {first_name} {last_name}, {title} at {company}",
        "{company}{company}",
    ],
)
def test_check_template_accepts_known_placeholders(template: str) -> None:
    check_template(template)  # does not raise


@pytest.mark.parametrize(
    ("template", "unknown"),
    [
        ("Hi {firstname}", ["{firstname}"]),
        ("Hi {First_Name}", ["{First_Name}"]),
        ("Hi {first_name} from {Company} and {job}", ["{Company}", "{job}"]),
        ("Hi {name}, {name}", ["{name}"]),
        ("Hi {}", ["{}"]),
    ],
)
def test_check_template_rejects_unknown_placeholders_naming_them(
    template: str, unknown: list[str]
) -> None:
    with pytest.raises(TemplateError) as info:
        check_template(template)
    message = str(info.value)
    for name in unknown:
        assert name in message


def test_check_template_does_not_blame_known_placeholders() -> None:
    with pytest.raises(TemplateError) as info:
        check_template("Hi {first_name} at {firm}")
    message = str(info.value)
    assert "{firm}" in message
    assert message.count("{first_name}") <= 1  # at most in the list of what to use instead


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


# --------------------------------------------------------------------------------------------------
# note_length: characters, not bytes
# --------------------------------------------------------------------------------------------------

NFC_E = "\u00e9"  # é precomposed
NFD_E = "e\u0301"  # e + combining acute accent


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("", 0),
        ("abc", 3),
        (NFC_E, 1),
        (NFD_E, 1),
        ("Zoë", 3),
        (unicodedata.normalize("NFD", "Zoë"), 3),
        ("\U0001f44b", 1),  # 👋, four bytes in UTF-8
        ("Hi \U0001f600!", 5),
        ("你好", 2),
        ("株式会社", 4),
        ("Café " + NFD_E + "\U0001f44b" + "东京", 9),
    ],
)
def test_note_length_counts_characters(text: str, length: int) -> None:
    assert note_length(text) == length


def test_note_length_is_not_the_byte_count() -> None:
    text = NFC_E * 10 + "你好"
    assert note_length(text) == 12
    assert len(text.encode("utf-8")) > 12


def test_nfc_and_nfd_spellings_have_the_same_length() -> None:
    word = "Éléonore Müller"
    nfc = unicodedata.normalize("NFC", word)
    nfd = unicodedata.normalize("NFD", word)
    assert nfc != nfd
    assert note_length(nfc) == note_length(nfd) == len(nfc)


# --------------------------------------------------------------------------------------------------
# check_note: basic 200, premium 300
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "limit"), [(SenderTier.BASIC, 200), (SenderTier.PREMIUM, 300)])
@pytest.mark.parametrize("char", ["a", NFC_E, NFD_E, "\U0001f44b", "你"])
def test_check_note_boundary(tier: SenderTier, limit: int, char: str) -> None:
    exact = check_note(char * limit, {}, tier)
    assert exact.limit == limit
    assert exact.length == limit
    assert exact.fits
    assert exact.over_by == 0

    over = check_note(char * (limit + 1), {}, tier)
    assert over.length == limit + 1
    assert not over.fits
    assert over.over_by == 1


def test_check_note_measures_the_rendered_text() -> None:
    # "Hi " (3) + "Ann" (3) + filler: the placeholder text itself does not count.
    template = "Hi {first_name}" + "x" * 194
    result = check_note(template, {"first_name": "Ann"}, SenderTier.BASIC)
    assert result.text == "Hi Ann" + "x" * 194
    assert result.length == 200
    assert result.fits

    longer = check_note(template, {"first_name": "Anna"}, SenderTier.BASIC)
    assert longer.length == 201
    assert not longer.fits
    assert longer.over_by == 1


def test_check_note_missing_value_shortens_the_note() -> None:
    template = "Hi {first_name} {last_name} " + "x" * 190
    result = check_note(template, {"first_name": "Ann"}, SenderTier.BASIC)
    assert result.text == "Hi Ann " + "x" * 190
    assert result.length == 197


def test_premium_fits_what_basic_does_not() -> None:
    note = "y" * 250
    basic = check_note(note, {}, SenderTier.BASIC)
    premium = check_note(note, {}, SenderTier.PREMIUM)
    assert (basic.fits, basic.over_by) == (False, 50)
    assert (premium.fits, premium.over_by) == (True, 0)


@pytest.mark.parametrize("extra", [2, 10, 100])
def test_over_by_is_the_excess(extra: int) -> None:
    result = check_note("z" * (200 + extra), {}, SenderTier.BASIC)
    assert result.over_by == extra
    assert result.length - result.limit == extra
