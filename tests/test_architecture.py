"""The architecture of `app/`, checked by what each module CONTAINS (its syntax tree), not by its name.

Nothing here imports a module of `app/`: every source file is read and parsed with `ast`. Each
checker is a pure function of `(path, source)` (plus, where an import has to be resolved, the set
of module names that exist), so the `test_checker_*` tests at the bottom plant violations in
made-up source strings and prove that each checker catches them.

The rules:

1. Routers (modules that build a `fastapi.APIRouter`) and `app/cli.py` never touch SQL: no
   `sqlalchemy` import except `sqlalchemy.orm` (for the `Session` type), no statement builders
   (`select`, `insert`, `update`, `delete`, `text`), no `session.execute/scalars/scalar`, and no
   import of a `repository` module.
2. A module that builds SQL statements (sqlalchemy's `select`, `insert`, `update`, `delete` or
   `text`) is a repository: it is named `repository.py` or is listed in `STATEMENT_ALLOW_LIST`.
3. The domain (`app/domain/*.py`) imports only the standard library and `app.domain`.
4. Nothing that is not web-facing imports the web (`fastapi`, `starlette`, `jinja2`, `app.web`):
   services, repositories, models, schemas, the domain, the CLI... Web-facing are the routers, the
   module that builds the `FastAPI(...)` application, and the `app.web` package itself.
5. Features are layered in `FEATURE_ORDER`; a module may import its own feature, the shared base
   (`BASE_MODULES`) and features earlier in the order, never a later one, and nothing imports the
   composition modules of `TOP_MODULES`. Every import that runs back up is collected and reported.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath, PurePosixPath
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
APP: Final = ROOT / "app"

# --- Rule 1: routers (and the CLI) never touch SQL ------------------------------------------------

# Entry points that are not routers but must stay as thin as one.
ALSO_ENTRY_POINTS: Final[frozenset[str]] = frozenset({"app/cli.py"})
# The one part of sqlalchemy an entry point may import: the `Session` type for annotations.
ENTRY_POINT_SQLALCHEMY_ALLOWED: Final[frozenset[str]] = frozenset({"sqlalchemy.orm"})
# Methods that run a statement on a session (or connection, or result), whatever it is called.
SESSION_RUNNERS: Final[frozenset[str]] = frozenset({"execute", "scalars", "scalar"})

# --- Rule 2: who may build SQL statements ---------------------------------------------------------

# sqlalchemy callables that build a statement (under any alias, from any sqlalchemy module, so
# `from sqlalchemy.dialects.postgresql import insert as pg_insert` counts as `insert`).
STATEMENT_BUILDERS: Final[frozenset[str]] = frozenset(
    {"select", "insert", "update", "delete", "text"}
)
# Beside the `repository.py` modules, the only modules that may build SQL statements. Keep it
# small, one reason per entry; an entry that no longer builds statements fails the test too.
STATEMENT_ALLOW_LIST: Final[Mapping[str, str]] = {
    "app/migrations.py": "reads Alembic's version table with raw `text()` SQL; it has no model",
}

# --- Rules 3 and 4: the domain is pure, and only the web knows the web ----------------------------

DOMAIN: Final = "app.domain"
WEB: Final[tuple[str, ...]] = ("fastapi", "starlette", "jinja2", "app.web")

# --- Rule 5: the feature order ----------------------------------------------------------------------

# Each entry is one rank; a feature may import its own rank and earlier ones, never later ones.
# The order (accounts → senders → campaigns → contacts → activity → imports → engine →
# events → dashboard), with what the code has since: `queue` (the pending actions: arming them,
# explaining why each waits) and `lifecycle` (the one owner of a contact's changes, and the counts
# it keeps) sit below campaigns and contacts, which change contacts through them; `workspaces`
# (its settings page counts the invites the lifecycle would withdraw) after the lifecycle; the
# activity log is a contact's, so it lives in `contacts`. `events` (the log every change writes
# through its outbox, and reads) sits just above accounts: every feature that changes something
# records its events, and the log needs nothing but the caller's API key.
FEATURE_ORDER: Final[tuple[tuple[str, ...], ...]] = (
    ("accounts",),
    ("events",),
    ("senders",),
    ("queue",),
    ("lifecycle",),
    ("workspaces",),
    ("campaigns",),
    ("contacts",),
    ("imports",),
    ("engine",),
    ("dashboard",),
    ("webhooks",),
)
# Below every feature: shared modules that import no feature (only each other), and that every
# feature may import. `app.web` (its helpers: deps, security, templating, forms, downloads, api
# auth, problems...) is listed here because every feature's routers import it; its imports of
# `app.accounts` (authentication) therefore show up as back-imports. `app.idempotency` and
# `app.migrations` import only base modules, and are imported by base modules (`app.web`, `app.health`).
BASE_MODULES: Final[tuple[str, ...]] = (
    "app",  # the package's own `__init__` (exactly `app`, not a prefix)
    "app.domain",
    "app.models",
    "app.db",
    "app.errors",
    "app.schemas",
    "app.clock",
    "app.config",
    "app.pagination",
    "app.migrations",
    "app.idempotency",
    "app.jobs",
    "app.web",
)
# Above every feature: composition roots and entry points that wire features together, and that
# nothing (except each other) imports: `app.api` and `app.pages` assemble every feature's routers,
# `app.worker` runs every feature's jobs; `app.launcher` is the command's entry point.
TOP_MODULES: Final[tuple[str, ...]] = (
    "app.__main__",
    "app.asgi",
    "app.main",
    "app.api",
    "app.cli",
    "app.launcher",
    "app.demo",
    "app.health",
    "app.pages",
    "app.worker",
)
# Back-imports accepted for now, as (importing module, imported module) pairs. EMPTY on purpose:
# each entry is a decision to take, with a reason in a comment beside it.
KNOWN_BACK_IMPORTS: Final[frozenset[tuple[str, str]]] = frozenset()

BASE_RANK: Final = 0
TOP_RANK: Final = len(FEATURE_ORDER) + 1


# --- Reading the tree ---------------------------------------------------------------------------------


def module_name(path: PurePath) -> str:
    """`app/accounts/x.py` -> `app.accounts.x`; `app/accounts/__init__.py` -> `app.accounts`."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: PurePath) -> bool:
    return path.name == "__init__.py"


