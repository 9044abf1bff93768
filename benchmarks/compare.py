"""One benchmark script, run for two revisions in the same run: a base commit and the working tree.

    .venv/bin/python benchmarks/compare.py [--base REV] [--rounds 2] [--tolerance 0.10]
        [--save DIR] SCRIPT [-- SCRIPT_ARGS ...]

    e.g. .venv/bin/python benchmarks/compare.py engine_tick.py -- --contacts 200000 --stale 20000
         .venv/bin/python benchmarks/compare.py api_ingest.py -- --contacts 100000 \\
             --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

1. --base (default HEAD~1) is checked out with `git worktree add --detach` into a temporary directory,
   removed at the end (the main checkout is not touched). The current side is this working tree,
   uncommitted changes included.
2. Each side runs its own copy of benchmarks/SCRIPT with this interpreter (the same .venv), with
   cwd and PYTHONPATH set to its tree, so it imports its own revision's `app` (and migrations): the
   editable install of the venv only answers imports that sys.path does not. Checked before the
   runs: each tree's `import app` from outside the tree, and its migration head, are printed.
3. The runs alternate, base-current then current-base (ABBA …), --rounds times each side, so drift
   of the machine hits both sides. Each run's printed figures are parsed from its stdout (echoed to
   stderr as it comes; --save keeps them in files); SCRIPT_ARGS go to every run unchanged.
4. A table: each figure's median over the rounds for base and current, current ÷ base, and whether
   current is within --tolerance: a time may be at most 10 % longer, a rate at most 10 % lower in
   time-per-item terms (current ≥ base / 1.10). Headline figures are starred; other figures (phases,
   raw baselines that do not depend on the revision: a drift check) are for finding where a change
   comes from. engine_tick's tick reports (contacts withdrawn, actions queued and executed …) are
   listed apart: the same work on both sides, or a change of behaviour to know about.

Figures understood: engine_tick.py (its JSON line, load, warm-up and every phase time),
api_ingest.py (API rate and latencies, raw baselines, ratios) and import_csv.py (rows/s end to end
and inside the job, peak RSS, the raw ceiling); any other script's last JSON line.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _common import ROOT, log, machine_note

LOWER, HIGHER, EITHER = "lower", "higher", "either"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    better: str = LOWER  # which way is an improvement
    headline: bool = False
    work: bool = False  # a count of work done, not a measurement: expected equal on both sides


@dataclass
class Run:
    side: str  # "base" or "current"
    round: int
    seconds: float
    load_before: tuple[float, float]
    load_after: tuple[float, float]
    figures: dict[str, Figure] = field(default_factory=dict)
    stdout: str = ""


# --------------------------------------------------------------------------- parsing figures

NUMBER = r"([\d,]+(?:\.\d+)?)"


def num(text: str) -> float:
    return float(text.replace(",", ""))


def last_json(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
    return {}


ENGINE_TICK_HEADLINE = ("tick_a_s", "tick_b_s", "tick_b_external_s", "sweep_alone_s")
ENGINE_TICK_SECTIONS = (
    ("  warm-up tick", "warm"),
    ("(a) tick", "a"),
    ("(b) tick", "b"),
    ("(b) the same tick", "b_external"),
)


def parse_engine_tick(stdout: str) -> list[Figure]:
    out: list[Figure] = []
    data = last_json(stdout)
    for name in (
        *ENGINE_TICK_HEADLINE,
        "sweep_in_tick_s",
        "ceiling_s",
        "ratio",
        "write_p99_during_tick_ms",
        "write_max_during_tick_ms",
    ):
        value = data.get(name)
        if isinstance(value, int | float):
            out.append(Figure(name, float(value), LOWER, name in ENGINE_TICK_HEADLINE))
    section = ""
    for line in stdout.splitlines():
        if m := re.match(r"\s*load \(.*\): ([\d.]+)s", line):
            out.append(Figure("load_s", num(m[1])))
        if m := re.match(r"\s*warm-up tick .*?: ([\d.]+)s", line):
            out.append(Figure("warm_s", num(m[1])))
        for prefix, name in ENGINE_TICK_SECTIONS:
            if line.startswith(prefix):
                section = name
                if m := re.search(r"(\{'.*\})\s*$", line):
                    for key, count in ast.literal_eval(m[1]).items():
                        out.append(Figure(f"{section}.{key}", float(count), EITHER, work=True))
        if line.strip().startswith("phases:") and section:
            for phase, secs in re.findall(r"(\w+) ([\d.]+)s", line):
                out.append(Figure(f"{section}.{phase}_s", num(secs)))
    return out


def parse_api_ingest(stdout: str) -> list[Figure]:
    out: list[Figure] = []
    for line in stdout.splitlines():
        if m := re.match(
            rf"API \(\w+\):\s+{NUMBER} contacts/s\s+{NUMBER} s\s+per request p50 {NUMBER} ms\s+"
            rf"p99 {NUMBER} ms\s+max {NUMBER} ms",
            line,
        ):
            out.append(Figure("api_contacts_per_s", num(m[1]), HIGHER, headline=True))
            out.append(Figure("api_wall_s", num(m[2])))
            out.append(Figure("request_p50_ms", num(m[3])))
            out.append(Figure("request_p99_ms", num(m[4])))
            out.append(Figure("request_max_ms", num(m[5])))
        elif m := re.match(
            rf".*first \d+ requests {NUMBER} ms, last \d+ requests {NUMBER} ms", line
        ):
            out.append(Figure("p50_first_tenth_ms", num(m[1])))
            out.append(Figure("p50_last_tenth_ms", num(m[2])))
        elif m := re.match(rf"raw sqlite3 executemany .*?:\s+{NUMBER} rows/s", line):
            out.append(Figure("raw_sqlite_rows_per_s", num(m[1]), HIGHER))
        elif m := re.match(rf"raw psycopg executemany .*?:\s+{NUMBER} rows/s", line):
            out.append(Figure("raw_pg_rows_per_s", num(m[1]), HIGHER))
        elif m := re.match(rf"ratio API(?:\(PostgreSQL\))?/raw(?:\(SQLite\))?: {NUMBER}%", line):
            out.append(Figure("api_over_raw_sqlite_pct", num(m[1]), HIGHER))
        elif m := re.match(rf"ratio API\(PostgreSQL\)/raw\(PostgreSQL\): {NUMBER}%", line):
            out.append(Figure("api_over_raw_pg_pct", num(m[1]), HIGHER))
        elif line.startswith(("STOPPED", "WARNING")):
            log(f"note from the run: {line}")
    return out


def parse_import_csv(stdout: str) -> list[Figure]:
    out: list[Figure] = []
    for line in stdout.splitlines():
        if m := re.match(
            rf"contact-tracker import, (\w+)\s*:\s+{NUMBER} rows/s end to end .*?"
            rf"{NUMBER} rows/s inside the job.*?peak RSS {NUMBER} MB",
            line,
        ):
            backend = m[1].lower()
            out.append(Figure(f"import_{backend}_rows_per_s", num(m[2]), HIGHER, headline=True))
            out.append(Figure(f"import_{backend}_job_rows_per_s", num(m[3]), HIGHER))
            out.append(Figure(f"import_{backend}_peak_rss_mb", num(m[4])))
        elif m := re.match(rf"raw sqlite3 executemany .*?:\s+{NUMBER} rows/s", line):
            out.append(Figure("raw_sqlite_rows_per_s", num(m[1]), HIGHER))
    return out


def parse_generic(stdout: str) -> list[Figure]:
    return [
        Figure(k, float(v), LOWER if k.endswith(("_s", "_ms")) else EITHER)
        for k, v in last_json(stdout).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


PARSERS: dict[str, Callable[[str], list[Figure]]] = {
    "engine_tick.py": parse_engine_tick,
    "api_ingest.py": parse_api_ingest,
    "import_csv.py": parse_import_csv,
}


# --------------------------------------------------------------------------- the two trees


def git(*args: str) -> str:
    # --no-optional-locks: read-only commands leave the main checkout's index alone.
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextmanager
def base_worktree(rev: str) -> Iterator[Path]:
    """`rev` checked out (detached) in a temporary directory, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_compare_"))
    path = tmp / "base"
    git("worktree", "add", "--detach", str(path), rev)
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def tree_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH")) if p)
    return env


