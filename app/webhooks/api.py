"""/api/v1/webhooks — subscriptions to the event log (SPEC §4 Events). Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.accounts import audit
from app.accounts.api_caller import IDEMPOTENCY_HEADER_DOC, ApiCallerDep, IdempotencyDep
from app.schemas import MAX_ID
from app.web.api_common import GONE, NOT_FOUND, model_response
from app.web.deps import NowDep, SessionDep
from app.webhooks import service
from app.webhooks.schemas import (
    AttemptList,
    ReplayAccepted,
    ReplayIn,
    SecretRotated,
    TestSent,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def keys(request: Request) -> service.Keys:
    """The secrets' keys and the URL rules, from the settings (tests inject a resolver)."""
    settings = request.app.state.settings
    resolver = getattr(request.app.state, "webhook_resolver", None)
    return service.Keys(
        secret_key=settings.secret_key,
        previous=settings.secret_key_previous,
        allow_private=settings.webhook_allow_private,
        **({"resolver": resolver} if resolver is not None else {}),
    )


@router.get(
    "",
    operation_id="listWebhooks",
    response_model=WebhookList,
    summary="List the workspace's webhooks",
)
def list_webhooks(session: SessionDep, caller: ApiCallerDep) -> Response:
    items = service.list_webhooks(session, workspace_id=caller.workspace_id)
    return model_response(WebhookList(items=[service.webhook_read(session, w) for w in items]))


@router.post(
    "",
    operation_id="createWebhook",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a URL to events",
    description="Answers the subscription with its `secret`, shown this once (a retry with the "
    "same Idempotency-Key shows it again; the stored answer is encrypted like the secret). The URL "
    "must be https and resolve only to public addresses. Events recorded from now on are sent. "
    + IDEMPOTENCY_HEADER_DOC,
)
def create_webhook(
    data: WebhookIn, request: Request, caller: ApiCallerDep, idem: IdempotencyDep
) -> Response:
    sealer = keys(request)

    def work() -> tuple[int, WebhookCreated]:
        webhook, secret = service.create_webhook(
            idem.session, workspace_id=caller.workspace_id, data=data, keys=sealer, now=idem.now
        )
        audit.record(
            idem.session,
            workspace_id=caller.workspace_id,
            actor=audit.api_actor(caller.api_key_id),
            action="webhook.created",
            target=webhook.url,
            now=idem.now,
        )
        read = service.webhook_read(idem.session, webhook)
        return 201, WebhookCreated(**read.model_dump(), secret=secret)

    return idem.run(work, sealer=sealer)


@router.get(
    "/{webhook_id}",
    operation_id="getWebhook",
    response_model=WebhookRead,
    responses=NOT_FOUND,
    summary="A webhook",
)
def get_webhook(webhook_id: Id, session: SessionDep, caller: ApiCallerDep) -> Response:
    webhook = service.get_webhook(session, workspace_id=caller.workspace_id, webhook_id=webhook_id)
    return model_response(service.webhook_read(session, webhook))


@router.patch(
    "/{webhook_id}",
    operation_id="updateWebhook",
    response_model=WebhookRead,
    responses=NOT_FOUND,
    summary="Change a webhook",
    description="Disabling cancels the deliveries waiting; re-enabling sends nothing by itself "
    "(replay what was missed).",
)
def update_webhook(
    webhook_id: Id,
    data: WebhookUpdate,
    request: Request,
    session: SessionDep,
    caller: ApiCallerDep,
    now: NowDep,
) -> Response:
    webhook = service.update_webhook(
        session,
        workspace_id=caller.workspace_id,
        webhook_id=webhook_id,
        data=data,
        keys=keys(request),
        now=now,
    )
    audit.record(
        session,
        workspace_id=caller.workspace_id,
        actor=audit.api_actor(caller.api_key_id),
        action="webhook.updated",
        target=webhook.url,
        detail=data.model_dump(exclude_none=True),
        now=now,
    )
    return model_response(service.webhook_read(session, webhook))


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses=NOT_FOUND,
    summary="Delete a webhook",
)
def delete_webhook(
    webhook_id: Id, session: SessionDep, caller: ApiCallerDep, now: NowDep
) -> Response:
    url = service.get_webhook(session, workspace_id=caller.workspace_id, webhook_id=webhook_id).url
    service.delete_webhook(session, workspace_id=caller.workspace_id, webhook_id=webhook_id)
    audit.record(
        session,
        workspace_id=caller.workspace_id,
        actor=audit.api_actor(caller.api_key_id),
        action="webhook.deleted",
        target=url,
        now=now,
    )
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=SecretRotated,
    responses=NOT_FOUND,
    summary="Rotate the signing secret",
    description="Answers the new secret, shown once (a retry with the same Idempotency-Key shows "
    "it again and rotates nothing). For 24 h deliveries carry both signatures. "
    + IDEMPOTENCY_HEADER_DOC,
)
def rotate_secret(
    webhook_id: Id, request: Request, caller: ApiCallerDep, idem: IdempotencyDep
) -> Response:
    sealer = keys(request)

    def work() -> tuple[int, SecretRotated]:
        secret, until = service.rotate_secret(
            idem.session,
            workspace_id=caller.workspace_id,
            webhook_id=webhook_id,
            keys=sealer,
            now=idem.now,
        )
        audit.record(
            idem.session,
            workspace_id=caller.workspace_id,
            actor=audit.api_actor(caller.api_key_id),
            action="webhook.secret_rotated",
            target=f"webhook {webhook_id}",
            now=idem.now,
        )
        return 200, SecretRotated(secret=secret, previous_secret_until=until)

    return idem.run(work, sealer=sealer)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=AttemptList,
    responses=NOT_FOUND,
    summary="The delivery log: every attempt, newest first",
)
def deliveries(
    webhook_id: Id,
    session: SessionDep,
    caller: ApiCallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    return model_response(
        service.attempts(
            session,
            workspace_id=caller.workspace_id,
            webhook_id=webhook_id,
            cursor=cursor,
            limit=limit,
        )
    )


@router.post(
    "/{webhook_id}/replay",
    operation_id="replayWebhook",
    status_code=202,
    response_model=ReplayAccepted,
    responses={**NOT_FOUND, **GONE},
    summary="Send every event after a seq again",
    description="A background job sends them, a page at a time, up to the head of the log now. "
    + IDEMPOTENCY_HEADER_DOC,
)
def replay(webhook_id: Id, data: ReplayIn, caller: ApiCallerDep, idem: IdempotencyDep) -> Response:
    def work() -> tuple[int, ReplayAccepted]:
        webhook, until = service.replay(
            idem.session, workspace_id=caller.workspace_id, webhook_id=webhook_id, after=data.after
        )
        return 202, ReplayAccepted(webhook_id=webhook.id, after=data.after, until=until)

    return idem.run(work)


@router.post(
    "/{webhook_id}/test",
    operation_id="sendWebhookTest",
    status_code=202,
    response_model=TestSent,
    responses=NOT_FOUND,
    summary="Send a webhook.test event to this subscription",
    description=IDEMPOTENCY_HEADER_DOC,
)
def send_test(webhook_id: Id, caller: ApiCallerDep, idem: IdempotencyDep) -> Response:
    def work() -> tuple[int, TestSent]:
        delivery = service.send_test(
            idem.session, workspace_id=caller.workspace_id, webhook_id=webhook_id, now=idem.now
        )
        return 202, TestSent(delivery_id=delivery.id, event_id=delivery.event_uid)

    return idem.run(work)