def parse(path: PurePath, source: str) -> ast.Module:
    return ast.parse(source, filename=str(path))


@cache
def app_sources() -> Mapping[PurePosixPath, str]:
    """Every module of `app/`, by its path relative to the project root (`app/x/y.py`)."""
    return {
        PurePosixPath(path.relative_to(ROOT).as_posix()): path.read_text(encoding="utf-8")
        for path in sorted(APP.rglob("*.py"))
    }


@cache
def app_modules() -> frozenset[str]:
    return frozenset(module_name(path) for path in app_sources())


def matches(name: str, prefix: str) -> bool:
    """`name` is the module `prefix` or lives inside it (`app.web` matches `app.web.x`, not `app.webs`)."""
    return name == prefix or name.startswith(prefix + ".")


# --- Imports --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    line: int
    module: (
        str  # the module imported, resolved to a submodule when it is one (`from app.x import y`)
    )


def absolute_base(path: PurePath, node: ast.ImportFrom) -> str:
    """The absolute module an `ImportFrom` reads from, resolving `from . import x` style imports."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if not is_package(path):
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(path: PurePath, source: str, known: Collection[str] = ()) -> list[Import]:
    """Every import in the module, at any depth. `from pkg import name` is read as the module
    `pkg.name` when that is a module in `known`, else as `pkg`."""
    found: list[Import] = []
    for node in ast.walk(parse(path, source)):
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute_base(path, node)
            resolved = {f"{base}.{alias.name}" for alias in node.names} & set(known)
            plain = any(f"{base}.{alias.name}" not in resolved for alias in node.names)
            found.extend(Import(node.lineno, name) for name in sorted(resolved))
            if plain:
                found.append(Import(node.lineno, base))
    return sorted(found, key=lambda i: (i.line, i.module))


# --- What a module contains -----------------------------------------------------------------------------


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attribute lookups on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def builds(tree: ast.AST, callable_name: str) -> bool:
    """The module calls `callable_name(...)`, bare or as an attribute (`fastapi.APIRouter(...)`)."""
    for call in calls(tree):
        name = dotted(call.func)
        if name is not None and name.split(".")[-1] == callable_name:
            return True
    return False


def is_router(tree: ast.AST) -> bool:
    return builds(tree, "APIRouter")


def builds_the_app(tree: ast.AST) -> bool:
    return builds(tree, "FastAPI")


def sqlalchemy_bindings(tree: ast.AST) -> dict[str, str]:
    """Local names bound to sqlalchemy things: `sa` -> `sqlalchemy`, `pg_insert` ->
    `sqlalchemy.dialects.postgresql.insert`, `select` -> `sqlalchemy.select`."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if matches(alias.name, "sqlalchemy"):
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound["sqlalchemy"] = "sqlalchemy"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if matches(node.module, "sqlalchemy"):
                for alias in node.names:
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