def check_imports(tree: Path) -> str:
    """Where `app` comes from for this tree (run from outside it: only PYTHONPATH puts it first),
    and its migration head."""
    probe = "import app, app.migrations as m; print(app.__file__); print(m.head_revision())"
    with tempfile.TemporaryDirectory() as elsewhere:
        proc = subprocess.run(
            [sys.executable, "-c", probe],
            env=tree_env(tree),
            cwd=elsewhere,
            capture_output=True,
            text=True,
            check=True,
        )
    app_file, head = proc.stdout.split()
    if not Path(app_file).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: `import app` found {app_file}, not this tree's package")
    return f"app from {app_file}, migration head {head}"


# --------------------------------------------------------------------------- running


def run_once(
    side: str, rnd: int, tree: Path, script: str, script_args: list[str], save: Path | None
) -> Run:
    cmd = [sys.executable, str(tree / "benchmarks" / script), *script_args]
    log(f"round {rnd} {side}: {' '.join(cmd)}  (cwd {tree}); {machine_note()}")
    load_before = os.getloadavg()[:2]
    started = time.perf_counter()
    lines: list[str] = []
    proc = subprocess.Popen(cmd, cwd=tree, env=tree_env(tree), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        print(f"  [{side} {rnd}] {line}", end="", file=sys.stderr, flush=True)
    rc = proc.wait()
    seconds = time.perf_counter() - started
    stdout = "".join(lines)
    if save:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"{Path(script).stem}-{side}-{rnd}.txt").write_text(stdout)
    if rc != 0:
        raise SystemExit(f"round {rnd} {side}: {script} exited {rc}")
    run = Run(side, rnd, seconds, load_before, os.getloadavg()[:2], stdout=stdout)
    for fig in PARSERS.get(script, parse_generic)(stdout):
        run.figures[fig.name] = fig
    if not run.figures:
        raise SystemExit(f"round {rnd} {side}: no figures found in the output of {script}")
    log(f"round {rnd} {side}: {seconds:.0f} s; {machine_note()}")
    return run


