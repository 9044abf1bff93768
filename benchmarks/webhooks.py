"""Webhook delivery on PostgreSQL: N status changes delivered to a local receiver.

    .venv/bin/python benchmarks/webhooks.py [--changes 100000] [--processes 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_webhooks]
        [--sweep-batch 0] [--time-limit 900] [--per-request-sample 500]
        [--skip-baseline] [--keep-database]

Run it pinned as the other benchmarks are on a shared box, e.g. `taskset -c 1 .venv/bin/python
benchmarks/webhooks.py`: every process it starts (deliverers, receiver, baseline clients)
inherits the pinning; the PostgreSQL server's own backends are not ours to pin.

1. The database named in --database-url (created when missing; its name must start with
   `bench`): the public schema dropped and created again, migrated to head
   (`app.migrations.upgrade`), dropped at the end unless --keep-database. One workspace, a sender
   and a connection campaign through the app's services; --changes contacts whose invite went out
   25 days ago, inserted as the replay of their domain transitions (profile visited, invite sent)
   through the lifecycle owner (`insert_replayed_contacts`, counts kept, 1,000 a statement): no
   event is written for them, so nothing has to be numbered away before the subscription.
   `add_contacts` is not used: it can only make not-verified contacts, and bringing 100,000 of
   them to invite_sent one `apply_event` at a time would write 200,000 events and take minutes of
   set-up that measure nothing of the webhooks.
2. A subscription to `contact.status_changed` only (`app.webhooks.service.create_webhook`,
   Keys(secret_key=…, allow_private=True)) pointing at the receiver: an asyncio HTTP/1.1 server in
   its own process that answers 204 at once and keeps, per request, the arrival time, the
   `webhook-id` and signature headers and the body (parsed after the run).
3. --processes deliverer processes start and idle, as deployed workers wait. Each runs the
   webhooks job exactly as `serve`/`worker` run it (`app.webhooks.jobs`: a `Deliverer` pass —
   number what waits, fan out, claim, send, record — every 0.5 s, failures logged and retried)
   and nothing else. Not `contact-tracker worker`: it forces the sandbox engine on (TRACKER_ENGINE
   off means sandbox there), whose ticks would sweep these very invites and run actions beside
   the deliveries, so neither the commit time nor the CPU would be the pipeline's own.
4. The status changes: the engine's sweep `withdraw_stale_invites` withdraws all N invites in one
   transaction (N `contact.status_changed` events, one multi-row INSERT), or with --sweep-batch K
   `lifecycle.expire_invites` in transactions of K (the invites were sent on K-sized days apart).
   The commit time of each transaction is kept.
5. Until the receiver has every one of the N webhook-ids (or --time-limit): deliveries/s over the
   arrival window (N / (last − first arrival)) and end to end (N / (last arrival − commit)); lag
   p50/p99/max of (arrival − the event's recorded_at) and of (arrival − its transaction's
   commit); duplicates received (a webhook-id received more than once: 0 expected); peak RSS
   (VmHWM) and CPU seconds of each deliverer process; the deliveries table and the attempts.
   A sample of signatures is checked with the secret create_webhook returned.
6. Baseline, same run, same receiver code (a fresh process): the same N bodies (read back from the
   deliveries) POSTed by plain httpx with the same concurrency (--processes processes ×
   app.webhooks.delivery.CONCURRENCY threads, one keep-alive `httpx.Client` each), no database:
   the ceiling the receiver and the HTTP stack allow. The pipeline / ceiling ratio is printed.
   Two diagnostics beside it, on --per-request-sample bodies: a new `httpx.Client` per POST, as
   `app.webhooks.network.post` makes one per attempt (a new TLS context: the CA bundle loaded,
   and a new connection), and a new client per POST sharing one TLS context (only the
   connection is new).

The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import multiprocessing as mp
import os
import pickle
import queue
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, cast

import httpx
from _common import ROOT, _pg_conninfo, describe_url, log, machine_note, percentile, pg_dsn

sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_webhooks"
SECRET_KEY = "benchmark-webhooks-secret-key-0123456789"  # noqa: S105 - a throwaway database
INVITED_DAYS_AGO = 25  # past the default 20 days: every invite is stale for the sweep
CONTACT_BATCH = 1000
SIGNATURES_CHECKED = 200
# How the baseline's clients connect (see _baseline_main).
KEEP_ALIVE, NEW_CLIENT, NEW_CONNECTION = "keep_alive", "new_client", "new_connection"
DIAGNOSTICS = (
    (NEW_CLIENT, "a new httpx.Client per POST (new TLS context + connection, as network.post)"),
    (NEW_CONNECTION, "a new connection per POST, one TLS context shared"),
)


# --------------------------------------------------------------------------- the receiver


@dataclass
class Hit:
    arrival: float  # time.time() when the whole request had been read
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes


@dataclass
class ReceiverCounters:
    requests: Synchronized[int]
    distinct: Synchronized[int]


def _receiver_main(
    port_out: mp.Queue[int],
    stop: MpEvent,
    counters: ReceiverCounters,
    dump_path: str,
) -> None:
    """An HTTP/1.1 server answering every POST with 204 at once (keep-alive honoured)."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    hits: list[Hit] = []
    seen: set[str] = set()
    reply = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"

    class Connection(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = bytearray()
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while self.transport is not None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                headers: dict[str, str] = {}
                for line in bytes(self.buffer[:end]).decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                total = end + 4 + int(headers.get("content-length") or 0)
                if len(self.buffer) < total:
                    return
                body = bytes(self.buffer[end + 4 : total])
                del self.buffer[:total]
                webhook_id = headers.get("webhook-id", "")
                hits.append(
                    Hit(
                        time.time(),
                        webhook_id,
                        headers.get("webhook-timestamp", ""),
                        headers.get("webhook-signature", ""),
                        body,
                    )
                )
                counters.requests.value += 1
                if webhook_id not in seen:
                    seen.add(webhook_id)
                    counters.distinct.value += 1
                self.transport.write(reply)
                if headers.get("connection", "").lower() == "close":
                    self.transport.close()
                    return

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Connection, "127.0.0.1", 0, backlog=1024)
        port_out.put(int(server.sockets[0].getsockname()[1]))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    asyncio.run(serve())
    with open(dump_path, "wb") as out:
        pickle.dump(hits, out, protocol=pickle.HIGHEST_PROTOCOL)