@dataclass(frozen=True)
class Statement:
    line: int
    builder: str  # `select`, `insert`, `update`, `delete` or `text`
    written: str  # as written in the source: `select`, `pg_insert`, `sa.select`


def statements(path: PurePath, source: str) -> list[Statement]:
    """Every call of a sqlalchemy statement builder, whatever name it was imported under."""
    tree = parse(path, source)
    bound = sqlalchemy_bindings(tree)
    found: list[Statement] = []
    for call in calls(tree):
        written = dotted(call.func)
        if written is None:
            continue
        root, _, rest = written.partition(".")
        if root not in bound:
            continue
        target = bound[root] + (f".{rest}" if rest else "")
        builder = target.split(".")[-1]
        if matches(target, "sqlalchemy") and builder in STATEMENT_BUILDERS:
            found.append(Statement(call.lineno, builder, written))
    return sorted(found, key=lambda s: (s.line, s.written))


# --- The checkers: (path, source) -> violations ----------------------------------------------------------


def is_entry_point(path: PurePath, source: str) -> bool:
    """Rule 1 applies to routers and to the extra entry points (the CLI)."""
    return is_router(parse(path, source)) or path.as_posix() in ALSO_ENTRY_POINTS


def entry_point_sql(path: PurePath, source: str, known: Collection[str] = ()) -> list[str]:
    """Rule 1: what an entry point does with SQL (imports, statements, session calls)."""
    where = path.as_posix()
    found: list[str] = []
    for imp in imports_of(path, source, known):
        if matches(imp.module, "sqlalchemy") and not any(
            matches(imp.module, ok) for ok in ENTRY_POINT_SQLALCHEMY_ALLOWED
        ):
            found.append(f"{where}:{imp.line} imports {imp.module}")
        if imp.module.split(".")[-1] == "repository":
            found.append(f"{where}:{imp.line} imports {imp.module}")
    tree = parse(path, source)
    bound_statements = {(s.line, s.written) for s in statements(path, source)}
    for call in calls(tree):
        written = dotted(call.func)
        bare_builder = isinstance(call.func, ast.Name) and call.func.id in STATEMENT_BUILDERS
        if (call.lineno, written) in bound_statements or bare_builder:
            found.append(f"{where}:{call.lineno} calls {written}(...)")
        elif isinstance(call.func, ast.Attribute) and call.func.attr in SESSION_RUNNERS:
            receiver = ast.unparse(call.func.value)
            found.append(f"{where}:{call.lineno} calls {receiver}.{call.func.attr}(...)")
    return sorted(set(found), key=_by_line)


