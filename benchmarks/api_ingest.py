"""Bulk contact ingestion through the real API, against a raw sqlite3 executemany baseline.

    .venv/bin/python benchmarks/api_ingest.py [--database-url URL] [--contacts 200000]
        [--batch 1000] [--concurrency 1] [--workers 1] [--time-limit 240]
        [--server-env KEY=VALUE] [--skip-baseline] [--py-spy OUT]

1. A fresh database (a temporary SQLite file by default; with a PostgreSQL URL a throwaway database
   `bench_ingest_<pid>` on that server), migrated and given a workspace and an API key by the CLI;
   a sender and a campaign made through the API of `contact-tracker serve`.
2. POST /api/v1/campaigns/{id}/contacts in requests of --batch contacts from --concurrency client
   threads: contacts/s overall and per-request p50/p99/max (posting stops after --time-limit
   seconds; the baselines then insert as many rows as the API did).
3. Baseline: a fresh SQLite file migrated the same way, the same rows (as the app stores them)
   inserted with sqlite3 executemany, one transaction per batch, WAL and synchronous=NORMAL.
   With a PostgreSQL URL, psycopg executemany into another throwaway database is a second baseline.

Target: on SQLite the API ingests at least 35 % of the raw rate.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from _common import (
    API,
    Profiler,
    Server,
    bench_env,
    contact_columns,
    create_sender_and_campaign,
    describe_url,
    fresh_database,
    is_postgres,
    latency_summary,
    log,
    machine_note,
    migrate_and_create_workspace,
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

TARGET_RATIO = 0.35


def make_contacts(n: int) -> list[dict[str, str]]:
    companies = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Ent")
    titles = ("CTO", "VP Engineering", "Head of Sales", "Founder", "Product Manager", "CEO")
    return [
        {
            "linkedin_url": f"https://www.linkedin.com/in/bench-{i:07d}",
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "company": companies[i % len(companies)],
            "title": titles[i % len(titles)],
            "email": f"person{i}@example.com",
        }
        for i in range(n)
    ]


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------- the API


def run_api(
    base_url: str,
    api_key: str,
    campaign_id: int,
    bodies: list[bytes],
    concurrency: int,
    time_limit: float,
) -> tuple[float, list[tuple[int, float]], int, bool]:
    """Send the bodies (stopping after time_limit seconds).

    Returns (wall seconds, (request index, latency) pairs, contacts created, stopped early).
    """
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    latencies: list[tuple[int, float]] = []
    created = [0]
    failures: list[str] = []
    stopped = [False]
    path = f"{API}/campaigns/{campaign_id}/contacts"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + time_limit

    def worker() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=300) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None or failures:
                    return
                if time.perf_counter() > deadline:
                    stopped[0] = True
                    return
                t0 = time.perf_counter()
                r = client.post(path, content=bodies[i])
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    failures.append(f"request {i}: {r.status_code} {r.text[:300]}")
                    return
                # The answer starts with {"created":N,… — no need to parse the whole body here.
                head = r.content[:40].decode()
                n = int(head.split('"created":', 1)[1].split(",", 1)[0])
                with lock:
                    latencies.append((i, elapsed))
                    created[0] += n

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if failures:
        raise SystemExit("API ingest failed: " + failures[0])
    return wall, latencies, created[0], stopped[0]


def count_contacts(url: str, campaign_id: int) -> int:
    if is_postgres(url):
        import psycopg

        with psycopg.connect(pg_dsn(url)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign_id,)
            ).fetchone()
            return int(row[0]) if row else 0
    conn = sqlite_connect(sqlite_path(url))
    try:
        return int(
            conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = ?", (campaign_id,)
            ).fetchone()[0]
        )
    finally:
        conn.close()


# --------------------------------------------------------------------------- raw baselines


def row_tuple(c: dict[str, str], workspace_id: int, campaign_id: int, ts: Any) -> tuple[Any, ...]:
    # The columns of contact_columns(), valued as add_contacts stores an API contact.
    return (
        workspace_id,
        campaign_id,
        c["linkedin_url"],
        c["first_name"],
        c["last_name"],
        c["email"],
        c["company"],
        c["title"],
        "{}",
        "api",
        "not_verified",
        None,
        False,
        False,
        0,
        ts,
        ts,
        ts,
    )


def raw_sqlite(contacts: list[dict[str, str]], batch: int) -> tuple[float, int]:
    """A fresh migrated SQLite file; (seconds, rows) for executemany in per-batch transactions."""
    with fresh_database(None, "ingest_raw") as url:
        run_cli(["migrate"], bench_env(url))
        conn = sqlite_connect(sqlite_path(url))
        try:
            now_text = sqlite_ts(datetime.now(UTC))
            conn.execute("BEGIN IMMEDIATE")
            ws = sqlite_insert_parent(conn, "workspaces", {}, now_text)
            sender = sqlite_insert_parent(conn, "sender_accounts", {"workspace_id": ws}, now_text)
            campaign = sqlite_insert_parent(
                conn, "campaigns", {"workspace_id": ws, "sender_id": sender}, now_text
            )
            conn.execute("COMMIT")
            # Columns added by later migrations get what the app would store (their defaults).
            extra = sqlite_required_fillers(conn, "contacts", contact_columns(), now_text)
            cols = contact_columns() + tuple(extra)
            tail = tuple(extra.values())
            sql = (
                f"INSERT INTO contacts ({', '.join(cols)}) "  # noqa: S608
                f"VALUES ({', '.join('?' for _ in cols)})"
            )
            t0 = time.perf_counter()
            for chunk in batches(contacts, batch):
                ts = sqlite_ts(datetime.now(UTC))
                rows = [row_tuple(c, ws, campaign, ts) + tail for c in chunk]
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            seconds = time.perf_counter() - t0
            n = conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = ?", (campaign,)
            ).fetchone()[0]
        finally:
            conn.close()
    return seconds, int(n)


def raw_postgres(base_url: str, contacts: list[dict[str, str]], batch: int) -> tuple[float, int]:
    """A throwaway migrated PostgreSQL database; psycopg executemany, one transaction per batch."""
    import psycopg

    with fresh_database(base_url, "ingest_raw") as url:
        run_cli(["migrate"], bench_env(url))
        with psycopg.connect(pg_dsn(url)) as conn:
            now = datetime.now(UTC)
            with conn.transaction():
                ws = pg_insert_parent(conn, "workspaces", {}, now)
                sender = pg_insert_parent(conn, "sender_accounts", {"workspace_id": ws}, now)
                campaign = pg_insert_parent(
                    conn, "campaigns", {"workspace_id": ws, "sender_id": sender}, now
                )
            extra = pg_required_fillers(conn, "contacts", contact_columns(), now)
            cols = contact_columns() + tuple(extra)
            tail = tuple(extra.values())
            sql = (
                f"INSERT INTO contacts ({', '.join(cols)}) "  # noqa: S608
                f"VALUES ({', '.join('%s' for _ in cols)})"
            )
            t0 = time.perf_counter()
            for chunk in batches(contacts, batch):
                ts = datetime.now(UTC)
                rows = [row_tuple(c, ws, campaign, ts) + tail for c in chunk]
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(sql, rows)
            seconds = time.perf_counter() - t0
            row = conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign,)
            ).fetchone()
            n = int(row[0]) if row else 0
    return seconds, n


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="contacts per request (max 1000)")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=240.0,
        help="stop posting after this many seconds (the baseline then inserts as many rows)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server (experiments, e.g. PGOPTIONS=...)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--py-spy", metavar="OUT", help="record the server with py-spy (raw)")
    args = parser.parse_args()

    contacts = make_contacts(args.contacts)
    bodies = [
        json.dumps({"contacts": chunk}, separators=(",", ":")).encode()
        for chunk in batches(contacts, args.batch)
    ]
    db_kind = "PostgreSQL" if args.database_url and is_postgres(args.database_url) else "SQLite"

    load_before = machine_note()
    with fresh_database(args.database_url, "ingest") as url:
        env = bench_env(url)
        log(f"migrating {describe_url(url)}")
        ws = migrate_and_create_workspace(env)
        log(f"starting contact-tracker serve --workers {args.workers}")
        server_env = dict(env, **dict(kv.split("=", 1) for kv in args.server_env))
        with Server(server_env, workers=args.workers) as server:
            _sender, campaign_id = create_sender_and_campaign(server.base_url, ws.api_key)
            log(f"posting {len(contacts):,} contacts in {len(bodies)} requests")
            with Profiler(args.py_spy, server):
                wall, timed, created, stopped = run_api(
                    server.base_url,
                    ws.api_key,
                    campaign_id,
                    bodies,
                    args.concurrency,
                    args.time_limit,
                )
        stored = count_contacts(url, campaign_id)

    api_rate = created / wall
    lat = latency_summary([t for _, t in timed])
    in_order = [t for _, t in sorted(timed)]
    tenth = max(1, len(in_order) // 10)
    early, late = latency_summary(in_order[:tenth]), latency_summary(in_order[-tenth:])
    print()
    print(
        f"api_ingest: {len(contacts):,} contacts, {len(bodies)} requests of {args.batch:,}, "
        f"{args.concurrency} client thread(s), --workers {args.workers}"
    )
    print(f"database: {db_kind} ({describe_url(args.database_url or 'temporary SQLite file')})")
    print(f"machine: before {load_before}; after the API phase {machine_note()}")
    print(
        f"API ({db_kind}): {api_rate:>10,.0f} contacts/s   {wall:7.2f} s   "
        f"per request p50 {lat['p50_ms']:.1f} ms  p99 {lat['p99_ms']:.1f} ms  "
        f"max {lat['max_ms']:.1f} ms   (created {created:,}, stored {stored:,})"
    )
    print(
        f"per request p50 as the campaign grows: first {tenth} requests {early['p50_ms']:.1f} ms, "
        f"last {tenth} requests {late['p50_ms']:.1f} ms"
    )
    if args.server_env:
        print(f"server environment extras: {' '.join(args.server_env)}")
    if stopped:
        print(
            f"STOPPED after --time-limit {args.time_limit:g} s: {created:,} of {len(contacts):,} "
            "contacts sent; the baselines insert the same number of rows"
        )
        contacts = contacts[:created]
    elif created != len(contacts) or stored != len(contacts):
        print("WARNING: not every contact was created")

    if args.skip_baseline:
        return
    log("baseline: raw sqlite3 executemany into a fresh migrated SQLite file")
    raw_seconds, raw_rows = raw_sqlite(contacts, args.batch)
    raw_rate = raw_rows / raw_seconds
    print(
        f"raw sqlite3 executemany (SQLite, batches of {args.batch:,}, WAL, synchronous=NORMAL): "
        f"{raw_rate:>10,.0f} rows/s   {raw_seconds:7.2f} s   ({raw_rows:,} rows)"
    )
    ratio = api_rate / raw_rate
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    label = "API/raw" if db_kind == "SQLite" else "API(PostgreSQL)/raw(SQLite)"
    print(
        f"ratio {label}: {ratio:.1%}   target: API ≥ {TARGET_RATIO:.0%} of raw on SQLite"
        + (f" → {verdict}" if db_kind == "SQLite" else " (the target is stated for SQLite)")
    )
    if db_kind == "PostgreSQL":
        assert args.database_url is not None
        log("second baseline: psycopg executemany into a fresh migrated PostgreSQL database")
        pg_seconds, pg_rows = raw_postgres(args.database_url, contacts, args.batch)
        pg_rate = pg_rows / pg_seconds
        print(
            f"raw psycopg executemany (PostgreSQL, batches of {args.batch:,}): "
            f"{pg_rate:>10,.0f} rows/s   {pg_seconds:7.2f} s   ({pg_rows:,} rows)"
        )
        print(f"ratio API(PostgreSQL)/raw(PostgreSQL): {api_rate / pg_rate:.1%}")


if __name__ == "__main__":
    main()
