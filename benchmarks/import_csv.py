"""CSV import end to end through `contact-tracker import`, against its ceilings: raw sqlite3, raw
PostgreSQL COPY, and sqlite-utils.

    .venv/bin/python benchmarks/import_csv.py [--rows 100000 1000000]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--batch N] [--skip-sqlite] [--skip-sqlite-utils] [--profile ROWS] [--profile-out FILE]

For each size (default: 100,000 and 1,000,000 rows; the 1,000,000-row file is about 120 MB):
1. Build a CSV of that many contacts as a CRM export looks (names, profile URL, email, company,
   title and a free-text column kept as a custom field; some fields quoted with commas inside).
2. App, SQLite: a fresh SQLite file migrated by `contact-tracker migrate`, a campaign, then
   `contact-tracker import FILE --campaign ID` in a subprocess: wall rows/s and the child's peak
   RSS (getrusage via os.wait4). The count in the campaign is checked.
3. App, PostgreSQL (with --database-url): the same in a throwaway database `bench_<label>_<pid>`
   on that server, dropped afterwards.
4. PostgreSQL ceiling (with --database-url; issue 19), in the same run: per batch of the import's
   batch size, `COPY` of the raw CSV lines into a temporary table and ONE `INSERT … SELECT … ON
   CONFLICT DO NOTHING` in file order into the real contacts table of a fresh migrated database
   (its foreign keys and indexes), committed per batch. No validation, no de-duplication, no
   events, counts or checkpoints: what the rows cost PostgreSQL alone.
5. SQLite ceiling: the rows pre-parsed (by the app's own reader, untimed) inserted with raw
   `sqlite3.executemany` into the contacts table of a fresh migrated SQLite file, one transaction
   per batch of the import's batch size, WAL and synchronous=NORMAL, the unique index in place.
6. `sqlite-utils insert DB contacts FILE --csv` of the same file into a fresh SQLite file (what an
   admin would otherwise reach for; it neither validates nor de-duplicates).
Targets: app on PostgreSQL ≥ 75 % of its ceiling (90 % stretch), app on SQLite ≥ 60 % of its
ceiling and faster than sqlite-utils, peak RSS < 250 MB and about the same for 100,000 and
1,000,000 rows. Ratios are of end-to-end wall rows/s (the CLI's start-up included); the job's own
rows/s (started → finished, as the import records them) are printed beside them.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    VENV_BIN,
    bench_env,
    cli_command,
    contact_columns,
    describe_url,
    fresh_database,
    is_postgres,
    log,
    machine_note,
    pg_dsn,
    pg_insert_parent,
    pg_required_fillers,
    run_cli,
    settle,
    sqlite_connect,
    sqlite_insert_parent,
    sqlite_path,
    sqlite_required_fillers,
    sqlite_ts,
)

sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.6
TARGET_PG_RATIO = 0.75
STRETCH_PG_RATIO = 0.9
TARGET_RSS_MB = 250.0
HEADER = "First Name,Last Name,LinkedIn URL,Email Address,Company,Position,Notes\r\n"
COMPANIES = ("Acme", '"Globex, Inc."', "Initech", "Umbrella", "Hooli", "Stark Industries")
TITLES = ("CTO", "VP Engineering", '"Head of Sales, EMEA"', "Founder", "Product Manager")


# --------------------------------------------------------------------------- the file


def build_csv(path: Path, rows: int) -> int:
    """A CRM-style export of `rows` distinct, valid contacts; returns its size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        chunk: list[str] = []
        for i in range(rows):
            chunk.append(
                f"First{i},Last{i},https://www.linkedin.com/in/person-{i:07d}/,"
                f"p{i}@example.com,{COMPANIES[i % 6]},{TITLES[i % 5]},event {i % 97}\r\n"
            )
            if len(chunk) == 20_000:
                out.writelines(chunk)
                chunk = []
        out.writelines(chunk)
    return path.stat().st_size