def statements_outside_repositories(path: PurePath, source: str) -> list[Statement]:
    """Rule 2: the statements of a module that may not build any (empty when it may)."""
    if path.name == "repository.py" or path.as_posix() in STATEMENT_ALLOW_LIST:
        return []
    return statements(path, source)


def domain_imports(path: PurePath, source: str, known: Collection[str] = ()) -> list[str]:
    """Rule 3: the imports of a domain module that are neither the standard library nor the domain."""
    return [
        f"{path.as_posix()}:{imp.line} imports {imp.module}"
        for imp in imports_of(path, source, known)
        if not matches(imp.module, DOMAIN)
        and imp.module.split(".")[0] not in sys.stdlib_module_names
    ]


# The FastAPI dependencies of a feature (not routers, but the web edge of it): who is signed in,
# which API key calls.
WEB_EDGE_MODULES: Final[Mapping[str, str]] = {
    "app.accounts.security": "the dashboard's sign-in dependencies: viewer, admin, CSRF",
    "app.accounts.api_caller": "the API's caller: key, rate budget, idempotent retries",
}


def is_web_facing(path: PurePath, source: str) -> bool:
    tree = parse(path, source)
    name = module_name(path)
    if name in WEB_EDGE_MODULES:
        return True
    assembles_routers = name in ("app.api", "app.pages")
    return is_router(tree) or builds_the_app(tree) or assembles_routers or matches(name, "app.web")


def web_imports(path: PurePath, source: str, known: Collection[str] = ()) -> list[str]:
    """Rule 4: the web imports of a module that is not web-facing (empty when it is)."""
    if is_web_facing(path, source):
        return []
    return [
        f"{path.as_posix()}:{imp.line} imports {imp.module}"
        for imp in imports_of(path, source, known)
        if any(matches(imp.module, web) for web in WEB)
    ]


def rank_of(module: str) -> int | None:
    """Where a module of `app` stands: `BASE_RANK`, a feature's rank (1...), `TOP_RANK`, or None
    when it is unclassified. The longest matching prefix wins (`app.web.pages` over `app.web`)."""
    table = dict.fromkeys((prefix for prefix in BASE_MODULES if prefix != "app"), BASE_RANK)
    table.update(dict.fromkeys(TOP_MODULES, TOP_RANK))
    for rank, features in enumerate(FEATURE_ORDER, start=1):
        table.update({f"app.{feature}": rank for feature in features})
    candidates = [prefix for prefix in table if matches(module, prefix)]
    if candidates:
        return table[max(candidates, key=len)]
    return BASE_RANK if module == "app" and "app" in BASE_MODULES else None


def back_imports(path: PurePath, source: str, known: Collection[str] = ()) -> list[tuple[str, str]]:
    """Rule 5: (module, imported module) for each import of a later rank than the module's own.
    Imports outside `app` and unclassified modules are left to other checks."""
    importer = module_name(path)
    own = rank_of(importer)
    if own is None:
        return []
    found: set[tuple[str, str]] = set()
    for imp in imports_of(path, source, known):
        if not matches(imp.module, "app"):
            continue
        theirs = rank_of(imp.module)
        if theirs is not None and theirs > own:
            found.add((importer, imp.module))
    return sorted(found)


def _by_line(message: str) -> tuple[str, int, str]:
    location, _, rest = message.partition(" ")
    file, _, line = location.rpartition(":")
    return (file, int(line) if line.isdigit() else 0, rest)


def _report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)


# --- The real tree ----------------------------------------------------------------------------------------


def test_the_tree_is_read() -> None:
    sources = app_sources()
    assert PurePosixPath("app/__init__.py") in sources
    assert any(is_router(parse(p, s)) for p, s in sources.items())
    assert any(statements(p, s) for p, s in sources.items())