# --------------------------------------------------------------------------- the table


def within(better: str, ratio: float, tolerance: float) -> bool:
    if better == LOWER:
        return ratio <= 1 + tolerance
    if better == HIGHER:
        return ratio >= 1 / (1 + tolerance)
    return abs(ratio - 1) <= tolerance


def fmt(x: float) -> str:
    if x != x:  # nan
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.3f}"


def table(runs: list[Run], tolerance: float) -> tuple[list[str], list[tuple[str, bool]]]:
    """The table's lines, and (name, within) of each headline figure."""
    names: list[str] = []
    meta: dict[str, Figure] = {}
    for run in runs:
        for name, fig in run.figures.items():
            if name not in meta:
                names.append(name)
                meta[name] = fig
    names.sort(key=lambda n: not meta[n].headline)  # stable: headline figures first
    work = [n for n in names if meta[n].work]
    names = [n for n in names if not meta[n].work]

    def values(side: str, name: str) -> list[float]:
        return [r.figures[name].value for r in runs if r.side == side and name in r.figures]

    width = max(len(n) for n in names) + 2
    pct = f"within {tolerance:.0%}"
    header = (
        f"{'figure':<{width}} {'base':>10} {'current':>10} {'cur/base':>9} {pct:>10}   "
        f"{'better':<6}  base runs | current runs"
    )
    lines = [header, "-" * len(header)]
    verdicts: list[tuple[str, bool]] = []
    for name in names:
        b, c = values("base", name), values("current", name)
        mb = statistics.median(b) if b else float("nan")
        mc = statistics.median(c) if c else float("nan")
        ratio = mc / mb if b and c and mb else float("nan")
        ok = within(meta[name].better, ratio, tolerance) if ratio == ratio else False
        star = "*" if meta[name].headline else " "
        if meta[name].headline:
            verdicts.append((name, ok))
        lines.append(
            f"{star}{name:<{width - 1}} {fmt(mb):>10} {fmt(mc):>10} {fmt(ratio):>9} "
            f"{('yes' if ok else 'NO'):>10}   {meta[name].better:<6}  "
            f"{' '.join(fmt(v) for v in b)} | {' '.join(fmt(v) for v in c)}"
        )
    if work:
        lines += [
            "",
            "work done (counts, per run; a difference is a change of behaviour, not speed)",
        ]
        for name in work:
            b, c = values("base", name), values("current", name)
            same = "" if set(b) == set(c) and len(set(b)) == 1 else "   DIFFERS"
            lines.append(
                f" {name:<{width - 1}} {' '.join(f'{v:,.0f}' for v in b)} | "
                f"{' '.join(f'{v:,.0f}' for v in c)}{same}"
            )
    return lines, verdicts


