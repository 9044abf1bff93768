"""The contact life cycle (SPEC §2 "Transitions" and "Campaign types").

`transition()` is the only way a contact's status changes. It is pure: given the contact's state, the
campaign type, an event and the instant, it returns the next state or raises `InvalidTransition`.

Connection campaigns follow the full cycle::

    not_verified --visited, not 1st--> not_connected --invite sent--> invite_sent --accepted--> connected
    not_verified --visited, 1st-level--> connected
    invite_sent --withdraw_after_days (default 20) without acceptance (system) / withdrawn by hand--> withdrawn
    withdrawn --3 weeks after the withdrawal, while re-invites are left--> not_connected

Existing-connections contacts are always `connected`. InMail and groups/events contacts are always
`not_connected` once verified: they never receive an invite.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.errors import INVITE_ONLY_ERRORS, ActionError, ErrorCode
from app.domain.statuses import CampaignType, ContactSource, ContactStatus

DEFAULT_WITHDRAW_AFTER_DAYS = 20
# The workspace setting's range (SPEC §4 `GET/PATCH /workspace`).
MIN_WITHDRAW_AFTER_DAYS, MAX_WITHDRAW_AFTER_DAYS = 7, 30
REINVITE_AFTER = timedelta(weeks=3)
# A campaign's `max_reinvites` range: how many times one person may be invited again.
MAX_REINVITES_RANGE = (0, 3)


class ContactEvent(StrEnum):
    """What can happen to a contact. The first seven are also what integrations report (SPEC §4)."""

    PROFILE_VISITED = "profile_visited"
    INVITE_SENT = "invite_sent"
    INVITE_ACCEPTED = "invite_accepted"
    INVITE_WITHDRAWN = "invite_withdrawn"
    MESSAGE_SENT = "message_sent"
    REPLY_RECEIVED = "reply_received"
    ACTION_FAILED = "action_failed"
    # System events, raised by the engine only.
    INVITE_EXPIRED = "invite_expired"
    REINVITE_ALLOWED = "reinvite_allowed"


EVENT_LABELS: dict[ContactEvent, str] = {
    ContactEvent.PROFILE_VISITED: "Profile visited",
    ContactEvent.INVITE_SENT: "Invite sent",
    ContactEvent.INVITE_ACCEPTED: "Invite accepted",
    ContactEvent.INVITE_WITHDRAWN: "Invitation withdrawn by hand",
    ContactEvent.MESSAGE_SENT: "Message sent",
    ContactEvent.REPLY_RECEIVED: "Reply received",
    ContactEvent.ACTION_FAILED: "Action failed",
    ContactEvent.INVITE_EXPIRED: "Invitation withdrawn after no acceptance",
    ContactEvent.REINVITE_ALLOWED: "Can be invited again",
}

INTEGRATION_EVENTS = frozenset(
    {
        ContactEvent.PROFILE_VISITED,
        ContactEvent.INVITE_SENT,
        ContactEvent.INVITE_ACCEPTED,
        ContactEvent.INVITE_WITHDRAWN,
        ContactEvent.MESSAGE_SENT,
        ContactEvent.REPLY_RECEIVED,
        ContactEvent.ACTION_FAILED,
    }
)


class InvalidTransition(Exception):
    """The event cannot happen to a contact in this status in this type of campaign."""

    def __init__(
        self,
        status: ContactStatus,
        event: ContactEvent,
        campaign_type: CampaignType,
        why: str = "",
    ) -> None:
        self.status = status
        self.event = event
        self.campaign_type = campaign_type
        self.why = why
        message = (
            f"Cannot apply '{event.value}' to a contact whose status is '{status.value}' "
            f"in a '{campaign_type.value}' campaign"
        )
        super().__init__(f"{message}: {why}" if why else message)


@dataclass(frozen=True)
class ContactState:
    """The part of a contact the life cycle reads and writes. Instants are UTC-aware."""

    status: ContactStatus
    status_changed_at: datetime | None = None
    invited_at: datetime | None = None
    connected_at: datetime | None = None
    withdrawn_at: datetime | None = None
    last_error: ActionError | None = None
    replied: bool = False
    # Set by an email_required error and never cleared: the person cannot be invited automatically.
    email_required: bool = False
    # Invitations sent to this person by the campaign (the first one and every re-invite).
    invites_sent: int = 0


@dataclass(frozen=True)
class EventDetail:
    """What an event carries: the profile's degree for a visit, the error for a failure."""

    degree: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    # An acceptance can still arrive while the withdraw_invite action waits to go out: the
    # invitation has not been withdrawn on LinkedIn yet, so the acceptance wins.
    withdrawal_pending: bool = False


