"""Shared plumbing for the benchmarks: throwaway databases, the CLI, a real server, percentiles.

Not part of the test suite. Everything here drives the app from outside, as an operator would:
`contact-tracker` subcommands in subprocesses and HTTP against `contact-tracker serve`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
API = "/api/v1"
STATUSES = ("not_verified", "not_connected", "invite_sent", "connected", "withdrawn")
ERROR_CODES = ("email_required", "message_too_long", "too_many_requests", "other")
# How SQLAlchemy's DateTime stores a (naive UTC) datetime in SQLite.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the CLI


def cli_command() -> list[str]:
    """`contact-tracker`, or the same entry point through this interpreter when it is not installed."""
    script = VENV_BIN / "contact-tracker"
    if script.exists():
        return [str(script)]
    found = shutil.which("contact-tracker")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'contact-tracker'; from app.launcher import main; main()",
    ]


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The CLI's start-up counts in its figures: it uses the bytecode cache, as installed code does
    # (without it, every run compiled the app again: 0.2 s of each start).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        TRACKER_DATABASE_URL=database_url,
        TRACKER_ENGINE="off",
        TRACKER_API_RATE_LIMIT_PER_MINUTE="1000000",
        TRACKER_LOG_LEVEL="WARNING",
    )
    # The app package must be importable when the CLI falls back to `python -c`.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: dict[str, str]) -> str:
    proc = subprocess.run(  # noqa: S603 - our own CLI
        [*cli_command(), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"contact-tracker {' '.join(args[:1])} failed ({proc.returncode}): {proc.stderr.strip()}"
        )
    return proc.stdout.strip()


@dataclass(frozen=True)
class Workspace:
    workspace_id: int
    api_key: str


def migrate_and_create_workspace(env: dict[str, str]) -> Workspace:
    run_cli(["migrate"], env)
    workspace_id = int(
        run_cli(
            [
                "create-workspace",
                "Benchmark",
                "--admin-email",
                "bench@example.com",
                "--admin-password",
                "bench-password",
            ],
            env,
        ).splitlines()[-1]
    )
    key = run_cli(
        ["create-api-key", "--workspace", str(workspace_id), "--name", "benchmark"], env
    ).splitlines()[-1]
    return Workspace(workspace_id, key)


# --------------------------------------------------------------------------- databases


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a file SQLite URL: {url}")
    return url[len(prefix) :]


def _pg_conninfo(url: str) -> tuple[str, str]:
    """(libpq conninfo for the maintenance db `postgres`, the database named in the URL)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    parts = {
        "host": u.host or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": u.username or "postgres",
        "dbname": "postgres",
    }
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}={v}" for k, v in parts.items()), u.database or ""


def pg_dsn(url: str) -> str:
    """A psycopg DSN for a SQLAlchemy postgresql+psycopg URL."""
    maint, db = _pg_conninfo(url)
    return maint.replace("dbname=postgres", f"dbname={db}")


def settle(url: str | None) -> None:
    """PostgreSQL: a CHECKPOINT before a timed run, so it does not pay for writing out the pages
    an earlier run dirtied (a checkpoint that falls inside one of two compared runs moved a
    200,000-row import by 30 %). Nothing on SQLite, or without the right to checkpoint."""
    if url is None or not is_postgres(url):
        return
    import psycopg

    with psycopg.connect(pg_dsn(url), autocommit=True) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            log("no right to CHECKPOINT on this server: runs may pay for each other's writes")


