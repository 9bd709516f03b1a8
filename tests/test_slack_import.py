"""`convener import slack`: a Slack export becomes members, channels, activity rows and
library candidates, once, whatever is retried or cut short; bad input changes nothing."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from adapters.slack.events import translate_event
from adapters.slack.export import Export
from bot import history
from bot.activity import ActivityLog
from bot.cli import main
from bot.db import Database, sync_url
from bot.models import Activity, Channel, Identity, LibraryCandidate, Member
from bot.settings import Settings
from handlers.reports.build import write_report
from handlers.reports.period import parse_period
from tests import slack_export
from tests.harness import FakeClock

EXPECTED = Counter({"message": 5, "reply": 3, "reaction": 3, "join": 2, "leave": 1})


async def run_import(settings: Settings, path, clock=None, **options) -> history.Summary:
    db = Database(settings.database_url)
    try:
        importer = history.Importer(db, settings, clock or FakeClock(), **options)
        return await importer.run(Export(path).units())
    finally:
        await db.dispose()


def rows(settings: Settings) -> list[tuple]:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        found = session.execute(
            select(Activity.event_id, Activity.kind, Identity.user_id, Channel.channel_id,
                   Activity.ts, Activity.message_id, Activity.thread_id, Activity.text)
            .join(Identity, Identity.member_id == Activity.member_id)
            .join(Channel, Channel.id == Activity.channel_id)
            .order_by(Activity.event_id)
        ).all()  # fmt: skip
    engine.dispose()
    return [tuple(r) for r in found]


def count(settings: Settings, model) -> int:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        found = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return found or 0


def everything(settings: Settings) -> dict[str, int]:
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with engine.connect() as conn:
        found = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("members", "identities", "channels", "activity", "imported_units",
                          "library_candidates")
        }  # fmt: skip
    engine.dispose()
    return found


@pytest.mark.parametrize("zipped", [False, True])
async def test_an_export_becomes_members_channels_and_rows_once(settings, tmp_path, zipped):
    path = slack_export.write(tmp_path, zipped=zipped)
    summary = await run_import(settings, path)
    assert summary.rows == EXPECTED
    assert (summary.members_new, summary.members_matched, summary.channels) == (4, 0, 2)
    assert summary.first.replace(microsecond=0) == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert summary.last.date() == date(2024, 3, 5)
    assert summary.skipped["posts by bots"] == 2  # the standup bot's post and its 👀
    assert summary.skipped["channel_topic notices"] == 1
    assert summary.skipped["days of direct conversations between members (private)"] == 1
    assert summary.skipped["bot accounts"] == 2
    assert summary.candidates == 1
    stored = rows(settings)
    assert Counter(r[1] for r in stored) == EXPECTED
    by_id = {r[0]: r for r in stored}
    question = by_id[f"msg:C01GENERAL:{slack_export.QUESTION_TS}"]
    assert question[1:4] == ("message", "U01AMINA", "C01GENERAL")
    assert question[7] is None  # metadata only: CONVENER_STORE_MESSAGE_TEXT is off
    reply = by_id["msg:C01GENERAL:1709547000.000200"]
    assert (reply[1], reply[6]) == ("reply", slack_export.QUESTION_TS)
    assert by_id["msg:C01GENERAL:1709550000.000300"][1] == "reply"  # also sent to the channel
    assert f"react:C01GENERAL:{slack_export.QUESTION_TS}:U01AMINA:white_check_mark" in by_id
    assert f"react:C01GENERAL:{slack_export.QUESTION_TS}:U03MARIA:+1::skin-tone-4" in by_id
    assert "join:C01GENERAL:1709542800.000100" in by_id
    assert by_id["msg:C01GENERAL:1709630000.000100"][2] == "U04GONE"  # a deleted user's post

    again = await run_import(settings, path)
    assert sum(again.rows.values()) == 0 and again.units_before == again.units == 4
    assert rows(settings) == stored


async def test_profiles_channels_and_joins_come_from_the_export(settings, tmp_path):
    await run_import(settings, slack_export.write(tmp_path))
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        people = {
            i.user_id: m
            for m, i in session.execute(
                select(Member, Identity).join(Identity, Identity.member_id == Member.id)
            )
        }
        channels = dict(session.execute(select(Channel.channel_id, Channel.name)).all())
    engine.dispose()
    amina = people["U01AMINA"]
    assert (amina.display_name, amina.role_title, amina.timezone) == (
        "Amina",
        "Budget analyst, Nairobi City County",
        "Africa/Nairobi",
    )
    assert amina.joined_at.replace(microsecond=0) == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert amina.welcomed_at is not None  # here before Convener: never welcomed as new
    assert people["U02JAEWON"].display_name == "박재원"
    assert people["U03MARIA"].display_name == "María José"
    assert people["U03MARIA"].timezone == "America/Mexico_City"
    assert people["U04GONE"].display_name == "Olu"
    assert "U05BOT" not in people and "USLACKBOT" not in people
    assert channels == {"C01GENERAL": "#general", "C02BUDGET": "#budget-forecasting"}


async def test_a_member_seen_live_is_matched_and_keeps_what_they_set(settings, tmp_path):
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        member = Member(display_name="Amina W.", role_title="Chief budget officer",
                        created_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
        session.add(member)
        session.flush()
        session.add(Identity(member_id=member.id, platform="slack", user_id="U01AMINA"))
        session.commit()
        member_id = member.id
    summary = await run_import(settings, slack_export.write(tmp_path))
    assert (summary.members_new, summary.members_matched) == (3, 1)
    with Session(engine) as session:
        member = session.get(Member, member_id)
        assert (member.display_name, member.role_title, member.timezone) == (
            "Amina W.",
            "Chief budget officer",
            "Africa/Nairobi",
        )
        assert session.scalar(select(func.count()).select_from(Member)) == 4
        mine = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.member_id == member_id)
        )
    engine.dispose()
    assert mine == 4  # join, question, ✅, thanks


async def test_the_live_adapter_then_seeing_an_imported_message_adds_nothing(
    settings, tmp_path, clock
):
    await run_import(settings, slack_export.write(tmp_path))
    before = rows(settings)
    db = Database(settings.database_url)
    log = ActivityLog(db, settings, clock)
    message = translate_event({
        "token": "x", "team_id": "T01", "api_app_id": "A01", "type": "event_callback",
        "event_id": "Ev0LIVE1", "event_time": 1709546400,
        "event": {"type": "message", "channel": "C01GENERAL", "user": "U01AMINA",
                  "text": "How do you forecast property tax revenue when valuations lag?",
                  "ts": slack_export.QUESTION_TS, "event_ts": slack_export.QUESTION_TS,
                  "channel_type": "channel"},
    })  # fmt: skip
    reaction = translate_event({
        "token": "x", "team_id": "T01", "api_app_id": "A01", "type": "event_callback",
        "event_id": "Ev0LIVE2", "event_time": 1709546500,
        "event": {"type": "reaction_added", "user": "U01AMINA", "reaction": "white_check_mark",
                  "item_user": "U01AMINA", "event_ts": "1709546500.000100",
                  "item": {"type": "message", "channel": "C01GENERAL",
                           "ts": slack_export.QUESTION_TS}},
    })  # fmt: skip
    assert log.record(message) and log.record(reaction)
    await log.close()
    await db.dispose()
    assert rows(settings) == before


async def test_answered_threads_become_library_candidates(settings, tmp_path):
    await run_import(settings, slack_export.write(tmp_path))
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        (candidate,) = session.scalars(select(LibraryCandidate)).all()
        names = dict(session.execute(select(Identity.member_id, Identity.user_id)).all())
    engine.dispose()
    assert candidate.message_id == slack_export.QUESTION_TS and candidate.status == "open"
    assert candidate.question.startswith("How do you forecast property tax")
    assert candidate.signal == "reaction"
    assert names[candidate.asked_by] == "U01AMINA"
    assert [names[a["member_id"]] for a in candidate.answers] == ["U02JAEWON", "U03MARIA"]
    assert "regresión" in candidate.answers[1]["text"]


async def test_text_is_kept_only_where_the_setting_says(settings, tmp_path):
    keeping = settings.model_copy(update={"store_message_text": True})
    await run_import(keeping, slack_export.write(tmp_path))
    texts = {r[0]: r[7] for r in rows(settings)}
    assert texts["msg:C02BUDGET:1709636400.000100"] == "안녕하세요 — hello from Seoul"


async def test_a_dry_run_counts_and_writes_nothing(settings, tmp_path):
    path = slack_export.write(tmp_path)
    before = everything(settings)
    summary = await run_import(settings, path, dry_run=True)
    assert summary.rows == EXPECTED and summary.members_new == 4 and summary.candidates == 1
    assert everything(settings) == before
    await run_import(settings, path)
    again = await run_import(settings, path, dry_run=True)
    assert sum(again.rows.values()) == 0


async def test_since_and_until_limit_the_period(settings, tmp_path):
    path = slack_export.write(tmp_path)
    summary = await run_import(settings, path, since=date(2024, 3, 5), until=date(2024, 3, 5))
    assert summary.rows == Counter({"message": 2, "reply": 1, "leave": 1})
    assert summary.skipped["outside the period"] == 12  # the first day's events, bots' too
    everything_else = await run_import(settings, path)  # the first day was not marked done
    assert everything_else.rows == EXPECTED - summary.rows


async def test_history_older_than_the_retention_is_left_out(settings, tmp_path):
    shorter = settings.model_copy(update={"retention_days": 365})
    clock = FakeClock(datetime(2025, 3, 5, 0, 0, tzinfo=UTC))  # 2024-03-05 is kept, not the 4th
    summary = await run_import(shorter, slack_export.write(tmp_path), clock)
    assert summary.rows == Counter({"message": 2, "reply": 1, "leave": 1})
    assert (
        summary.skipped[
            "older than CONVENER_RETENTION_DAYS (365 days; retention would delete them)"
        ]
        == 12
    )


async def test_an_import_cut_short_resumes_to_the_same_rows(settings, tmp_path, monkeypatch):
    path = slack_export.write(tmp_path)
    written = []
    original = history.Importer._write

    def crash_after_two(self, session, unit, events, threads, whole=True):
        if len(written) == 2:
            raise KeyboardInterrupt
        done = original(self, session, unit, events, threads, whole)
        written.append(unit.path)
        return done

    monkeypatch.setattr(history.Importer, "_write", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        await run_import(settings, path)
    partial = rows(settings)
    assert written == ["users.json", "general/2024-03-04.json"]
    assert 0 < len(partial) < sum(EXPECTED.values())
    monkeypatch.setattr(history.Importer, "_write", original)
    resumed = await run_import(settings, path)
    assert resumed.units_before == 2
    assert Counter(r[1] for r in rows(settings)) == EXPECTED
    assert count(settings, LibraryCandidate) == 1


def test_the_same_export_into_a_fresh_database_gives_the_same_rows(tmp_path, sqlite_template):
    """An uninterrupted import and an interrupted one agree row for row (the resumed test
    above checks counts; this one the rows themselves, on two SQLite files)."""
    import asyncio
    import shutil

    path = slack_export.write(tmp_path)
    results = []
    for name in ("a", "b"):
        db_path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, db_path)
        settings = Settings(_env_file=None, database_url=f"sqlite:///{db_path}")
        if name == "b":
            units = list(Export(path).units())

            async def halves(units=units, settings=settings):
                db = Database(settings.database_url)
                await history.Importer(db, settings, FakeClock()).run(units[:2])
                await db.dispose()
                await run_import(settings, path)

            asyncio.run(halves())
        else:
            asyncio.run(run_import(settings, path))
        results.append(rows(settings))
    assert results[0] == results[1]


# The command line ------------------------------------------------------------------------------


def cli(capsys, settings: Settings, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("CONVENER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONVENER_RETENTION_DAYS", "0")  # the export is from 2024
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "MATRIX_HOMESERVER"):
        monkeypatch.delenv(key, raising=False)
    code = main(["import", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command_prints_a_summary(capsys, settings, tmp_path, monkeypatch):
    path = slack_export.write(tmp_path, zipped=True)
    code, out, err = cli(capsys, settings, monkeypatch, "slack", str(path))
    assert code == 0, err
    assert "members: 4 new, 0 matched; channels: 2; deleted accounts: 1 (their past kept)" in out
    assert "files or pages: 4 read (9 messages), 0 imported before" in out
    assert "added 3 join" not in out and "2 join, 1 leave, 5 message, 3 reaction, 3 reply" in out
    assert "period covered: 2024-03-04 to 2024-03-05" in out
    assert "library candidates: 1" in out
    code, out, err = cli(capsys, settings, monkeypatch, "slack", str(path), "--dry-run")
    assert code == 0 and "dry run: nothing written" in out and "would add nothing" in out


def bad_exports(tmp_path):
    good = {"users.json": slack_export.USERS, "channels.json": slack_export.CHANNELS}
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    no_channels = slack_export.write_files(tmp_path / "a", {"users.json": []}, zipped=True)
    not_json = slack_export.write_files(
        tmp_path / "b", {**good, "general/2024-03-04.json": b'[{"ts": '}, zipped=True
    )
    no_ts = slack_export.write_files(
        tmp_path / "c",
        {**good, "general/2024-03-04.json": slack_export.general_day_one(),
         "general/2024-03-05.json": [{"type": "message", "user": "U01AMINA", "text": "hi"}]},
    )  # fmt: skip
    return [
        (text_file, f"{text_file}: not a zip file (give the export's .zip or its folder)"),
        (no_channels, f"{no_channels}: not a Slack export (no channels.json)"),
        (not_json, "general/2024-03-04.json: not JSON"),
        (no_ts, "general/2024-03-05.json: message 1 has no ts"),
        (tmp_path / "missing.zip", f"{tmp_path / 'missing.zip'}: no such file or folder"),
    ]


def test_bad_input_is_one_line_exit_1_and_changes_nothing(capsys, settings, tmp_path,
                                                           monkeypatch):  # fmt: skip
    for d in "abc":
        (tmp_path / d).mkdir()
    before = everything(settings)
    for path, said in bad_exports(tmp_path):
        code, out, err = cli(capsys, settings, monkeypatch, "slack", str(path))
        assert code == 1, (path, err)
        assert err.strip().startswith(f"convener import slack: {said}"), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert out == ""
        assert everything(settings) == before


def test_a_bad_day_is_found_before_anything_is_written(capsys, settings, tmp_path, monkeypatch):
    files = {
        "users.json": slack_export.USERS, "channels.json": slack_export.CHANNELS,
        "general/2024-03-04.json": slack_export.general_day_one(),
        "general/2024-03-05.json": {"not": "a list"},
    }  # fmt: skip
    path = slack_export.write_files(tmp_path, files)
    before = everything(settings)
    code, _, err = cli(capsys, settings, monkeypatch, "slack", str(path))
    assert code == 1 and "general/2024-03-05.json: not a list of messages" in err
    assert everything(settings) == before


def test_slackdump_layout_by_channel_id(tmp_path):
    """slackdump may name a conversation's folder by its id: read the same."""
    files = {
        "users.json": slack_export.USERS, "channels.json": slack_export.CHANNELS,
        "C02BUDGET/2024-03-05.json": slack_export.budget_day(),
    }  # fmt: skip
    units = list(Export(slack_export.write_files(tmp_path, files)).units())
    (day,) = [u for u in units if u.events]
    assert day.path == "C02BUDGET/2024-03-05.json"
    assert day.events[0].channel.name == "#budget-forecasting"
    assert json.loads(json.dumps(day.events[0].event_id)) == "msg:C02BUDGET:1709636400.000100"


