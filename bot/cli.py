"""The `convener` command line (run, db upgrade, report, demo), and the one composition root
that builds the running bot from the core, the features, the jobs and the adapters."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.app import STOP_GRACE_SECONDS, Convener
from bot.context import utc_now
from bot.db import Database, describe, sync_url, upgrade
from bot.router import Router
from bot.settings import Settings

log = logging.getLogger("convener")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("apscheduler", "aiosqlite", "alembic", "slack_bolt", "nio", "asyncio"):
        if logging.getLogger(noisy).level == logging.NOTSET and level.upper() != "DEBUG":
            logging.getLogger(noisy).setLevel(logging.WARNING)


def choose_adapters(settings: Settings, wanted: str | None) -> list[str]:
    if wanted:
        return [wanted]
    chosen = []
    if settings.slack_enabled:
        chosen.append("slack")
    if settings.matrix_enabled:
        chosen.append("matrix")
    return chosen or ["console"]


def make_adapter(name: str, settings: Settings):
    if name == "console":
        from adapters.console import ConsoleAdapter

        return ConsoleAdapter()
    if name == "slack":
        from adapters.slack import SlackAdapter

        return SlackAdapter(settings)
    if name == "matrix":
        from adapters.matrix import MatrixAdapter

        return MatrixAdapter(settings)
    raise SystemExit(f"unknown adapter {name!r}; use console, slack or matrix")


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    database: Database | None = None,
    schedule: bool = True,
) -> Convener:
    """The composition root: the core with every feature's router and the scheduler."""
    from handlers import all_routers
    from schedules import start_scheduler

    return Convener(
        settings,
        router=Router().include(*all_routers()),
        scheduler=start_scheduler if schedule else None,
        clock=clock,
        database=database,
    )


async def serve(
    settings: Settings, adapter_names: list[str], *, grace: float = STOP_GRACE_SECONDS
) -> int:
    """Run until SIGTERM or SIGINT (exit 0), an adapter ending on its own (0) or failing (1).

    Start: database and activity, then each adapter until it is ready, then the scheduler.
    Stop: each adapter stops intake and hands over what it holds, then the core finishes
    in-flight handlers, running jobs and the activity log and closes the database, then the
    adapters disconnect."""
    if "console" in adapter_names:
        from adapters.console import FIRST_MEMBER

        ids = ",".join([*settings.facilitator_ids, FIRST_MEMBER])
        settings = settings.model_copy(update={"facilitators": ids})
    app = build(settings)
    adapters = [make_adapter(name, settings) for name in adapter_names]
    for adapter in adapters:
        app.add_platform(adapter)
    return await run_app(app, adapters, grace=grace, final=True)


async def run_app(
    app: Convener, adapters: list, *, grace: float = STOP_GRACE_SECONDS, final: bool = False
) -> int:
    """Start the app and its adapters in order, run until a signal or an adapter ends, and
    stop them the other way round; the exit status. `final`: the process ends after this,
    so a second signal during the last steps of shutdown is ignored."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stopping.set)
        except (NotImplementedError, RuntimeError):
            pass
    status = 0
    started: list = []
    waits: list[asyncio.Task] = []
    try:
        await app.start()
        for adapter in adapters:
            await adapter.start(app)
            started.append(adapter)
        stop_wait = asyncio.create_task(stopping.wait())
        waits = [stop_wait, *(asyncio.create_task(a.wait_closed(), name=a.name) for a in adapters)]
        ready = asyncio.ensure_future(asyncio.gather(*(a.ready() for a in adapters)))
        await asyncio.wait([ready, *waits], return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and ready.exception() is None and not stopping.is_set():
            await app.start_scheduler()
            log.info("every platform is ready; the scheduler runs")
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        elif ready.done() and ready.exception() is not None:
            log.error("a platform could not get ready", exc_info=ready.exception())
            status = 1
        else:
            ready.cancel()
        for task in waits[1:]:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("adapter %s stopped", task.get_name(), exc_info=task.exception())
                status = 1
    except Exception:
        log.exception("Convener could not start")
        status = 1
    finally:
        for task in waits:
            task.cancel()
        for adapter in reversed(started):
            try:
                await adapter.stop(grace)
            except Exception:
                log.exception("stopping %s", adapter.name)
        try:
            await app.stop(grace)
        except Exception:
            log.exception("stopping Convener")
            status = 1
        for adapter in reversed(started):
            try:
                await adapter.close()
            except Exception:
                log.exception("closing %s", adapter.name)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
                if final:
                    signal.signal(sig, signal.SIG_IGN)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        log.info("Convener stopped; activity flushed")
    return status


def write_report_file(settings: Settings, args: argparse.Namespace) -> int:
    """`convener report`: the same workbook as the `report` command, into a file."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from bot import audit
    from bot.errors import UsageError
    from handlers.reports.build import connect, pull_detail, write_report
    from handlers.reports.period import parse_period

    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    words = [w for w in (args.first, args.last) if w]
    if args.last and not args.first:
        words = [(today.replace(day=1)).isoformat(), args.last]
    try:
        period = parse_period(words, today, settings.timezone)
    except UsageError as exc:
        print(f"convener report: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    url = sync_url(settings.database_url)
    write_report(
        url, period, args.output, now=now, timezone=settings.timezone,
        pseudonymous=args.pseudonymous,
    )  # fmt: skip
    with connect(url) as conn, Session(conn) as session:
        audit.record(
            session, audit.REPORT, now, detail=pull_detail(period, args.pseudonymous, cli=True)
        )
        session.commit()
    print(f"wrote {args.output} ({period.label()})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convener", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the bot")
    run.add_argument("--adapter", choices=["console", "slack", "matrix"])
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    report = sub.add_parser("report", help="write the engagement workbook")
    report.add_argument("--from", dest="first", metavar="YYYY-MM-DD")
    report.add_argument("--to", dest="last", metavar="YYYY-MM-DD")
    report.add_argument("-o", "--output", default="engagement.xlsx")
    report.add_argument("--pseudonymous", action="store_true")
    sub.add_parser("demo", help="fill an empty database with a sample community")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:
        print(f"convener: bad settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    if args.command == "db":
        upgrade(settings.database_url)
        print(f"database {describe(settings.database_url)} is up to date")
        return 0
    if args.command == "report":
        return write_report_file(settings, args)
    if args.command == "demo":
        from handlers.reports import demo

        print(demo.run(settings.database_url))
        return 0
    if args.command == "run":
        names = choose_adapters(settings, args.adapter)
        try:
            return asyncio.run(serve(settings, names))
        except KeyboardInterrupt:
            return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
