"""The `contact-tracker` command's entry point (and `python -m app`'s).

The command's modules (SQLAlchemy, its mappings, pydantic's settings, typer) make a few hundred
thousand objects as they load and no garbage. They load with the cyclic garbage collector off, and
what they made is then frozen out of later collections (`gc.freeze`): collecting while they
loaded, and again over all of them at each full collection of a long import and at exit, cost a
quarter of a second of every command (`import app.cli` then exit: 0.72 s → 0.47 s here)."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from app import cli
    finally:
        gc.freeze()
        gc.enable()
    cli.main()