def test_routers_and_the_cli_never_touch_sql() -> None:
    found = [
        message
        for path, source in app_sources().items()
        if is_entry_point(path, source)
        for message in entry_point_sql(path, source, app_modules())
    ]
    assert not found, _report("entry points touching SQL", found)


def test_only_repositories_build_sql_statements() -> None:
    found: list[str] = []
    for path, source in app_sources().items():
        stray = statements_outside_repositories(path, source)
        if stray:
            kinds = Counter(s.builder for s in stray)
            summary = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
            lines = ", ".join(str(s.line) for s in stray)
            found.append(f"{path.as_posix()}: {len(stray)} statements ({summary}) at lines {lines}")
    assert not found, _report("modules building SQL outside a repository", found)


def test_the_statement_allow_list_is_not_stale() -> None:
    sources = app_sources()
    stale = [
        entry
        for entry in STATEMENT_ALLOW_LIST
        if not statements(PurePosixPath(entry), sources.get(PurePosixPath(entry), ""))
    ]
    assert not stale, f"allow-listed modules that build no statement (remove them): {stale}"


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    found = [
        message
        for path, source in app_sources().items()
        if matches(module_name(path), DOMAIN)
        for message in domain_imports(path, source, app_modules())
    ]
    assert not found, _report("domain imports outside the standard library", found)


def test_nothing_but_the_web_imports_the_web() -> None:
    found = [
        message
        for path, source in app_sources().items()
        for message in web_imports(path, source, app_modules())
    ]
    assert not found, _report("web imports outside the web layer", found)


def test_every_module_has_a_place_in_the_order() -> None:
    unplaced = sorted(m for m in app_modules() if rank_of(m) is None)
    assert not unplaced, f"modules in no feature, base or top layer: {unplaced}"


def test_no_import_runs_back_up_the_feature_order() -> None:
    found = {
        pair
        for path, source in app_sources().items()
        for pair in back_imports(path, source, app_modules())
    }
    unexpected = sorted(found - KNOWN_BACK_IMPORTS)
    stale = sorted(KNOWN_BACK_IMPORTS - found)
    assert not unexpected, _report(
        "imports that run back up the feature order (module -> imported module)",
        [f"{module} -> {imported}" for module, imported in unexpected],
    )
    assert not stale, f"KNOWN_BACK_IMPORTS entries that no longer happen (remove them): {stale}"


# --- The checkers catch what they should (planted sources, no real tree) ---------------------------------


def test_checker_reports_a_planted_back_import() -> None:
    path = PurePosixPath("app/accounts/x.py")
    source = "from app.engine.service import run\nimport app.senders.service\n"
    assert back_imports(path, source) == [
        ("app.accounts.x", "app.engine.service"),
        ("app.accounts.x", "app.senders.service"),
    ]


def test_checker_resolves_submodules_and_relative_imports() -> None:
    known = {"app.engine.service", "app.accounts.service"}
    path = PurePosixPath("app/accounts/x.py")
    assert back_imports(path, "from app.engine import service\n", known) == [
        ("app.accounts.x", "app.engine.service")
    ]
    assert back_imports(path, "from ..engine import service\n", known) == [
        ("app.accounts.x", "app.engine.service")
    ]
    assert back_imports(path, "def f() -> None:\n    from app import engine\n", {"app.engine"}) == [
        ("app.accounts.x", "app.engine")
    ]


def test_checker_lets_imports_run_down_the_order() -> None:
    path = PurePosixPath("app/engine/x.py")
    source = "from app.accounts import service\nfrom app.engine.queue import q\nfrom app.models import M\n"
    assert back_imports(path, source) == []
    assert back_imports(PurePosixPath("app/workspaces/x.py"), "import app.accounts.service\n") == []


def test_checker_reports_base_and_top_back_imports() -> None:
    assert back_imports(PurePosixPath("app/web/security.py"), "import app.accounts.sessions\n") == [
        ("app.web.security", "app.accounts.sessions")
    ]
    assert back_imports(PurePosixPath("app/engine/x.py"), "from app.main import create_app\n") == [
        ("app.engine.x", "app.main")
    ]
    assert back_imports(PurePosixPath("app/main.py"), "from app.web.pages import r\n") == []
    assert rank_of("app.unknown.x") is None
    assert rank_of("app") == BASE_RANK