def initial_status(campaign_type: CampaignType, source: ContactSource) -> ContactStatus:
    """Where a new contact starts: existing connections are connected, search results are verified."""
    if campaign_type is CampaignType.EXISTING_CONNECTIONS:
        return ContactStatus.CONNECTED
    if source is ContactSource.SEARCH:
        return ContactStatus.NOT_CONNECTED
    return ContactStatus.NOT_VERIFIED


def reinvites_left(state: ContactState, max_reinvites: int) -> int:
    """How many more times this person may be invited again (after their first invitation)."""
    used = max(0, state.invites_sent - 1)
    return max(0, max_reinvites - used)


def may_be_invited(state: ContactState, max_reinvites: int) -> bool:
    """Whether a connection request may go to this contact: never invited, or re-invites left."""
    return not state.email_required and (
        state.invites_sent == 0 or reinvites_left(state, max_reinvites) > 0
    )


class Counted(StrEnum):
    """What a contact counts as in a campaign's acceptance figures (SPEC §2 "Acceptance rate")."""

    INVITED = "invited"
    ACCEPTED = "accepted"
    ALREADY_CONNECTED = "already_connected"
    REPLIED = "replied"


def counted_as(status: ContactStatus, invites_sent: int, replied: bool) -> frozenset[Counted]:
    """The acceptance figures a contact is in, from its own state alone.

    Invited: the campaign sent it an invite. Accepted: invited and now connected. Already connected:
    connected without an invite from the campaign (1st-level when visited, or an existing-connections
    contact) — in neither of the first two. Replied: a reply was recorded.
    """
    out: set[Counted] = set()
    if invites_sent > 0:
        out.add(Counted.INVITED)
        if status is ContactStatus.CONNECTED:
            out.add(Counted.ACCEPTED)
    elif status is ContactStatus.CONNECTED:
        out.add(Counted.ALREADY_CONNECTED)
    if replied:
        out.add(Counted.REPLIED)
    return frozenset(out)


def withdrawal_due_at(invited_at: datetime, withdraw_after_days: int) -> datetime:
    """The instant from which a pending invite may be withdrawn by the system."""
    return invited_at + timedelta(days=withdraw_after_days)


