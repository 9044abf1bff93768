"""API writes during a burst of failed sign-ins (issue 15, item 1), against the same writer alone.

    .venv/bin/python benchmarks/signin_burst.py [--database-url URL] [--seconds 10]
        [--attackers 4] [--workers 1] [--lead 1.0] [--skip-forwarded] [--no-lock-probe]

Before the fix a sign-in verified its password (argon2) inside the request's write transaction; on
SQLite that transaction holds the database's only write lock, and four anonymous clients sending
wrong passwords took API writes from 12 ms (p50) to 2.2 s, 4 writes in 10 s. Now the attempt is
counted in a short transaction and the hash runs outside any (app/accounts/sessions.py).

1. A fresh database (a temporary SQLite file by default; with a PostgreSQL URL a throwaway database
   `bench_signin_<pid>` on that server, dropped afterwards), migrated and given a workspace and an
   API key by the CLI; one `contact-tracker serve` with TRACKER_TRUSTED_PROXIES=127.0.0.1 (which
   changes only requests carrying X-Forwarded-For, i.e. phase C). The password hashing is the app's
   own (argon2-cffi defaults, production parameters), its cost timed once in a child process.
2. Phases of --seconds each; in every one a single API client creates senders back to back
   (POST /api/v1/senders, a new sender each) and the writes are counted and timed:
   A  the writer alone (the baseline);
   B  --attackers anonymous clients (threads of this process) loop GET /login (the CSRF token and
      its cookie) then POST /login with a wrong password, a new email each attempt (an unknown
      account is hashed too, against a dummy hash, so the per-account back-off never refuses),
      all from 127.0.0.1: past the per-address ceiling (100 per 15 min) they get 429 unhashed;
   C  the same with a distinct X-Forwarded-For per attempt (a trusted proxy's view of many
      addresses): no ceiling, every attempt is hashed (401);
   A2 the writer alone again (drift: a database grown by the phases, other load on the machine).
   The attackers start --lead seconds before the writer and stop when it does.
   On SQLite a lock probe runs through every phase: a raw sqlite3 connection outside the server
   takes the write lock (BEGIN IMMEDIATE; COMMIT) every 50 ms and records how long it waited; a
   sign-in that held the lock while hashing would show as waits of a hash's length.
3. Per phase: writes, writes/s, write p50/p99/max, sign-in attempts by answer (401: hashed; 429:
   refused before hashing) and their latency, the probe's waits; each phase's write p50 over A's;
   a final JSON line.

Pin the run with `taskset -c CPU`: the server (a child) inherits it, so the server, the writer and
the attackers share those CPUs. A PostgreSQL server is a separate service and is not pinned.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from _common import (
    ROOT,
    Server,
    api_client,
    bench_env,
    describe_url,
    fresh_database,
    is_postgres,
    latency_summary,
    log,
    machine_note,
    migrate_and_create_workspace,
    sqlite_connect,
    sqlite_path,
)

# What issue 15 reported before the fix (SQLite, four anonymous clients).
ISSUE_BEFORE = "p50 12 ms alone → 2.2 s during the burst, 4 writes in 10 s (SQLite, 4 clients)"
WRONG_PASSWORD = "not-the-password-1"  # noqa: S105 - the point is that it is wrong
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ADDRESS_CEILING = 100  # app.accounts.throttle.ADDRESS_LIMIT: attempts per address per 15 minutes
PROBE_INTERVAL = 0.05

# Run in a child with the server's environment: the app's own hasher, its parameters, its cost.
ARGON2_PROBE = """
import json, time
from app.accounts.passwords import _hasher, verify_password
stored = _hasher.hash("the-right-password")
times = []
for _ in range(5):
    t0 = time.perf_counter()
    assert not verify_password(stored, "a-wrong-password")
    times.append(time.perf_counter() - t0)
print(json.dumps({"type": _hasher.type.name, "time_cost": _hasher.time_cost,
                  "memory_cost_kib": _hasher.memory_cost, "parallelism": _hasher.parallelism,
                  "verify_ms": round(sorted(times)[2] * 1000, 1)}))
"""

Worker = Callable[[threading.Event, "Attack"], None]


@dataclass
class Attack:
    """What the attackers of one phase did: answers by status, sign-in latencies, failures."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    failures: int = 0
    first_failure: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.setdefault(status, []).append(seconds)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = what


