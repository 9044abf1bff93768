"""Soak: `serve` and `worker` on PostgreSQL for a bounded time under mixed traffic; nothing lost.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--clients 4] [--workers N]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--engine-speed 3600] [--engine-interval 2] [--batch 50] [--add-interval 1]
        [--import-rows 20000] [--signin-interval 1] [--grace 60] [--max-drain 900]
        [--rss-limit 20] [--keep-logs DIR]

Not part of `make test`. Exit status 0 with a PASS line, 1 with a FAIL line per failed check.

1. A throwaway database on the server of --database-url (`bench_soak_<pid>`, dropped at the end),
   migrated by the CLI; two workspaces, each with an API key (and an admin), so the checks also see
   that nothing crosses workspaces; a third, with no subscription, for the warm-up's imports.
2. A webhook receiver (its own process, 127.0.0.1, answering 204 at once, checking every
   Standard Webhooks signature with the subscription's secret); `contact-tracker serve --workers N`
   with TRACKER_ENGINE=off (it runs the other background jobs: imports, numbering, deliveries) and
   `contact-tracker worker` with the sandbox engine at TRACKER_ENGINE_SPEED (--engine-speed
   simulated seconds per second, a tick every --engine-interval s: at 3600 ten minutes are 25 days,
   so invites are sent, accepted, followed up, withdrawn after 20 days and re-invited). Both with
   TRACKER_WEBHOOK_ALLOW_PRIVATE=true, TRACKER_TRUSTED_PROXIES=127.0.0.1 (the sign-in attacker
   poses as other addresses) and their own TRACKER_DATA_DIR.
3. Through the API, per workspace: the log's head, a subscription for every event type pointing at
   the receiver (so every event from then on must arrive), a sender working around the clock with
   raised caps, a running connection campaign A with a follow-up step; in the first workspace also
   a draft campaign B (the integration's: the engine schedules nothing there) and a running
   campaign I for the import. The first workspace's admin signs in to the dashboard through the
   login form.
4. Traffic for --minutes, from --clients closed-loop threads taking the roles in turn — bulk adds,
   API reads, dashboard pages, integration events — and light paced threads beside them:
   - bulk adds: --batch contacts a request every --add-interval s, two in three to the first
     workspace, each with an Idempotency-Key; now and then an in-request duplicate and an invalid
     item (reported by index; the duplicate names the contact its first occurrence created), an
     immediate retry with the same key (answered from the first, with Idempotent-Replayed), or a
     re-send of earlier URLs under a new key (duplicates naming the recorded ids);
   - API reads: contact lists (status filters, search, cursor pages), contacts, activity logs,
     campaigns, the subscription, the imports;
   - dashboard pages (session cookie): overview, campaign pages with filters and search, a contact's
     page and its htmx dialog, the imports page;
   - integration: contacts added to B and walked through scripted life cycles with
     POST /contacts/{id}/events (each with a key; every answer's status checked against the script,
     some retried at once with their key). The sandbox accepts open invites in every campaign (a
     person accepts whatever the campaign's state), and the sweep withdraws them all after 20
     days of the engine's clock — which runs --engine-speed times faster than the API's, so after
     ~8 minutes at 3600 an invite the integration reports is already stale to it: after
     invite_sent the engine may get there first. A 409 to invite_accepted or invite_withdrawn is
     expected only when the contact is then connected or withdrawn, and the script goes on;
   - the events feed of each workspace followed with after=next_after (every seq checked: no gap,
     no repeat, no other workspace's event);
   - failed sign-ins every --signin-interval s (GET /login, POST a wrong password: the admin's
     account from 127.0.0.1, or an unknown email posing as a 10.x address): 401 or 429, never else;
   - CSV imports of --import-rows rows each (some invalid, some duplicate; every file its own
     URLs), each POSTed with a key and polled to its end. First in the warm-up: an import's batches
     (and the read-ahead's one more) raise the RSS of the process that runs it ONCE — the freed
     memory stays with the allocator for the next import, which needs no more (a worker alone,
     measured: +23 MB at its first 20,000-row import, +1.5 MB over the next three; the same with
     MALLOC_ARENA_MAX=2; the Python objects alive after one are 1.7 MB, always the same, and
     malloc_trim gives back only 3.5 MB: freed, fragmented heap). Serve's processes and the
     worker all run the imports job, and whichever is free takes an import, so at 5 s one import
     per process is posted at once (each into a draft campaign of its own in the third workspace: the engine's
     work and the webhooks' are the run's own), and again for any process that did not take one,
     until every one ran one (at most 4 rounds within 80 % of the warm-up): the growth check then
     sees a trend after every workload ran once, not that step (before, the one import at 30 %
     made the worker "grow 20.2 %": 132 → 158 MB at 180-240 s, flat for the 6 minutes after).
     Then one import at 30 % of the run into the running campaign I, as before: the process that
     ran it is named, with its RSS before and after;
   - the RSS (VmRSS) of serve's processes and of the worker every 5 s, and the load average.
5. The end: traffic stops; RSS sampled; the worker stopped with SIGINT (it must exit cleanly; one
   that has not after 60 s gets SIGABRT, its threads' stacks printed, then SIGKILL); the
   imports waited for; the feeds read to their head; then the wait for every event the feeds showed
   (after the subscription) to reach the receiver, as long as deliveries keep arriving (given up
   after --grace s without one, or --max-drain s in all: the time the backlog took is printed).
6. Re-read, outside the traffic's figures: every contact a 2xx bulk add created is in its
   campaign's full listing with its URL; every key replayed with its body answers the same ids
   with Idempotent-Replayed; each campaign's stats add up to its listing; every integration event's
   activity is in its contact's log and each contact ends in the status its last answer said, or
   in one a chain of entries of its log (not ours: the sweep's, the sandbox's) moved it to (a
   sample of those keys replayed too); every import (the warm-up's and the later one) is done
   with the expected counts and its campaign holds exactly them; each subscription's backlog is
   empty.

Printed: requests by route and status, errors by status, p50 and p99 per route in the first and
the last tenth of the run, webhook lag p50/p99 (arrival − recorded_at for events recorded on the
real clock, arrival − first seen in the feed for every event: the engine's events carry its
simulated clock), RSS per process at the end of the warm-up (a minute, or 20 % of a shorter run)
and at the end (growth judged on the medians of a window after the warm-up and of the last one:
a uvicorn worker's RSS swings by tens of MB from one sample to the next; which process ran each
import, and whether every process that runs imports ran one in the warm-up), writes recorded vs
re-read, events seen vs delivered, and the ERROR lines of both logs. FAIL on any 5xx, any transport
error or unexpected answer, any recorded write missing or changed, a feed gap or repeat, any event
not delivered (or delivered but never in the feed, or badly signed), a worker that does not stop
cleanly, or RSS growth over --rss-limit % after warm-up.
The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import multiprocessing as mp
import os
import pickle
import queue
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any, cast

import httpx
import sqlalchemy
from _common import (
    ROOT,
    Server,
    add_workers_argument,
    api_client,
    bench_env,
    cli_command,
    describe_url,
    fresh_database,
    latency_summary,
    log,
    machine_note,
    migrate_and_create_workspace,
    process_label,
    process_rss_kb,
    process_tree,
    run_cli,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# The admin migrate_and_create_workspace makes for the first workspace.
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password"  # noqa: S105 - a throwaway database
SECOND_ADMIN = ("soak-2@example.com", "soak-second-password")
WARM_ADMIN = ("soak-warm@example.com", "soak-warm-up-password")
SESSION_COOKIE = "tracker_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG_PASSWORD = "not-the-password"  # noqa: S105
REPLAYED = "idempotent-replayed"
STATUSES = ("not_verified", "not_connected", "invite_sent", "connected", "withdrawn")
RSS_EVERY = 5.0
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+) ")

# Integration scripts on the draft campaign B: (event body, the status the answer must carry).
SCRIPTS: tuple[tuple[tuple[dict[str, Any], str], ...], ...] = (
    (
        ({"event": "profile_visited", "degree": 2}, "not_connected"),
        ({"event": "invite_sent"}, "invite_sent"),
        ({"event": "invite_accepted"}, "connected"),
        ({"event": "message_sent", "message": "Thanks for connecting!"}, "connected"),
        ({"event": "reply_received"}, "connected"),
    ),
    (
        ({"event": "profile_visited", "degree": 1}, "connected"),
        ({"event": "reply_received"}, "connected"),
    ),
    (
        ({"event": "profile_visited", "degree": 2}, "not_connected"),
        (
            {"event": "action_failed", "error_code": "other", "message": "soak: flaky"},
            "not_connected",
        ),
        ({"event": "invite_sent"}, "invite_sent"),
        ({"event": "invite_withdrawn"}, "withdrawn"),
    ),
)


# --------------------------------------------------------------------------- the receiver


def _receiver_main(
    port_out: mp.Queue[int],
    secrets_in: mp.Queue[tuple[int, str]],
    stop: MpEvent,
    distinct: Any,  # a shared array: distinct webhook-ids per workspace index
    dump_path: str,
) -> None:
    """HTTP/1.1 on 127.0.0.1 answering every POST 204 at once; `/w{i}` is workspace i's
    subscription. Per request: arrival, path index, webhook-id, seq, workspace_id, recorded_at and
    whether the signature and timestamp hold (checked when the secret is known, else later)."""
    keys: dict[int, bytes] = {}
    seen: set[tuple[int, str]] = set()
    hits: list[tuple[float, int, str, int, int, str, bool]] = []
    waiting: list[tuple[float, int, str, int, int, str, dict[str, str], bytes]] = []
    reply = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"

    def signed(key: bytes, headers: dict[str, str], body: bytes, arrival: float) -> bool:
        uid, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
        try:
            fresh = abs(arrival - int(stamp)) <= 300
        except ValueError:
            return False
        mac = hmac.new(key, f"{uid}.{stamp}.".encode() + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(mac).decode()
        return fresh and expected in headers.get("webhook-signature", "").split()

    def take_secrets() -> None:
        while True:
            try:
                index, secret = secrets_in.get_nowait()
            except queue.Empty:
                return
            keys[index] = base64.b64decode(secret.removeprefix("whsec_"))
            for w in [w for w in waiting if w[1] == index]:
                waiting.remove(w)
                hits.append((*w[:6], signed(keys[index], w[6], w[7], w[0])))

    def record(path: str, headers: dict[str, str], body: bytes) -> None:
        arrival = time.time()
        index = int(path[2:]) if path.startswith("/w") and path[2:].isdigit() else -1
        uid = headers.get("webhook-id", "")
        try:
            event = json.loads(body)
            seq, workspace, recorded = (
                int(event["seq"]),
                int(event["workspace_id"]),
                event["recorded_at"],
            )
        except (ValueError, KeyError, TypeError):
            seq, workspace, recorded = -1, -1, ""
        if index not in keys:
            take_secrets()
        if index in keys:
            hits.append(
                (
                    arrival,
                    index,
                    uid,
                    seq,
                    workspace,
                    recorded,
                    signed(keys[index], headers, body, arrival),
                )
            )
        else:
            waiting.append((arrival, index, uid, seq, workspace, recorded, headers, body))
        if 0 <= index < len(distinct) and (index, uid) not in seen:
            seen.add((index, uid))
            distinct[index] += 1

    class Connection(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = bytearray()
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while self.transport is not None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                total = end + 4 + int(headers.get("content-length") or 0)
                if len(self.buffer) < total:
                    return
                body = bytes(self.buffer[end + 4 : total])
                del self.buffer[:total]
                parts = lines[0].split(" ")
                record(parts[1] if len(parts) > 1 else "", headers, body)
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
            if waiting:
                take_secrets()
        server.close()

    asyncio.run(serve())
    take_secrets()
    for w in waiting:  # a secret never given: unverifiable, counted as badly signed
        hits.append((*w[:6], False))
    with open(dump_path, "wb") as out:
        pickle.dump(hits, out, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class Hit:
    arrival: float
    index: int
    uid: str
    seq: int
    workspace_id: int
    recorded_at: str
    signed: bool


class Receiver:
    def __init__(self, ctx: SpawnContext, tenants: int) -> None:
        self.ctx = ctx
        self.stop_event = ctx.Event()
        self.secrets: mp.Queue[tuple[int, str]] = ctx.Queue()
        self.distinct = ctx.Array("q", tenants)
        fd, self.dump_path = tempfile.mkstemp(prefix="bench_soak_hits_", suffix=".pickle")
        os.close(fd)
        self.base = ""
        self.proc: SpawnProcess | None = None

    def start(self) -> Receiver:
        ports: mp.Queue[int] = self.ctx.Queue()
        self.proc = self.ctx.Process(
            target=_receiver_main,
            args=(ports, self.secrets, self.stop_event, self.distinct, self.dump_path),
            name="soak-receiver",
        )
        self.proc.start()
        self.base = f"http://127.0.0.1:{ports.get(timeout=60)}"
        return self

    def url(self, index: int) -> str:
        return f"{self.base}/w{index}"

    def set_secret(self, index: int, secret: str) -> None:
        self.secrets.put((index, secret))

    def received(self, index: int) -> int:
        return int(self.distinct[index])

    def stop(self) -> list[Hit]:
        hits: list[Hit] = []
        if self.proc is not None:
            self.stop_event.set()
            self.proc.join(120)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join()
            with contextlib.suppress(EOFError, FileNotFoundError):
                with open(self.dump_path, "rb") as f:
                    hits = [Hit(*h) for h in pickle.load(f)]  # noqa: S301 - our own child's file
            self.proc = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.dump_path)
        return hits


# --------------------------------------------------------------------------- the worker process


class Background:
    """`contact-tracker ARGS` in its own process group, its output kept in a file."""

    def __init__(self, args: list[str], env: dict[str, str], name: str) -> None:
        self.args, self.env, self.name = args, env, name
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"bench_soak_{name}_", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Background:
        self.proc = subprocess.Popen(
            [*cli_command(), *self.args],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, timeout: float = 60.0) -> tuple[int | None, float]:
        """SIGINT (the worker's own way to stop: its jobs finish their pass); SIGKILL after
        `timeout`. Returns (exit status, seconds it took); None when it had to be killed."""
        t0 = time.monotonic()
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # its threads' stacks, to its log
                    self.proc.send_signal(signal.SIGABRT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the group we created, by its id
                self.proc.wait()
                return None, time.monotonic() - t0
        return self.proc.returncode, time.monotonic() - t0

    def text(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")

    def close(self) -> None:
        self.log_file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.log_file.name)


# --------------------------------------------------------------------------- what was sent


@dataclass
class Tenant:
    index: int
    workspace_id: int
    api_key: str
    head0: int = 0
    webhook_id: int = 0
    sender_id: int = 0
    campaign_a: int = 0
    campaign_b: int = 0  # the integration's draft campaign (first workspace only)
    campaign_i: int = 0  # the import's campaign (first workspace only)
    contact_ids: list[int] = field(default_factory=list)  # for the readers
    # every recorded contact by campaign and URL
    url_ids: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))


@dataclass
class BulkWrite:
    tenant: int
    campaign_id: int
    key: str
    body: bytes
    created: dict[str, int]  # normalised URL → id


@dataclass
class EventWrite:
    tenant: int
    contact_id: int
    key: str
    body: bytes
    activity_id: int
    status: str


@dataclass
class ImportWrite:
    label: str = ""  # "warm-up 1 (round 1)" … or "later (30 %)"
    campaign_id: int = 0
    api_key: str = ""  # the warm-up workspace's; "" for the first workspace's
    key: str = ""
    import_id: int = 0
    rows: int = 0
    expected_imported: int = 0
    expected_duplicates: int = 0
    expected_invalid: int = 0
    posted_at: float = 0.0
    finished_at: float = 0.0
    state: str = ""
    answer: dict[str, Any] = field(default_factory=dict)
    owner_pid: int = 0  # the process that ran it (the import's lease_owner, host:pid)


@dataclass
class Feed:
    """What one workspace's feed showed: uid → (seq, first seen (epoch s), type)."""

    tenant: int
    after: int = 0
    seen: dict[str, tuple[int, float, str]] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    pages: int = 0


class Ledger:
    """Every 2xx write, as the clients recorded it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bulk: list[BulkWrite] = []
        self.events: list[EventWrite] = []
        self.final_status: dict[int, str] = {}  # integration contact → its last answer's status
        self.engine_moved: set[int] = set()  # integration contacts the sandbox accepted first
        self.imports: list[ImportWrite] = []  # the warm-up's imports, then the later one
        self.retries = Counter[str]()  # immediate replays made during the run, by kind

    def add_bulk(self, tenant: Tenant, write: BulkWrite) -> None:
        with self.lock:
            self.bulk.append(write)
            tenant.url_ids[write.campaign_id].update(write.created)
            tenant.contact_ids.extend(write.created.values())


# --------------------------------------------------------------------------- the traffic's figures


class Traffic:
    """Every request: (seconds since the start, route, status, seconds); the failures apart."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.samples: list[tuple[float, str, int, float]] = []
        self.lock = threading.Lock()
        self.transport = Counter[str]()
        self.unexpected = Counter[tuple[str, int]]()
        self.notes: list[str] = []  # the first failures, in words
        self.server_errors: list[str] = []  # route, status, X-Request-ID, body excerpt
        self.mismatches: list[str] = []  # a 2xx whose content is not what was asked
        self.closed = False  # after the traffic's end: requests no longer counted in the figures

    def note(self, text: str) -> None:
        with self.lock:
            if len(self.notes) < 40:
                self.notes.append(text)

    def mismatch(self, text: str) -> None:
        with self.lock:
            self.mismatches.append(text)

    def call(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        route: str,
        expect: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> httpx.Response | None:
        start = time.monotonic()
        try:
            r = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            with self.lock:
                self.transport[route] += 1
            self.note(f"{route}: {type(exc).__name__}: {exc}")
            return None
        seconds = time.monotonic() - start
        if not self.closed:
            with self.lock:
                self.samples.append((start - self.t0, route, r.status_code, seconds))
        if r.status_code >= 500:
            with self.lock:
                self.server_errors.append(
                    f"{route} → {r.status_code} (X-Request-ID {r.headers.get('x-request-id')}): "
                    f"{method} {url} — {r.text[:300]!r}"
                )
        elif r.status_code not in expect:
            with self.lock:
                self.unexpected[(route, r.status_code)] += 1
            self.note(f"{route}: {r.status_code} for {method} {url}: {r.text[:300]!r}")
        return r


# --------------------------------------------------------------------------- set-up


def check(r: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if r.status_code != status:
        raise SystemExit(f"set-up: {what} answered {r.status_code}: {r.text[:500]}")
    return cast(dict[str, Any], r.json())


def set_up_tenant(base_url: str, tenant: Tenant, receiver: Receiver, first: bool) -> None:
    """The subscription first (every event after the head must arrive), then a sender and the
    campaigns."""
    with api_client(base_url, tenant.api_key) as c:
        tenant.head0 = int(
            check(c.get("/events", params={"after": "latest"}), 200, "events")["next_after"]
        )
        hook = check(
            c.post(
                "/webhooks",
                json={"url": receiver.url(tenant.index), "event_types": [], "description": "soak"},
            ),
            201,
            "POST /webhooks",
        )
        tenant.webhook_id = int(hook["id"])
        receiver.set_secret(tenant.index, str(hook["secret"]))
        sender = check(
            c.post(
                "/senders",
                json={
                    "name": f"Soak sender {tenant.index}",
                    "tier": "premium",
                    "timezone": "UTC",
                    "working_hours": {
                        "start": "00:00",
                        "end": "23:59",
                        "days": [1, 2, 3, 4, 5, 6, 7],
                    },
                    "limits": {
                        "daily_invites": 60,
                        "weekly_invites": 400,
                        "daily_profile_visits": 120,
                        "daily_follow_ups": 120,
                        "daily_inmails": 20,
                        "daily_withdrawals": 120,
                    },
                },
            ),
            201,
            "POST /senders",
        )
        tenant.sender_id = int(sender["id"])

        def campaign(name: str, running: bool) -> int:
            made = check(
                c.post(
                    "/campaigns",
                    json={
                        "name": name,
                        "type": "connection",
                        "sender_id": tenant.sender_id,
                        "connection_template": "Hi {first_name}, a soak test note.",
                        "follow_up_steps": [{"delay_days": 1, "template": "Thanks {first_name}!"}],
                        "max_reinvites": 1,
                    },
                ),
                201,
                "POST /campaigns",
            )
            if running:
                check(
                    c.patch(f"/campaigns/{made['id']}", json={"state": "running"}),
                    200,
                    "PATCH /campaigns/{id}",
                )
            return int(made["id"])

        tenant.campaign_a = campaign(f"Soak A{tenant.index}", running=True)
        if first:
            tenant.campaign_b = campaign("Soak B (integration, draft)", running=False)
            tenant.campaign_i = campaign("Soak I (import)", running=True)


def second_workspace(
    env: dict[str, str], name: str = "Soak two", admin: tuple[str, str] = SECOND_ADMIN
) -> tuple[int, str]:
    email, password = admin
    workspace_id = int(
        run_cli(
            ["create-workspace", name, "--admin-email", email, "--admin-password", password],
            env,
        ).splitlines()[-1]
    )
    key = run_cli(
        ["create-api-key", "--workspace", str(workspace_id), "--name", "soak"], env
    ).splitlines()[-1]
    return workspace_id, key


def sign_in(base_url: str) -> httpx.Client:
    """A dashboard client signed in through the real form (its cookies kept)."""
    c = httpx.Client(base_url=base_url, timeout=120, follow_redirects=False)
    r = c.get("/login")
    found = CSRF_FIELD.search(r.text)
    if r.status_code != 200 or found is None:
        raise SystemExit(f"set-up: GET /login answered {r.status_code}")
    r = c.post(
        "/login",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "csrf_token": html.unescape(found.group(1)),
            "next": "/",
        },
    )
    if r.status_code != 303 or SESSION_COOKIE not in c.cookies:
        raise SystemExit(f"set-up: POST /login answered {r.status_code}: {r.text[:300]}")
    return c


def make_import_file(path: Path, rows: int, tag: str) -> ImportWrite:
    """A CSV with every 997th row invalid (a company page) and every 1009th a re-spelling of the
    row before (a duplicate within the file)."""
    out = ImportWrite(rows=rows)
    lines = ["First Name,Last Name,LinkedIn URL,Company,Position,Email Address"]
    previous = ""
    for i in range(rows):
        slug = f"soak-import-{tag}-{i:07d}"
        url = f"https://www.linkedin.com/in/{slug}"
        if i % 997 == 996:
            url = f"https://www.linkedin.com/company/acme-{i}"
            out.expected_invalid += 1
        elif i % 1009 == 1008 and previous:
            url = f"http://uk.linkedin.com/in/{previous.upper()}/?trk=soak"
            out.expected_duplicates += 1
        else:
            previous = slug
            out.expected_imported += 1
        lines.append(f'Ima{i},"Porter, {i % 50}",{url},Importers {i % 7},Buyer,imp{i}@example.com')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


# --------------------------------------------------------------------------- the clients


@dataclass
class Shared:
    base_url: str
    args: argparse.Namespace
    tenants: list[Tenant]
    ledger: Ledger
    traffic: Traffic
    stop: threading.Event
    tag: str
    import_file: Path
    duration: float
    counter: Callable[[], int]


def contact_item(tag: str, n: int, i: int) -> dict[str, Any]:
    return {
        "linkedin_url": f"https://www.linkedin.com/in/soak-{tag}-{n:06d}-{i:04d}",
        "first_name": f"Soak{i}",
        "last_name": f"Batch{n}",
        "company": ("Acme", "Globex", "Initech", "Hooli")[i % 4],
        "title": "CTO",
        "email": f"soak{n}.{i}@example.com",
        "custom_fields": {"batch": str(n)},
    }


def normalised(url: str) -> str:
    return url.lower()  # our URLs are already in the canonical form but for the case


def bulk_add(
    sh: Shared,
    c: httpx.Client,
    tenant: Tenant,
    campaign_id: int,
    items: list[dict[str, Any]],
    *,
    expect_created: list[str],
    expect_dup: dict[int, int | str],
    expect_invalid: list[int],
    retry: bool,
) -> BulkWrite | None:
    """POST the items with a new key; check the answer against what was meant; record it."""
    key = f"soak-{sh.tag}-bulk-{sh.counter()}"
    body = json.dumps({"contacts": items}).encode()
    route = "api POST /campaigns/{id}/contacts"
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    url = f"/campaigns/{campaign_id}/contacts"
    r = sh.traffic.call(c, "POST", url, route, content=body, headers=headers)
    if r is None or r.status_code != 200:
        return None
    answer = r.json()
    created = {normalised(x["linkedin_url"]): int(x["id"]) for x in answer["contacts"]}
    dups = {int(d["index"]): d["contact_id"] for d in answer["duplicates"]}
    invalid = sorted(int(x["index"]) for x in answer["invalid"])
    # An in-request duplicate (a URL as the value) names the contact its first occurrence created.
    expect_dup = {
        i: created.get(normalised(x), -1) if isinstance(x, str) else x
        for i, x in expect_dup.items()
    }
    if sorted(created) != sorted(normalised(u) for u in expect_created) or answer["created"] != len(
        expect_created
    ):
        sh.traffic.mismatch(f"bulk add {key}: created {sorted(created)[:3]}… not as sent")
    if dups != expect_dup or invalid != expect_invalid:
        sh.traffic.mismatch(
            f"bulk add {key}: duplicates {dups} (expected {expect_dup}), invalid {invalid} "
            f"(expected {expect_invalid})"
        )
    write = BulkWrite(tenant.index, campaign_id, key, body, created)
    sh.ledger.add_bulk(tenant, write)
    if retry:
        again = sh.traffic.call(c, "POST", url, route + " (retry)", content=body, headers=headers)
        sh.ledger.retries["bulk"] += 1
        if again is not None and again.status_code == 200:
            ids = {normalised(x["linkedin_url"]): int(x["id"]) for x in again.json()["contacts"]}
            if again.headers.get(REPLAYED) != "true" or ids != created:
                sh.traffic.mismatch(f"bulk add {key}: the retry was not the first answer replayed")
    return write


def writer_role(sh: Shared, k: int) -> None:
    rng = random.Random(1000 + k)
    clients = [api_client(sh.base_url, t.api_key) for t in sh.tenants]
    n = 0
    try:
        while not sh.stop.is_set():
            started = time.monotonic()
            n += 1
            batch = sh.counter()
            tenant = sh.tenants[1] if len(sh.tenants) > 1 and n % 3 == 2 else sh.tenants[0]
            c = clients[tenant.index]
            items = [contact_item(sh.tag, batch, i) for i in range(sh.args.batch)]
            dup: dict[int, int | str] = {}
            invalid: list[int] = []
            urls = [x["linkedin_url"] for x in items]
            if n % 10 == 0 and len(items) >= 3:
                # an in-request duplicate (another spelling of item 0) and a company page
                slug = items[0]["linkedin_url"].rsplit("/", 1)[1]
                items[1]["linkedin_url"] = f"http://de.linkedin.com/in/{slug.upper()}/?trk=soak"
                items[2]["linkedin_url"] = "https://www.linkedin.com/company/soak"
                dup, invalid = {1: items[0]["linkedin_url"]}, [2]
                urls = [urls[0], *urls[3:]]
            earlier = tenant.url_ids[tenant.campaign_a]
            if n % 20 == 7 and earlier:
                # earlier contacts again, under a new key: duplicates naming the recorded ids
                with sh.ledger.lock:
                    known = rng.sample(sorted(earlier), min(5, len(earlier)))
                    ids = [earlier[u] for u in known]
                start = len(items)
                items += [{"linkedin_url": u} for u in known]
                dup.update({start + j: ids[j] for j in range(len(known))})
            bulk_add(
                sh,
                c,
                tenant,
                tenant.campaign_a,
                items,
                expect_created=urls,
                expect_dup=dup,
                expect_invalid=invalid,
                retry=n % 15 == 3,
            )
            sh.stop.wait(max(0.0, sh.args.add_interval - (time.monotonic() - started)))
    finally:
        for c in clients:
            c.close()


def reader_role(sh: Shared, k: int) -> None:
    rng = random.Random(2000 + k)
    clients = [api_client(sh.base_url, t.api_key) for t in sh.tenants]
    cursor: str | None = None
    depth = 0
    n = 0
    try:
        while not sh.stop.is_set():
            n += 1
            tenant = sh.tenants[1] if len(sh.tenants) > 1 and n % 4 == 3 else sh.tenants[0]
            c = clients[tenant.index]
            kind = n % 9
            some = rng.choice(tenant.contact_ids) if tenant.contact_ids else None
            a = tenant.campaign_a
            if kind == 0:
                params: dict[str, Any] = {"limit": 50}
                if rng.random() < 0.5:
                    params["status"] = rng.choice(STATUSES)
                sh.traffic.call(
                    c,
                    "GET",
                    f"/campaigns/{a}/contacts",
                    "api GET /campaigns/{id}/contacts",
                    params=params,
                )
            elif kind == 1:
                params = {"limit": 100}
                if cursor and depth < 30:
                    params["cursor"] = cursor
                r = sh.traffic.call(
                    clients[0],
                    "GET",
                    f"/campaigns/{sh.tenants[0].campaign_a}/contacts",
                    "api GET /campaigns/{id}/contacts (pages)",
                    params=params,
                )
                cursor = (
                    r.json().get("next_cursor") if r is not None and r.status_code == 200 else None
                )
                depth = depth + 1 if cursor and "cursor" in params else 0
            elif kind == 2 and some is not None:
                sh.traffic.call(c, "GET", f"/contacts/{some}", "api GET /contacts/{id}")
            elif kind == 3 and some is not None:
                sh.traffic.call(
                    c, "GET", f"/contacts/{some}/activity", "api GET /contacts/{id}/activity"
                )
            elif kind == 4:
                sh.traffic.call(c, "GET", f"/campaigns/{a}", "api GET /campaigns/{id}")
            elif kind == 5:
                sh.traffic.call(c, "GET", "/campaigns", "api GET /campaigns")
            elif kind == 6:
                sh.traffic.call(
                    c,
                    "GET",
                    f"/campaigns/{a}/contacts",
                    "api GET /campaigns/{id}/contacts?q=",
                    params={"q": f"Batch{rng.randrange(1, max(2, sh.counter()))}", "limit": 20},
                )
            elif kind == 7:
                sh.traffic.call(
                    c, "GET", f"/webhooks/{tenant.webhook_id}", "api GET /webhooks/{id}"
                )
            else:
                sh.traffic.call(c, "GET", "/imports", "api GET /imports")
            sh.stop.wait(sh.args.think)
    finally:
        for c in clients:
            c.close()


def dashboard_role(sh: Shared, k: int, c: httpx.Client) -> None:
    rng = random.Random(3000 + k)
    t = sh.tenants[0]
    n = 0
    try:
        while not sh.stop.is_set():
            n += 1
            kind = n % 8
            some = rng.choice(t.contact_ids) if t.contact_ids else None
            if kind == 0:
                sh.traffic.call(c, "GET", "/", "page GET /")
            elif kind == 1:
                sh.traffic.call(c, "GET", f"/campaigns/{t.campaign_a}", "page GET /campaigns/{id}")
            elif kind == 2:
                sh.traffic.call(
                    c,
                    "GET",
                    f"/campaigns/{t.campaign_a}",
                    "page GET /campaigns/{id}?status=",
                    params={"status": rng.choice(STATUSES)},
                )
            elif kind == 3:
                sh.traffic.call(
                    c,
                    "GET",
                    f"/campaigns/{t.campaign_a}",
                    "page GET /campaigns/{id}?q=",
                    params={"q": f"Batch{rng.randrange(1, max(2, sh.counter()))}"},
                )
            elif kind == 4 and some is not None:
                sh.traffic.call(c, "GET", f"/contacts/{some}", "page GET /contacts/{id}")
            elif kind == 5 and some is not None:
                sh.traffic.call(
                    c,
                    "GET",
                    f"/contacts/{some}",
                    "page GET /contacts/{id} (htmx dialog)",
                    headers={"HX-Request": "true"},
                )
            elif kind == 6:
                sh.traffic.call(c, "GET", f"/campaigns/{t.campaign_i}", "page GET /campaigns/{id}")
            else:
                sh.traffic.call(c, "GET", "/imports", "page GET /imports")
            sh.stop.wait(sh.args.think)
    finally:
        c.close()


def integration_role(sh: Shared, k: int) -> None:
    """Contacts of the draft campaign B walked through SCRIPTS with POST /contacts/{id}/events."""
    rng = random.Random(4000 + k)
    t = sh.tenants[0]
    c = api_client(sh.base_url, t.api_key)
    active: list[list[int]] = []  # [contact id, script, next step]
    n = 0
    try:
        while not sh.stop.is_set():
            if len(active) < 10:
                batch = sh.counter()
                items = [contact_item(sh.tag, batch, i) for i in range(20)]
                write = bulk_add(
                    sh,
                    c,
                    t,
                    t.campaign_b,
                    items,
                    expect_created=[x["linkedin_url"] for x in items],
                    expect_dup={},
                    expect_invalid=[],
                    retry=False,
                )
                if write is not None:
                    active += [[cid, (cid % 5) % 3, 0] for cid in write.created.values()]
                    with sh.ledger.lock:
                        for cid in write.created.values():
                            sh.ledger.final_status[cid] = "not_verified"
                sh.stop.wait(sh.args.event_interval)
                continue
            n += 1
            entry = rng.choice(active)
            cid, script, step = entry
            event, status = SCRIPTS[script][step]
            key = f"soak-{sh.tag}-event-{sh.counter()}"
            body = json.dumps(event).encode()
            headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
            route = "api POST /contacts/{id}/events"
            # The simulated LinkedIn accepts open invites in every campaign (as a person may accept
            # whatever the campaign's state): after invite_sent the engine may get there first.
            racing = event["event"] in ("invite_accepted", "invite_withdrawn")
            r = sh.traffic.call(
                c,
                "POST",
                f"/contacts/{cid}/events",
                route,
                expect=(200, 409) if racing else (200,),
                content=body,
                headers=headers,
            )
            if r is not None and r.status_code == 200:
                answer = r.json()
                got = answer["contact"]["status"]
                if got != status:
                    sh.traffic.mismatch(
                        f"event {key} on contact {cid}: status {got}, expected {status}"
                    )
                activity = int(answer["activity"]["id"] or 0)
                with sh.ledger.lock:
                    sh.ledger.events.append(EventWrite(t.index, cid, key, body, activity, got))
                    sh.ledger.final_status[cid] = got
                entry[2] += 1
                if entry[2] >= len(SCRIPTS[script]):
                    active.remove(entry)
                if n % 25 == 0:
                    again = sh.traffic.call(
                        c,
                        "POST",
                        f"/contacts/{cid}/events",
                        route + " (retry)",
                        content=body,
                        headers=headers,
                    )
                    sh.ledger.retries["event"] += 1
                    if (
                        again is not None
                        and again.status_code == 200
                        and (
                            again.headers.get(REPLAYED) != "true"
                            or int(again.json()["activity"]["id"] or 0) != activity
                        )
                    ):
                        sh.traffic.mismatch(
                            f"event {key}: the retry was not the first answer replayed"
                        )
            elif r is not None and r.status_code == 409 and racing:
                now = sh.traffic.call(c, "GET", f"/contacts/{cid}", "api GET /contacts/{id}")
                state = now.json()["status"] if now is not None and now.status_code == 200 else None
                if state in ("connected", "withdrawn"):  # the engine got there first
                    sh.ledger.retries["engine_first"] += 1
                    with sh.ledger.lock:
                        sh.ledger.engine_moved.add(cid)
                    steps = [e["event"] for e, _ in SCRIPTS[script]]
                    if state == "connected" and "message_sent" in steps:
                        entry[2] = steps.index("message_sent")
                    else:
                        active.remove(entry)
                else:
                    sh.traffic.mismatch(f"event {key} on contact {cid}: 409, and it is {state}")
                    active.remove(entry)
            elif r is not None:
                active.remove(entry)  # the script cannot go on for this one (already noted)
            sh.stop.wait(sh.args.event_interval)
    finally:
        c.close()


def follower(sh: Shared, feed: Feed, drain: threading.Event, done: threading.Event) -> None:
    """GET /events?after=next_after until drained: every seq the one after the last."""
    t = sh.tenants[feed.tenant]
    c = api_client(sh.base_url, t.api_key)
    drained_for = 0.0
    try:
        while True:
            r = sh.traffic.call(
                c, "GET", "/events", "api GET /events", params={"after": feed.after, "limit": 1000}
            )
            if r is None or r.status_code != 200:
                if drain.is_set():
                    drained_for = drained_for or time.monotonic()
                    if time.monotonic() - drained_for > 60:
                        feed.anomalies.append("the feed still failed 60 s after the traffic's end")
                        return
                time.sleep(1.0)
                continue
            page = r.json()
            now = time.time()
            feed.pages += 1
            for e in page["items"]:
                seq, uid = int(e["seq"]), str(e["id"])
                if int(e["workspace_id"]) != t.workspace_id:
                    feed.anomalies.append(
                        f"seq {seq}: workspace {e['workspace_id']} in {t.workspace_id}'s feed"
                    )
                if uid in feed.seen:
                    feed.anomalies.append(
                        f"seq {seq}: {uid} repeated (first at seq {feed.seen[uid][0]})"
                    )
                elif seq != feed.after + 1:
                    feed.anomalies.append(f"seq {seq} after {feed.after}: a gap or a step back")
                feed.seen.setdefault(uid, (seq, now, str(e["type"])))
                feed.after = max(feed.after, seq)
            if int(page["next_after"]) != feed.after:
                feed.anomalies.append(
                    f"next_after {page['next_after']} but the last item was {feed.after}"
                )
                feed.after = max(feed.after, int(page["next_after"]))
            if not page["items"]:
                if drain.is_set():
                    return
                time.sleep(0.5)
    finally:
        c.close()
        done.set()


def attacker(sh: Shared) -> None:
    """Failed sign-ins: the admin's account from 127.0.0.1 (a back-off, then 429s) and unknown
    emails from addresses a trusted proxy reports (hashed, 401)."""
    n = 0
    with httpx.Client(base_url=sh.base_url, timeout=120, follow_redirects=False) as c:
        while not sh.stop.is_set():
            n += 1
            started = time.monotonic()
            forwarded = n % 2 == 0
            headers = {"X-Forwarded-For": f"10.77.{(n >> 8) & 255}.{n & 255}"} if forwarded else {}
            page = sh.traffic.call(c, "GET", "/login", "page GET /login", headers=headers)
            found = CSRF_FIELD.search(page.text) if page is not None else None
            if found is not None:
                email = f"nobody-{n}@example.com" if forwarded else ADMIN_EMAIL
                sh.traffic.call(
                    c,
                    "POST",
                    "/login",
                    "page POST /login (wrong password)",
                    expect=(401, 429),
                    headers=headers,
                    data={
                        "email": email,
                        "password": WRONG_PASSWORD,
                        "csrf_token": html.unescape(found.group(1)),
                        "next": "/",
                    },
                )
            sh.stop.wait(max(0.0, sh.args.signin_interval - (time.monotonic() - started)))


WARM_IMPORT_ROUNDS = 4


@dataclass
class ImportPlan:
    """What the importer needs beyond Shared: when the warm-up ends, the processes that run the
    imports job (serve's workers and the worker), who ran an import (its lease_owner's pid), and
    where to write the warm-up's files."""

    warm: float
    runners: Callable[[], set[int]]
    owner_of: Callable[[int], int]
    data_dir: Path
    later: ImportWrite  # the import at 30 % (its file is Shared.import_file)
    # The warm-up's imports go to a workspace of their own with no subscription: 20,000
    # contact.created events each would otherwise be webhook deliveries the soak never had.
    warm_key: str = ""
    warm_sender: int = 0
    warm_covered: set[int] = field(default_factory=set)  # runners that ran a warm-up import
    warm_missed: set[int] = field(default_factory=set)  # runners that did not


def run_imports(sh: Shared, c: httpx.Client, batch: list[tuple[ImportWrite, bytes]]) -> None:
    """POST the imports at once (each with its key), then poll every one to its end (even past
    the traffic's end), its rejected rows fetched, the process that ran it looked up."""
    running: list[ImportWrite] = []
    for imp, body in batch:
        imp.posted_at = time.monotonic() - sh.traffic.t0
        r = sh.traffic.call(
            c,
            "POST",
            "/imports",
            "api POST /imports",
            expect=(202,),
            files={"file": (f"{imp.key}.csv", body, "text/csv")},
            data={"campaign_id": str(imp.campaign_id)},
            headers={"Idempotency-Key": imp.key},
        )
        if r is not None and r.status_code == 202:
            imp.import_id = int(r.json()["id"])
            running.append(imp)
    deadline = time.monotonic() + sh.duration + sh.args.max_drain
    while running and time.monotonic() < deadline:
        for imp in list(running):
            r = sh.traffic.call(c, "GET", f"/imports/{imp.import_id}", "api GET /imports/{id}")
            if r is None or r.status_code != 200:
                continue
            imp.answer = r.json()
            imp.state = str(imp.answer["state"])
            if imp.state in ("done", "failed", "cancelled"):
                imp.finished_at = time.monotonic() - sh.traffic.t0
                running.remove(imp)
                sh.traffic.call(
                    c,
                    "GET",
                    f"/imports/{imp.import_id}/rejected.csv",
                    "api GET /imports/{id}/rejected.csv",
                )
        if running:
            time.sleep(1.0)


def importer(sh: Shared, plan: ImportPlan, finished: threading.Event) -> None:
    """The warm-up's imports, then one at 30 % of the run.

    An import's batches (and the read-ahead's one more, on a thread of its own with its own malloc
    arena) raise the RSS of the process that runs it once: glibc keeps the freed memory for the
    next import, which needs no more (a worker measured alone: +23 MB at its first 20,000-row
    import, +1.4 MB over the next three). The growth check is about leaks, so each process that
    runs the imports job should have run one before its baseline is taken: in the warm-up, rounds
    of imports are posted at once, one per such process that has not run one yet (each into a
    draft campaign of its own, so the engine's workload is the one it was), until every process
    ran one (or WARM_IMPORT_ROUNDS, or 80 % of the warm-up). The import at 30 % then goes into the
    running campaign I, as before; it must not move the RSS again."""
    t = sh.tenants[0]
    try:
        with (
            api_client(sh.base_url, plan.warm_key) as warm_c,
            api_client(sh.base_url, t.api_key) as c,
        ):
            if sh.stop.wait(min(5.0, 0.1 * plan.warm)):
                return
            for round_no in range(1, WARM_IMPORT_ROUNDS + 1):
                runners = plan.runners()
                covered = {imp.owner_pid for imp in sh.ledger.imports}
                missing = runners - covered
                elapsed = time.monotonic() - sh.traffic.t0
                if not missing or elapsed > 0.8 * plan.warm or sh.stop.is_set():
                    break
                batch: list[tuple[ImportWrite, bytes]] = []
                for _ in missing:
                    n = len(sh.ledger.imports) + 1
                    made = sh.traffic.call(
                        warm_c,
                        "POST",
                        "/campaigns",
                        "api POST /campaigns (warm-up import's)",
                        expect=(201,),
                        json={
                            "name": f"Soak W{n} (warm-up import, draft)",
                            "type": "connection",
                            "sender_id": plan.warm_sender,
                            "connection_template": "Hi {first_name}, a soak test note.",
                        },
                    )
                    if made is None or made.status_code != 201:
                        continue
                    path = plan.data_dir / f"soak-import-w{n}.csv"
                    imp = make_import_file(path, sh.args.import_rows, f"{sh.tag}-w{n}")
                    imp.label = f"warm-up {n} (round {round_no})"
                    imp.campaign_id = int(made.json()["id"])
                    imp.key = f"soak-{sh.tag}-import-w{n}"
                    imp.api_key = plan.warm_key
                    sh.ledger.imports.append(imp)
                    batch.append((imp, path.read_bytes()))
                run_imports(sh, warm_c, batch)
                for imp, _ in batch:
                    if imp.import_id:
                        imp.owner_pid = plan.owner_of(imp.import_id)
            runners = plan.runners()
            plan.warm_covered = runners & {imp.owner_pid for imp in sh.ledger.imports}
            plan.warm_missed = runners - plan.warm_covered
            log(
                f"warm-up imports: {len(sh.ledger.imports)}, run by pids "
                f"{sorted(imp.owner_pid for imp in sh.ledger.imports)}; the processes that run "
                f"imports {sorted(runners)}"
                + (f", NOT covered: {sorted(plan.warm_missed)}" if plan.warm_missed else "")
            )
            if sh.stop.wait(max(0.0, 0.3 * sh.duration - (time.monotonic() - sh.traffic.t0))):
                return
            later = plan.later
            later.label, later.campaign_id = "later (30 %)", t.campaign_i
            later.key = f"soak-{sh.tag}-import"
            sh.ledger.imports.append(later)
            run_imports(sh, c, [(later, sh.import_file.read_bytes())])
            if later.import_id:
                later.owner_pid = plan.owner_of(later.import_id)
    finally:
        finished.set()


# --------------------------------------------------------------------------- RSS


def import_runners(sampler: RssSampler) -> set[int]:
    """The processes that run the imports job: serve's worker processes (serve itself when it has
    none) and the worker, as the sampler last saw them."""
    alive = set(sampler.series[-1][1]) if sampler.series else set()
    serve_workers = {p for p in alive if sampler.labels.get(p) == "serve worker process"}
    roots = {p for p in alive if sampler.labels.get(p) == "worker"}
    if not serve_workers:
        roots |= {p for p in alive if sampler.labels.get(p) == "serve"}
    return serve_workers | roots


def import_owner(db: sqlalchemy.Engine, import_id: int) -> int:
    """The pid in an import's lease_owner (host:pid): the process that claimed and ran it."""
    with db.connect() as conn:
        owner = conn.execute(
            sqlalchemy.text("SELECT lease_owner FROM imports WHERE id = :id"), {"id": import_id}
        ).scalar()
    pid = str(owner or "").rpartition(":")[2]
    return int(pid) if pid.isdigit() else 0


def child_label(parent: str, pid: int) -> str:
    text = process_label(pid)
    if "resource_tracker" in text:
        return f"{parent}'s multiprocessing resource tracker"
    if "spawn_main" in text:
        return f"{parent} worker process"
    return f"{parent} child: {text}"


class RssSampler:
    """Every RSS_EVERY s: VmRSS of serve's process tree and of the worker, and the load."""

    def __init__(self, roots: dict[str, int], t0: float) -> None:
        self.roots = roots
        self.t0 = t0
        self.series: list[tuple[float, dict[int, int], float]] = []
        self.labels: dict[int, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def sample(self) -> tuple[float, dict[int, int], float]:
        values: dict[int, int] = {}
        for name, root in self.roots.items():
            for pid in process_tree(root):
                rss = process_rss_kb(pid)
                if rss is None:
                    continue
                if pid not in self.labels:
                    self.labels[pid] = name if pid == root else child_label(name, pid)
                values[pid] = rss
        point = (time.monotonic() - self.t0, values, os.getloadavg()[0])
        self.series.append(point)
        return point

    def _run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(RSS_EVERY)

    def at(self, seconds: float) -> tuple[float, dict[int, int], float]:
        """The first sample at or after `seconds`."""
        for point in self.series:
            if point[0] >= seconds:
                return point
        return self.series[-1]

    def median(self, pid: int, start: float, end: float) -> int | None:
        """The median RSS of a process over the samples in [start, end]."""
        values = sorted(p[1][pid] for p in self.series if start <= p[0] <= end and pid in p[1])
        return values[len(values) // 2] if values else None


# --------------------------------------------------------------------------- the end


def wait_for_deliveries(
    receiver: Receiver, feeds: list[Feed], tenants: list[Tenant], stall: float, limit: float
) -> tuple[float, bool]:
    """Until the receiver has as many distinct ids per workspace as its feed showed after the
    subscription, while deliveries keep coming: at most `stall` s without a new one, `limit` s in
    all. Returns (seconds waited, whether every one arrived)."""
    t0 = time.monotonic()
    expected = [sum(1 for s, _, _ in f.seen.values() if s > tenants[f.tenant].head0) for f in feeds]
    last_log = last_progress = t0
    before: list[int] = []
    while True:
        got = [receiver.received(f.tenant) for f in feeds]
        now = time.monotonic()
        if all(g >= e for g, e in zip(got, expected, strict=True)):
            return now - t0, True
        if got != before:
            before, last_progress = got, now
        if now - last_progress > stall or now - t0 > limit:
            return now - t0, False
        if now - last_log > 15:
            log(f"waiting for deliveries: {got} of {expected}")
            last_log = now
        time.sleep(0.25)


def list_campaign(c: httpx.Client, campaign_id: int, problems: list[str]) -> dict[int, str]:
    """Every contact of a campaign (id → URL), by its cursor pages."""
    out: dict[int, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        r = c.get(f"/campaigns/{campaign_id}/contacts", params=params)
        r.raise_for_status()
        page = r.json()
        for x in page["items"]:
            if int(x["id"]) in out:
                problems.append(f"campaign {campaign_id}: contact {x['id']} listed twice")
            out[int(x["id"])] = normalised(x["linkedin_url"])
        cursor = page["next_cursor"]
        if not cursor:
            return out


@dataclass
class Verdict:
    bulk_requests: int = 0
    bulk_contacts: int = 0
    bulk_found: int = 0
    bulk_missing: list[str] = field(default_factory=list)
    replays: int = 0
    replays_ok: int = 0
    replay_problems: list[str] = field(default_factory=list)
    listed: dict[int, int] = field(default_factory=dict)  # campaign → contacts listed
    count_problems: list[str] = field(default_factory=list)
    events: int = 0
    events_found: int = 0
    event_problems: list[str] = field(default_factory=list)
    status_checked: int = 0
    status_problems: list[str] = field(default_factory=list)
    status_moved_by_engine: int = 0
    import_problems: list[str] = field(default_factory=list)
    backlog: dict[int, int] = field(default_factory=dict)
    error: str = ""  # the re-read itself failed


def reread(base_url: str, tenants: list[Tenant], ledger: Ledger, sample_events: int) -> Verdict:
    v = Verdict()
    clients = [api_client(base_url, t.api_key) for t in tenants]
    # The warm-up imports' workspace: its client after the tenants'.
    by_key = {t.api_key: t.index for t in tenants}
    for key in sorted({imp.api_key for imp in ledger.imports if imp.api_key}):
        by_key[key] = len(clients)
        clients.append(api_client(base_url, key))

    def client_of(imp: ImportWrite) -> int:
        return by_key[imp.api_key] if imp.api_key else 0

    try:
        # Every contact a 2xx bulk add created, in its campaign's listing, with its URL.
        campaigns = {
            (t.index, cid)
            for t in tenants
            for cid in (t.campaign_a, t.campaign_b, t.campaign_i)
            if cid
        } | {(client_of(imp), imp.campaign_id) for imp in ledger.imports if imp.campaign_id}
        listing = {
            cid: list_campaign(clients[ti], cid, v.count_problems) for ti, cid in sorted(campaigns)
        }
        v.listed = {cid: len(x) for cid, x in listing.items()}
        recorded_by_campaign: dict[int, set[int]] = defaultdict(set)
        v.bulk_requests = len(ledger.bulk)
        for w in ledger.bulk:
            for url, cid in w.created.items():
                v.bulk_contacts += 1
                recorded_by_campaign[w.campaign_id].add(cid)
                if listing[w.campaign_id].get(cid) == url:
                    v.bulk_found += 1
                else:
                    v.bulk_missing.append(
                        f"contact {cid} ({url}) of {w.key} not in campaign {w.campaign_id}"
                    )
        # The campaigns fed only by bulk adds hold exactly the recorded contacts.
        for t in tenants:
            for cid in (t.campaign_a, t.campaign_b):
                if cid and set(listing[cid]) != recorded_by_campaign[cid]:
                    extra = set(listing[cid]) - recorded_by_campaign[cid]
                    v.count_problems.append(
                        f"campaign {cid} lists {len(listing[cid])} contacts, {len(recorded_by_campaign[cid])} "
                        f"recorded ({len(extra)} never answered to a client: {sorted(extra)[:5]})"
                    )
        # Each campaign's maintained counts add up to its listing.
        for ti, cid in sorted(campaigns):
            stats = clients[ti].get(f"/campaigns/{cid}").raise_for_status().json()["stats"]
            by_status = sum(int(stats[s]) for s in STATUSES)
            if not (by_status == int(stats["total"]) == len(listing[cid])):
                v.count_problems.append(
                    f"campaign {cid}: stats total {stats['total']}, by status {by_status}, listed "
                    f"{len(listing[cid])}"
                )
        # Every key replayed with its body: the first answer, marked as replayed.
        for w in ledger.bulk:
            c = clients[w.tenant]
            r = c.post(
                f"/campaigns/{w.campaign_id}/contacts",
                content=w.body,
                headers={"Idempotency-Key": w.key, "Content-Type": "application/json"},
            )
            v.replays += 1
            ids = (
                {normalised(x["linkedin_url"]): int(x["id"]) for x in r.json()["contacts"]}
                if r.status_code == 200
                else {}
            )
            if r.status_code == 200 and r.headers.get(REPLAYED) == "true" and ids == w.created:
                v.replays_ok += 1
            else:
                v.replay_problems.append(
                    f"{w.key}: {r.status_code} replayed={r.headers.get(REPLAYED)}"
                )
        # Every integration event's activity in its contact's log; the final statuses.
        by_contact: dict[int, list[EventWrite]] = defaultdict(list)
        for e in ledger.events:
            by_contact[e.contact_id].append(e)
        v.events = len(ledger.events)
        c = clients[0]
        ours = {e.activity_id for e in ledger.events}
        for cid in sorted(set(by_contact) | set(ledger.final_status)):
            entries: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = c.get(f"/contacts/{cid}/activity", params=params).raise_for_status().json()
                entries += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            activity_ids = {int(a["id"]) for a in entries if a["id"] is not None}
            for e in by_contact.get(cid, []):
                if e.activity_id in activity_ids:
                    v.events_found += 1
                else:
                    v.event_problems.append(
                        f"activity {e.activity_id} ({e.key}) not in contact {cid}'s log"
                    )
            if cid not in ledger.final_status:
                continue
            status = ledger.final_status[cid]
            got = c.get(f"/contacts/{cid}").raise_for_status().json()["status"]
            v.status_checked += 1
            if got == status:
                continue
            # Moved on since our last answer: only by the engine (the sweep's withdrawal, the
            # sandbox's acceptance), each step an entry of the log, oldest first.
            reached = status
            for a in reversed(entries):
                if a["id"] not in ours and a["status_to"] and a["status_from"] == reached:
                    reached = a["status_to"]
            if reached == got:
                v.status_moved_by_engine += 1
            else:
                v.status_problems.append(
                    f"contact {cid}: {got}, its last answer said {status}, and no entry of its "
                    "log moved it there"
                )
        step = max(1, len(ledger.events) // max(1, sample_events))
        for e in ledger.events[::step][:sample_events]:
            r = c.post(
                f"/contacts/{e.contact_id}/events",
                content=e.body,
                headers={"Idempotency-Key": e.key, "Content-Type": "application/json"},
            )
            v.replays += 1
            if (
                r.status_code == 200
                and r.headers.get(REPLAYED) == "true"
                and int(r.json()["activity"]["id"] or 0) == e.activity_id
            ):
                v.replays_ok += 1
            else:
                v.replay_problems.append(
                    f"{e.key}: {r.status_code} replayed={r.headers.get(REPLAYED)}"
                )
        # Every import: done, its counts, its campaign holding exactly them.
        for imp in ledger.imports:
            if not imp.import_id:
                v.import_problems.append(f"the {imp.label} import was never accepted")
                continue
            got = clients[client_of(imp)].get(f"/imports/{imp.import_id}").raise_for_status()
            got = got.json()
            want = {
                "state": "done",
                "rows_read": imp.rows,
                "imported": imp.expected_imported,
                "duplicates": imp.expected_duplicates,
                "invalid": imp.expected_invalid,
            }
            for name, value in want.items():
                if got.get(name) != value:
                    v.import_problems.append(
                        f"import {imp.import_id} ({imp.label}): {name} {got.get(name)!r}, "
                        f"expected {value!r}"
                    )
            if v.listed.get(imp.campaign_id) != imp.expected_imported:
                v.import_problems.append(
                    f"campaign {imp.campaign_id} holds {v.listed.get(imp.campaign_id)} contacts, "
                    f"the {imp.label} import {imp.expected_imported}"
                )
        if not any(imp.label.startswith("later") for imp in ledger.imports):
            v.import_problems.append("the import at 30 % was never posted")
        for t in tenants:
            hook = clients[t.index].get(f"/webhooks/{t.webhook_id}").raise_for_status().json()
            v.backlog[t.index] = int(hook["backlog"])
    finally:
        for c in clients:
            c.close()
    return v


def log_errors(text: str) -> list[str]:
    """The ERROR and CRITICAL entries of a log (each with its traceback lines)."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            if current is not None:
                blocks.append("\n".join(current))
            current = [line] if m.group(1) in ("ERROR", "CRITICAL") else None
        elif current is not None:
            current.append(line)
        elif line.startswith("Traceback"):
            current = [line]
    if current is not None:
        blocks.append("\n".join(current))
    return blocks


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    parser.add_argument("--minutes", type=float, default=10.0, help="traffic time (default 10)")
    parser.add_argument(
        "--clients",
        type=int,
        default=4,
        help="closed-loop client threads, taking the roles writer, API reader, dashboard, "
        "integration in turn (default 4; the feeds, the sign-in attacker and the importer are "
        "paced threads beside them)",
    )
    add_workers_argument(parser)
    parser.add_argument("--engine-speed", type=float, default=3600.0, help="TRACKER_ENGINE_SPEED")
    parser.add_argument("--engine-interval", type=float, default=2.0, help="seconds between ticks")
    parser.add_argument("--batch", type=int, default=50, help="contacts per bulk add")
    parser.add_argument("--add-interval", type=float, default=1.0, help="seconds between bulk adds")
    parser.add_argument("--think", type=float, default=0.05, help="readers' pause between requests")
    parser.add_argument("--event-interval", type=float, default=0.1, help="integration's pause")
    parser.add_argument(
        "--signin-interval", type=float, default=1.0, help="seconds between failed sign-ins"
    )
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="after the feeds drained, give up when no delivery arrived for this many seconds",
    )
    parser.add_argument(
        "--max-drain",
        type=float,
        default=900.0,
        help="…or when the deliveries still missing took this long in all",
    )
    parser.add_argument("--rss-limit", type=float, default=20.0, help="RSS growth allowed, %%")
    parser.add_argument(
        "--replay-events", type=int, default=500, help="event keys replayed at the end"
    )
    parser.add_argument(
        "--keep-logs", help="copy serve's and the worker's logs into this directory"
    )
    args = parser.parse_args()
    # Started in the background by a non-interactive shell (`cmd &`, nohup), SIGINT arrives
    # ignored, and an ignored signal stays ignored in children: the worker would never see the
    # SIGINT that stops it (its main thread still waiting 60 s later, its jobs running). A handler
    # of our own is reset to the default in the children, where Python then raises
    # KeyboardInterrupt as it should.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("--database-url must be a PostgreSQL URL (serve and the worker share it)")
    if args.clients < 4 or args.minutes <= 0 or args.batch < 3:
        raise SystemExit("--clients ≥ 4 (one per role), --minutes > 0, --batch ≥ 3")

    duration = args.minutes * 60
    warm = min(60.0, 0.2 * duration)
    tag = f"{os.getpid()}"
    load_before = machine_note()
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "app", "migrations"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    ctx = mp.get_context("spawn")
    data_dir = tempfile.mkdtemp(prefix="bench_soak_data_")
    ledger, traffic = Ledger(), Traffic()
    feeds: list[Feed] = []
    plan: ImportPlan | None = None
    serve_log = worker_log = ""
    worker_exit: tuple[int | None, float] = (None, 0.0)
    delivery_wait = 0.0
    counter_lock = threading.Lock()
    counter = [0]

    def next_number() -> int:
        with counter_lock:
            counter[0] += 1
            return counter[0]

    try:
        with fresh_database(args.database_url, "soak") as url:
            env = bench_env(
                url,
                TRACKER_ENGINE="off",
                TRACKER_WEBHOOK_ALLOW_PRIVATE="true",
                TRACKER_TRUSTED_PROXIES="127.0.0.1",
                TRACKER_DATA_DIR=data_dir,
                TRACKER_LOG_LEVEL="WARNING",
            )
            worker_env = dict(
                env,
                TRACKER_ENGINE="sandbox",
                TRACKER_ENGINE_SPEED=f"{args.engine_speed:g}",
                TRACKER_ENGINE_INTERVAL_SECONDS=f"{args.engine_interval:g}",
                PYTHONFAULTHANDLER="1",  # SIGABRT before the kill: every thread's stack in its log
            )
            log(f"database {describe_url(url)}: migrating, two workspaces")
            first = migrate_and_create_workspace(env)
            tenants = [
                Tenant(0, first.workspace_id, first.api_key),
                Tenant(1, *second_workspace(env)),
            ]
            warm_workspace = second_workspace(env, "Soak warm-up imports", WARM_ADMIN)
            import_file = Path(data_dir) / "soak-import.csv"
            later_import = make_import_file(import_file, args.import_rows, tag)
            # Who ran an import: its lease_owner (host:pid) in the database.
            db = sqlalchemy.create_engine(url, pool_size=1)
            receiver = Receiver(ctx, len(tenants)).start()
            server = Server(env, workers=args.workers)
            worker = Background(["worker"], worker_env, "worker")
            hits: list[Hit] = []
            try:
                server.start()
                log(
                    f"serve on {server.base_url} ({args.workers} process(es)); receiver {receiver.base}"
                )
                for t in tenants:
                    set_up_tenant(server.base_url, t, receiver, first=t.index == 0)
                with api_client(server.base_url, warm_workspace[1]) as c:
                    warm_sender = int(
                        check(
                            c.post(
                                "/senders",
                                json={"name": "Soak warm-up", "tier": "premium", "timezone": "UTC"},
                            ),
                            201,
                            "POST /senders",
                        )["id"]
                    )
                dashboards = [sign_in(server.base_url) for k in range(args.clients) if k % 4 == 2]
                worker.start()
                time.sleep(1.0)
                if worker.proc is not None and worker.proc.poll() is not None:
                    raise SystemExit(f"the worker exited at once:\n{worker.text()[-2000:]}")
                log(
                    f"worker up (engine ×{args.engine_speed:g}, a tick every {args.engine_interval:g} s); "
                    f"traffic for {duration:.0f} s, warm-up {warm:.0f} s"
                )
                stop = threading.Event()
                traffic.t0 = time.monotonic()
                sh = Shared(
                    server.base_url,
                    args,
                    tenants,
                    ledger,
                    traffic,
                    stop,
                    tag,
                    import_file,
                    duration,
                    next_number,
                )
                page_sh = Shared(
                    server.base_url,
                    args,
                    tenants,
                    ledger,
                    traffic,
                    stop,
                    tag,
                    import_file,
                    duration,
                    next_number,
                )
                sampler = RssSampler(
                    {"serve": server.pids()[0], "worker": worker.proc.pid if worker.proc else 0},
                    traffic.t0,
                )
                sampler.thread.start()
                plan = ImportPlan(
                    warm,
                    lambda: import_runners(sampler),
                    lambda import_id: import_owner(db, import_id),
                    Path(data_dir),
                    later_import,
                    warm_key=warm_workspace[1],
                    warm_sender=warm_sender,
                )
                threads: list[threading.Thread] = []
                dash = iter(dashboards)
                for k in range(args.clients):
                    role = k % 4
                    if role == 0:
                        threads.append(
                            threading.Thread(target=writer_role, args=(sh, k), name=f"writer-{k}")
                        )
                    elif role == 1:
                        threads.append(
                            threading.Thread(target=reader_role, args=(sh, k), name=f"reader-{k}")
                        )
                    elif role == 2:
                        threads.append(
                            threading.Thread(
                                target=dashboard_role,
                                args=(page_sh, k, next(dash)),
                                name=f"pages-{k}",
                            )
                        )
                    else:
                        threads.append(
                            threading.Thread(
                                target=integration_role, args=(sh, k), name=f"integration-{k}"
                            )
                        )
                threads.append(threading.Thread(target=attacker, args=(page_sh,), name="attacker"))
                import_done = threading.Event()
                threads.append(
                    threading.Thread(target=importer, args=(sh, plan, import_done), name="importer")
                )
                drain = threading.Event()
                feed_done: list[threading.Event] = []
                feed_threads: list[threading.Thread] = []
                for t in tenants:
                    feeds.append(Feed(t.index))
                    feed_done.append(threading.Event())
                    feed_threads.append(
                        threading.Thread(
                            target=follower,
                            args=(sh, feeds[-1], drain, feed_done[-1]),
                            name=f"feed-{t.index}",
                        )
                    )
                for th in threads + feed_threads:
                    th.start()
                next_log = 60.0
                while (elapsed := time.monotonic() - traffic.t0) < duration:
                    time.sleep(min(1.0, duration - elapsed))
                    if elapsed >= next_log:
                        n = len(traffic.samples)
                        log(
                            f"{elapsed:.0f} s: {n:,} requests, {len(traffic.server_errors)} 5xx, "
                            f"{sum(traffic.unexpected.values())} unexpected, feeds at "
                            f"{[f.after for f in feeds]}, received {[receiver.received(t.index) for t in tenants]}; "
                            f"load {os.getloadavg()[0]:.2f}"
                        )
                        next_log += 60.0
                stop.set()
                traffic.closed = True
                for th in threads:
                    if th.name != "importer":
                        th.join(120)
                sampler.stop.set()
                sampler.thread.join(30)
                sampler.sample()  # the end
                log("traffic stopped; stopping the worker (SIGINT)")
                worker_exit = worker.stop()
                if not import_done.wait(args.max_drain):
                    traffic.note("the imports did not end within --max-drain")
                drain.set()
                for th in feed_threads:
                    th.join(120)
                log(f"feeds drained at {[f.after for f in feeds]}; waiting for the deliveries")
                delivery_wait, _ = wait_for_deliveries(
                    receiver, feeds, tenants, args.grace, args.max_drain
                )
                hits = receiver.stop()
                log("re-reading every recorded write")
                try:
                    verdict = reread(server.base_url, tenants, ledger, args.replay_events)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    verdict = Verdict(error=f"{type(exc).__name__}: {exc}")
            finally:
                receiver.stop()
                worker.stop()
                with contextlib.suppress(Exception):
                    serve_log = server.tail(10**9)
                server.stop()
                db.dispose()
                worker_log = worker.text()
                if args.keep_logs:
                    os.makedirs(args.keep_logs, exist_ok=True)
                    Path(args.keep_logs, "serve.log").write_text(serve_log)
                    Path(args.keep_logs, "worker.log").write_text(worker_log)
                worker.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    load_after = machine_note()
    report(
        args,
        duration,
        warm,
        traffic,
        ledger,
        tenants,
        feeds,
        hits,
        sampler,
        plan,
        verdict,
        serve_log,
        worker_log,
        worker_exit,
        delivery_wait,
        {"before": load_before, "after": load_after, "revision": revision, "dirty": dirty},
    )


def fmt_ms(x: float) -> str:
    return "—" if x != x else f"{x * 1000:,.0f}"


def report(
    args: argparse.Namespace,
    duration: float,
    warm: float,
    traffic: Traffic,
    ledger: Ledger,
    tenants: list[Tenant],
    feeds: list[Feed],
    hits: list[Hit],
    sampler: RssSampler,
    plan: ImportPlan | None,
    verdict: Verdict,
    serve_log: str,
    worker_log: str,
    worker_exit: tuple[int | None, float],
    delivery_wait: float,
    machine: dict[str, str],
) -> None:
    failures: list[str] = []
    samples = traffic.samples
    print()
    print(
        f"soak: {duration / 60:g} min of mixed traffic against serve ({args.workers} process(es), "
        f"engine off) and worker (sandbox engine ×{args.engine_speed:g}, a tick every "
        f"{args.engine_interval:g} s) on PostgreSQL; {args.clients} client threads + 2 feeds, "
        f"a sign-in attacker, an importer"
    )
    print(
        f"revision {machine['revision']}"
        + (
            " with uncommitted changes in app/ or migrations/"
            if machine["dirty"]
            else " (clean app/)"
        )
    )
    loads = [p[2] for p in sampler.series]
    print(
        f"machine: before {machine['before']}; after {machine['after']}; 1-min load during the run "
        f"min {min(loads):.2f} / median {sorted(loads)[len(loads) // 2]:.2f} / max {max(loads):.2f}"
    )

    # ----- requests
    by_route: dict[str, list[tuple[float, int, float]]] = defaultdict(list)
    for at, route, status, seconds in samples:
        by_route[route].append((at, status, seconds))
    total = len(samples)
    print(f"\nrequests served: {total:,} in {duration:.0f} s ({total / duration:,.1f}/s)")
    tenth = duration / 10
    print(
        f"  {'route':<44} {'requests':>9}  {'statuses':<22} {'p50 ms':>7} "
        f"{'p99 first 10%':>14} {'p99 last 10%':>13}"
    )
    for route in sorted(by_route):
        rows = by_route[route]
        statuses = Counter(s for _, s, _ in rows)
        first = latency_summary([x for at, _, x in rows if at < tenth])
        last = latency_summary([x for at, _, x in rows if at >= duration - tenth])
        whole = latency_summary([x for _, _, x in rows])
        status_text = " ".join(f"{s}×{n:,}" for s, n in sorted(statuses.items()))
        print(
            f"  {route:<44} {len(rows):>9,}  {status_text:<22} {fmt_ms(whole['p50_ms'] / 1000):>7} "
            f"{fmt_ms(first['p99_ms'] / 1000):>8} ({first['n']:>3}) {fmt_ms(last['p99_ms'] / 1000):>7} "
            f"({last['n']:>3})"
        )
    errors = Counter(status for _, _, status, _ in samples if status >= 400)
    expected_refusals = sum(
        n
        for (route, status), n in Counter((r, s) for _, r, s, _ in samples).items()
        if route == "page POST /login (wrong password)" and status in (401, 429)
    )
    print(
        "errors by status: "
        + (", ".join(f"{s}: {n:,}" for s, n in sorted(errors.items())) or "none")
        + f"  ({expected_refusals:,} of them the failed sign-ins' expected 401/429)"
    )
    if traffic.transport:
        print(f"transport errors: {dict(traffic.transport)}")
        failures.append(f"{sum(traffic.transport.values())} request(s) got no answer")
    if traffic.server_errors:
        failures.append(f"{len(traffic.server_errors)} 5xx answer(s)")
        print(f"5xx answers ({len(traffic.server_errors)}):")
        for line in traffic.server_errors[:20]:
            print(f"  {line}")
    if traffic.unexpected:
        failures.append(f"{sum(traffic.unexpected.values())} unexpected answer(s)")
        print(
            "unexpected answers: "
            + ", ".join(f"{r} {s}×{n}" for (r, s), n in traffic.unexpected.items())
        )
    if traffic.notes:
        print("first notes:")
        for line in traffic.notes[:10]:
            print(f"  {line}")
    if traffic.mismatches:
        failures.append(f"{len(traffic.mismatches)} answer(s) not matching what was sent")
        print("answers not matching the request:")
        for line in traffic.mismatches[:10]:
            print(f"  {line}")

    # ----- writes
    v = verdict
    print(
        f"\nwrites recorded vs re-read: {v.bulk_requests:,} bulk adds ({ledger.retries['bulk']} "
        f"retried at once), {v.bulk_contacts:,} contacts created → {v.bulk_found:,} found in their "
        f"campaign's listing with their URL; {v.events:,} integration events "
        f"({ledger.retries['event']} retried at once) → {v.events_found:,} activities in their "
        f"contacts' logs; {v.status_checked:,} contacts' final statuses checked "
        f"({v.status_moved_by_engine} moved on since by the engine, as their logs say; "
        f"{ledger.retries['engine_first']} integration events refused 409 because the engine "
        "had accepted or withdrawn the invite first)"
    )
    print(
        f"  keys replayed at the end: {v.replays:,} → {v.replays_ok:,} answered the first answer, replayed"
    )
    for imp in ledger.imports:
        got = imp.answer
        print(
            f"  import {imp.import_id or '—'} ({imp.label}, campaign {imp.campaign_id}, run by "
            f"{sampler.labels.get(imp.owner_pid, '?')} pid {imp.owner_pid}): posted at "
            f"{imp.posted_at:.0f} s, {got.get('state')} at {imp.finished_at:.0f} s; rows "
            f"{got.get('rows_read')}/{imp.rows}, imported {got.get('imported')}/"
            f"{imp.expected_imported}, duplicates {got.get('duplicates')}/"
            f"{imp.expected_duplicates}, invalid {got.get('invalid')}/{imp.expected_invalid}"
        )
    print(
        "  contacts listed per campaign: "
        + ", ".join(f"{c}: {n:,}" for c, n in sorted(v.listed.items()))
    )
    if v.error:
        failures.append(f"the re-read failed: {v.error}")
    for name, problems in (
        ("recorded contacts missing", v.bulk_missing),
        ("replays wrong", v.replay_problems),
        ("counts", v.count_problems),
        ("integration activities missing", v.event_problems),
        ("final statuses", v.status_problems),
        ("import", v.import_problems),
    ):
        if problems:
            failures.append(f"{name}: {len(problems)}")
            print(f"  {name} ({len(problems)}):")
            for line in problems[:10]:
                print(f"    {line}")

    # ----- events and webhooks
    print()
    first_arrival: dict[tuple[int, str], Hit] = {}
    duplicates = 0
    for h in hits:
        k = (h.index, h.uid)
        if k in first_arrival:
            duplicates += 1
            if h.arrival < first_arrival[k].arrival:
                first_arrival[k] = h
        else:
            first_arrival[k] = h
    bad_signatures = sum(1 for h in hits if not h.signed)
    lag_recorded: list[float] = []
    lag_feed: list[float] = []
    for f in feeds:
        t = tenants[f.tenant]
        expected = {uid for uid, (seq, _, _) in f.seen.items() if seq > t.head0}
        received = {uid for (i, uid) in first_arrival if i == f.tenant}
        missing = expected - received
        extra = received - set(f.seen)
        foreign = [
            h
            for (i, _), h in first_arrival.items()
            if i == f.tenant and h.workspace_id != t.workspace_id
        ]
        types = Counter(tp for _, _, tp in f.seen.values())
        print(
            f"workspace {t.workspace_id}: the feed showed {len(f.seen):,} events (seq 1…{f.after:,}, "
            f"{f.pages:,} pages; {', '.join(f'{tp} {n:,}' for tp, n in types.most_common())}); "
            f"{len(expected):,} after the subscription → {len(expected & received):,} delivered"
        )
        if f.anomalies:
            failures.append(
                f"workspace {t.workspace_id}'s feed: {len(f.anomalies)} gap(s) or repeat(s)"
            )
            for line in f.anomalies[:10]:
                print(f"  feed: {line}")
        if missing:
            failures.append(f"workspace {t.workspace_id}: {len(missing)} event(s) not delivered")
            seqs = sorted(f.seen[u][0] for u in missing)
            print(f"  not delivered: {len(missing)} (seqs {seqs[:20]}…)")
        if extra:
            failures.append(
                f"workspace {t.workspace_id}: {len(extra)} delivered event(s) the feed never showed"
            )
        if foreign:
            failures.append(
                f"workspace {t.workspace_id}: {len(foreign)} other workspace's event(s) delivered"
            )
        for uid in expected & received:
            h = first_arrival[(f.tenant, uid)]
            lag_feed.append(h.arrival - f.seen[uid][1])
            recorded = datetime.fromisoformat(h.recorded_at).timestamp()
            if recorded <= h.arrival + 1.0:  # the engine's events carry its simulated clock
                lag_recorded.append(h.arrival - recorded)
    print(
        f"webhook requests {len(hits):,} ({duplicates} repeat(s) of an id: at least once), "
        f"{bad_signatures} badly signed; the backlog took {delivery_wait:.1f} s to arrive after the "
        "feeds drained"
    )
    if bad_signatures:
        failures.append(f"{bad_signatures} webhook request(s) badly signed")
    lr, lf = latency_summary(lag_recorded), latency_summary(lag_feed)
    print(
        f"webhook lag, arrival − recorded_at ({lr['n']:,} events on the real clock): "
        f"p50 {lr['p50_ms'] / 1000:.2f} s  p99 {lr['p99_ms'] / 1000:.2f} s  max {lr['max_ms'] / 1000:.2f} s"
    )
    print(
        f"webhook lag, arrival − first seen in the feed ({lf['n']:,} events, the feed polled every "
        f"0.5 s when idle): p50 {lf['p50_ms'] / 1000:.2f} s  p99 {lf['p99_ms'] / 1000:.2f} s  "
        f"max {lf['max_ms'] / 1000:.2f} s"
    )
    print(
        "subscription backlog at the end: "
        + ", ".join(f"workspace {tenants[i].workspace_id}: {n}" for i, n in v.backlog.items())
    )
    if any(v.backlog.values()):
        failures.append("a subscription's backlog is not empty at the end")

    # ----- RSS
    start_t, start_rss, _ = sampler.at(warm)
    end_t, end_rss, _ = sampler.series[-1]
    window = max(3 * RSS_EVERY, min(60.0, duration / 10))
    print(
        f"\nRSS (VmRSS) per process: the sample at the end of the warm-up ({start_t:.0f} s) and the "
        f"last ({end_t:.0f} s); growth judged on the medians of the {window:.0f} s after the "
        f"warm-up and the last {window:.0f} s (one sample can catch a request's transient peak)"
    )
    ran: dict[int, list[str]] = defaultdict(list)
    for imp in ledger.imports:
        ran[imp.owner_pid].append(imp.label)

    def named(pids: set[int]) -> str:
        return ", ".join(f"{sampler.labels.get(p, '?')} {p}" for p in sorted(pids)) or "none"

    if plan is not None:
        warm_imports = [imp for imp in ledger.imports if imp.label.startswith("warm-up")]
        print(
            f"  an import's batches raise the RSS of the process that runs it once (glibc keeps "
            f"the freed memory for the next one): {len(warm_imports)} import(s) ran in the warm-up "
            f"so that every process running the imports job had run one before its baseline; "
            f"covered: {named(plan.warm_covered)}"
            + (
                f"; NOT covered (their growth may include that one-time step): "
                f"{named(plan.warm_missed)}"
                if plan.warm_missed
                else ""
            )
        )
    for imp in ledger.imports:
        if imp.label.startswith("later") and imp.owner_pid and imp.finished_at:
            before = sampler.median(imp.owner_pid, imp.posted_at - 30, imp.posted_at)
            after = sampler.median(imp.owner_pid, imp.finished_at, imp.finished_at + 30)
            if before and after:
                print(
                    f"  the later import ({imp.posted_at:.0f}-{imp.finished_at:.0f} s) ran in "
                    f"{sampler.labels.get(imp.owner_pid, '?')} {imp.owner_pid}: its RSS median "
                    f"{before / 1024:,.1f} MB in the 30 s before, {after / 1024:,.1f} MB in the 30 s "
                    f"after ({(after - before) / 1024:+,.1f} MB)"
                )
    rss_growth: dict[str, float] = {}
    for pid in sorted(set(start_rss) | set(end_rss)):
        a, b = start_rss.get(pid), end_rss.get(pid)
        label = sampler.labels.get(pid, "?")
        if a is None or b is None:
            print(f"  {label} (pid {pid}): {a} → {b} kB (not alive at both samples)")
            continue
        m0 = sampler.median(pid, start_t, start_t + window) or a
        m1 = sampler.median(pid, end_t - window, end_t) or b
        growth = (m1 - m0) / m0 * 100 if m0 else 0.0
        rss_growth[f"{label} {pid}"] = round(growth, 1)
        trend = [(p[0], p[1][pid]) for p in sampler.series if pid in p[1]]
        marks = trend[:: max(1, len(trend) // 10)]
        if marks[-1] is not trend[-1]:
            marks.append(trend[-1])
        print(
            f"  {label} (pid {pid}): {a / 1024:,.1f} MB → {b / 1024:,.1f} MB; medians "
            f"{m0 / 1024:,.1f} → {m1 / 1024:,.1f} MB ({growth:+.1f} %); over the run (s: MB): "
            + ", ".join(f"{t:.0f}: {x / 1024:.0f}" for t, x in marks)
            + (f"; ran the imports: {', '.join(ran[pid])}" if ran.get(pid) else "")
        )
        if growth > args.rss_limit:
            failures.append(
                f"{label} grew {growth:.1f} % after the warm-up (limit {args.rss_limit:g} %)"
            )

    # ----- processes and logs
    code, seconds = worker_exit
    print(f"\nworker stop: exit status {code} after {seconds:.1f} s (SIGINT)")
    if code not in (0, 130, -signal.SIGINT):
        failures.append(f"the worker did not stop cleanly (exit status {code})")
        dump = (
            worker_log[worker_log.rfind("Fatal Python error") :]
            if "Fatal Python error" in worker_log
            else ""
        )
        if dump:
            print("  its threads when it was aborted (SIGABRT, faulthandler):")
            print("  " + "\n  ".join(dump.splitlines()[:80]))
    for name, text in (("serve", serve_log), ("worker", worker_log)):
        blocks = log_errors(text)
        warnings = sum(
            1
            for line in text.splitlines()
            if (m := LOG_LINE.match(line)) and m.group(1) == "WARNING"
        )
        print(
            f"{name} log: {len(blocks)} ERROR entr{'y' if len(blocks) == 1 else 'ies'}, {warnings} WARNING line(s)"
        )
        for block in blocks[:5]:
            print("  " + "\n  ".join(block.splitlines()[:40]))

    summary = {
        "minutes": args.minutes,
        "requests": total,
        "requests_per_s": round(total / duration, 1),
        "server_errors": len(traffic.server_errors),
        "unexpected": sum(traffic.unexpected.values()),
        "bulk_contacts": v.bulk_contacts,
        "bulk_found": v.bulk_found,
        "events_written": v.events,
        "events_found": v.events_found,
        "feed_events": sum(len(f.seen) for f in feeds),
        "delivered": sum(1 for _ in first_arrival),
        "lag_recorded_p50_s": round(lr["p50_ms"] / 1000, 3) if lr["n"] else None,
        "lag_recorded_p99_s": round(lr["p99_ms"] / 1000, 3) if lr["n"] else None,
        "lag_feed_p50_s": round(lf["p50_ms"] / 1000, 3) if lf["n"] else None,
        "lag_feed_p99_s": round(lf["p99_ms"] / 1000, 3) if lf["n"] else None,
        "rss_start_mb": {
            f"{sampler.labels.get(p, '?')} {p}": round(x / 1024, 1) for p, x in start_rss.items()
        },
        "rss_end_mb": {
            f"{sampler.labels.get(p, '?')} {p}": round(x / 1024, 1) for p, x in end_rss.items()
        },
        "rss_growth_pct": rss_growth,
        "imports": [
            {
                "label": imp.label,
                "id": imp.import_id,
                "run_by": f"{sampler.labels.get(imp.owner_pid, '?')} {imp.owner_pid}",
                "posted_s": round(imp.posted_at, 1),
                "finished_s": round(imp.finished_at, 1),
                "state": imp.state,
            }
            for imp in ledger.imports
        ],
        "failures": failures,
    }
    print()
    if failures:
        for line in failures:
            print(f"FAIL: {line}")
    else:
        print(
            "PASS: no 5xx, every recorded write re-read, every event delivered, RSS within limits"
        )
    print(json.dumps(summary))
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