async def test_the_workbook_covers_the_imported_period(settings, tmp_path):
    await run_import(settings, slack_export.write(tmp_path))
    buffer = io.BytesIO()
    period = parse_period(["2024-03-01", "2024-03-31"], date(2026, 3, 2), "UTC")
    write_report(
        sync_url(settings.database_url), period, buffer, now=datetime(2026, 3, 2, tzinfo=UTC),
        timezone="UTC", pseudonymous=False, community="Municipal Finance Practice",
    )  # fmt: skip
    buffer.seek(0)
    sheet = load_workbook(buffer)["Summary"]
    summary = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row}
    assert summary["Posting-active members"] == 4
    assert summary["New members"] == 4
    assert (summary["Messages"], summary["Replies"], summary["Reactions"]) == (5, 3, 3)


def test_the_progress_line_shows_rate_share_and_time_left():
    stream = io.StringIO()
    now = [100.0]
    meter = history.Meter(1000, stream, clock=lambda: now[0])
    now[0] = 102.0
    meter(history.Unit("slack", "general/2024-03-04.json", "x", size=250), 5000)
    assert stream.getvalue() == (
        "\r[######                  ]  25% 5,000 messages imported, 2,500/s, 0:06 left  "
    )
    meter.close()
    assert stream.getvalue().endswith("\n")


