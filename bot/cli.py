"""The `convener` command line (run, db upgrade, report, demo, catalog), and the one
composition root that builds the running bot from the core, the features, the jobs and the
adapters."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from bot import health, i18n, logs
from bot.app import STOP_GRACE_SECONDS, Convener
from bot.context import utc_now
from bot.db import Database, describe, sync_url, upgrade
from bot.leader import AlreadyRunning, hold_single_process
from bot.router import Router
from bot.settings import Settings

log = logging.getLogger("convener")


def setup_logging(level: str, settings: Settings | None = None) -> None:
    """Log to stderr at `level` (libraries' chatter only at DEBUG), with every secret of
    `settings`, and anything that looks like a credential, redacted (`bot.logs`)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logs.install(settings)
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


GC_THRESHOLDS = (50_000, 50, 100)
SWITCH_INTERVAL_SECONDS = 0.0005


def tune_runtime() -> None:
    """Two settings of the interpreter for bursts, for the process that runs the bot, once.

    Python's cycle collector passes over every young object each 700 allocations; an event
    allocates a few dozen objects and almost never a cycle, so in a burst those passes cost
    a sixth of intake. What is alive once the bot is built (modules, routers, settings) is
    frozen out of the passes, and the youngest generation waits for 50,000 allocations
    (measured: ingest 12-23% faster on SQLite, 20-47% on PostgreSQL, peak memory +15-30 MB).
    Objects frozen are never collected.

    The database's worker threads (SQLite's writer and units) wait for the GIL whenever
    their statement returns; while intake keeps the event loop busy, Python hands it over
    only every switch interval, 5 ms by default, so a write of 2,000 rows waited tens of
    milliseconds to start and to finish. At 0.5 ms ingest on SQLite was 24-32% faster."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def every_router() -> Router:
    """The core's own router with every feature's."""
    from bot import forms, housekeeping
    from handlers import all_routers

    return Router().include(housekeeping.router, forms.router, *all_routers())


def keep_catalogs(args: argparse.Namespace) -> int:
    """`convener catalog`: extract the messages, update and compile each language's catalog
    (`bot.catalog`), the commands' summaries included."""
    from bot import catalog

    summaries = [spec.summary for spec in every_router().commands.values()]
    return catalog.main(args.check, args.compile_only, summaries)


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    database: Database | None = None,
    schedule: bool = True,
) -> Convener:
    """The composition root: the core with every feature's router, and the scheduler with
    every job they declare."""
    from schedules import starter

    router = every_router()
    return Convener(
        settings,
        router=router,
        scheduler=starter(router.jobs) if schedule else None,
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
    try:
        single = hold_single_process(settings.database_url)
    except AlreadyRunning as exc:
        print(f"convener run: {exc}", file=sys.stderr)
        return 1
    try:
        if "console" in adapter_names:
            from adapters.console import FIRST_MEMBER

            ids = ",".join([*settings.facilitator_ids, FIRST_MEMBER])
            settings = settings.model_copy(update={"facilitators": ids})
        app = build(settings)
        tune_runtime()
        adapters = [make_adapter(name, settings) for name in adapter_names]
        for adapter in adapters:
            app.add_platform(adapter)
        http = None
        slack = next((a for a in adapters if getattr(a, "mode", None) == "http"), None)
        if slack is not None:  # /healthz and /metrics beside /slack/events, on its port
            slack.routes = health.routes(app)
            slack.host = settings.http_host or slack.host
        else:
            http = health.HttpServer(app, settings.http_host or "127.0.0.1", settings.http_port)
        return await run_app(app, adapters, grace=grace, final=True, http=http)
    finally:
        single.release()


async def run_app(
    app: Convener,
    adapters: list,
    *,
    grace: float = STOP_GRACE_SECONDS,
    final: bool = False,
    http: health.HttpServer | None = None,
) -> int:
    """Start the app, the health server and the adapters in order, run until a signal or an
    adapter ends, and stop them the other way round; the exit status. `final`: the process
    ends after this, so a second signal during the last steps of shutdown is ignored."""
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
        if http is not None:
            await _serve_health(http, console_only=all(a.name == "console" for a in adapters))
        for adapter in adapters:
            await adapter.start(app)
            started.append(adapter)
        stop_wait = asyncio.create_task(stopping.wait())
        waits = [stop_wait, *(asyncio.create_task(a.wait_closed(), name=a.name) for a in adapters)]
        ready = asyncio.ensure_future(asyncio.gather(*(a.ready() for a in adapters)))
        await asyncio.wait([ready, *waits], return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and ready.exception() is None and not stopping.is_set():
            await app.ready()
            log.info("every platform is ready; notices and the scheduler run")
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if not stopping.is_set() and all(task.done() for task in waits[1:]):
                await app.finish(grace)  # the input ended (a script): what it caused goes
        elif ready.done() and ready.exception() is not None:
            log.error("a platform could not get ready", exc_info=ready.exception())
            status = 1
        else:
            ready.cancel()
        for task in waits[1:]:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("adapter %s stopped", task.get_name(), exc_info=task.exception())
                status = 1
    except Exception as exc:  # a refused token, a port in use: one line (details at DEBUG)
        log.error("Convener could not start: %s", exc or type(exc).__name__,
                  exc_info=log.isEnabledFor(logging.DEBUG))  # fmt: skip
        status = 1
    finally:
        app.stopping()
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
        if http is not None:
            await http.close()
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
    from datetime import UTC, date, datetime, timedelta
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from bot import audit
    from bot.errors import UsageError
    from handlers.reports.build import connect, pull_detail, write_report
    from handlers.reports.pdf import PdfUnavailable, to_pdf
    from handlers.reports.period import from_days, parse_period

    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    output = Path(args.output)
    if output.suffix.lower() != ".xlsx":
        print(f"convener report: the workbook is an .xlsx file; name it like report.xlsx, "
              f"not {output.name}", file=sys.stderr)  # fmt: skip
        return 2
    if not output.parent.is_dir():
        print(f"convener report: cannot write {output}: the folder {output.parent} does not "
              "exist", file=sys.stderr)  # fmt: skip
        return 2
    try:
        if args.first or not args.last:
            period = parse_period([w for w in (args.first, args.last) if w], today,
                                  settings.timezone)  # fmt: skip
        else:  # only --to: the 30 days up to it
            last = date.fromisoformat(args.last)
            period = from_days(last - timedelta(days=29), last, settings.timezone)
    except (UsageError, ValueError) as exc:
        print(f"convener report: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    url = sync_url(settings.database_url)
    try:
        write_report(
            url, period, str(output), now=now, timezone=settings.timezone,
            pseudonymous=args.pseudonymous, community=settings.community_name,
            language=args.language or settings.language,
        )  # fmt: skip
    except OSError as exc:
        print(f"convener report: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with connect(url) as conn, Session(conn) as session:
        audit.record(
            session, audit.REPORT, now, detail=pull_detail(period, args.pseudonymous, cli=True)
        )
        session.commit()
    print(f"wrote {output} ({period.label()})")
    if args.pdf:
        try:
            print(f"wrote {to_pdf(output)}")
        except PdfUnavailable as exc:
            print(f"convener report: no PDF: {exc}", file=sys.stderr)
    return 0


def import_history(settings: Settings, args: argparse.Namespace) -> int:
    """`convener import slack|matrix`: bring the community's past in (`bot.history`). Bad
    input is one line and exit status 1, found before anything is written."""
    from bot import history

    name = f"convener import {args.platform}"
    if args.platform == "slack":
        from adapters.slack.export import Export

        try:
            export = Export(args.source)
            checking = history.Meter(export.total, sys.stderr, "checked")
            for size, messages in export.check():
                if sys.stderr.isatty():
                    checking.advance(size, messages)
            checking.close()
        except history.BadInput as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        units, total = export.units, export.total
    else:
        from adapters.matrix.history import RoomHistory

        if missing := settings.missing("matrix"):
            print(f"{name}: needs {', '.join(missing)} (see bot.env.example)", file=sys.stderr)
            return 1
        room = RoomHistory(settings, args.source, since=args.since)
        units, total = room.units, 0
    upgrade(settings.database_url)
    meter = history.Meter(total, sys.stderr) if sys.stderr.isatty() and total else None
    try:
        summary = asyncio.run(
            _import(settings, units, meter, dry_run=args.dry_run, since=args.since,
                    until=args.until)
        )  # fmt: skip
    except history.BadInput as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{name}: stopped; what was written stays. Run the same command again to go on.",
              file=sys.stderr)  # fmt: skip
        return 130
    finally:
        if meter is not None:
            meter.close()
    print("\n".join(summary.lines()))
    return 0


async def _import(settings: Settings, units, meter, **options):
    from bot import history

    db = Database(settings.database_url)
    try:
        importer = history.Importer(db, settings, utc_now, progress=meter, **options)
        return await importer.run(units())
    finally:
        await db.dispose()


async def _serve_health(http: health.HttpServer, console_only: bool) -> None:
    """Start the health server; trying Convener in the console goes on without it."""
    try:
        await http.start()
    except RuntimeError as exc:
        if not console_only:
            raise
        log.warning("%s; the console goes on without it", exc)


def make_demo(settings: Settings, fresh: str | None) -> int:
    """`convener demo [--fresh FILE]`: the sample community, in the configured database (if
    it is empty) or in a new SQLite file of its own."""
    from pathlib import Path

    from handlers.reports import demo

    url = settings.database_url
    if fresh:
        path = Path(fresh)
        if path.suffix not in (".db", ".sqlite", ".sqlite3"):
            print(f"convener demo: name the demo database like demo.db, not {fresh}",
                  file=sys.stderr)  # fmt: skip
            return 2
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    try:
        print(demo.run(url))
    except demo.NotEmpty as exc:
        print(f"convener demo: {exc}", file=sys.stderr)
        return 1
    prefix = f"CONVENER_DATABASE_URL={url} " if fresh else ""
    print(f"Next: {prefix}convener report -o demo.xlsx --pdf, or {prefix}convener run "
          "to try the bot on it in the console.")  # fmt: skip
    return 0


def language_code(text: str) -> str:
    """`--language`: a language Convener speaks (`fr`, `fr-FR`), as its code."""
    found = i18n.code(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a language Convener speaks ({', '.join(i18n.available())})"
        )
    return found


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2024-05-31") from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="convener",
        description="Convener, a bot for communities of practice on Slack, Matrix or the "
        "console. Settings come from the environment and ./bot.env (see bot.env.example).",
    )
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="start the bot",
        description="Start the bot on every platform whose settings are present (Slack, "
        "Matrix), or on the console when none are; Ctrl-C or SIGTERM stops it after "
        "finishing what is in hand.",
    )
    run.add_argument(
        "--adapter",
        choices=["console", "slack", "matrix"],
        help="run on this platform only (default: Slack and Matrix when configured, "
        "otherwise the console)",
    )
    db = sub.add_parser("db", help="database maintenance", description="Migrate the database "
                        "at CONVENER_DATABASE_URL to the newest schema.")  # fmt: skip
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply every migration")
    report = sub.add_parser(
        "report",
        help="write the engagement workbook",
        description="Write the engagement workbook (the same as the `report` command in "
        "chat) for a period; it is recorded in the audit log.",
    )
    report.add_argument("--from", dest="first", metavar="YYYY-MM-DD",
                        help="first day (default: 29 days before the last)")  # fmt: skip
    report.add_argument("--to", dest="last", metavar="YYYY-MM-DD",
                        help="last day (default: today, in CONVENER_TIMEZONE)")  # fmt: skip
    report.add_argument("-o", "--output", default="engagement.xlsx", metavar="FILE.xlsx",
                        help="where to write it (default: engagement.xlsx)")  # fmt: skip
    report.add_argument("--pseudonymous", action="store_true",
                        help="stable pseudonyms instead of names; rare cities, organisations "
                        "and roles shown as other (default: names)")  # fmt: skip
    report.add_argument("--pdf", action="store_true",
                        help="also write FILE.pdf through LibreOffice, if installed")  # fmt: skip
    report.add_argument("--language", type=language_code, metavar="CODE",
                        help="the workbook's language, one of "
                        f"{', '.join(i18n.available())} (default: CONVENER_LANGUAGE)")  # fmt: skip
    catalogs = sub.add_parser(
        "catalog",
        help="keep the message catalogs (make translations)",
        description="Extract every message into bot/locale/convener.pot, update each "
        "language's catalog from it and compile them (Babel).",
    )
    catalogs.add_argument("--check", action="store_true",
                          help="only report what is missing or untranslated")  # fmt: skip
    catalogs.add_argument("--compile-only", action="store_true",
                          help="only compile the catalogs as they are")  # fmt: skip
    imports = sub.add_parser(
        "import",
        help="bring in the community's past (a Slack export, a Matrix room's history)",
        description="Import members, channels and activity from before Convener was "
        "installed; answered threads found become library candidates. Importing again adds "
        "nothing twice; an import cut short resumes where it stopped.",
    )
    imports.add_argument("platform", choices=["slack", "matrix"])
    imports.add_argument("source", metavar="EXPORT.zip | FOLDER | ROOM",
                         help="slack: the export's zip or folder (also slackdump's); matrix: "
                         "a room id or alias the bot has joined")  # fmt: skip
    imports.add_argument("--dry-run", action="store_true",
                         help="show what would be imported; write nothing")  # fmt: skip
    imports.add_argument("--since", type=_day, metavar="YYYY-MM-DD",
                         help="only what happened on or after this day (UTC)")  # fmt: skip
    imports.add_argument("--until", type=_day, metavar="YYYY-MM-DD",
                         help="only what happened on or before this day (UTC)")  # fmt: skip
    demo = sub.add_parser(
        "demo",
        help="build a sample community to try the workbook and the bot on",
        description="Fill an empty database with a sample community (420 members on Slack and "
        "Matrix over four months).",
    )
    demo.add_argument("--fresh", metavar="FILE.db",
                      help="build it in a new SQLite file of its own (replaced if it exists) "
                      "instead of CONVENER_DATABASE_URL, which must then be empty")  # fmt: skip
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "catalog":  # at install time: no settings needed
        return keep_catalogs(args)
    try:
        settings = Settings()
    except Exception as exc:
        print(f"convener: bad settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings)
    if args.command == "db":
        upgrade(settings.database_url)
        print(f"database {describe(settings.database_url)} is up to date")
        return 0
    if args.command == "report":
        return write_report_file(settings, args)
    if args.command == "demo":
        return make_demo(settings, args.fresh)
    if args.command == "import":
        return import_history(settings, args)
    names = choose_adapters(settings, args.adapter)
    for name in names:
        if missing := settings.missing(name):
            print(f"convener run: {name} needs {', '.join(missing)} (see bot.env.example)",
                  file=sys.stderr)  # fmt: skip
            return 2
    try:
        return asyncio.run(serve(settings, names))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