@contextlib.contextmanager
def fresh_database(url: str | None, label: str) -> Iterator[str]:
    """A brand-new empty database, dropped (or deleted) afterwards.

    None → a SQLite file in a temporary directory. A PostgreSQL URL → its server gets a throwaway
    database `bench_<label>_<pid>` (the URL's own database name is only used to find the server).
    """
    if url is None or not is_postgres(url):
        tmp = tempfile.mkdtemp(prefix=f"bench_{label}_")
        try:
            path = sqlite_path(url) if url else os.path.join(tmp, f"{label}.db")
            if url and os.path.exists(path):
                raise SystemExit(f"refusing to reuse existing SQLite file {path}; pass a new path")
            yield f"sqlite:///{path}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if url:
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(sqlite_path(url) + suffix)
        return

    import psycopg
    from sqlalchemy.engine import make_url

    maint, _ = _pg_conninfo(url)
    name = f"bench_{label}_{os.getpid()}"
    with psycopg.connect(maint, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(maint, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_connect(path: str) -> sqlite3.Connection:
    """A raw connection set up like the app's (WAL, synchronous=NORMAL, foreign keys on)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def sqlite_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).strftime(SQLITE_DATETIME)


def contact_columns() -> tuple[str, ...]:
    return (
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
        "muted",
        "replied",
        "follow_ups_sent",
        "created_at",
        "updated_at",
        "status_changed_at",
    )


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`contact-tracker serve` in its own process group; stopped by its own pid."""

    def __init__(self, env: dict[str, str], workers: int = 1) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="bench_server_", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Server:
        args = [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [*cli_command(), *args],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        # With several workers, give the others a moment to come up too.
                        if self.workers > 1:
                            time.sleep(1.0 + 0.5 * self.workers)
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self.log_file.flush()
        text = Path(self.log_file.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The server process and its children (uvicorn workers), for profilers."""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        with contextlib.suppress(FileNotFoundError, OSError):
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            out += [int(p) for p in children.split()]
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group we created, by its id
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.log_file.name)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn processes (default: one per CPU; one process serving 8 clients queues "
        "them on its threads and its GIL)",
    )


def api_client(
    base_url: str, api_key: str, timeout: float = 120.0, prefix: str = API
) -> httpx.Client:
    """A client with the API key; paths are relative to `prefix` (pass "" for absolute paths)."""
    return httpx.Client(
        base_url=base_url + prefix,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=timeout,
    )


def create_sender_and_campaign(base_url: str, api_key: str) -> tuple[int, int]:
    with api_client(base_url, api_key) as client:
        r = client.post("/senders", json={"name": "Bench sender"})
        r.raise_for_status()
        sender_id = int(r.json()["id"])
        r = client.post(
            "/campaigns",
            json={"name": "Bench campaign", "type": "connection", "sender_id": sender_id},
        )
        r.raise_for_status()
        return sender_id, int(r.json()["id"])


@dataclass
class Load:
    """What `concurrent_gets` measured: every request's latency, the wall time, the failures."""

    latencies: list[float]
    wall: float
    errors: int
    first_error: str | None
    urls: list[str]  # the URL of each latency, in the same order

    def split(self, kind_of: Callable[[str], str]) -> dict[str, list[float]]:
        """The latencies grouped by `kind_of(url)` (for scenarios that interleave kinds of URL)."""
        out: dict[str, list[float]] = {}
        for url, seconds in zip(self.urls, self.latencies, strict=True):
            out.setdefault(kind_of(url), []).append(seconds)
        return out


def concurrent_gets(
    open_client: Callable[[int], httpx.Client],
    urls: Sequence[str],
    *,
    clients: int,
    requests: int,
    seconds: float,
    warm: int = 1,
) -> Load:
    """`clients` threads, each with its own client (`open_client(k)`), GET `urls` in rotation:
    `requests` each, or as many as fit in `seconds`. Each first makes `warm` unmeasured requests
    (the connection, the server's caches); all then start together."""
    per_client: list[list[float]] = [[] for _ in range(clients)]
    per_client_urls: list[list[str]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client_loop(k: int) -> None:
        with open_client(k) as c:
            for j in range(warm):
                c.get(urls[(k + j) % len(urls)])
            barrier.wait()
            deadline = time.perf_counter() + seconds
            out = per_client[k]
            for j in range(requests):
                if time.perf_counter() > deadline:
                    break
                url = urls[(k * requests + j) % len(urls)]
                t0 = time.perf_counter()
                r = c.get(url)
                out.append(time.perf_counter() - t0)
                per_client_urls[k].append(url)
                if r.status_code != 200:
                    errors[k] += 1
                    if not first_error:
                        first_error.append(f"{r.status_code} {url} {r.text[:200]}")

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies = [x for xs in per_client for x in xs]
    used = [u for us in per_client_urls for u in us]
    return Load(latencies, wall, sum(errors), next(iter(first_error), None), used)


# --------------------------------------------------------------------------- figures


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    values = sorted(seconds)
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "max_ms": (values[-1] * 1000) if values else float("nan"),
    }


def describe_url(url: str) -> str:
    if is_postgres(url):
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    return url


# --------------------------------------------------------------------------- raw parent rows

# Values for the columns with CHECK constraints or meaning; other NOT NULL columns get a filler
# by type, so a new column in a later migration does not break the raw inserts.
PARENT_VALUES: dict[str, dict[str, Any]] = {
    "workspaces": {"name": "Raw baseline", "withdraw_after_days": 20},
    "sender_accounts": {
        "name": "Raw sender",
        "tier": "basic",
        "timezone": "UTC",
        "work_start": "09:00:00",
        "work_end": "17:00:00",
        "work_days": "12345",
        "daily_invites": 20,
        "weekly_invites": 100,
        "daily_profile_visits": 50,
        "daily_follow_ups": 50,
        "daily_inmails": 10,
        "daily_withdrawals": 20,
    },
    "campaigns": {
        "name": "Raw campaign",
        "type": "connection",
        "state": "draft",
        "connection_template": "",
    },
}


def _filler(declared_type: str, now_text: str) -> Any:
    t = declared_type.lower()
    if "bool" in t:
        return False
    if "int" in t or "numeric" in t or "double" in t or "real" in t:
        return 0
    if "timestamp" in t or "datetime" in t or t == "date":
        return now_text
    if "time" in t:
        return "09:00:00"
    if "json" in t:
        return "{}"
    return "x"


def sqlite_required_fillers(
    conn: sqlite3.Connection, table: str, known: Sequence[str], now_text: str
) -> dict[str, Any]:
    """A value for each NOT NULL column without a default that `known` does not cover."""
    out: dict[str, Any] = {}
    for _cid, name, declared, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})"):
        if name not in known and notnull and default is None and not pk:
            out[name] = _filler(declared, now_text)
    return out


def sqlite_insert_parent(
    conn: sqlite3.Connection, table: str, values: dict[str, Any], now_text: str
) -> int:
    row = dict(PARENT_VALUES.get(table, {}), **values)
    row.update(sqlite_required_fillers(conn, table, list(row), now_text))
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))  # noqa: S608
    return int(cur.lastrowid or 0)


