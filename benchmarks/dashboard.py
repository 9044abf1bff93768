"""The dashboard under load: overview, campaign page (first, status tab, deep, htmx fragment) and the
activity dialog of a million-contact workspace, beside GET /healthz and the ceiling GET /livez (the
framework answering a constant JSON body) in the same run.

    .venv/bin/python benchmarks/dashboard.py [--database-url URL] [--contacts 1000000]
        [--clients 8] [--workers CPUs] [--requests 100] [--scenario-seconds 20]
        [--activity-contacts 50000] [--pending-share 0.25] [--sqlite-analyze]
        [--only NAMES] [--py-spy OUT]

1. A fresh database (a temporary SQLite file by default; with a PostgreSQL URL a throwaway database
   `bench_dash_<pid>` on that server, dropped afterwards), migrated and given a workspace and its admin
   by the CLI (`contact-tracker migrate`, `create-workspace`).
2. Straight into the database: two senders and three campaigns (38 % / 60 % / 2 % of --contacts,
   each campaign's contacts one contiguous id range, as successive imports leave them), the five
   statuses spread, an error code on ~5 % of the contacts; a few activities each (profile visit,
   invite, acceptance, follow-up, withdrawal or a failed invite, by status) for --activity-contacts
   of them spread evenly over the ids, and a pending next action (with its waiting reason and
   expected time) for --pending-share of those and every not-yet-verified one among them. Contact
   and activity times span the last ~400 days. `campaign_counts` is rebuilt from the rows with one
   INSERT ... SELECT ... GROUP BY (what app.lifecycle.counts.recount does per campaign). PostgreSQL
   then gets the VACUUM ANALYZE autovacuum would run; SQLite gets ANALYZE only with --sqlite-analyze
   (the app never runs it).
3. `contact-tracker serve --workers N` (TRACKER_ENGINE=off); each client signs in through the real
   form (GET /login for the CSRF cookie and field, POST /login → 303 + session cookie).
4. Per scenario: a solo pass (one client, sequential: roughly the server's service time), then
   --clients threads, each with its own httpx.Client and session, making --requests requests or as
   many as fit in --scenario-seconds. Latency is measured per request from send to the last byte of
   the response on 127.0.0.1, so it includes queueing in the server: with 8 clients and 2 workers a
   request waits behind the others. The benchmarked campaign is the 60 % one (ids after the first).

Target: p99 under 100 ms for every page.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from _common import (
    ERROR_CODES,
    Profiler,
    Server,
    add_workers_argument,
    bench_env,
    concurrent_gets,
    describe_url,
    fresh_database,
    is_postgres,
    latency_summary,
    log,
    machine_note,
    pg_dsn,
    pg_insert_parent,
    pg_required_fillers,
    run_cli,
    sqlite_connect,
    sqlite_insert_parent,
    sqlite_path,
    sqlite_required_fillers,
    sqlite_ts,
)

NOT_PAGES = ("healthz", "livez")
TARGET_P99_MS = 100.0
LOAD_BATCH = 20_000
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 - a throwaway benchmark database
SESSION_COOKIE = "tracker_session"

# (name, type, state, sender index, share of --contacts); the second is the one benchmarked.
CAMPAIGNS = (
    ("Founders Q3", "connection", "running", 0, 0.38),
    ("VP Sales Q4", "connection", "running", 1, 0.60),
    ("Customers: renewal follow-up", "existing_connections", "paused", 0, 0.02),
)
BENCH_CAMPAIGN = 1
STATUS_WEIGHTS = (
    ("not_verified", 15),
    ("not_connected", 25),
    ("invite_sent", 30),
    ("connected", 22),
    ("withdrawn", 8),
)
ERROR_SHARE_OF_NOT_CONNECTED = 0.20  # 20 % of 25 % → ~5 % of all contacts
ERROR_MESSAGES = {
    "email_required": "LinkedIn asks for this person's email address to connect",
    "message_too_long": "The note is longer than this sender's tier allows",
    "too_many_requests": "LinkedIn throttled the sender; retried later",
    "other": "Something unexpected happened on LinkedIn",
}
PENDING_REASONS = ("daily_cap", "weekly_cap", "working_hours", "queued")
FIRST = (
    "Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Radia", "Guido", "Frances",
    "Edsger", "Katherine", "Donald", "Hedy", "Dennis", "Annie", "Tim", "Mary", "Bjarne", "Sophie",
)  # fmt: skip
LAST = (
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Thompson", "Perlman",
    "van Rossum", "Allen", "Dijkstra", "Johnson", "Knuth", "Lamarr", "Ritchie", "Easley",
    "Berners-Lee", "Keller", "Stroustrup", "Wilson",
)  # fmt: skip
COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Soylent", "Tyrell", "Cyberdyne", "Massive Dynamic", "Pied Piper",
)  # fmt: skip
TITLES = (
    "Head of Sales", "VP Sales", "Founder & CEO", "CTO", "Sales Director", "Account Executive",
    "Head of Growth", "RevOps Lead",
)  # fmt: skip
CONTACT_COLUMNS = (
    "workspace_id",
    "campaign_id",
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "custom_fields",
    "source",
    "status",
    "error_code",
    "error_message",
    "muted",
    "replied",
    "email_required",
    "follow_ups_sent",
    "created_at",
    "updated_at",
    "status_changed_at",
    "invited_at",
    "connected_at",
    "withdrawn_at",
)
ACTIVITY_COLUMNS = (
    "workspace_id",
    "contact_id",
    "campaign_id",
    "sender_id",
    "kind",
    "outcome",
    "error_code",
    "error_message",
    "message",
    "status_from",
    "status_to",
    "detail",
    "created_at",
    "scheduled_for",
    "completed_at",
    "waiting_reason",
    "expected_at",
    "step",
    "attempts",
)


# --------------------------------------------------------------------------- the data set


@dataclass
class CampaignInfo:
    id: int
    name: str
    sender_id: int
    size: int
    lo: int = 0
    hi: int = 0
    count: int = 0


@dataclass
class Dataset:
    workspace_id: int
    campaigns: list[CampaignInfo]
    contacts: int = 0
    activities: int = 0
    pending: int = 0
    activities_30d: int = 0
    errors: int = 0
    dialog_contacts: list[int] = field(default_factory=list)  # with a log, in the bench campaign
    load_seconds: float = 0.0


def campaign_sizes(total: int) -> list[int]:
    sizes = [int(total * share) for *_, share in CAMPAIGNS]
    sizes[BENCH_CAMPAIGN] += total - sum(sizes)
    return sizes


def generate_contacts(
    ds: Dataset, now: datetime, ts: Callable[[datetime | None], Any]
) -> Iterator[tuple[Any, ...]]:
    """Every campaign's contacts in turn; created times rise with the row, over ~400 days."""
    rnd = random.Random(20261127)  # reproducible data
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    total = sum(c.size for c in ds.campaigns)
    start = now - timedelta(days=400)
    step = timedelta(days=390) / max(1, total)
    i = 0
    for c in ds.campaigns:
        for pos in range(c.size):
            status = rnd.choices(statuses, weights)[0]
            error = None
            if status == "not_connected" and rnd.random() < ERROR_SHARE_OF_NOT_CONNECTED:
                error = ERROR_CODES[rnd.randrange(len(ERROR_CODES))]
            created = start + step * i
            invited = created + timedelta(days=1) if status in statuses[2:] else None
            connected = invited + timedelta(days=2) if invited and status == "connected" else None
            withdrawn = invited + timedelta(days=21) if invited and status == "withdrawn" else None
            changed = withdrawn or connected or invited or created
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
            yield (
                ds.workspace_id,
                c.id,
                f"https://www.linkedin.com/in/{first.lower()}-{last.lower().replace(' ', '')}-{c.id}x{pos:07d}",
                first,
                last,
                f"{first.lower()}.{pos}@{COMPANIES[i % len(COMPANIES)].lower().replace(' ', '')}.example",
                COMPANIES[i % len(COMPANIES)],
                TITLES[i % len(TITLES)],
                "{}",
                "csv",
                status,
                error,
                ERROR_MESSAGES[error] if error else None,
                False,
                status == "connected" and rnd.random() < 0.1,
                error == "email_required",
                1 if status == "connected" and rnd.random() < 0.5 else 0,
                ts(created),
                ts(changed),
                ts(changed),
                ts(invited),
                ts(connected),
                ts(withdrawn),
            )
            i += 1