class Receiver:
    """The receiver process: its URL, live counters, and every hit once stopped."""

    def __init__(self, ctx: SpawnContext) -> None:
        self.ctx = ctx
        self.stop_event = ctx.Event()
        self.counters = ReceiverCounters(ctx.Value("q", 0), ctx.Value("q", 0))
        fd, self.dump_path = tempfile.mkstemp(prefix="bench_webhooks_hits_", suffix=".pickle")
        os.close(fd)
        self.url = ""
        self.proc: SpawnProcess | None = None

    def start(self) -> Receiver:
        ports: mp.Queue[int] = self.ctx.Queue()
        self.proc = self.ctx.Process(
            target=_receiver_main,
            args=(ports, self.stop_event, self.counters, self.dump_path),
            name="receiver",
        )
        self.proc.start()
        self.url = f"http://127.0.0.1:{ports.get(timeout=60)}/"
        return self

    @property
    def distinct(self) -> int:
        return int(self.counters.distinct.value)

    @property
    def requests(self) -> int:
        return int(self.counters.requests.value)

    def stop(self) -> list[Hit]:
        """Stop the process and return what it received (in arrival order)."""
        hits: list[Hit] = []
        if self.proc is not None:
            self.stop_event.set()
            self.proc.join(120)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join()
            with contextlib.suppress(EOFError, FileNotFoundError):
                with open(self.dump_path, "rb") as f:
                    hits = pickle.load(f)  # noqa: S301 - our own child's file
            self.proc = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.dump_path)
        return hits


# --------------------------------------------------------------------------- child processes


