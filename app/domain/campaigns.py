"""Campaign life cycle: draft → running ⇄ paused → archived."""

from __future__ import annotations

from app.domain.statuses import CampaignState

CAMPAIGN_STATE_MOVES: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset({CampaignState.RUNNING, CampaignState.ARCHIVED}),
    CampaignState.RUNNING: frozenset({CampaignState.PAUSED, CampaignState.ARCHIVED}),
    CampaignState.PAUSED: frozenset({CampaignState.RUNNING, CampaignState.ARCHIVED}),
    CampaignState.ARCHIVED: frozenset(),
}


class InvalidCampaignState(Exception):
    def __init__(self, current: CampaignState, requested: CampaignState) -> None:
        self.current = current
        self.requested = requested
        allowed = ", ".join(sorted(s.value for s in CAMPAIGN_STATE_MOVES[current])) or "nothing"
        article = "An" if current.value[0] in "aeiou" else "A"
        super().__init__(
            f"{article} {current.value} campaign cannot become {requested.value}; "
            f"it can become: {allowed}"
        )


def change_campaign_state(current: CampaignState, requested: CampaignState) -> CampaignState:
    """The new state, or InvalidCampaignState. Asking for the current state is a no-op."""
    if requested is current:
        return current
    if requested not in CAMPAIGN_STATE_MOVES[current]:
        raise InvalidCampaignState(current, requested)
    return requested
