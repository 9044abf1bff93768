"""A runtime guard: a write of `contacts.status` outside the lifecycle owner fails loudly.

The owner (app.lifecycle.service) marks its work with `owning()`; a statement that inserts contacts
or sets their status while no owner is at work on this thread raises `LifecycleBypass` before it
reaches the database. It watches SQL at the cursor, so ORM flushes, Core statements and the bulk
driver paths are all seen. Installed by the app, the CLI and the test suite
(`TRACKER_LIFECYCLE_GUARD`, on by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_depth: ContextVar[int] = ContextVar("lifecycle_owner_depth", default=0)
_STATUS_SET = re.compile(r"\bstatus\s*=", re.IGNORECASE)
_installed = False


class LifecycleBypass(RuntimeError):
    """A contact's status was written outside app.lifecycle (a bug: call the owner instead)."""


@contextmanager
def owning() -> Iterator[None]:
    """The lifecycle owner at work: status writes inside are allowed."""
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    finally:
        _depth.reset(token)


_WRITES_CONTACTS = re.compile(r"\b(INSERT\s+INTO|UPDATE)\s+contacts\b", re.IGNORECASE)


def writes_status(statement: str) -> bool:
    """Whether a SQL statement inserts contacts or sets a contact's status: itself, or in one of
    its WITH queries (the only place another statement can write: PostgreSQL's data-modifying
    CTEs, `WITH changed AS (UPDATE contacts …)`)."""
    text = statement.lstrip()
    head = text[:24].upper()
    if head.startswith("WITH"):
        return any(_writes_status(text[m.start() :]) for m in _WRITES_CONTACTS.finditer(text))
    return _writes_status(text)


def _writes_status(text: str) -> bool:
    head = text[:24].upper()
    if head.startswith("INSERT INTO CONTACTS"):
        return True
    if head.startswith("UPDATE CONTACTS"):
        return bool(
            _STATUS_SET.search(re.split(r"\bWHERE\b", text, maxsplit=1, flags=re.IGNORECASE)[0])
        )
    return False


def _check(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    if _depth.get() == 0 and writes_status(statement):
        raise LifecycleBypass(
            "contacts.status written outside app.lifecycle: " + statement.strip()[:120]
        )


def install() -> None:
    """Watch every engine's statements (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Engine, "before_cursor_execute", _check)
        _installed = True