def _own_usage() -> dict[str, float]:
    """This process's peak RSS (VmHWM: its own address space, not what a fork shared) and CPU."""
    peak_kb = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak_kb = float(line.split()[1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": peak_kb / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}


def _deliverer_main(
    url: str, secret_key: str, ready: MpEvent, stop: MpEvent, results: mp.Queue[dict[str, Any]]
) -> None:
    """The webhooks job as the app's worker runs it (app.worker.Worker._loop over
    app.webhooks.jobs), and nothing else, until told to stop."""
    logging.basicConfig(level=logging.WARNING, format="deliverer %(process)d: %(message)s")
    from app.clock import system_clock
    from app.db import make_engine, make_sessionmaker
    from app.webhooks.delivery import Deliverer
    from app.webhooks.jobs import DELIVER_EVERY_SECONDS
    from app.webhooks.service import Keys

    engine = make_engine(url)
    stopping = threading.Event()

    def bridge() -> None:
        stop.wait()
        stopping.set()

    threading.Thread(target=bridge, daemon=True).start()
    job = Deliverer(
        make_sessionmaker(engine),
        clock=system_clock,
        keys=Keys(secret_key=secret_key, allow_private=True),
    )
    sent = failures = 0
    first = True
    try:
        while not stopping.is_set():
            try:
                sent += job(stopping)
            except Exception:  # noqa: BLE001 - as the worker does: logged, the next pass retries
                failures += 1
                logging.getLogger(__name__).exception("webhooks pass failed")
            if first:
                ready.set()
                first = False
            stopping.wait(DELIVER_EVERY_SECONDS)
    finally:
        job.pool.shutdown()
        engine.dispose()
        results.put({"pid": os.getpid(), "sent": sent, "failed_passes": failures, **_own_usage()})


def _baseline_main(
    items: list[tuple[str, bytes]],
    threads: int,
    mode: str,
    go: MpEvent,
    results: mp.Queue[dict[str, Any]],
    url: str,
) -> None:
    """POST the bodies from `threads` threads. `mode`: KEEP_ALIVE, one client per thread;
    NEW_CLIENT, a new client per POST (a new TLS context and a new connection each, as
    app.webhooks.network.post makes); NEW_CONNECTION, a new client per POST sharing one TLS
    context (only the connection is new)."""
    import ssl

    shared_tls: ssl.SSLContext | bool = (
        httpx.create_ssl_context(verify=True, trust_env=False) if mode == NEW_CONNECTION else True
    )
    lock = threading.Lock()
    todo = iter(items)
    errors: list[str] = []

    def post(client: httpx.Client, uid: str, body: bytes) -> None:
        r = client.post(
            url,
            content=body,
            headers={"webhook-id": uid, "content-type": "application/json"},
        )
        if r.status_code != 204 and not errors:
            errors.append(f"{r.status_code} {r.text[:200]}")

    def worker() -> None:
        with httpx.Client(trust_env=False, timeout=15) as shared:
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                if mode == KEEP_ALIVE:
                    post(shared, *item)
                else:
                    with httpx.Client(trust_env=False, timeout=15, verify=shared_tls) as client:
                        post(client, *item)

    go.wait()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    results.put({"pid": os.getpid(), "errors": errors, **_own_usage()})


# --------------------------------------------------------------------------- the database


def prepare_database(url: str) -> None:
    """Create the database when missing, then a fresh public schema (guarded by the name)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    if not name.startswith("bench"):
        raise SystemExit(
            f"refusing to reset database {name!r}: this benchmark drops its public schema; "
            "name a scratch database starting with 'bench' (e.g. bench_webhooks)"
        )
    maint, _ = _pg_conninfo(url)
    with psycopg.connect(maint, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def drop_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    maint, _ = _pg_conninfo(url)
    with psycopg.connect(maint, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@dataclass
class Setup:
    workspace_id: int
    campaign_id: int
    webhook_id: int
    secret: str
    seconds: float


def set_up(url: str, changes: int, receiver_url: str, sweep_batch: int) -> Setup:
    """Migrate; a workspace, a sender, a connection campaign, `changes` stale invites; the
    subscription. With sweep_batch, the invites are sent a day apart per batch (see sweep)."""
    from sqlalchemy import func, select

    from app.accounts.service import create_workspace
    from app.campaigns.schemas import CampaignCreate
    from app.campaigns.service import create_campaign
    from app.db import make_engine, make_sessionmaker
    from app.domain.statuses import CampaignType, ContactSource, SenderTier
    from app.domain.transitions import (
        ContactEvent,
        ContactState,
        EventDetail,
        initial_status,
        transition,
    )
    from app.events.numbering import number_pending
    from app.lifecycle.service import insert_replayed_contacts, state_columns
    from app.migrations import upgrade
    from app.models import Event
    from app.senders.schemas import SenderCreate
    from app.senders.service import create_sender
    from app.webhooks.schemas import WebhookIn
    from app.webhooks.service import Keys, create_webhook

    t0 = time.perf_counter()
    engine = make_engine(url)
    try:
        upgrade(engine)
        factory = make_sessionmaker(engine)
        with factory.begin() as session:
            ws = create_workspace(
                session,
                name="Webhooks benchmark",
                admin_email="bench@example.com",
                admin_password="bench-password",  # noqa: S106 - a throwaway database
            )
            sender = create_sender(
                session,
                workspace_id=ws.id,
                data=SenderCreate(name="Bench sender", tier=SenderTier.BASIC),
            )
            campaign = create_campaign(
                session,
                workspace_id=ws.id,
                data=CampaignCreate(
                    name="Bench campaign", type=CampaignType.CONNECTION, sender_id=sender.id
                ),
            )
            workspace_id, campaign_id = ws.id, campaign.id
            max_reinvites = campaign.max_reinvites
        now = datetime.now(UTC)
        first_status = initial_status(CampaignType.CONNECTION, ContactSource.API)
        chunks = -(-changes // sweep_batch) if sweep_batch else 1
        for start in range(0, changes, CONTACT_BATCH):
            rows = []
            for i in range(start, min(changes, start + CONTACT_BATCH)):
                # Batch j of a --sweep-batch run is invited (chunks - j) days before the rest.
                days = INVITED_DAYS_AGO + (chunks - 1 - i // sweep_batch if sweep_batch else 0)
                invited = now - timedelta(days=days, hours=1)
                created = invited - timedelta(days=2)
                state = ContactState(first_status, status_changed_at=created)
                state = transition(
                    state,
                    ContactEvent.PROFILE_VISITED,
                    CampaignType.CONNECTION,
                    now=created + timedelta(days=1),
                    detail=EventDetail(degree=2),
                    max_reinvites=max_reinvites,
                )
                state = transition(
                    state,
                    ContactEvent.INVITE_SENT,
                    CampaignType.CONNECTION,
                    now=invited,
                    max_reinvites=max_reinvites,
                )
                rows.append(
                    {
                        "workspace_id": workspace_id,
                        "campaign_id": campaign_id,
                        "linkedin_url": f"https://www.linkedin.com/in/bench-webhooks-{i:07d}",
                        "first_name": f"First{i}",
                        "last_name": f"Last{i}",
                        "email": f"person{i}@example.com",
                        "company": ("Acme", "Globex", "Initech", "Hooli")[i % 4],
                        "title": ("CTO", "Founder", "Head of Sales")[i % 3],
                        "custom_fields": {},
                        "source": ContactSource.API,
                        **state_columns(state),
                        "follow_ups_sent": 0,
                        "created_at": created,
                        "updated_at": invited,
                    }
                )
            with factory.begin() as session:
                insert_replayed_contacts(session, rows)
        with factory.begin() as session:
            # Nothing is expected (the replayed contacts write no event), but whatever waits is
            # numbered first so the subscription starts after it.
            number_pending(factory)
            waiting = session.scalar(
                select(func.count()).select_from(Event).where(Event.seq.is_(None))
            )
            assert not waiting, f"{waiting} events still unnumbered"
            webhook, secret = create_webhook(
                session,
                workspace_id=workspace_id,
                data=WebhookIn(
                    url=receiver_url,
                    event_types=["contact.status_changed"],
                    description="benchmark receiver",
                ),
                keys=Keys(secret_key=SECRET_KEY, allow_private=True),
                now=datetime.now(UTC),
            )
            webhook_id = webhook.id
        return Setup(workspace_id, campaign_id, webhook_id, secret, time.perf_counter() - t0)
    finally:
        engine.dispose()


@dataclass
class Sweep:
    commits: dict[float, float] = field(default_factory=dict)  # recorded_at → commit (epoch s)
    changed: int = 0
    seconds: float = 0.0  # from the first transaction's start to the last commit
    transactions: int = 0


def sweep(url: str, workspace_id: int, sweep_batch: int, changes: int) -> Sweep:
    """The status changes: one sweep transaction, or --sweep-batch sized transactions."""
    from app.db import make_engine, make_sessionmaker
    from app.engine.sweeps import withdraw_stale_invites
    from app.lifecycle.service import expire_invites

    engine = make_engine(url)
    out = Sweep()
    try:
        factory = make_sessionmaker(engine)
        t0 = time.perf_counter()
        if not sweep_batch:
            now = datetime.now(UTC)
            with factory.begin() as session:
                out.changed = withdraw_stale_invites(session, now=now)
            out.commits[now.timestamp()] = time.time()
            out.transactions = 1
        else:
            chunks = -(-changes // sweep_batch)
            for j in range(chunks):
                now = datetime.now(UTC)
                with factory.begin() as session:
                    out.changed += expire_invites(
                        session,
                        workspace_id=workspace_id,
                        withdraw_after=INVITED_DAYS_AGO + chunks - 1 - j,
                        now=now,
                    )
                out.commits[now.timestamp()] = time.time()
                out.transactions += 1
        out.seconds = time.perf_counter() - t0
    finally:
        engine.dispose()
    return out


def database_figures(url: str, webhook_id: int) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(pg_dsn(url)) as conn:
        states: dict[str, int] = dict(
            conn.execute(
                "SELECT state, count(*) FROM webhook_deliveries WHERE webhook_id = %s "
                "GROUP BY state",
                (webhook_id,),
            ).fetchall()
        )
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status_code BETWEEN 200 AND 299), "
            "max(attempts) FROM webhook_attempts a JOIN webhook_deliveries d "
            "ON d.id = a.delivery_id WHERE a.webhook_id = %s",
            (webhook_id,),
        ).fetchone()
        events = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'contact.status_changed'"
        ).fetchone()
    attempts, ok, max_attempts = row if row else (0, 0, 0)
    return {
        "deliveries": {str(k): int(v) for k, v in states.items()},
        "attempts": int(attempts),
        "attempts_2xx": int(ok),
        "max_attempts_per_delivery": int(max_attempts or 0),
        "status_changed_events": int(events[0]) if events else 0,
    }


def delivery_bodies(url: str, webhook_id: int) -> list[tuple[str, bytes]]:
    import psycopg

    with psycopg.connect(pg_dsn(url)) as conn:
        rows = conn.execute(
            "SELECT event_uid, body FROM webhook_deliveries WHERE webhook_id = %s ORDER BY id",
            (webhook_id,),
        ).fetchall()
    return [(str(uid), str(body).encode()) for uid, body in rows]


# --------------------------------------------------------------------------- phases


@dataclass
class PipelineRun:
    hits: list[Hit]
    sweep: Sweep
    started: float  # epoch s, just before the sweep began
    stopped_early: bool
    children: list[dict[str, Any]]


def wait_for(receiver: Receiver, n: int, time_limit: float, label: str) -> bool:
    """Until the receiver has n distinct webhook-ids; False when time_limit ran out first."""
    deadline = time.monotonic() + time_limit
    last_log = time.monotonic()
    last_count = 0
    while receiver.distinct < n:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
        if time.monotonic() - last_log >= 15:
            count = receiver.distinct
            rate = (count - last_count) / (time.monotonic() - last_log)
            log(f"{label}: {count:,}/{n:,} received ({rate:,.0f}/s over the last interval)")
            last_log, last_count = time.monotonic(), count
    return True


def run_pipeline(
    ctx: SpawnContext, url: str, args: argparse.Namespace, receiver: Receiver, setup: Setup
) -> PipelineRun:
    stop = ctx.Event()
    results: mp.Queue[dict[str, Any]] = ctx.Queue()
    readies = [ctx.Event() for _ in range(args.processes)]
    procs = [
        ctx.Process(
            target=_deliverer_main,
            args=(url, SECRET_KEY, readies[k], stop, results),
            name=f"deliverer-{k}",
        )
        for k in range(args.processes)
    ]
    for p in procs:
        p.start()
    children: list[dict[str, Any]] = []
    try:
        for ready in readies:
            if not ready.wait(120):
                raise SystemExit("a deliverer process did not complete its first (idle) pass")
        log(f"{args.processes} deliverer process(es) idle; sweeping {args.changes:,} invites")
        started = time.time()
        done = sweep(url, setup.workspace_id, args.sweep_batch, args.changes)
        log(
            f"{done.changed:,} status changes committed in {done.transactions} transaction(s), "
            f"{done.seconds:.2f} s"
        )
        if done.changed != args.changes:
            raise SystemExit(f"the sweep changed {done.changed:,} contacts, not {args.changes:,}")
        complete = wait_for(receiver, args.changes, args.time_limit, "pipeline")
    finally:
        stop.set()
        for p in procs:
            p.join(120)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
        while True:
            try:
                children.append(results.get(timeout=1))
            except queue.Empty:
                break
    # A moment for a request still in flight (a duplicate would show here).
    time.sleep(0.5)
    hits = receiver.stop()
    return PipelineRun(hits, done, started, not complete, children)


@dataclass
class BaselineRun:
    hits: list[Hit]
    wall: float
    children: list[dict[str, Any]]
    errors: list[str]


def run_baseline(
    ctx: SpawnContext,
    items: list[tuple[str, bytes]],
    processes: int,
    threads: int,
    mode: str,
) -> BaselineRun:
    receiver = Receiver(ctx).start()
    go = ctx.Event()
    results: mp.Queue[dict[str, Any]] = ctx.Queue()
    procs = [
        ctx.Process(
            target=_baseline_main,
            args=(items[k::processes], threads, mode, go, results, receiver.url),
            name=f"baseline-{k}",
        )
        for k in range(processes)
    ]
    for p in procs:
        p.start()
    time.sleep(2.0)  # the children import httpx and take their share of the bodies
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    children = [results.get(timeout=30) for _ in procs]
    hits = receiver.stop()
    errors = [e for c in children for e in c["errors"]]
    return BaselineRun(hits, wall, children, errors)


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    received: int
    distinct: int
    duplicates: int
    window_s: float
    per_s_window: float
    first_arrival: float
    last_arrival: float


def arrival_figures(hits: list[Hit]) -> Figures:
    ids = Counter(h.webhook_id for h in hits)
    arrivals = [h.arrival for h in hits]
    first, last = (min(arrivals), max(arrivals)) if arrivals else (float("nan"), float("nan"))
    window = last - first
    return Figures(
        received=len(hits),
        distinct=len(ids),
        duplicates=sum(n - 1 for n in ids.values()),
        window_s=window,
        per_s_window=len(ids) / window if window > 0 else float("nan"),
        first_arrival=first,
        last_arrival=last,
    )


def first_hits(hits: list[Hit]) -> list[Hit]:
    """The first arrival of each webhook-id."""
    out: dict[str, Hit] = {}
    for h in hits:
        if h.webhook_id not in out or h.arrival < out[h.webhook_id].arrival:
            out[h.webhook_id] = h
    return list(out.values())


def lag_summary(seconds: list[float]) -> dict[str, float]:
    values = sorted(seconds)
    return {
        "p50_s": percentile(values, 50),
        "p99_s": percentile(values, 99),
        "max_s": values[-1] if values else float("nan"),
        "min_s": values[0] if values else float("nan"),
    }


def check_signatures(hits: list[Hit], secret: str, sample: int) -> tuple[int, int]:
    """(checked, valid) Standard Webhooks signatures over a sample, with the subscription's
    secret (computed here independently of app.webhooks.signing)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    step = max(1, len(hits) // sample) if hits else 1
    checked = valid = 0
    for h in hits[::step][:sample]:
        signed = f"{h.webhook_id}.{h.timestamp}.".encode() + h.body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        checked += 1
        valid += expected in h.signature.split()
    return checked, valid


def r(x: float, digits: int = 3) -> float | None:
    return None if x != x else round(x, digits)  # NaN → null in the JSON line


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    parser.add_argument("--changes", type=int, default=100_000, help="status changes delivered")
    parser.add_argument("--processes", type=int, default=2, help="deliverer processes")
    parser.add_argument(
        "--sweep-batch",
        type=int,
        default=0,
        help="contacts per sweep transaction (default 0: the whole sweep in one transaction)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=900.0,
        help="stop waiting for deliveries after this many seconds from the commit",
    )
    parser.add_argument(
        "--per-request-sample",
        type=int,
        default=500,
        help="bodies for the new-client-per-POST diagnostic (0: skip it)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("--database-url must be a PostgreSQL URL (the deliverers share it)")
    if args.changes < 1 or args.processes < 1 or args.sweep_batch < 0:
        raise SystemExit("--changes and --processes must be ≥ 1, --sweep-batch ≥ 0")

    from app.webhooks.delivery import CLAIM_BATCH, CONCURRENCY

    ctx = mp.get_context("spawn")
    url = args.database_url
    affinity = sorted(os.sched_getaffinity(0))
    load_before = machine_note()
    log(f"resetting {describe_url(url)}")
    prepare_database(url)
    try:
        receiver = Receiver(ctx).start()
        try:
            log(f"receiver at {receiver.url}; setting up {args.changes:,} stale invites")
            setup = set_up(url, args.changes, receiver.url, args.sweep_batch)
            log(f"set-up {setup.seconds:.1f} s; webhook {setup.webhook_id}")
            run = run_pipeline(ctx, url, args, receiver, setup)
        except BaseException:
            receiver.stop()
            raise
        db = database_figures(url, setup.webhook_id)
        bodies = delivery_bodies(url, setup.webhook_id) if not args.skip_baseline else []
    finally:
        if args.keep_database:
            log(f"kept {describe_url(url)}")
        else:
            drop_database(url)
    load_after = machine_note()

    # ----- the pipeline's figures
    pipe = arrival_figures(run.hits)
    firsts = first_hits(run.hits)
    first_commit = min(run.sweep.commits.values())
    lag_recorded: list[float] = []
    lag_commit: list[float] = []
    for h in firsts:
        recorded = datetime.fromisoformat(json.loads(h.body)["recorded_at"]).timestamp()
        lag_recorded.append(h.arrival - recorded)
        commit = run.sweep.commits.get(recorded)
        if commit is not None:
            lag_commit.append(h.arrival - commit)
    lag_r, lag_c = lag_summary(lag_recorded), lag_summary(lag_commit)
    end_to_end = pipe.distinct / (pipe.last_arrival - first_commit) if firsts else float("nan")
    checked, valid = check_signatures(run.hits, setup.secret, SIGNATURES_CHECKED)
    deliverer_cpu = sum(c["cpu_s"] for c in run.children)
    rss = [c["peak_rss_mb"] for c in run.children]

    concurrency = args.processes * CONCURRENCY
    print()
    print(
        f"webhooks: {args.changes:,} contact.status_changed events on PostgreSQL "
        f"({describe_url(url)}), {args.processes} deliverer process(es) × {CONCURRENCY} sending "
        f"threads (claims of {CLAIM_BATCH}), receiver answering 204"
    )
    print(f"machine: before {load_before}; after the pipeline {load_after}")
    print(f"CPU affinity of this run: {affinity} (PostgreSQL's backends are not pinned)")
    print(
        f"set-up: {setup.seconds:.1f} s (migrate, {args.changes:,} stale invites, subscription); "
        f"status changes: {run.sweep.changed:,} in {run.sweep.transactions} transaction(s), "
        f"{run.sweep.seconds:.2f} s to the last commit"
    )
    if run.stopped_early:
        print(
            f"STOPPED after --time-limit {args.time_limit:g} s: {pipe.distinct:,} of "
            f"{args.changes:,} events delivered; the rates below are over what arrived"
        )
    print(
        f"pipeline: {pipe.distinct:,} delivered ({pipe.received:,} requests, "
        f"{pipe.duplicates} duplicate(s))"
    )
    print(
        f"  deliveries/s over the arrival window : {pipe.per_s_window:>9,.1f}   "
        f"({pipe.window_s:.1f} s from first to last arrival)"
    )
    print(
        f"  deliveries/s from commit to last     : {end_to_end:>9,.1f}   "
        f"(first arrival {pipe.first_arrival - first_commit:.2f} s after the first commit)"
    )
    print(
        f"  lag arrival − recorded_at            : p50 {lag_r['p50_s']:.2f} s  "
        f"p99 {lag_r['p99_s']:.2f} s  max {lag_r['max_s']:.2f} s  min {lag_r['min_s']:.2f} s"
    )
    print(
        f"  lag arrival − commit                 : p50 {lag_c['p50_s']:.2f} s  "
        f"p99 {lag_c['p99_s']:.2f} s  max {lag_c['max_s']:.2f} s  min {lag_c['min_s']:.2f} s"
    )
    print(
        "  deliverer processes                  : "
        + ", ".join(
            f"pid {c['pid']} sent {c['sent']:,}, peak RSS {c['peak_rss_mb']:.0f} MB, "
            f"CPU {c['cpu_s']:.1f} s, failed passes {c['failed_passes']}"
            for c in run.children
        )
    )
    if deliverer_cpu:
        print(
            f"  deliveries per deliverer CPU-second  : {pipe.distinct / deliverer_cpu:,.1f} "
            f"({deliverer_cpu:.1f} CPU-s in all; PostgreSQL's share not counted)"
        )
    print(
        f"  database: deliveries {db['deliveries']}, attempts {db['attempts']:,} "
        f"({db['attempts_2xx']:,} 2xx, at most {db['max_attempts_per_delivery']} per delivery), "
        f"{db['status_changed_events']:,} status_changed events"
    )
    print(f"  signatures checked on a sample: {valid}/{checked} valid")

    summary: dict[str, Any] = {
        "changes": args.changes,
        "processes": args.processes,
        "sweep_transactions": run.sweep.transactions,
        "sweep_s": r(run.sweep.seconds),
        "delivered": pipe.distinct,
        "requests": pipe.received,
        "duplicates": pipe.duplicates,
        "stopped_early": run.stopped_early,
        "deliveries_per_s_window": r(pipe.per_s_window, 1),
        "deliveries_per_s_end_to_end": r(end_to_end, 1),
        "first_delivery_after_commit_s": r(pipe.first_arrival - first_commit),
        "lag_recorded_p50_s": r(lag_r["p50_s"]),
        "lag_recorded_p99_s": r(lag_r["p99_s"]),
        "lag_commit_p50_s": r(lag_c["p50_s"]),
        "lag_commit_p99_s": r(lag_c["p99_s"]),
        "deliverer_peak_rss_mb": [round(x, 1) for x in rss],
        "deliverer_cpu_s": r(deliverer_cpu, 1),
        "signatures_valid": f"{valid}/{checked}",
        "attempts": db["attempts"],
    }

    # ----- the baseline
    if not args.skip_baseline:
        log(
            f"baseline: {len(bodies):,} bodies POSTed by httpx, {args.processes} process(es) × "
            f"{CONCURRENCY} threads, keep-alive clients"
        )
        base = run_baseline(ctx, bodies, args.processes, CONCURRENCY, KEEP_ALIVE)
        bf = arrival_figures(base.hits)
        ratio = pipe.per_s_window / bf.per_s_window
        print(
            f"baseline, plain httpx keep-alive ({concurrency} threads, no database): "
            f"{bf.per_s_window:>9,.1f} POSTs/s over the arrival window "
            f"({bf.distinct:,} received, {bf.duplicates} duplicate(s), wall {base.wall:.1f} s"
            + (f", errors: {base.errors[0]}" if base.errors else "")
            + ")"
        )
        print(f"ratio pipeline / baseline (arrival windows): {ratio:.1%}")
        summary.update(baseline_per_s=r(bf.per_s_window, 1), ratio=r(ratio, 4))
        sample = bodies[: args.per_request_sample]
        for mode, what in DIAGNOSTICS if sample else ():
            log(f"diagnostic: {len(sample):,} POSTs, {what}")
            diag = run_baseline(ctx, sample, args.processes, CONCURRENCY, mode)
            df = arrival_figures(diag.hits)
            cpu = sum(c["cpu_s"] for c in diag.children)
            print(
                f"diagnostic, {what} ({len(sample):,} bodies, {concurrency} threads): "
                f"{df.per_s_window:>9,.1f} POSTs/s; "
                f"{df.distinct / cpu if cpu else float('nan'):,.1f} per client CPU-s"
            )
            summary[f"{mode}_per_s"] = r(df.per_s_window, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
