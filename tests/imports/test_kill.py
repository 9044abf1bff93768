"""The kill test (SPEC §6 "Re-running an interrupted import completes it without duplicates").

`python -m app import` of a 200,000-row file runs in a subprocess on a freshly migrated database
(a SQLite file; on PostgreSQL, when TRACKER_TEST_DATABASE_URL names a server, a throwaway database
on it). It is SIGKILLed once more than 50,000 rows are committed, then resumed with `--resume`;
the campaign must end with exactly the file's 200,000 contacts. A variant puts an unclosed quote six
rows before every batch boundary, so the kill lands inside a resynchronised stretch (issue 16): the
resumed run, reading on from the byte past its last committed row, must end with exactly the rows
and rejections of an uninterrupted read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.clock import system_clock
from app.db import make_engine
from app.domain.statuses import DuplicatePolicy, ImportState
from app.imports import running, service
from app.imports.upload import accept_file
from app.models import Campaign, Contact, ContactImport
from tests.builders import a_campaign, a_workspace
from tests.conftest import PG_URL
from tests.live import committed

# Multi-process or long-simulated: CI runs it, `make fast` leaves it out.
pytestmark = pytest.mark.slow

ROWS = 200_000
KILL_AFTER = 50_000
BATCH = 2000
ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@dataclass
class Target:
    url: str
    engine: Engine
    env: dict[str, str]
    campaign_id: int

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def job(self) -> ContactImport | None:
        """The newest import (the database is fresh: there is at most one)."""
        with Session(self.engine) as s:
            return s.scalars(
                select(ContactImport).order_by(ContactImport.id.desc()).limit(1)
            ).first()

    def contact_counts(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            where = Contact.campaign_id == self.campaign_id
            total = conn.scalar(select(func.count()).select_from(Contact).where(where))
            distinct = conn.scalar(
                select(func.count(func.distinct(Contact.linkedin_url))).where(where)
            )
        return int(total or 0), int(distinct or 0)


def _pg_admin(url: str) -> str:
    u = make_url(url)
    parts = [f"host={u.host or '127.0.0.1'}", f"port={u.port or 5432}", "dbname=postgres"]
    parts.append(f"user={u.username or 'postgres'}")
    if u.password:
        parts.append(f"password={u.password}")
    return " ".join(parts)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A freshly migrated database (dropped afterwards) with one workspace and one campaign."""
    backend: str = request.param
    dropped: str | None = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'kill.db'}"
    else:
        import psycopg

        assert PG_URL
        name = f"imp_kill_{os.getpid()}"
        with psycopg.connect(_pg_admin(PG_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        dropped = name
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": url,
        "TRACKER_DATA_DIR": str(tmp_path),
        "TRACKER_IMPORT_BATCH_SIZE": str(BATCH),
        "TRACKER_SECRET_KEY": "kill-test-secret-0123456789",
        "TRACKER_ENGINE": "off",
    }
    engine = make_engine(url)
    try:
        migrated = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr
        with committed(engine) as s:
            campaign_id = a_campaign(s, a_workspace(s)).id
        # Reads in this process never take SQLite's write lock (the app's writers BEGIN IMMEDIATE).
        reader = engine.execution_options(sqlite_begin="DEFERRED")
        yield Target(url=url, engine=reader, env=env, campaign_id=campaign_id)  # type: ignore[arg-type]
    finally:
        engine.dispose()
        if dropped:
            import psycopg

            with psycopg.connect(_pg_admin(PG_URL or ""), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')


def stray_row(i: int) -> bool:
    """The rows whose note opens a quote that never closes: six rows before each batch boundary,
    so the 20 lines it would swallow (read again after it is cut) straddle the boundary."""
    return i % BATCH == BATCH - 6


def write_csv(path: Path, rows: int, *, stray_quotes: bool = False) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("First Name,Last Name,LinkedIn URL,Email,Company,Position,Notes\r\n")
        chunk: list[str] = []
        for i in range(rows):
            note = f'"unclosed {i}' if stray_quotes and stray_row(i) else f"note {i}"
            chunk.append(
                f"First{i},Last{i},https://www.linkedin.com/in/person-{i:07d},"
                f"person{i}@example.com,Company {i % 997},Title {i % 113},{note}\r\n"
            )
            if len(chunk) == 10_000:
                out.writelines(chunk)
                chunk = []
        out.writelines(chunk)
    return path


@pytest.mark.parametrize("stray_quotes", [False, True], ids=["clean", "stray-quotes"])
def test_import_killed_part_way_resumes_to_exactly_every_row(
    target: Target, tmp_path: Path, stray_quotes: bool
) -> None:
    source = write_csv(tmp_path / "big.csv", ROWS, stray_quotes=stray_quotes)
    strays = sum(stray_row(i) for i in range(ROWS)) if stray_quotes else 0
    log = (tmp_path / "first-run.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "import", str(source), "--campaign", str(target.campaign_id)],
        env=target.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import did not reach 50,000 rows in 60 s"
            job = target.job()
            if job is not None and job.rows_read > KILL_AFTER:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

    killed = target.job()
    assert killed is not None and killed.state is ImportState.RUNNING
    assert KILL_AFTER < killed.rows_read < ROWS, killed.rows_read
    # Only whole batches are committed: contacts, counters and checkpoint agree.
    assert killed.checkpoint_row == killed.rows_read == killed.imported + killed.invalid
    assert killed.invalid == (sum(stray_row(i) for i in range(killed.rows_read)) if strays else 0)
    assert killed.rows_read % BATCH == 0
    assert killed.checkpoint_offset is not None
    assert target.contact_counts() == (killed.imported, killed.imported)

    # The dead run still holds its lease (LEASE, renewed per batch); let it lapse, as waiting
    # that long would (test_resume_right_after_a_kill covers resuming without the wait).
    with committed(target.engine) as s:
        s.execute(
            update(ContactImport)
            .where(ContactImport.id == killed.id)
            .values(lease_until=system_clock() - timedelta(seconds=1))
        )
    resumed = target.cli(
        "import", str(source), "--campaign", str(target.campaign_id), "--resume", str(killed.id)
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.strip() == str(killed.id)
    imported = ROWS - strays
    summary = f"done: {ROWS} rows read, {imported} imported, 0 duplicates, {strays} invalid"
    assert summary in resumed.stderr

    done = target.job()
    assert done is not None and done.id == killed.id
    assert done.state is ImportState.DONE
    assert (done.rows_read, done.imported, done.duplicates, done.invalid) == (
        ROWS,
        imported,
        0,
        strays,
    )
    assert done.checkpoint_row == ROWS
    assert target.contact_counts() == (imported, imported)
    with target.engine.connect() as conn:
        from_import = conn.scalar(
            select(func.count()).select_from(Contact).where(Contact.import_id == killed.id)
        )
        first, last = conn.execute(
            text(
                "SELECT min(linkedin_url), max(linkedin_url) FROM contacts WHERE campaign_id = :c"
            ),
            {"c": target.campaign_id},
        ).one()
    assert from_import == imported
    if strays:
        with target.engine.connect() as conn:
            rejected = conn.scalars(
                text("SELECT row_number FROM import_rejections WHERE import_id = :i ORDER BY 1"),
                {"i": killed.id},
            ).all()
        assert rejected == [i + 1 for i in range(ROWS) if stray_row(i)]
    assert (first, last) == (
        "https://www.linkedin.com/in/person-0000000",
        f"https://www.linkedin.com/in/person-{ROWS - 1:07d}",
    )
    # Resuming a finished import is refused, not repeated.
    again = target.cli(
        "import", str(source), "--campaign", str(target.campaign_id), "--resume", str(killed.id)
    )
    assert again.returncode == 2 and "not waiting to run" in again.stderr
    assert target.contact_counts() == (imported, imported)


def claimed_import(target: Target, source: Path, tmp_path: Path, *, owner: str | None) -> int:
    """An import of `source` created and claimed as `contact-tracker import` would, then (with an
    owner given) recorded as held by that process: the state a SIGKILL leaves behind."""
    with committed(target.engine) as s:
        upload = accept_file(source, data_dir=str(tmp_path), max_bytes=10**9)
        job = service.create_import(
            s,
            workspace_id=s.get_one(Campaign, target.campaign_id).workspace_id,
            campaign_id=target.campaign_id,
            upload=upload,
            filename=source.name,
            created_by="CLI",
            user_id=None,
            mapping=None,
            on_duplicate=DuplicatePolicy.SKIP,
            now=system_clock(),
        )
        claimed = running.claim_next(s, now=system_clock(), import_id=job.id)
        assert claimed is not None
        if owner is not None:
            claimed.lease_owner = owner
        return job.id


def test_resume_right_after_a_kill(target: Target, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "small.csv", 3 * BATCH)
    # Running, its lease still fresh, held by a process that is gone.
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    import_id = claimed_import(target, source, tmp_path, owner=f"{socket.gethostname()}:{gone.pid}")
    resumed = target.cli(
        "import", str(source), "--campaign", str(target.campaign_id), "--resume", str(import_id)
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert target.contact_counts() == (3 * BATCH, 3 * BATCH)


def test_resume_leaves_an_import_whose_process_still_runs(target: Target, tmp_path: Path) -> None:
    """A resume must not run an import twice: a live holder (here, this test's own process
    seen from the CLI's) keeps its lease."""
    source = write_csv(tmp_path / "small.csv", 10)
    import_id = claimed_import(target, source, tmp_path, owner=None)
    resumed = target.cli(
        "import", str(source), "--campaign", str(target.campaign_id), "--resume", str(import_id)
    )
    assert resumed.returncode == 2 and "not waiting to run" in resumed.stderr
    assert target.contact_counts() == (0, 0)


def stored_copies(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_cli_refuses_an_unreadable_file_and_keeps_no_copy(target: Target, tmp_path: Path) -> None:
    source = tmp_path / "names.csv"
    source.write_text("Name,Company\nAda,Analytical\n")
    proc = target.cli("import", str(source), "--campaign", str(target.campaign_id))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "No profile-URL column" in proc.stderr
    assert target.job() is None and stored_copies(tmp_path) == []


def test_cli_import_into_an_unknown_campaign_keeps_no_copy(target: Target, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "some.csv", 10)
    proc = target.cli("import", str(source), "--campaign", "999999")
    assert proc.returncode == 2 and "999999" in proc.stderr
    assert target.job() is None
    assert stored_copies(tmp_path) == []
