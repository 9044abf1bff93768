"""The `contact-tracker` command (SPEC §4). It calls services; it never runs SQL itself.

A command loads what it needs: the web app, the server, Alembic, the worker and the demo are
imported inside the commands that use them, so `import` and `create-api-key` do not pay for them
(measured here: 1.3 s and 24 MB more at start-up with them at the top). The entry point is
`app.launcher.main`, which loads this module with the garbage collector held off."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts import service as accounts
from app.campaigns.service import campaign_workspace
from app.clock import Clock, ScaledClock, system_clock
from app.config import EngineMode, Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.domain.statuses import DuplicatePolicy
from app.engine.runner import run_tick
from app.errors import AppError
from app.imports import running
from app.imports import service as imports
from app.imports import upload as uploads
from app.lifecycle import counts
from app.lifecycle import guard as lifecycle_guard
from app.models import ContactImport

cli = typer.Typer(help="Campaign contact tracker.", no_args_is_help=True, add_completion=False)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One committed transaction on the configured database; AppErrors end the command cleanly."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    except AppError as exc:
        hints = [m for messages in getattr(exc, "errors", {}).values() for m in messages]
        typer.echo(f"error: {exc.detail}" + (f" ({'; '.join(hints)})" if hints else ""), err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    from app import migrations  # Alembic, for this command only

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        migrations.upgrade(engine)
        typer.echo(f"database at {migrations.current_revision(engine)}", err=True)
    finally:
        engine.dispose()


@cli.command("create-workspace")
def create_workspace(
    name: str,
    admin_email: Annotated[str, typer.Option(help="Sign-in email of the first admin")],
    admin_password: Annotated[str, typer.Option(help="At least 8 characters")],
) -> None:
    """Create a workspace with its first admin; prints the workspace id alone."""
    with unit_of_work() as session:
        workspace = accounts.create_workspace(
            session, name=name, admin_email=admin_email, admin_password=admin_password
        )
        workspace_id = workspace.id
    typer.echo(workspace_id)


@cli.command("create-api-key")
def create_api_key(
    workspace: Annotated[int, typer.Option(help="Workspace id")],
    name: Annotated[str, typer.Option(help="What the key is for")],
    expires: Annotated[
        str | None, typer.Option(help="Last day the key works (YYYY-MM-DD); default: never")
    ] = None,
) -> None:
    """Create an API key; prints the token alone, once (only its hash is stored)."""
    with unit_of_work() as session:
        expires_at = None
        if expires:
            try:
                day = date.fromisoformat(expires)
            except ValueError as exc:
                raise AppError(f"--expires {expires!r} is not a date: use YYYY-MM-DD") from exc
            expires_at = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        issued = accounts.create_api_key(
            session, workspace_id=workspace, name=name, expires_at=expires_at
        )
        audit.record(
            session,
            workspace_id=workspace,
            actor=audit.Actor(label="cli"),
            action="api_key.created",
            target=f"{issued.api_key.name} ({issued.api_key.prefix}…)",
            detail={"expires_at": expires_at.isoformat() if expires_at else None},
            now=system_clock(),
        )
    typer.echo(issued.token)


@cli.command("set-password")
def set_password(
    email: str,
) -> None:
    """Set a user's password (asked twice at a terminal, else read from the first line of stdin)
    and end every session of theirs: the way back in for a forgotten password."""
    if sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with unit_of_work() as session:
        user = accounts.set_password(session, email=email, password=password)
        audit.record(
            session,
            workspace_id=user.workspace_id,
            actor=audit.Actor(label="cli"),
            action="user.password_set",
            target=user.email,
            now=system_clock(),
        )
    typer.echo(f"Password set for {email.strip()}; their sessions were ended.", err=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Serve the dashboard and the API."""
    import uvicorn

    from app.main import DatabaseNotMigrated, check_migrated

    settings = get_settings()
    if settings.secret_key == DEVELOPMENT_SECRET_KEY and not is_loopback(host):
        typer.echo(
            f"error: refusing to serve on {host or 'every interface'} with the development secret "
            "key: set TRACKER_SECRET_KEY to a long random value (e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
            "or listen on loopback only (--host 127.0.0.1)",
            err=True,
        )
        raise typer.Exit(2)
    engine = make_engine(settings.database_url)
    try:
        check_migrated(engine)
    except DatabaseNotMigrated as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    typer.echo(
        f"Serving on http://{host}:{port}/ — API docs at http://{host}:{port}/api/docs; "
        "demo sign-in: admin@demo.example / demo-password (rep@demo.example for a rep)",
        err=True,
    )
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # The app logs one line per request itself, with its X-Request-ID (app/web/request_id.py).
        access_log=False,
        # Forwarded headers are believed only from TRACKER_TRUSTED_PROXIES, by the app itself
        # (uvicorn's own default trusts 127.0.0.1).
        proxy_headers=False,
    )