async def test_a_join_seen_live_is_not_imported_again(settings, tmp_path, clock):
    """Slack's live join (`member_joined_channel`, its own event id) and the export's join
    notice are the same join: within two minutes of each other, one row."""
    db = Database(settings.database_url)
    log = ActivityLog(db, settings, clock)
    live = translate_event({
        "type": "event_callback", "event_id": "Ev0JOIN", "event_time": 1709542801,
        "event": {"type": "member_joined_channel", "user": "U01AMINA",
                  "channel": "C01GENERAL", "channel_type": "C", "team": "T01",
                  "event_ts": "1709542801.000300"},
    })  # fmt: skip
    assert log.record(live)
    await log.close()
    await db.dispose()
    summary = await run_import(settings, slack_export.write(tmp_path))
    assert summary.rows["join"] == 1  # Jae-won's; Amina's was seen live
    kinds = Counter(r[1] for r in rows(settings))
    assert kinds["join"] == 2


def test_an_export_read_twice_reads_the_same(tmp_path):
    export = Export(slack_export.write(tmp_path))
    first, second = list(export.units()), list(export.units())
    assert [(u.path, u.digest, len(u.events), u.skipped) for u in first] == [
        (u.path, u.digest, len(u.events), u.skipped) for u in second
    ]


async def test_a_member_who_asked_to_be_forgotten_stays_forgotten_on_import(settings, tmp_path):
    from handlers.privacy.erase import erase

    path = slack_export.write(tmp_path)
    await run_import(settings, path)
    engine = create_engine(sync_url(settings.database_url), poolclass=NullPool)
    with Session(engine) as session:
        amina = session.scalar(select(Identity.member_id).where(Identity.user_id == "U01AMINA"))
        erase(session, amina, datetime(2026, 3, 2, tzinfo=UTC))
        session.execute(text("DELETE FROM imported_units"))  # as if from a new export
        session.commit()
    before = everything(settings)
    summary = await run_import(settings, path)
    assert summary.skipped["by members who asked to be forgotten"] == 4
    assert summary.members_new == 0 and sum(summary.rows.values()) == 0
    after = everything(settings)
    assert {k: after[k] for k in ("members", "identities", "activity")} == {
        k: before[k] for k in ("members", "identities", "activity")
    }
    with Session(engine) as session:
        names = set(session.scalars(select(Member.display_name)))
        assert not {"Amina", "Amina Wanjiru"} & names
        assert session.scalar(select(func.count()).select_from(LibraryCandidate).where(
            LibraryCandidate.question.is_not(None))) == 0  # fmt: skip
    engine.dispose()
