"""The event types of SPEC §4 Events, and who caused a change."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    CONTACT_CREATED = "contact.created"
    CONTACT_STATUS_CHANGED = "contact.status_changed"
    CONTACT_REPLIED = "contact.replied"
    CONTACT_DELETED = "contact.deleted"
    ACTIVITY_COMPLETED = "activity.completed"
    IMPORT_FINISHED = "import.finished"
    CAMPAIGN_STATE_CHANGED = "campaign.state_changed"
    WEBHOOK_TEST = "webhook.test"


# What the log holds: `webhook.test` is sent to one subscription only, never written to the log.
LOGGED_TYPES: tuple[EventType, ...] = tuple(t for t in EventType if t is not EventType.WEBHOOK_TEST)