def activities_for(
    contact: tuple[Any, ...], ds: Dataset, now: datetime, rnd: random.Random, pending_share: float
) -> list[dict[str, Any]]:
    """A contact's log, oldest first (ids rise with time, as the engine writes them)."""
    contact_id, campaign_id, status, error, created, first = contact
    sender_id = next(c.sender_id for c in ds.campaigns if c.id == campaign_id)
    limit = now - timedelta(minutes=30)
    t = created + timedelta(hours=20)
    out: list[dict[str, Any]] = []

    def add(kind: str, outcome: str = "success", **kw: Any) -> None:
        nonlocal t
        t = min(t + timedelta(hours=rnd.randint(2, 60)), limit)
        row = {
            "kind": kind,
            "outcome": outcome,
            "created_at": t - timedelta(hours=1),
            "scheduled_for": t - timedelta(minutes=5),
            "completed_at": t,
            "detail": {},
        }
        row.update(kw)
        out.append(row)

    note = (
        f"Hi {first}, I enjoyed your post on pipeline hygiene and would love to compare notes "
        "on how your team runs outbound. Open to connecting?"
    )
    if status != "not_verified":
        add("profile_visit", detail={"event": "profile_visited"})
    if status == "not_connected" and error:
        add(
            "connection_request",
            "error",
            error_code=error,
            error_message=ERROR_MESSAGES[error],
        )
    if status in ("invite_sent", "connected", "withdrawn"):
        add(
            "connection_request",
            message=note,
            status_from="not_connected",
            status_to="invite_sent",
        )
    if status == "connected":
        add(
            "event",
            status_from="invite_sent",
            status_to="connected",
            detail={"event": "invite_accepted"},
        )
        if rnd.random() < 0.5:
            add(
                "follow_up",
                message=f"Thanks for connecting, {first}! " + "Here is the short deck. " * 8,
                step=1,
            )
    if status == "withdrawn":
        add(
            "withdraw_invite",
            status_from="invite_sent",
            status_to="withdrawn",
            detail={"event": "invite_expired"},
        )
    pending: tuple[str, str] | None = None
    if status == "not_verified":
        pending = ("profile_visit", "daily_cap")
    elif rnd.random() < pending_share:
        pending = {
            "not_connected": ("connection_request", rnd.choice(PENDING_REASONS)),
            "invite_sent": ("follow_up", "awaiting_acceptance"),
            "connected": ("follow_up", "follow_up_delay"),
        }.get(status)
    if pending:
        due = now + timedelta(minutes=rnd.randint(10, 72 * 60))
        out.append(
            {
                "kind": pending[0],
                "outcome": "pending",
                "created_at": min(t + timedelta(hours=1), limit),
                "scheduled_for": due,
                "completed_at": None,
                "waiting_reason": pending[1],
                "expected_at": due,
                "step": 1 if pending[0] == "follow_up" else None,
                "detail": {},
            }
        )
    for row in out:
        row.update(
            workspace_id=ds.workspace_id,
            contact_id=contact_id,
            campaign_id=campaign_id,
            sender_id=sender_id,
            attempts=0 if row["outcome"] == "pending" else 1,
        )
    return out