def pg_required_fillers(
    conn: Any, table: str, known: Sequence[str], now: datetime
) -> dict[str, Any]:
    """A value for each NOT NULL column without a default that `known` does not cover."""
    cols = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, is_identity "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    out: dict[str, Any] = {}
    for name, declared, nullable, default, identity in cols:
        if name in known or nullable == "YES" or default is not None or identity == "YES":
            continue
        out[name] = now if "timestamp" in declared else _filler(declared, "")
    return out


def pg_insert_parent(conn: Any, table: str, values: dict[str, Any], now: datetime) -> int:
    row = dict(PARENT_VALUES.get(table, {}), **values)
    row.update(pg_required_fillers(conn, table, list(row), now))
    names = ", ".join(row)
    marks = ", ".join("%s" for _ in row)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id"  # noqa: S608
    return int(conn.execute(sql, list(row.values())).fetchone()[0])


# --------------------------------------------------------------------------- profiling


class Profiler:
    """Optional `py-spy record` of the server processes while a phase runs (collapsed stacks)."""

    def __init__(self, out: str | None, server: Server, seconds: int = 600) -> None:
        self.out = out
        self.server = server
        self.seconds = seconds
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Profiler:
        if not self.out:
            return self
        py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
        pids = self.server.pids()
        # With several workers the first pid is uvicorn's supervisor: profile the workers.
        targets = pids[1:] if len(pids) > 1 else pids
        for i, pid in enumerate(targets):
            out = self.out if len(targets) == 1 else f"{self.out}.{i}"
            cmd = [py_spy, "record", "--pid", str(pid), "--format", "raw", "-o", out]
            cmd += ["--duration", str(self.seconds), "--nonblocking"]
            self.procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
            )
        time.sleep(1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.procs:
            log(f"py-spy collapsed stacks written to {self.out}*")


def machine_note() -> str:
    """CPUs and load: other work on the box skews every figure these scripts print."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)"


# --------------------------------------------------------------------------- processes


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (children, their children …), from /proc; gone ones left out."""
    out: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop(0)
        if not Path(f"/proc/{current}").exists():
            continue
        out.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(p) for p in (task / "children").read_text().split()]
    return out


def process_rss_kb(pid: int) -> int | None:
    """The resident set (VmRSS, kB) of a live process; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def process_label(pid: int) -> str:
    """A short name for a process: its command line without the interpreter's path."""
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [
        Path(p.decode(errors="replace")).name if i < 2 else p.decode(errors="replace")
        for i, p in enumerate(parts)
        if p
    ]
    return " ".join(words)[:80]