# --------------------------------------------------------------------------- measuring a child


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str], env: dict[str, str]) -> Measured:
    """Run a command; wall seconds and its own peak RSS.

    The RSS comes from /usr/bin/time (-f %M): a forked child's ru_maxrss also counts the memory it
    shared with this (large) process before exec, so wait4 here would report our own size. When
    /usr/bin/time is missing, wait4 is the fallback (an upper bound).
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        full = [timer, "-f", "%M %U %S", "-o", rss_file, *cmd] if timer else cmd
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(full, env=env, cwd=ROOT, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kb = float(usage.ru_maxrss)
        cpu = usage.ru_utime + usage.ru_stime
        if timer:
            last = Path(rss_file).read_text().splitlines()[-1].split()
            peak_kb, cpu = float(last[0]), float(last[1]) + float(last[2])
        return Measured(
            seconds=seconds,
            cpu_seconds=cpu,
            peak_rss_mb=peak_kb / 1024,
            returncode=proc.returncode,
            stdout=Path(out_path).read_text(errors="replace"),
            stderr=Path(err_path).read_text(errors="replace"),
        )


# --------------------------------------------------------------------------- the app


def make_campaign(url: str) -> int:
    """A workspace, a sender and a campaign through the app's services (there is no CLI for it)."""
    from app.accounts.service import create_workspace
    from app.campaigns.schemas import CampaignCreate
    from app.campaigns.service import create_campaign
    from app.db import make_engine, make_sessionmaker
    from app.domain.statuses import CampaignType, SenderTier
    from app.senders.schemas import SenderCreate
    from app.senders.service import create_sender

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            ws = create_workspace(
                session,
                name="Import benchmark",
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
            return int(campaign.id)
    finally:
        engine.dispose()


def job_figures(url: str, campaign_id: int) -> tuple[int, int, float]:
    """(contacts in the campaign, imported by the job, the job's own seconds started → finished)."""
    from sqlalchemy import func, select

    from app.db import make_engine, make_sessionmaker
    from app.models import Contact, ContactImport

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            count = session.scalar(
                select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id)
            )
            job = session.scalars(select(ContactImport).order_by(ContactImport.id.desc())).first()
            assert job is not None and job.started_at and job.finished_at
            own = (job.finished_at - job.started_at).total_seconds()
            return int(count or 0), job.imported, own
    finally:
        engine.dispose()


@dataclass
class AppRun:
    rows_per_s: float
    job_rows_per_s: float
    peak_rss_mb: float
    seconds: float
    rows_per_cpu_s: float