def transition(
    state: ContactState,
    event: ContactEvent,
    campaign_type: CampaignType,
    *,
    now: datetime,
    detail: EventDetail | None = None,
    withdraw_after_days: int = DEFAULT_WITHDRAW_AFTER_DAYS,
    max_reinvites: int = 0,
) -> ContactState:
    """Apply `event` at `now`; return the new state or raise `InvalidTransition`.

    Invariants: an existing-connections contact is never anything but connected; an InMail or
    groups/events contact never reaches invite_sent; the system never withdraws an invite younger
    than `withdraw_after_days`; a withdrawn contact becomes not_connected only 3 weeks after, and
    only while the campaign's `max_reinvites` leaves it a re-invite; `email_required` and
    `message_too_long` happen only to a connection request (a not-connected contact of a
    connection campaign).
    """
    detail = detail or EventDetail()
    status = state.status

    def refuse(why: str = "") -> InvalidTransition:
        return InvalidTransition(status, event, campaign_type, why)

    def move(to: ContactStatus, **changes: object) -> ContactState:
        if to is not status:
            changes["status_changed_at"] = now
        return replace(state, status=to, last_error=None, **changes)  # type: ignore[arg-type]

    if event is ContactEvent.ACTION_FAILED:
        if detail.error_code is None:
            raise refuse("an action_failed event needs an error_code")
        if detail.error_code in INVITE_ONLY_ERRORS and not (
            campaign_type.sends_invites and status is ContactStatus.NOT_CONNECTED
        ):
            raise refuse(
                f"'{detail.error_code.value}' happens only to a connection request, which goes "
                "only to a not-connected contact of a connection campaign"
            )
        return replace(
            state,
            last_error=ActionError.of(detail.error_code, detail.error_message),
            email_required=state.email_required or detail.error_code is ErrorCode.EMAIL_REQUIRED,
        )

    if event is ContactEvent.REPLY_RECEIVED:
        if status is ContactStatus.NOT_VERIFIED:
            raise refuse("the profile has not been visited yet")
        return replace(state, replied=True)

    if event is ContactEvent.PROFILE_VISITED:
        if status is not ContactStatus.NOT_VERIFIED:
            raise refuse("only a not-verified contact is verified by a profile visit")
        if detail.degree is None or detail.degree < 1:
            raise refuse("a profile_visited event needs the connection degree (1, 2 or 3)")
        if campaign_type is CampaignType.CONNECTION and detail.degree == 1:
            return move(ContactStatus.CONNECTED, connected_at=now)
        if campaign_type is CampaignType.EXISTING_CONNECTIONS:
            return move(ContactStatus.CONNECTED, connected_at=state.connected_at or now)
        return move(ContactStatus.NOT_CONNECTED)

    if event is ContactEvent.MESSAGE_SENT:
        allowed = {
            CampaignType.CONNECTION: ContactStatus.CONNECTED,
            CampaignType.EXISTING_CONNECTIONS: ContactStatus.CONNECTED,
            CampaignType.INMAIL: ContactStatus.NOT_CONNECTED,
            CampaignType.GROUPS_EVENTS: ContactStatus.NOT_CONNECTED,
        }[campaign_type]
        if status is not allowed:
            raise refuse(f"messages go only to '{allowed.value}' contacts in this campaign type")
        return move(status)

    # Everything below is the invitation cycle, which only connection campaigns have.
    if not campaign_type.sends_invites:
        raise refuse("this campaign type never sends connection requests")

    if event is ContactEvent.INVITE_SENT:
        if status is not ContactStatus.NOT_CONNECTED:
            raise refuse("an invite can only be sent to a not-connected contact")
        if state.email_required:
            raise refuse("this person requires their email address to connect")
        return move(ContactStatus.INVITE_SENT, invited_at=now, invites_sent=state.invites_sent + 1)

    if event is ContactEvent.INVITE_ACCEPTED:
        if status is ContactStatus.WITHDRAWN and detail.withdrawal_pending:
            return move(ContactStatus.CONNECTED, connected_at=now, withdrawn_at=None)
        if status is not ContactStatus.INVITE_SENT:
            raise refuse("only a sent invite can be accepted")
        return move(ContactStatus.CONNECTED, connected_at=now)

    if event is ContactEvent.INVITE_WITHDRAWN:
        if status is not ContactStatus.INVITE_SENT:
            raise refuse("only a sent invite can be withdrawn")
        return move(ContactStatus.WITHDRAWN, withdrawn_at=now)

    if event is ContactEvent.INVITE_EXPIRED:
        if status is not ContactStatus.INVITE_SENT or state.invited_at is None:
            raise refuse("only a sent invite can expire")
        due = withdrawal_due_at(state.invited_at, withdraw_after_days)
        if now < due:
            raise refuse(
                f"the invite is younger than {withdraw_after_days} days (due {due:%Y-%m-%d})"
            )
        return move(ContactStatus.WITHDRAWN, withdrawn_at=now)

    if event is ContactEvent.REINVITE_ALLOWED:
        if status is not ContactStatus.WITHDRAWN or state.withdrawn_at is None:
            raise refuse("only a withdrawn contact can be invited again")
        if reinvites_left(state, max_reinvites) == 0:
            raise refuse(
                f"the campaign allows {max_reinvites} re-invite(s) per person and none is left"
            )
        due = state.withdrawn_at + REINVITE_AFTER
        if now < due:
            raise refuse(
                f"LinkedIn allows a new invite 3 weeks after the withdrawal ({due:%Y-%m-%d})"
            )
        return move(ContactStatus.NOT_CONNECTED)

    raise refuse()  # pragma: no cover - every event is handled above
