"""Campaign life cycle (SPEC §2 "Campaign"): draft → running ⇄ paused → archived."""

from __future__ import annotations

import pytest

from app.domain.campaigns import InvalidCampaignState, change_campaign_state
from app.domain.statuses import CampaignState

DRAFT = CampaignState.DRAFT
RUNNING = CampaignState.RUNNING
PAUSED = CampaignState.PAUSED
ARCHIVED = CampaignState.ARCHIVED
X = "invalid"

# fmt: off
#            requested:  draft    running  paused   archived
EXPECTED: dict[CampaignState, tuple[object, object, object, object]] = {
    DRAFT:              (DRAFT,   RUNNING, X,       ARCHIVED),
    RUNNING:            (X,       RUNNING, PAUSED,  ARCHIVED),
    PAUSED:             (X,       RUNNING, PAUSED,  ARCHIVED),
    ARCHIVED:           (X,       X,       X,       ARCHIVED),
}
# fmt: on
COLUMNS = (DRAFT, RUNNING, PAUSED, ARCHIVED)

# Where each state may go (other than staying put), written out from the SPEC.
ALLOWED: dict[CampaignState, set[CampaignState]] = {
    DRAFT: {RUNNING, ARCHIVED},
    RUNNING: {PAUSED, ARCHIVED},
    PAUSED: {RUNNING, ARCHIVED},
    ARCHIVED: set(),
}


def test_the_table_covers_every_pair() -> None:
    assert set(EXPECTED) == set(CampaignState)
    assert set(COLUMNS) == set(CampaignState)


@pytest.mark.parametrize(
    ("current", "requested", "expected"),
    [
        pytest.param(current, requested, EXPECTED[current][i], id=f"{current}-to-{requested}")
        for current in CampaignState
        for i, requested in enumerate(COLUMNS)
    ],
)
def test_campaign_state_moves(
    current: CampaignState, requested: CampaignState, expected: object
) -> None:
    if expected == X:
        with pytest.raises(InvalidCampaignState) as info:
            change_campaign_state(current, requested)
        assert info.value.current is current
        assert info.value.requested is requested
    else:
        assert change_campaign_state(current, requested) is expected


@pytest.mark.parametrize("state", list(CampaignState))
def test_asking_for_the_current_state_is_a_no_op(state: CampaignState) -> None:
    assert change_campaign_state(state, state) is state


def test_running_and_paused_go_back_and_forth() -> None:
    state = DRAFT
    for requested in (RUNNING, PAUSED, RUNNING, PAUSED, RUNNING, ARCHIVED):
        state = change_campaign_state(state, requested)
        assert state is requested


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (current, requested)
        for current in CampaignState
        for requested in CampaignState
        if requested is not current and requested not in ALLOWED[current]
    ],
)
def test_invalid_campaign_state_message_lists_what_is_allowed(
    current: CampaignState, requested: CampaignState
) -> None:
    with pytest.raises(InvalidCampaignState) as info:
        change_campaign_state(current, requested)
    message = str(info.value)
    assert current.value in message
    assert requested.value in message
    for allowed in ALLOWED[current]:
        assert allowed.value in message
    for other in set(CampaignState) - ALLOWED[current] - {current, requested}:
        assert other.value not in message


def test_archived_is_final_and_says_so() -> None:
    for requested in (DRAFT, RUNNING, PAUSED):
        with pytest.raises(InvalidCampaignState) as info:
            change_campaign_state(ARCHIVED, requested)
        message = str(info.value).lower()
        assert any(word in message for word in ("nothing", "final", "none"))
