"""Every table, re-exported so `from app.models import Contact` works and Alembic sees them all."""

from app.models.activity import Activity
from app.models.api_key import ApiKey
from app.models.audit import AuditEvent
from app.models.blacklist import BlacklistEntry
from app.models.campaign import Campaign, FollowUpStep
from app.models.campaign_count import CampaignCount
from app.models.contact import Contact
from app.models.contact_import import ContactImport, ImportChange, ImportRejection
from app.models.event import Event, EventHead
from app.models.idempotency import IdempotencyKey
from app.models.rate_limit import ApiRateWindow
from app.models.sender import SenderAccount
from app.models.signin_throttle import SigninCounter
from app.models.user import User
from app.models.web_session import WebSession
from app.models.webhook import Webhook, WebhookAttempt, WebhookDelivery
from app.models.workspace import Workspace

__all__ = [
    "Activity",
    "ApiKey",
    "AuditEvent",
    "ApiRateWindow",
    "BlacklistEntry",
    "Campaign",
    "CampaignCount",
    "Contact",
    "ContactImport",
    "ImportChange",
    "ImportRejection",
    "Event",
    "EventHead",
    "FollowUpStep",
    "IdempotencyKey",
    "SenderAccount",
    "SigninCounter",
    "User",
    "WebSession",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "Workspace",
]