@dataclass
class Phase:
    key: str
    title: str
    latencies: list[float]
    wall: float
    errors: int
    first_error: str | None
    attack: Attack | None
    attack_wall: float
    lock_waits: list[float] | None

    def figures(self) -> dict[str, Any]:
        lat = latency_summary(self.latencies)
        out: dict[str, Any] = {
            "writes": len(self.latencies),
            "writes_per_s": round(len(self.latencies) / self.wall, 2),
            "write_p50_ms": round(lat["p50_ms"], 2),
            "write_p99_ms": round(lat["p99_ms"], 2),
            "write_max_ms": round(lat["max_ms"], 2),
            "write_errors": self.errors,
        }
        if self.attack is not None:
            a = self.attack
            out["signins"] = sum(a.statuses.values())
            out["signins_401"] = a.statuses.get(401, 0)
            out["signins_429"] = a.statuses.get(429, 0)
            out["signins_other"] = (
                sum(n for s, n in a.statuses.items() if s not in (401, 429)) + a.failures
            )
            for status in (401, 429):
                if a.latencies.get(status):
                    s = latency_summary(a.latencies[status])
                    out[f"signin_{status}_p50_ms"] = round(s["p50_ms"], 2)
            out["attack_s"] = round(self.attack_wall, 2)
        if self.lock_waits is not None:
            w = latency_summary(self.lock_waits)
            out["lock_probes"] = w["n"]
            out["lock_wait_p50_ms"] = round(w["p50_ms"], 2)
            out["lock_wait_p99_ms"] = round(w["p99_ms"], 2)
            out["lock_wait_max_ms"] = round(w["max_ms"], 2)
        return out


# --------------------------------------------------------------------------- the writer


def run_writer(
    base_url: str, api_key: str, seconds: float, tag: str
) -> tuple[list[float], float, int, str | None]:
    """One API client creating senders back to back for `seconds` (after one unmeasured write).

    Returns (the latency of each 201, wall seconds, other answers, the first of them)."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    with api_client(base_url, api_key, timeout=300) as client:
        client.post("/senders", json={"name": f"Burst warm-up {tag}"}).raise_for_status()
        t0 = time.perf_counter()
        deadline = t0 + seconds
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            start = time.perf_counter()
            r = client.post("/senders", json={"name": f"Burst sender {tag} {i}"})
            elapsed = time.perf_counter() - start
            if r.status_code == 201:
                latencies.append(elapsed)
            else:
                errors += 1
                if first_error is None:
                    first_error = f"{r.status_code} {r.text[:200]}"
        wall = time.perf_counter() - t0
    return latencies, wall, errors, first_error


# --------------------------------------------------------------------------- the attackers


def attacker_loop(
    base_url: str,
    stop: threading.Event,
    attack: Attack,
    next_number: Callable[[], int],
    tag: str,
    forwarded: bool,
) -> None:
    """GET /login, then POST /login with a wrong password for a new email, until `stop`."""
    with httpx.Client(base_url=base_url, timeout=300, follow_redirects=False) as client:
        while not stop.is_set():
            n = next_number()
            headers = {"X-Forwarded-For": fake_address(n)} if forwarded else {}
            try:
                page = client.get("/login", headers=headers)
                found = CSRF_FIELD.search(page.text)
                if page.status_code != 200 or found is None:
                    attack.fail(f"GET /login {page.status_code} {page.text[:200]}")
                    continue
                data = {
                    "email": f"burst-{tag}-{n}@example.com",
                    "password": WRONG_PASSWORD,
                    "csrf_token": found.group(1),
                    "next": "/",
                }
                t0 = time.perf_counter()
                r = client.post("/login", data=data, headers=headers)
                attack.record(r.status_code, time.perf_counter() - t0)
                if r.status_code not in (401, 429):
                    attack.fail(f"POST /login {r.status_code} {r.text[:200]}")
            except httpx.TransportError as exc:
                attack.fail(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)


def fake_address(n: int) -> str:
    """A distinct address per attempt, as a trusted proxy would report it (10.0.0.0/8)."""
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


# --------------------------------------------------------------------------- the lock probe


class LockProbe:
    """SQLite only: a raw connection outside the server takes the write lock every
    PROBE_INTERVAL seconds (BEGIN IMMEDIATE; COMMIT at once) and records how long it waited."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.waits: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lock-probe")

    def _run(self) -> None:
        conn = sqlite_connect(self.path)
        try:
            while not self.stop.wait(PROBE_INTERVAL):
                t0 = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                self.waits.append(time.perf_counter() - t0)
                conn.execute("COMMIT")
        finally:
            conn.close()

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> list[float]:
        self.stop.set()
        self.thread.join(timeout=60)
        return self.waits