def app_import(
    database_url: str | None, label: str, csv_path: Path, rows: int, batch: int | None
) -> AppRun:
    with fresh_database(database_url, label) as url:
        data_dir = tempfile.mkdtemp(prefix=f"bench_{label}_data_")
        try:
            extra = {"TRACKER_DATA_DIR": data_dir}
            if batch:
                extra["TRACKER_IMPORT_BATCH_SIZE"] = str(batch)
            env = bench_env(url, **extra)
            run_cli(["migrate"], env)
            campaign_id = make_campaign(url)
            log(f"{label}: contact-tracker import of {rows:,} rows into {describe_url(url)}")
            settle(url)
            m = run_measured(
                [*cli_command(), "import", str(csv_path), "--campaign", str(campaign_id)], env
            )
            if m.returncode != 0:
                raise SystemExit(f"{label}: import failed ({m.returncode}):\n{m.stderr[-3000:]}")
            count, imported, own = job_figures(url, campaign_id)
            if count != rows or imported != rows:
                raise SystemExit(
                    f"{label}: {count:,} contacts / {imported:,} imported, not {rows:,}"
                )
            return AppRun(
                rows / m.seconds, rows / own, m.peak_rss_mb, m.seconds, rows / m.cpu_seconds
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- the ceiling


def pre_parse(csv_path: Path) -> list[dict[str, Any]]:
    """Every row as the app's reader gives it (normalised URL, fields, custom fields)."""
    from app.imports.reader import read_rows, sniff

    with csv_path.open("rb") as raw:
        dialect = sniff(raw)
        return [r.contact for r in read_rows(raw, dialect) if r.contact is not None]


def raw_sqlite(contacts: list[dict[str, Any]], batch: int) -> tuple[float, float, int]:
    """(seconds, CPU seconds, rows): executemany into a fresh migrated SQLite file, one transaction per batch."""
    import json

    with fresh_database(None, "import_raw") as url:
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
            extra = sqlite_required_fillers(conn, "contacts", contact_columns(), now_text)
            cols = contact_columns() + tuple(extra)
            tail = tuple(extra.values())
            sql = (
                f"INSERT INTO contacts ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            )
            ts = now_text
            rows = [
                (
                    ws,
                    campaign,
                    c["linkedin_url"],
                    c["first_name"],
                    c["last_name"],
                    c["email"],
                    c["company"],
                    c["title"],
                    json.dumps(c["custom_fields"]),
                    "csv",
                    "not_verified",
                    None,
                    False,
                    False,
                    0,
                    ts,
                    ts,
                    ts,
                    *tail,
                )
                for c in contacts
            ]
            t0, c0 = time.perf_counter(), time.process_time()
            for start in range(0, len(rows), batch):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows[start : start + batch])
                conn.execute("COMMIT")
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            n = conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = ?", (campaign,)
            ).fetchone()[0]
        finally:
            conn.close()
    return seconds, cpu, int(n)


def raw_postgresql(database_url: str, csv_path: Path, batch: int) -> tuple[float, float, int]:
    """(seconds, CPU seconds, rows): the PostgreSQL ceiling of issue 19. Per batch of `batch`
    lines, in one transaction: `COPY` of the raw CSV lines (PostgreSQL's own CSV parser) into a
    temporary table made for the batch, then ONE `INSERT … SELECT … ON CONFLICT DO NOTHING` into
    the real contacts table of a fresh migrated database (its foreign keys and indexes), in file
    order (a sequential scan of the batch's fresh temporary table reads the lines in the order
    COPY wrote them; no sort is asked for, so the ceiling is the cheapest reading of the rule)."""
    import psycopg

    with fresh_database(database_url, "import_ceiling") as url:
        run_cli(["migrate"], bench_env(url))
        now = datetime.now(UTC)
        with psycopg.connect(pg_dsn(url)) as conn:
            ws = pg_insert_parent(conn, "workspaces", {}, now)
            sender = pg_insert_parent(conn, "sender_accounts", {"workspace_id": ws}, now)
            campaign = pg_insert_parent(
                conn, "campaigns", {"workspace_id": ws, "sender_id": sender}, now
            )
            conn.commit()
            known = (*contact_columns(), "import_id")
            extra = pg_required_fillers(conn, "contacts", known, now)
            settle(url)
            names = ", ".join((*contact_columns(), *extra))
            fillers = "".join(f", %(x_{name})s" for name in extra)
            insert = (
                f"INSERT INTO contacts ({names}) "  # noqa: S608 - the table's own column names
                "SELECT %(ws)s, %(campaign)s, linkedin_url, first_name, last_name, email, "
                "company, title, json_build_object('Notes', notes), 'csv', 'not_verified', NULL, "
                f"false, false, 0, %(now)s, %(now)s, %(now)s{fillers} FROM ceiling_rows "
                "ON CONFLICT (campaign_id, linkedin_url) DO NOTHING"
            )
            params = {
                "ws": ws,
                "campaign": campaign,
                "now": now,
                **{f"x_{name}": value for name, value in extra.items()},
            }
            t0, c0 = time.perf_counter(), time.process_time()
            with csv_path.open("rb") as f:
                f.readline()  # the header
                while True:
                    lines = list(itertools.islice(f, batch))
                    if not lines:
                        break
                    conn.execute(
                        "CREATE TEMP TABLE ceiling_rows (first_name text, last_name text, "
                        "linkedin_url text, email text, company text, title text, notes text) "
                        "ON COMMIT DROP"
                    )
                    with conn.cursor().copy(
                        "COPY ceiling_rows FROM STDIN WITH (FORMAT csv)"
                    ) as copy:
                        copy.write(b"".join(lines))
                    conn.execute(insert, params)
                    conn.commit()
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            row = conn.execute(
                "SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign,)
            ).fetchone()
            n = int(row[0]) if row else 0
    return seconds, cpu, n


