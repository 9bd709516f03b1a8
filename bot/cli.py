"""The `convener` command line: run, db upgrade, report, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot.db import describe, sync_url, upgrade
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


async def serve(settings: Settings, adapter_names: list[str]) -> int:
    from bot.app import Convener

    if "console" in adapter_names:
        from adapters.console import FIRST_MEMBER

        ids = ",".join([*settings.facilitator_ids, FIRST_MEMBER])
        settings = settings.model_copy(update={"facilitators": ids})
    app = Convener(settings)
    adapters = [make_adapter(name, settings) for name in adapter_names]
    for adapter in adapters:
        app.add_platform(adapter)
    await app.start()
    runs = [asyncio.create_task(adapter.run(app), name=adapter.name) for adapter in adapters]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, lambda: [task.cancel() for task in runs])
        except (NotImplementedError, RuntimeError):
            pass
    try:
        done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("adapter %s stopped", task.get_name(), exc_info=task.exception())
                return 1
        return 0
    except asyncio.CancelledError:
        return 0
    finally:
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for adapter in adapters:
            try:
                await adapter.close()
            except Exception:
                log.exception("closing %s", adapter.name)
        await app.close()
        log.info("Convener stopped; activity flushed")


def write_report_file(settings: Settings, args: argparse.Namespace) -> int:
    """`convener report`: the same workbook as the `report` command, into a file."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.errors import UsageError
    from bot.models import ReportPull
    from handlers.reports.build import connect, write_report
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
    with connect(url) as conn:
        conn.execute(
            ReportPull.__table__.insert().values(
                member_id=None, pulled_at=now, period_from=period.start, period_to=period.end,
                pseudonymous=args.pseudonymous, source="cli",
            )
        )  # fmt: skip
        conn.commit()
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
