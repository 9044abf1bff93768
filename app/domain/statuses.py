"""Contact statuses, campaign types, sources, activity kinds and outcomes (SPEC §2).

Values are the API's wire values; labels are what people read in the dashboard and the activity log.
"""

from __future__ import annotations

from enum import StrEnum


class ContactStatus(StrEnum):
    NOT_VERIFIED = "not_verified"
    NOT_CONNECTED = "not_connected"
    INVITE_SENT = "invite_sent"
    CONNECTED = "connected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[ContactStatus, str] = {
    ContactStatus.NOT_VERIFIED: "Not verified",
    ContactStatus.NOT_CONNECTED: "Not connected",
    ContactStatus.INVITE_SENT: "Invite sent",
    ContactStatus.CONNECTED: "Connected",
    ContactStatus.WITHDRAWN: "Invitation withdrawn",
}


class CampaignType(StrEnum):
    CONNECTION = "connection"
    EXISTING_CONNECTIONS = "existing_connections"
    INMAIL = "inmail"
    GROUPS_EVENTS = "groups_events"

    @property
    def label(self) -> str:
        return CAMPAIGN_TYPE_LABELS[self]

    @property
    def sends_invites(self) -> bool:
        """Only connection campaigns ever send a connection request."""
        return self is CampaignType.CONNECTION


CAMPAIGN_TYPE_LABELS: dict[CampaignType, str] = {
    CampaignType.CONNECTION: "Connection requests",
    CampaignType.EXISTING_CONNECTIONS: "Existing connections",
    CampaignType.INMAIL: "InMail",
    CampaignType.GROUPS_EVENTS: "Groups & events",
}


class CampaignState(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    ARCHIVED = "archived"


class ContactSource(StrEnum):
    CSV = "csv"
    API = "api"
    INTEGRATION = "integration"
    SEARCH = "search"


class SenderTier(StrEnum):
    BASIC = "basic"
    PREMIUM = "premium"


class Role(StrEnum):
    ADMIN = "admin"
    REP = "rep"


class ActivityKind(StrEnum):
    IMPORT = "import"
    PROFILE_VISIT = "profile_visit"
    CONNECTION_REQUEST = "connection_request"
    FOLLOW_UP = "follow_up"
    INMAIL = "inmail"
    GROUP_MESSAGE = "group_message"
    WITHDRAW_INVITE = "withdraw_invite"
    EVENT = "event"


ACTIVITY_KIND_LABELS: dict[ActivityKind, str] = {
    ActivityKind.IMPORT: "Imported",
    ActivityKind.PROFILE_VISIT: "Profile visit",
    ActivityKind.CONNECTION_REQUEST: "Connection request",
    ActivityKind.FOLLOW_UP: "Follow-up message",
    ActivityKind.INMAIL: "InMail",
    ActivityKind.GROUP_MESSAGE: "Group message",
    ActivityKind.WITHDRAW_INVITE: "Withdraw invitation",
    ActivityKind.EVENT: "Event",
}


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    ERROR = "error"
    # Settled without us sending it: the integration did it, or a change made it moot.
    SKIPPED = "skipped"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.PENDING: "Pending",
    Outcome.SUCCESS: "Success",
    Outcome.ERROR: "Error",
    Outcome.SKIPPED: "Skipped",
}


class ImportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DuplicatePolicy(StrEnum):
    """What an import does with a row whose person is already in the campaign."""

    SKIP = "skip"
    FILL = "fill"
    OVERWRITE = "overwrite"