# --------------------------------------------------------------------------- a phase


def run_phase(
    key: str,
    title: str,
    *,
    base_url: str,
    api_key: str,
    seconds: float,
    lead: float,
    probe_path: str | None,
    workers: list[Worker],
) -> Phase:
    """The writer for `seconds`, the `workers` (attackers) running from `lead` seconds before it
    until it stops; the lock probe (when given a SQLite file) throughout."""
    stop = threading.Event()
    attack = Attack() if workers else None
    threads = [
        threading.Thread(target=w, args=(stop, attack), daemon=True, name=f"{key}-{i}")
        for i, w in enumerate(workers)
    ]
    log(f"phase {key}: {title}")
    probe = LockProbe(probe_path) if probe_path else None
    if probe:
        probe.start()
    t_attack = time.perf_counter()
    try:
        for t in threads:
            t.start()
        if threads:
            time.sleep(lead)
        latencies, wall, errors, first_error = run_writer(base_url, api_key, seconds, key)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=600)
        waits = probe.finish() if probe else None
    attack_wall = time.perf_counter() - t_attack if threads else 0.0
    return Phase(key, title, latencies, wall, errors, first_error, attack, attack_wall, waits)


def argon2_probe(env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", ARGON2_PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"argon2 probe failed: {proc.stderr.strip()}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def print_phase(p: Phase, base: Phase) -> None:
    f = p.figures()
    ratio = f["write_p50_ms"] / base.figures()["write_p50_ms"]
    print(f"  {p.key:<2} {p.title}")
    line = (
        f"     writes {f['writes']:>6,}  {f['writes_per_s']:>7.1f}/s   "
        f"p50 {f['write_p50_ms']:7.1f} ms  p99 {f['write_p99_ms']:7.1f} ms  "
        f"max {f['write_max_ms']:7.1f} ms   p50 / A's {ratio:5.2f}×"
    )
    if p.errors:
        line += f"   write errors {p.errors} (first: {p.first_error})"
    print(line)
    if p.attack is not None:
        signin = (
            f"     sign-in attempts {f['signins']:>5,} in {p.attack_wall:.1f} s: "
            f"401 (hashed) {f['signins_401']:,}, 429 (refused before hashing) "
            f"{f['signins_429']:,}, other {f['signins_other']:,}"
        )
        for status in (401, 429):
            if f"signin_{status}_p50_ms" in f:
                signin += f";  POST /login {status} p50 {f[f'signin_{status}_p50_ms']:.0f} ms"
        print(signin)
        if p.attack.first_failure:
            print(f"     first attacker failure: {p.attack.first_failure}")
    if p.lock_waits is not None:
        print(
            f"     lock probe: {f['lock_probes']:,} BEGIN IMMEDIATE, waited p50 "
            f"{f['lock_wait_p50_ms']:.1f} ms  p99 {f['lock_wait_p99_ms']:.1f} ms  "
            f"max {f['lock_wait_max_ms']:.1f} ms"
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--attackers", type=int, default=4, help="anonymous sign-in clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument(
        "--lead", type=float, default=1.0, help="seconds the attackers start before the writer"
    )
    parser.add_argument(
        "--skip-forwarded", action="store_true", help="no phase C (distinct forwarded addresses)"
    )
    parser.add_argument(
        "--no-lock-probe", action="store_true", help="SQLite: no raw BEGIN IMMEDIATE probe"
    )
    args = parser.parse_args()

    db_kind = "PostgreSQL" if args.database_url and is_postgres(args.database_url) else "SQLite"
    cpus = sorted(os.sched_getaffinity(0))
    load_before = machine_note()
    numbers = itertools.count(1)
    numbers_lock = threading.Lock()

    def next_number() -> int:
        with numbers_lock:
            return next(numbers)

    tag = str(os.getpid())
    with fresh_database(args.database_url, "signin") as url:
        env = bench_env(url)
        log(f"migrating {describe_url(url)}")
        ws = migrate_and_create_workspace(env)
        argon2 = argon2_probe(env)
        log(f"argon2: one wrong-password verify {argon2['verify_ms']:.0f} ms")
        probe_path = None if is_postgres(url) or args.no_lock_probe else sqlite_path(url)
        server_env = dict(env, TRACKER_TRUSTED_PROXIES="127.0.0.1")
        log(f"starting contact-tracker serve --workers {args.workers}")
        with Server(server_env, workers=args.workers) as server:
            common: dict[str, Any] = {
                "base_url": server.base_url,
                "api_key": ws.api_key,
                "seconds": args.seconds,
                "lead": args.lead,
                "probe_path": probe_path,
            }

            def attackers(forwarded: bool) -> list[Worker]:
                def one(stop: threading.Event, attack: Attack) -> None:
                    attacker_loop(server.base_url, stop, attack, next_number, tag, forwarded)

                return [one] * args.attackers

            n = args.attackers
            phases = [run_phase("A", "the writer alone (baseline)", workers=[], **common)]
            phases.append(
                run_phase(
                    "B",
                    f"+ {n} anonymous clients failing sign-in, all from 127.0.0.1, a new email each",
                    workers=attackers(False),
                    **common,
                )
            )
            if not args.skip_forwarded:
                phases.append(
                    run_phase(
                        "C",
                        f"+ {n} anonymous clients failing sign-in, a distinct X-Forwarded-For "
                        "and a new email each",
                        workers=attackers(True),
                        **common,
                    )
                )
            phases.append(run_phase("A2", "the writer alone again", workers=[], **common))
            log_tail = server.tail(400)
    load_after = machine_note()

    base = phases[0]
    print()
    print(
        f"signin_burst: {args.seconds:g} s per phase, 1 API writer (POST /api/v1/senders, a new "
        f"sender each), {args.attackers} attacker thread(s), --workers {args.workers}"
    )
    print(f"database: {db_kind} ({describe_url(args.database_url or 'temporary SQLite file')})")
    print(
        f"CPUs: this run may use {cpus} of {os.cpu_count()}; the server inherits it, so the server, "
        "the writer and the attackers share "
        + ("that CPU" if len(cpus) == 1 else "those CPUs")
        + ("; PostgreSQL's own processes are not pinned" if db_kind == "PostgreSQL" else "")
    )
    print(f"machine: before {load_before}; after {load_after}")
    print(
        f"password hash (the app's): argon2{argon2['type'].lower()}, time_cost "
        f"{argon2['time_cost']}, memory {argon2['memory_cost_kib']:,} KiB, parallelism "
        f"{argon2['parallelism']}; one wrong-password verify {argon2['verify_ms']:.0f} ms "
        "(median of 5, before the server started)"
    )
    print(f"issue 15, before the fix: {ISSUE_BEFORE}")
    for p in phases:
        print_phase(p, base)

    b = next(p for p in phases if p.key == "B")
    assert b.attack is not None
    b_401, b_429 = b.attack.statuses.get(401, 0), b.attack.statuses.get(429, 0)
    if b_429 > b_401:
        print(
            f"note: in B the per-address ceiling ({ADDRESS_CEILING} attempts per address per "
            f"15 min; every attacker is 127.0.0.1) refused {b_429:,} of {b_401 + b_429:,} "
            "attempts before any hash, each refusal a short write transaction; in C every "
            "attempt is hashed"
        )
    else:
        print(
            f"note: in B the per-address ceiling ({ADDRESS_CEILING} per 15 min) was not reached "
            f"({b_401 + b_429:,} attempts): B hashed {b_401:,} of them, as C does"
        )
    problems = [
        line
        for line in log_tail.splitlines()
        if re.search(r"ERROR|CRITICAL|Traceback|locked", line)
    ]
    if problems:
        print(f"server log: {len(problems)} error line(s); first: {problems[0][:300]}")

    summary: dict[str, Any] = {
        "database": db_kind,
        "seconds": args.seconds,
        "attackers": args.attackers,
        "workers": args.workers,
        "cpus": cpus,
        "argon2": argon2,
        "phases": {p.key: p.figures() for p in phases},
        "server_log_errors": len(problems),
    }
    for p in phases[1:]:
        summary[f"ratio_p50_{p.key}_A"] = round(
            p.figures()["write_p50_ms"] / base.figures()["write_p50_ms"], 3
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