def test_checker_reports_sql_in_a_router() -> None:
    path = PurePosixPath("app/accounts/api.py")
    source = (
        "import sqlalchemy as sa\n"
        "from fastapi import APIRouter\n"
        "from sqlalchemy.orm import Session\n"
        "from app.accounts import repository\n"
        "router = APIRouter()\n"
        "def f(session: Session) -> None:\n"
        "    session.scalars(sa.select(1))\n"
    )
    assert is_entry_point(path, source)
    assert entry_point_sql(path, source, {"app.accounts.repository"}) == [
        "app/accounts/api.py:1 imports sqlalchemy",
        "app/accounts/api.py:4 imports app.accounts.repository",
        "app/accounts/api.py:7 calls sa.select(...)",
        "app/accounts/api.py:7 calls session.scalars(...)",
    ]
    clean = (
        "from fastapi import APIRouter\nfrom sqlalchemy.orm import Session\nrouter = APIRouter()\n"
    )
    assert entry_point_sql(path, clean) == []
    assert not is_entry_point(PurePosixPath("app/accounts/service.py"), "import sqlalchemy\n")
    assert is_entry_point(PurePosixPath("app/cli.py"), "")


def test_checker_counts_statements_under_any_alias() -> None:
    source = (
        "from sqlalchemy import select, text, Select, func\n"
        "from sqlalchemy.dialects.postgresql import insert as pg_insert\n"
        "import sqlalchemy as sa\n"
        "def f() -> None:\n"
        "    select(1).where(func.count() > 0)\n"
        "    pg_insert(T).on_conflict_do_nothing()\n"
        "    sa.update(T)\n"
        "    text('SELECT 1')\n"
        "    session.delete(obj)\n"
        "    Select()\n"
    )
    service = PurePosixPath("app/accounts/service.py")
    assert [(s.line, s.builder, s.written) for s in statements(service, source)] == [
        (5, "select", "select"),
        (6, "insert", "pg_insert"),
        (7, "update", "sa.update"),
        (8, "text", "text"),
    ]
    assert len(statements_outside_repositories(service, source)) == 4
    assert (
        statements_outside_repositories(PurePosixPath("app/accounts/repository.py"), source) == []
    )
    allowed = next(iter(STATEMENT_ALLOW_LIST))
    assert statements_outside_repositories(PurePosixPath(allowed), source) == []


def test_checker_reports_a_domain_import_outside_the_standard_library() -> None:
    path = PurePosixPath("app/domain/x.py")
    source = (
        "from __future__ import annotations\n"
        "import datetime\n"
        "from app.domain.statuses import S\n"
        "from . import errors\n"
        "import sqlalchemy\n"
        "from app.models import M\n"
    )
    assert domain_imports(path, source) == [
        "app/domain/x.py:5 imports sqlalchemy",
        "app/domain/x.py:6 imports app.models",
    ]


def test_checker_reports_a_web_import_outside_the_web() -> None:
    source = "from fastapi import HTTPException\nfrom app.web.deps import SessionDep\nimport json\n"
    assert web_imports(PurePosixPath("app/contacts/service.py"), source) == [
        "app/contacts/service.py:1 imports fastapi",
        "app/contacts/service.py:2 imports app.web.deps",
    ]
    assert web_imports(PurePosixPath("app/models/x.py"), "import starlette.requests\n") == [
        "app/models/x.py:1 imports starlette.requests"
    ]
    router = "from fastapi import APIRouter\nrouter = APIRouter()\n"
    assert web_imports(PurePosixPath("app/contacts/api.py"), router) == []
    assert web_imports(PurePosixPath("app/web/x.py"), "import jinja2\n") == []