# Sessions and signatures made with it can be forged by anyone who has read the source.
DEVELOPMENT_SECRET_KEY = Settings.model_fields["secret_key"].default


def is_loopback(host: str) -> bool:
    """Only this machine can connect: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost, or nothing (every interface)
        return False


@cli.command()
def demo(
    admin_email: Annotated[str, typer.Option()] = "admin@demo.example",
    password: Annotated[str, typer.Option()] = "demo-password",  # noqa: S107 - demo only
    contacts: Annotated[int, typer.Option(help="Roughly how many contacts")] = 2000,
    if_empty: Annotated[bool, typer.Option(help="Only when the database has no workspace")] = False,
) -> None:
    """Seed a demo workspace: an admin, a rep, two senders, four campaigns, ~2,000 contacts."""
    from app.demo import seed_demo

    with unit_of_work() as session:
        if if_empty and accounts.has_any_workspace(session):
            typer.echo("the database already has a workspace; no demo seeded", err=True)
            return
        result = seed_demo(
            session,
            admin_email=admin_email,
            password=password,
            contacts=contacts,
            now=system_clock(),
        )
    typer.echo(result.workspace_id)
    typer.echo(
        f"demo workspace {result.workspace_id}: admin {result.admin_email}, "
        f"rep {result.rep_email}, password {password!r}, {result.contacts} contacts",
        err=True,
    )


engine_cli = typer.Typer(help="Run the campaign engine.", no_args_is_help=True)
cli.add_typer(engine_cli, name="engine")


@engine_cli.command("tick")
def engine_tick(
    now: Annotated[
        str | None, typer.Option(help="The instant to run at, ISO 8601 (default: now)")
    ] = None,
) -> None:
    """Run one engine cycle at an instant; prints what it did as JSON."""
    settings = get_settings()
    at = system_clock()
    if now:
        try:
            at = datetime.fromisoformat(now)
        except ValueError as exc:
            typer.echo(f"error: --now {now!r} is not an ISO 8601 instant", err=True)
            raise typer.Exit(2) from exc
        if at.tzinfo is None:
            typer.echo("error: --now needs a time zone, e.g. 2026-03-02T10:00:00Z", err=True)
            raise typer.Exit(2)
    mode = settings.engine if settings.engine is not EngineMode.OFF else EngineMode.SANDBOX
    engine = make_engine(settings.database_url)
    try:
        report = run_tick(make_sessionmaker(engine), now=at, mode=mode)
    finally:
        engine.dispose()
    typer.echo(json.dumps(report.as_dict()))


@cli.command()
def worker(
    interval: Annotated[float | None, typer.Option(help="Seconds between ticks")] = None,
) -> None:
    """Run the engine and the background jobs continuously (any number of workers may share a
    PostgreSQL database)."""
    from app.main import configure_logging
    from app.worker import Worker, background_jobs

    settings = get_settings()
    configure_logging(settings.log_level)
    mode = settings.engine if settings.engine is not EngineMode.OFF else EngineMode.SANDBOX
    engine = make_engine(settings.database_url)
    engine_clock: Clock = system_clock
    if settings.engine_speed != 1:
        engine_clock = ScaledClock(system_clock, settings.engine_speed)
    runner = Worker(
        background_jobs(
            make_sessionmaker(engine),
            settings=settings,
            clock=system_clock,
            engine_clock=engine_clock,
            engine=mode,
            engine_interval=interval or settings.engine_interval_seconds,
        )
    )
    logging.getLogger(__name__).info("worker started (%s engine)", mode.value)
    runner.start()
    try:
        runner.wait()
    finally:
        engine.dispose()


@cli.command("import")
def import_csv(
    file: Annotated[str, typer.Argument(help="The CSV file")],
    campaign: Annotated[int, typer.Option(help="Campaign id")],
    on_duplicate: Annotated[str, typer.Option(help="skip, fill or overwrite")] = "skip",
    resume: Annotated[
        int | None, typer.Option(help="Resume an interrupted import by its id")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="The file's encoding (cp1251, shift_jis …); detected when absent"),
    ] = None,
) -> None:
    """Import contacts from a CSV file into a campaign, with a progress bar; prints the import id."""
    settings = get_settings()
    try:
        policy = DuplicatePolicy(on_duplicate)
    except ValueError as exc:
        typer.echo("error: --on-duplicate must be skip, fill or overwrite", err=True)
        raise typer.Exit(2) from exc
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    try:
        if resume is None:
            source = Path(file)
            if not source.is_file():
                typer.echo(f"error: no such file: {file}", err=True)
                raise typer.Exit(2)
            try:
                # The campaign first: nothing is copied for an import that cannot happen.
                with factory.begin() as session:
                    workspace_id = _workspace_of_campaign(session, campaign)
                accepted = uploads.accept_file(
                    source,
                    data_dir=settings.data_dir,
                    max_bytes=settings.upload_max_bytes,
                    encoding=uploads.chosen_encoding(encoding),
                )
                try:
                    with factory.begin() as session:
                        job = imports.create_import(
                            session,
                            workspace_id=workspace_id,
                            campaign_id=campaign,
                            upload=accepted,
                            filename=source.name,
                            created_by="CLI",
                            user_id=None,
                            mapping=None,
                            on_duplicate=policy,
                            now=system_clock(),
                        )
                        import_id = job.id
                except BaseException:
                    accepted.path.unlink(missing_ok=True)
                    raise
            except AppError as exc:
                typer.echo(f"error: {exc.detail}", err=True)
                raise typer.Exit(2) from exc
        else:
            import_id = resume
        with factory.begin() as session:
            claimed = running.claim_next(session, now=system_clock(), import_id=import_id)
            if claimed is None:
                typer.echo(
                    f"error: import {import_id} is not waiting to run (done, cancelled or running elsewhere)",
                    err=True,
                )
                raise typer.Exit(2)
            total = claimed.size_bytes
        with typer.progressbar(length=100, label=f"import {import_id}", file=sys.stderr) as bar:
            shown = 0

            def progress(job: ContactImport) -> None:
                nonlocal shown
                done = min(99, int(job.rows_read * 100 / max(1, _estimated_rows(total))))
                if done > shown:
                    bar.update(done - shown)
                    shown = done

            result = running.run_import(
                factory,
                import_id=import_id,
                clock=system_clock,
                batch_size=settings.import_batch_size,
                lanes=settings.import_lanes,
                progress=progress,
            )
            bar.update(100 - shown)
    finally:
        engine.dispose()
    typer.echo(import_id)
    typer.echo(
        f"{result.state.value}: {result.rows_read} rows read, {result.imported} imported, "
        f"{result.duplicates} duplicates, {result.invalid} invalid"
        + (f" — {result.error}" if result.error else ""),
        err=True,
    )
    if result.state.value == "failed":
        raise typer.Exit(1)


def _estimated_rows(size_bytes: int) -> int:
    return max(1, size_bytes // 120)


def _workspace_of_campaign(session: Session, campaign_id: int) -> int:
    return campaign_workspace(session, campaign_id)


def main() -> None:
    counts.install()
    if get_settings().lifecycle_guard:
        lifecycle_guard.install()
    sys.exit(cli())