# --------------------------------------------------------------------------- main


def main() -> None:
    argv = sys.argv[1:]
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", help="a script of benchmarks/, e.g. engine_tick.py")
    parser.add_argument("--base", default="HEAD~1", help="the base revision (default: HEAD~1)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side (default: 2)")
    parser.add_argument(
        "--tolerance", type=float, default=0.10, help="allowed slow-down (default: 0.10)"
    )
    parser.add_argument("--save", type=Path, metavar="DIR", help="keep each run's output there")
    args = parser.parse_args(argv)

    script = Path(args.script).name
    if not script.endswith(".py"):
        script += ".py"
    if not (ROOT / "benchmarks" / script).exists():
        parser.error(f"no benchmarks/{script} in {ROOT}")
    base_sha = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    head_sha = git("rev-parse", "HEAD")
    dirty = [line for line in git("status", "--porcelain").splitlines() if line]
    base_desc = f"{base_sha[:7]} {git('log', '-1', '--format=%s', base_sha)[:70]}"
    current_desc = (
        f"working tree {ROOT} at {head_sha[:7]} {git('log', '-1', '--format=%s', head_sha)[:60]}"
        + (f" + {len(dirty)} uncommitted path(s)" if dirty else "")
    )
    machine_before = machine_note()
    started = time.perf_counter()
    runs: list[Run] = []
    with base_worktree(base_sha) as base_tree:
        if not (base_tree / "benchmarks" / script).exists():
            raise SystemExit(f"{args.base} has no benchmarks/{script}")
        trees = {"base": base_tree, "current": ROOT}
        imports = {side: check_imports(tree) for side, tree in trees.items()}
        for side, note in imports.items():
            log(f"{side}: {note}")
        for rnd in range(1, args.rounds + 1):
            order = ("base", "current") if rnd % 2 else ("current", "base")
            for side in order:
                runs.append(run_once(side, rnd, trees[side], script, script_args, args.save))
    total = time.perf_counter() - started

    lines, verdicts = table(runs, args.tolerance)
    print()
    print(f"compare {script} {' '.join(script_args)}".rstrip())
    print(f"base:    {base_desc}  ({imports['base']})")
    print(f"current: {current_desc}  ({imports['current']})")
    print(
        f"{args.rounds} round(s) per side, alternating (ABBA); medians; ratio = current ÷ base; "
        f"* = headline"
    )
    print(f"machine: before {machine_before}; after {machine_note()}; {total / 60:.1f} min in all")
    for run in runs:
        print(
            f"  round {run.round} {run.side:<7} {run.seconds:7.1f} s   load average (1 min, 5 min) "
            f"{run.load_before[0]:.2f} {run.load_before[1]:.2f} → "
            f"{run.load_after[0]:.2f} {run.load_after[1]:.2f}"
        )
    print()
    print("\n".join(lines))
    print()
    missed = [name for name, ok in verdicts if not ok]
    print(
        f"headline figures within {args.tolerance:.0%}: "
        + ("all" if not missed else f"NOT {', '.join(missed)}")
        + f" ({', '.join(name for name, _ in verdicts)})"
    )


if __name__ == "__main__":
    main()