def activity_tuple(row: dict[str, Any], ts: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    out = []
    for col in ACTIVITY_COLUMNS:
        value = row.get(col)
        if col == "detail":
            value = json.dumps(value or {})
        elif isinstance(value, datetime):
            value = ts(value)
        out.append(value)
    return tuple(out)


COUNTS_SQL = (
    'INSERT INTO campaign_counts (campaign_id, "key", count) '
    "SELECT campaign_id, 'status:' || status, count(*) FROM contacts GROUP BY campaign_id, status",
    'INSERT INTO campaign_counts (campaign_id, "key", count) '
    "SELECT campaign_id, 'error:' || error_code, count(*) FROM contacts "
    "WHERE error_code IS NOT NULL GROUP BY campaign_id, error_code",
)
RANGE_SQL = "SELECT campaign_id, min(id), max(id), count(*) FROM contacts GROUP BY campaign_id"
SAMPLE_SQL = (
    "SELECT id, campaign_id, status, error_code, created_at, first_name FROM contacts "
    "WHERE id % {step} = 0 ORDER BY id"
)


def sender_values(k: int) -> dict[str, Any]:
    return {
        "name": ("Dana Whitfield", "Sam Okafor")[k],
        "tier": ("premium", "basic")[k],
        "timezone": ("Europe/Berlin", "America/New_York")[k],
        "daily_invites": 25,
        "weekly_invites": 100,
        "daily_follow_ups": 60,
    }


def campaign_values(k: int, sender_id: int, workspace_id: int) -> dict[str, Any]:
    name, ctype, state, _, _ = CAMPAIGNS[k]
    return {
        "workspace_id": workspace_id,
        "sender_id": sender_id,
        "name": name,
        "type": ctype,
        "state": state,
        "connection_template": "Hi {{first_name}}, would love to connect."
        if ctype == "connection"
        else "",
    }


def finish_dataset(
    ds: Dataset,
    ranges: list[tuple[Any, ...]],
    sample: list[tuple[Any, ...]],
    n_errors: int,
) -> None:
    by_id = {c.id: c for c in ds.campaigns}
    for cid, lo, hi, count in ranges:
        info = by_id[int(cid)]
        info.lo, info.hi, info.count = int(lo), int(hi), int(count)
    ds.contacts = sum(c.count for c in ds.campaigns)
    ds.errors = n_errors
    bench = ds.campaigns[BENCH_CAMPAIGN].id
    # Contacts of the benchmarked campaign whose log has more than the import line, spread out.
    mine = [row[0] for row in sample if row[1] == bench and row[2] != "not_verified"]
    stride = max(1, len(mine) // 64)
    ds.dialog_contacts = mine[::stride][:64]


def load_sqlite(url: str, ds: Dataset, args: argparse.Namespace, now: datetime) -> None:
    conn = sqlite_connect(sqlite_path(url))
    # A bulk load: keep the indexes' pages in memory (1 GiB at most) instead of re-reading them.
    conn.execute("PRAGMA cache_size=-1048576")
    now_text = sqlite_ts(now)

    def ts(d: datetime | None) -> str | None:
        return sqlite_ts(d) if d else None

    def insert_all(table: str, cols: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
        extra = sqlite_required_fillers(conn, table, cols, now_text)
        names = cols + tuple(extra)
        tail = tuple(extra.values())
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row + tail)
            if len(batch) >= LOAD_BATCH:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
                batch.clear()
        if batch:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")

    try:
        conn.execute("BEGIN IMMEDIATE")
        senders = [
            sqlite_insert_parent(
                conn,
                "sender_accounts",
                {"workspace_id": ds.workspace_id, **sender_values(k)},
                now_text,
            )
            for k in range(2)
        ]
        for k, info in enumerate(ds.campaigns):
            info.sender_id = senders[CAMPAIGNS[k][3]]
            info.id = sqlite_insert_parent(
                conn,
                "campaigns",
                {
                    **campaign_values(k, info.sender_id, ds.workspace_id),
                    "started_at": now_text,
                },
                now_text,
            )
        conn.execute("COMMIT")
        insert_all("contacts", CONTACT_COLUMNS, generate_contacts(ds, now, ts))
        conn.execute("BEGIN IMMEDIATE")
        for sql in COUNTS_SQL:
            conn.execute(sql)
        conn.execute("COMMIT")
        ranges = conn.execute(RANGE_SQL).fetchall()
        step = max(1, sum(c.size for c in ds.campaigns) // max(1, args.activity_contacts))
        sample = [
            (cid, camp, st, err, datetime.fromisoformat(created).replace(tzinfo=UTC), first)
            for cid, camp, st, err, created, first in conn.execute(SAMPLE_SQL.format(step=step))
        ]
        rnd = random.Random(7)  # reproducible data
        rows = [r for c in sample for r in activities_for(c, ds, now, rnd, args.pending_share)]
        insert_all("activities", ACTIVITY_COLUMNS, (activity_tuple(r, ts) for r in rows))
        count_activity_figures(ds, rows, now)
        n_errors = conn.execute(
            "SELECT count(*) FROM contacts WHERE error_code IS NOT NULL"
        ).fetchone()[0]
        finish_dataset(ds, ranges, sample, int(n_errors))
        if args.sqlite_analyze:
            log("ANALYZE")
            conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def load_postgres(url: str, ds: Dataset, args: argparse.Namespace, now: datetime) -> None:
    import psycopg

    def ts(d: datetime | None) -> datetime | None:
        return d

    with psycopg.connect(pg_dsn(url)) as conn:

        def copy_all(table: str, cols: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
            extra = pg_required_fillers(conn, table, cols, now)
            names = cols + tuple(extra)
            tail = tuple(extra.values())
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp,
            ):
                for row in rows:
                    cp.write_row(row + tail)

        senders = [
            pg_insert_parent(
                conn, "sender_accounts", {"workspace_id": ds.workspace_id, **sender_values(k)}, now
            )
            for k in range(2)
        ]
        for k, info in enumerate(ds.campaigns):
            info.sender_id = senders[CAMPAIGNS[k][3]]
            info.id = pg_insert_parent(
                conn,
                "campaigns",
                {**campaign_values(k, info.sender_id, ds.workspace_id), "started_at": now},
                now,
            )
        conn.commit()
        copy_all("contacts", CONTACT_COLUMNS, generate_contacts(ds, now, ts))
        for sql in COUNTS_SQL:
            conn.execute(sql)
        conn.commit()
        ranges = conn.execute(RANGE_SQL).fetchall()
        step = max(1, sum(c.size for c in ds.campaigns) // max(1, args.activity_contacts))
        sample = conn.execute(SAMPLE_SQL.format(step=step)).fetchall()
        rnd = random.Random(7)  # reproducible data
        rows = [r for c in sample for r in activities_for(c, ds, now, rnd, args.pending_share)]
        copy_all("activities", ACTIVITY_COLUMNS, (activity_tuple(r, ts) for r in rows))
        conn.commit()
        count_activity_figures(ds, rows, now)
        found = conn.execute(
            "SELECT count(*) FROM contacts WHERE error_code IS NOT NULL"
        ).fetchone()
        finish_dataset(ds, ranges, sample, int(found[0]) if found else 0)
    # What autovacuum would have done by the time anyone opens the dashboard.
    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        for table in ("contacts", "activities", "campaign_counts"):
            conn.execute(f"VACUUM ANALYZE {table}")


def count_activity_figures(ds: Dataset, rows: list[dict[str, Any]], now: datetime) -> None:
    since = now - timedelta(days=30)
    ds.activities = len(rows)
    ds.pending = sum(1 for r in rows if r["outcome"] == "pending")
    ds.activities_30d = sum(1 for r in rows if r["completed_at"] and r["completed_at"] >= since)


def build(url: str, args: argparse.Namespace) -> Dataset:
    """Migrate, create the workspace and its admin through the CLI, then load the rows by SQL."""
    env = bench_env(url)
    run_cli(["migrate"], env)
    workspace_id = int(
        run_cli(
            [
                "create-workspace",
                "Benchmark",
                "--admin-email",
                ADMIN_EMAIL,
                "--admin-password",
                ADMIN_PASSWORD,
            ],
            env,
        ).splitlines()[-1]
    )
    ds = Dataset(
        workspace_id,
        [
            CampaignInfo(0, CAMPAIGNS[k][0], 0, size)
            for k, size in enumerate(campaign_sizes(args.contacts))
        ],
    )
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    if is_postgres(url):
        load_postgres(url, ds, args, now)
    else:
        load_sqlite(url, ds, args, now)
    ds.load_seconds = time.perf_counter() - t0
    return ds


# --------------------------------------------------------------------------- the server


def sign_in(base_url: str) -> str:
    """A session token through the real form: the login CSRF cookie and field, then a 303."""
    with httpx.Client(base_url=base_url, timeout=60) as c:
        r = c.get("/login")
        r.raise_for_status()
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        if m is None:
            raise SystemExit("no csrf_token field on /login")
        r = c.post(
            "/login",
            data={
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "csrf_token": html.unescape(m.group(1)),
                "next": "/",
            },
        )
        if r.status_code != 303:
            raise SystemExit(f"POST /login answered {r.status_code}: {r.text[:300]}")
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == SESSION_COOKIE:
                return rest.split(";", 1)[0]
    raise SystemExit("POST /login set no session cookie")


NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)"')
ROW_ID = re.compile(r'<tr data-contact-id="(\d+)"')
ROW_STATUS = re.compile(r'<td[^>]*><span class="badge status-([a-z_]+)">')


def next_url(path: str, body: str) -> str | None:
    m = NEXT_LINK.search(body)
    return f"{path}{html.unescape(m.group(1))}" if m else None


def make_cursor(last_id: int) -> str:
    raw = json.dumps({"id": last_id, "sort": "id"}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --------------------------------------------------------------------------- measuring


@dataclass
class Scenario:
    name: str
    describe: str
    urls: list[str]  # rotated through
    htmx: bool = False
    signed_in: bool = True


@dataclass
class Result:
    scenario: Scenario
    latencies: list[float]
    wall: float
    errors: int
    solo: list[float]
    size: int
    first_error: str | None = None


def client_for(base_url: str, token: str | None, htmx: bool) -> httpx.Client:
    headers = {}
    if token:
        headers["Cookie"] = f"{SESSION_COOKIE}={token}"
    if htmx:
        headers["HX-Request"] = "true"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.Client(base_url=base_url, headers=headers, timeout=120, limits=limits)


def measure(
    base_url: str,
    tokens: list[str],
    sc: Scenario,
    requests: int,
    seconds: float,
    solo_requests: int,
) -> Result:
    clients = len(tokens)
    urls = sc.urls
    # Solo: one client, one request at a time — about the server's own time for the page.
    solo: list[float] = []
    size = 0
    with client_for(base_url, tokens[0] if sc.signed_in else None, sc.htmx) as c:
        for j in range(3 + solo_requests):
            t0 = time.perf_counter()
            r = c.get(urls[j % len(urls)])
            if j >= 3:
                solo.append(time.perf_counter() - t0)
            size = max(size, len(r.content))
    load = concurrent_gets(
        lambda k: client_for(base_url, tokens[k] if sc.signed_in else None, sc.htmx),
        urls,
        clients=clients,
        requests=requests,
        seconds=seconds,
    )
    return Result(sc, load.latencies, load.wall, load.errors, solo, size, load.first_error)


def get_checked(c: httpx.Client, url: str, name: str, **headers: str) -> str:
    r = c.get(url, headers=headers)
    if r.status_code != 200:
        raise SystemExit(f"{name}: {url} answered {r.status_code}: {r.text[:300]}")
    return r.text


def prepare(base_url: str, token: str, ds: Dataset, deep_count: int) -> list[Scenario]:
    """Check every page answers what it should, and collect the URLs (deep ones by "Next" links)."""
    bench = ds.campaigns[BENCH_CAMPAIGN]
    path = f"/campaigns/{bench.id}"
    with client_for(base_url, token, htmx=False) as c:
        body = get_checked(c, "/", "overview")
        for info in ds.campaigns:
            if f"{info.count:,}" not in body:
                raise SystemExit(f"overview: no total {info.count:,} for campaign {info.name}")

        body = get_checked(c, path, "first")
        ids = [int(x) for x in ROW_ID.findall(body)]
        if len(ids) != 50 or ids[0] != bench.lo or next_url(path, body) is None:
            raise SystemExit(f"first: unexpected page (ids {ids[:3]}…)")
        # Walk a few pages by their Next links: ascending, no gaps between pages.
        url: str | None = path
        last = 0
        for _ in range(5):
            assert url is not None
            body = get_checked(c, url, "walk")
            ids = [int(x) for x in ROW_ID.findall(body)]
            if not ids or ids[0] <= last or ids != sorted(ids):
                raise SystemExit(f"walk: pages out of order at {url}")
            last = ids[-1]
            url = next_url(path, body)

        status_url = f"{path}?status=invite_sent"
        body = get_checked(c, status_url, "status")
        statuses = set(ROW_STATUS.findall(body))
        if statuses != {"invite_sent"}:
            raise SystemExit(f"status: rows with statuses {statuses}")

        # Deep pages: from a cursor at 80–98 % into the campaign, follow "Next" twice; the URL
        # benchmarked is the server's own next link.
        deep: list[str] = []
        for k in range(deep_count):
            at = bench.lo + int((bench.hi - bench.lo) * (0.80 + 0.18 * k / max(1, deep_count - 1)))
            url = f"{path}?cursor={make_cursor(at)}"
            for _ in range(2):
                body = get_checked(c, url, "deep")
                nxt = next_url(path, body)
                if nxt is None:
                    raise SystemExit(f"deep: no Next link on {url}")
                url = nxt
            body = get_checked(c, url, "deep")
            ids = [int(x) for x in ROW_ID.findall(body)]
            if len(ids) != 50 or ids[0] <= at + 100:
                raise SystemExit(f"deep: unexpected rows on {url}")
            deep.append(url)

        body = get_checked(c, path, "fragment", **{"HX-Request": "true"})
        if "<html" in body or len(ROW_ID.findall(body)) != 50:
            raise SystemExit("fragment: not the table fragment")

        dialogs = [f"/contacts/{cid}" for cid in ds.dialog_contacts]
        outcomes: set[str] = set()
        for url in dialogs:
            body = get_checked(c, url, "dialog", **{"HX-Request": "true"})
            if not body.lstrip().startswith("<dialog") or "data-outcome=" not in body:
                raise SystemExit(f"dialog: not the dialog fragment for {url}")
            outcomes.update(re.findall(r'data-outcome="(\w+)"', body))
        if "success" not in outcomes:
            raise SystemExit(f"dialog: only outcomes {outcomes} in the sampled logs")

    return [
        Scenario("overview", "overview            GET /", ["/"]),
        Scenario("first", "campaign, page 1    GET /campaigns/{id}", [path]),
        Scenario("status", "status tab          ?status=invite_sent", [status_url]),
        Scenario("deep", f"deep page           {deep_count} Next links at 80–98 %", deep),
        Scenario("fragment", "table fragment      page 1, HX-Request", [path], htmx=True),
        Scenario(
            "dialog",
            f"activity dialog     /contacts/{{id}} ×{len(dialogs)}, HX",
            dialogs,
            htmx=True,
        ),
        Scenario("healthz", "health              GET /healthz", ["/healthz"], signed_in=False),
        Scenario("livez", "ceiling             GET /livez", ["/livez"], signed_in=False),
    ]


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    add_workers_argument(parser)
    parser.add_argument("--requests", type=int, default=100, help="per client per scenario")
    parser.add_argument(
        "--scenario-seconds",
        type=float,
        default=20.0,
        help="stop a scenario's clients after this long even if --requests are not all made",
    )
    parser.add_argument("--solo-requests", type=int, default=20, help="for the solo column")
    parser.add_argument(
        "--activity-contacts", type=int, default=50_000, help="contacts given an activity log"
    )
    parser.add_argument(
        "--pending-share",
        type=float,
        default=0.25,
        help="share of those with a pending next action (not-verified ones always have one)",
    )
    parser.add_argument("--deep-pages", type=int, default=16, help="deep URLs rotated through")
    parser.add_argument("--sqlite-analyze", action="store_true", help="run ANALYZE after loading")
    parser.add_argument("--py-spy", metavar="OUT", help="record the server with py-spy (raw)")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios (overview,first,status,deep,fragment,dialog,healthz,livez)",
    )
    args = parser.parse_args()
    if args.contacts < 10_000:
        parser.error("--contacts must be at least 10000 (the checks expect full pages everywhere)")
    db_kind = "PostgreSQL" if args.database_url and is_postgres(args.database_url) else "SQLite"

    with fresh_database(args.database_url, "dash") as url:
        log(f"building {args.contacts:,} contacts in {describe_url(url)}")
        ds = build(url, args)
        log(
            f"loaded {ds.contacts:,} contacts and {ds.activities:,} activities "
            f"in {ds.load_seconds:.1f} s"
        )
        log(f"starting contact-tracker serve --workers {args.workers}")
        with Server(bench_env(url), workers=args.workers) as server:
            tokens = [sign_in(server.base_url) for _ in range(args.clients)]
            scenarios = prepare(server.base_url, tokens[0], ds, args.deep_pages)
            if args.only:
                wanted = set(args.only.split(","))
                scenarios = [s for s in scenarios if s.name in wanted]
            results: list[Result] = []
            load_before = machine_note()
            with Profiler(args.py_spy, server):
                for sc in scenarios:
                    log(f"scenario {sc.name}: {args.clients} clients × ≤{args.requests} requests")
                    results.append(
                        measure(
                            server.base_url,
                            tokens,
                            sc,
                            args.requests,
                            args.scenario_seconds,
                            args.solo_requests,
                        )
                    )
            load_after = machine_note()

    bench = ds.campaigns[BENCH_CAMPAIGN]
    print()
    print(
        f"dashboard: {ds.contacts:,} contacts in {len(ds.campaigns)} campaigns ({db_kind}), "
        f"{args.clients} signed-in client threads, server --workers {args.workers}"
    )
    print(
        "data: "
        + ", ".join(f"{c.name} {c.count:,} (ids {c.lo:,}–{c.hi:,})" for c in ds.campaigns)
        + f"; {ds.errors:,} with an error; {ds.activities:,} activities "
        f"({ds.pending:,} pending, {ds.activities_30d:,} completed in the last 30 days); "
        f"loaded in {ds.load_seconds:.1f} s"
        + ("; ANALYZE run" if args.sqlite_analyze and db_kind == "SQLite" else "")
    )
    print(
        f"database: {describe_url(args.database_url or 'temporary SQLite file')}; "
        f"campaign pages are campaign {bench.id} ({bench.name}, {bench.count:,} contacts)"
    )
    print(f"machine: before measuring {load_before}; after {load_after}")
    print(
        "latency: per request, send → last byte on 127.0.0.1 under all clients at once (queueing "
        "included); solo p50: one client, one request at a time (≈ the server's own time)"
    )
    print(
        f"{'page':50s} {'requests':>8s} {'solo p50':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
        f"{'max ms':>8s} {'req/s':>7s} {'KB':>5s} {'errors':>6s}"
    )
    slow = []
    for res in results:
        s = latency_summary(res.latencies)
        solo = latency_summary(res.solo)
        mark = ""
        if res.scenario.name not in NOT_PAGES and s["p99_ms"] >= TARGET_P99_MS:
            mark = "  ← over target"
            slow.append(f"{res.scenario.name} ({s['p99_ms']:.0f} ms)")
        print(
            f"{res.scenario.describe:50s} {s['n']:8d} {solo['p50_ms']:8.1f} {s['p50_ms']:8.1f} "
            f"{s['p99_ms']:8.1f} {s['max_ms']:8.1f} {len(res.latencies) / res.wall:7.1f} "
            f"{res.size / 1024:5.0f} {res.errors:6d}{mark}"
        )
    pages = [r for r in results if r.scenario.name not in NOT_PAGES]
    if pages:
        verdict = "met" if not slow else "MISSED: " + ", ".join(slow)
        print(f"target: p99 < {TARGET_P99_MS:.0f} ms for every page → {verdict}")
    for res in results:
        if res.first_error:
            print(
                f"{res.scenario.name}: {res.errors} non-200 answers, the first: {res.first_error}"
            )
    if any(len(r.latencies) < args.clients * args.requests for r in results):
        print(
            f"(a scenario stops after --scenario-seconds {args.scenario_seconds:g}; "
            "see the requests column)"
        )


if __name__ == "__main__":
    main()
