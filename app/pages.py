"""Every HTML router of the dashboard, in the order they are matched."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts.pages import router as accounts_router
from app.campaigns.pages import router as campaigns_router
from app.contacts.pages import router as contacts_router
from app.dashboard.pages import router as dashboard_router
from app.imports.pages import router as imports_router
from app.senders.pages import router as senders_router
from app.webhooks.pages import router as webhooks_router
from app.workspaces.pages import router as workspace_router


def page_routers() -> list[APIRouter]:
    return [
        accounts_router,
        dashboard_router,
        campaigns_router,
        contacts_router,
        senders_router,
        imports_router,
        workspace_router,
        webhooks_router,
    ]