def sqlite_utils_insert(csv_path: Path) -> Measured | None:
    tool = shutil.which("sqlite-utils", path=str(VENV_BIN)) or shutil.which("sqlite-utils")
    if tool is None:
        return None
    tmp = tempfile.mkdtemp(prefix="bench_sqlite_utils_")
    try:
        return run_measured(
            [tool, "insert", os.path.join(tmp, "su.db"), "contacts", str(csv_path), "--csv"],
            dict(os.environ),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- profile


def profile(
    database_url: str | None, label: str, csv_path: Path, batch: int, out: str | None
) -> None:
    """run_import in this process under cProfile; prints the top costs."""
    from app.clock import system_clock
    from app.db import make_engine, make_sessionmaker
    from app.domain.statuses import DuplicatePolicy
    from app.imports import running, service
    from app.imports.upload import accept_file

    with fresh_database(database_url, label) as url:
        run_cli(["migrate"], bench_env(url))
        campaign_id = make_campaign(url)
        data_dir = tempfile.mkdtemp(prefix="bench_profile_data_")
        engine = make_engine(url)
        try:
            factory = make_sessionmaker(engine)
            with factory.begin() as session:
                from app.campaigns.service import campaign_workspace

                upload = accept_file(csv_path, data_dir=data_dir, max_bytes=10**12)
                job = service.create_import(
                    session,
                    workspace_id=campaign_workspace(session, campaign_id),
                    campaign_id=campaign_id,
                    upload=upload,
                    filename=csv_path.name,
                    created_by="profile",
                    user_id=None,
                    mapping=None,
                    on_duplicate=DuplicatePolicy.SKIP,
                    now=system_clock(),
                )
                running.claim_next(session, now=system_clock(), import_id=job.id)
                import_id = job.id
            profiler = cProfile.Profile()
            t0 = time.perf_counter()
            profiler.enable()
            result = running.run_import(
                factory, import_id=import_id, clock=system_clock, batch_size=batch
            )
            profiler.disable()
            seconds = time.perf_counter() - t0
        finally:
            engine.dispose()
            shutil.rmtree(data_dir, ignore_errors=True)
    print(
        f"\n== cProfile of run_import, {label}: {result.imported:,} rows in {seconds:.1f} s "
        f"({result.imported / seconds:,.0f} rows/s under the profiler), batch {batch:,}"
    )
    stats = pstats.Stats(profiler)
    if out:
        stats.dump_stats(f"{out}.{label}.prof")
        print(f"(raw profile in {out}.{label}.prof)")
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(
        r"app/|psycopg/_queries|_init_compiled|execute' of|json/__init__", 16
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="file sizes to run"
    )
    parser.add_argument("--database-url", help="a PostgreSQL server for the PostgreSQL run")
    parser.add_argument(
        "--batch", type=int, default=None, help="TRACKER_IMPORT_BATCH_SIZE (default: the app's)"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--skip-sqlite-utils", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="PostgreSQL: app and ceiling runs, alternating (medians compared; default 3)",
    )
    parser.add_argument("--profile", type=int, default=0, metavar="ROWS")
    parser.add_argument("--profile-out", help="also write the raw .prof files with this prefix")
    args = parser.parse_args()
    if args.database_url and not is_postgres(args.database_url):
        raise SystemExit("--database-url must be a PostgreSQL URL (SQLite always runs)")

    from app.config import Settings

    batch = args.batch or Settings().import_batch_size
    print(f"machine: {machine_note()}; import batch {batch:,}")
    results: dict[int, dict[str, Any]] = {}
    work = Path(tempfile.mkdtemp(prefix="bench_import_csv_"))
    try:
        for rows in args.rows:
            csv_path = work / f"contacts-{rows}.csv"
            t0 = time.perf_counter()
            size = build_csv(csv_path, rows)
            log(
                f"built {csv_path.name}: {rows:,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s"
            )
            r: dict[str, Any] = {"size_mb": size / 1e6}
            if not args.skip_sqlite:
                r["sqlite"] = app_import(None, "import_sqlite", csv_path, rows, args.batch)
            if args.database_url:
                # App and ceiling alternate, `--rounds` times each; the medians are compared (on
                # this server one run of either varied by 20 % from the next).
                apps, ceilings = [], []
                for round_ in range(args.rounds):
                    apps.append(
                        app_import(args.database_url, "import_pg", csv_path, rows, args.batch)
                    )
                    log("PostgreSQL ceiling: COPY of the raw lines + one INSERT … SELECT per batch")
                    seconds, cpu, n = raw_postgresql(args.database_url, csv_path, batch)
                    if n != rows:
                        raise SystemExit(f"PostgreSQL ceiling stored {n:,} rows, not {rows:,}")
                    ceilings.append(rows / seconds)
                    if args.rounds > 1:
                        log(
                            f"round {round_ + 1}: app {apps[-1].rows_per_s:,.0f} rows/s, ceiling "
                            f"{ceilings[-1]:,.0f} rows/s: {apps[-1].rows_per_s / ceilings[-1]:.0%}"
                        )
                apps.sort(key=lambda run: run.rows_per_s)
                r["postgresql"] = apps[len(apps) // 2]
                r["pg_ceiling"] = sorted(ceilings)[len(ceilings) // 2]
            if not args.skip_raw and not args.skip_sqlite:
                log("ceiling: pre-parsing the rows (untimed), then raw sqlite3 executemany")
                contacts = pre_parse(csv_path)
                seconds, cpu, n = raw_sqlite(contacts, batch)
                del contacts
                if n != rows:
                    raise SystemExit(f"raw executemany stored {n:,} rows, not {rows:,}")
                r["raw"] = rows / seconds
                r["raw_cpu"] = rows / cpu
            if not args.skip_sqlite_utils and not args.skip_sqlite:
                log("sqlite-utils insert --csv")
                m = sqlite_utils_insert(csv_path)
                if m is None:
                    log(
                        "sqlite-utils is not installed (.venv/bin/pip install sqlite-utils): skipped"
                    )
                elif m.returncode != 0:
                    raise SystemExit(f"sqlite-utils failed: {m.stderr[-2000:]}")
                else:
                    r["sqlite_utils"] = (rows / m.seconds, m.peak_rss_mb, rows / m.cpu_seconds)
            results[rows] = r
            report(rows, r)
            csv_path.unlink()
        summary(results)
        if args.profile:
            csv_path = work / f"contacts-{args.profile}.csv"
            build_csv(csv_path, args.profile)
            if not args.skip_sqlite:
                profile(None, "profile_sqlite", csv_path, batch, args.profile_out)
            if args.database_url:
                profile(args.database_url, "profile_pg", csv_path, batch, args.profile_out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: int, r: dict[str, Any]) -> None:
    """Wall rows/s decide the targets; rows per CPU-second (the client process's user+sys) are
    printed beside them because other work on a shared machine skews wall figures."""
    print(f"\n== {rows:,} rows ({r['size_mb']:.1f} MB)")
    for key, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        run: AppRun | None = r.get(key)
        if run:
            print(
                f"contact-tracker import, {name:<10}: {run.rows_per_s:>9,.0f} rows/s end to end "
                f"({run.seconds:.1f} s; {run.job_rows_per_s:,.0f} rows/s inside the job; "
                f"{run.rows_per_cpu_s:,.0f} rows/CPU-s), peak RSS {run.peak_rss_mb:.0f} MB"
            )
    if "pg_ceiling" in r:
        print(f"PostgreSQL COPY + INSERT (ceiling) : {r['pg_ceiling']:>9,.0f} rows/s")
    if "raw" in r:
        print(
            f"raw sqlite3 executemany (ceiling)  : {r['raw']:>9,.0f} rows/s "
            f"({r['raw_cpu']:,.0f} rows/CPU-s)"
        )
    if "sqlite_utils" in r:
        rate, rss, per_cpu = r["sqlite_utils"]
        print(
            f"sqlite-utils insert --csv          : {rate:>9,.0f} rows/s "
            f"({per_cpu:,.0f} rows/CPU-s), peak RSS {rss:.0f} MB"
        )
    if "postgresql" in r and "pg_ceiling" in r:
        pg = r["postgresql"]
        ratio = pg.rows_per_s / r["pg_ceiling"]
        verdict = "PASS" if ratio >= TARGET_PG_RATIO else "FAIL"
        stretch = " (stretch reached)" if ratio >= STRETCH_PG_RATIO else ""
        print(
            f"app PostgreSQL / COPY ceiling      : {ratio:.0%} (target ≥ {TARGET_PG_RATIO:.0%}, "
            f"stretch {STRETCH_PG_RATIO:.0%}) {verdict}{stretch}; inside the job "
            f"{pg.job_rows_per_s / r['pg_ceiling']:.0%}"
        )
    app = r.get("sqlite")
    if app is None:
        report_rss(r)
        return
    if "raw" in r:
        ratio = app.rows_per_s / r["raw"]
        verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
        print(
            f"app SQLite / raw ceiling           : {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}) "
            f"{verdict}; per CPU-second {app.rows_per_cpu_s / r['raw_cpu']:.0%}"
        )
    if "sqlite_utils" in r:
        ratio = app.rows_per_s / r["sqlite_utils"][0]
        verdict = "PASS" if ratio > 1 else "FAIL"
        print(
            f"app SQLite / sqlite-utils          : {ratio:.2f}x (target > 1x) {verdict}; "
            f"per CPU-second {app.rows_per_cpu_s / r['sqlite_utils'][2]:.2f}x"
        )
    if "postgresql" in r:
        print(
            f"app PostgreSQL / app SQLite        : {r['postgresql'].rows_per_s / app.rows_per_s:.2f}x"
        )
    report_rss(r)


def report_rss(r: dict[str, Any]) -> None:
    for key in ("sqlite", "postgresql"):
        if key in r:
            rss = r[key].peak_rss_mb
            verdict = "PASS" if rss < TARGET_RSS_MB else "FAIL"
            print(f"peak RSS, {key:<25}: {rss:.0f} MB (target < {TARGET_RSS_MB:.0f} MB) {verdict}")


def summary(results: dict[int, dict[str, Any]]) -> None:
    if len(results) < 2:
        return
    small, big = min(results), max(results)
    print(f"\n== memory from {small:,} to {big:,} rows")
    for key in ("sqlite", "postgresql"):
        if key in results[small] and key in results[big]:
            a, b = results[small][key].peak_rss_mb, results[big][key].peak_rss_mb
            verdict = "PASS" if b <= a * 1.15 + 10 else "FAIL"
            print(f"peak RSS, {key:<10}: {a:.0f} MB → {b:.0f} MB ({b - a:+.0f} MB) flat: {verdict}")


if __name__ == "__main__":
    main()
