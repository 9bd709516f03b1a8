"""`convener import matrix <room>` on a real Synapse (tests/matrix_homeserver.py): a room's 300
past messages (with thread replies, a reaction, a member's join, an edit, a deleted message, a
notice and a post of the bot's) become the rows the live adapter would have written, once;
`--since` reads from that day on; a room the bot is not in is one clear line; an encrypted
room's history is decrypted with the keys the running bot received, and what it cannot
decrypt counts as messages without text. Tests that need fewer messages read a room of the
same shape with 40 notes and 3 replies.

The past is written by an application service, which Synapse lets post as any user with an
earlier timestamp (`?ts=`, spec: "Timestamp massaging"). The homeserver keeps its data in
/dev/shm where there is one: its SQLite commits each event with an fsync, and the room's 300
events would otherwise take about three times as long."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from nio import RoomCreateResponse
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from adapters.matrix import history as matrix_history
from adapters.matrix.adapter import ENCRYPTION_STATE, MatrixAdapter
from adapters.matrix.history import DELETED, NOT_TEXT, RoomHistory
from bot import history
from bot.cli import main
from bot.db import Database, sync_url
from bot.models import Activity, Channel, Identity, KeyValue, Member
from bot.settings import Settings
from tests.matrix_homeserver import Homeserver, require_synapse
from tests.test_matrix_e2e import EncryptedPerson
from tests.test_matrix_encrypted_edits import edit_of, in_thread

pytestmark = pytest.mark.matrix

DAYS = 5
ROOTS_A_DAY = 56  # 280 messages
REPLIES = {2: 7, 3: 7, 4: 6}  # 20 thread replies, by day
EDITED = "Day 0, note 0: the audit starts on 2 April (corrected)."
MEGOLM = "m.megolm.v1.aes-sha2"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Row:
    kind: str
    user: str
    ts: datetime
    thread_id: str | None = None
    text: str | None = None


@dataclass
class Past:
    """The plain room and what its history must become."""

    hs: Homeserver
    as_token: str
    bot_id: str
    alias: str
    room_id: str
    other_alias: str
    other_room_id: str
    first_day: date
    created: str = ""  # alice's join when she made the room
    expected: dict[str, Row] = field(default_factory=dict)
    not_rows: dict[str, str] = field(default_factory=dict)  # event id -> what it is


@pytest.fixture(scope="module")
def synapse() -> Iterator[tuple[Homeserver, str]]:
    """A Synapse with an application service that may post as anyone (non-exclusively)."""
    python = require_synapse()
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="convener-history-", dir=shm if shm.is_dir() else None))
    as_token = secrets.token_hex(16)
    registration = root / "history-as.yaml"
    registration.write_text(json.dumps({
        "id": "history", "url": None, "as_token": as_token, "hs_token": secrets.token_hex(16),
        "sender_localpart": "history-writer", "rate_limited": False,
        "namespaces": {"users": [{"exclusive": False, "regex": "@.*:localhost"}],
                       "rooms": [], "aliases": []},
    }))  # fmt: skip
    hs = Homeserver(root / "hs", python=python,
                    extra_config={"app_service_config_files": [str(registration)]})  # fmt: skip
    try:
        hs.start()
        yield hs, as_token
    finally:
        hs.stop()
        shutil.rmtree(root, ignore_errors=True)


def _path(room_id: str, rest: str, **query: object) -> str:
    found = {k: v for k, v in query.items() if v is not None}
    return f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/{rest}?{urlencode(found)}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def write_history(synapse, notes_a_day: int, replies: dict[int, int]) -> Past:
    """Five days of a public room, "Budgeting": each day `notes_a_day` notes by alice; bob
    joins on day 1 and answers in threads (`replies`: how many, by day); day 1 also has a post
    of the bot's and a notice, day 2 a deleted message, day 3 alice's edit of her first note,
    day 4 bob's 👍. The bot joined before. Plus a room the bot is not in. A day's notes are
    posted side by side, each day after the one before."""
    hs, as_token = synapse
    tag = uuid.uuid4().hex[:6]
    bot = hs.register(f"convener{tag}", "bot-password")
    alice = hs.register(f"alice{tag}", "alice-password")
    bob = hs.register(f"bob{tag}", "bob-password")
    for account, name in ((alice, "Alice Mwangi"), (bob, "Bob Otieno")):
        hs.api("PUT", f"/_matrix/client/v3/profile/{quote(account['user_id'])}/displayname",
               {"displayname": name}, account["access_token"])  # fmt: skip
    created = hs.api("POST", "/_matrix/client/v3/createRoom", {
        "name": "Budgeting", "preset": "public_chat", "room_alias_name": f"budgeting{tag}",
    }, alice["access_token"])  # fmt: skip
    room_id = created["room_id"]
    hs.api("POST", f"/_matrix/client/v3/join/{quote(room_id)}", {}, bot["access_token"])
    other = hs.api("POST", "/_matrix/client/v3/createRoom",
                   {"name": "Coordinators", "room_alias_name": f"coordinators{tag}"},
                   alice["access_token"])  # fmt: skip
    first_day = now().date() - timedelta(days=8)
    found = Past(hs, as_token, bot["user_id"], f"#budgeting{tag}:localhost", room_id,
                 f"#coordinators{tag}:localhost", other["room_id"], first_day)  # fmt: skip

    def post(user: str, content: dict, at: datetime, kind: str = "m.room.message") -> str:
        path = _path(room_id, f"send/{kind}/{uuid.uuid4().hex}", user_id=user, ts=_ms(at))
        return hs.api("PUT", path, content, as_token)["event_id"]

    def text(body: str, **more: object) -> dict:
        return {"msgtype": "m.text", "body": body, **more}

    state = hs.api("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state", None,
                   alice["access_token"])  # fmt: skip
    joined = next(e for e in state if e["type"] == "m.room.member"
                  and e["state_key"] == alice["user_id"])  # fmt: skip
    found.created = joined["event_id"]
    found.expected[joined["event_id"]] = Row(
        "join", alice["user_id"], datetime.fromtimestamp(joined["origin_server_ts"] / 1000, UTC)
    )
    roots: dict[int, list[tuple[str, datetime]]] = {}
    with ThreadPoolExecutor(16) as pool:
        for day in range(DAYS):
            morning = datetime.combine(first_day + timedelta(days=day), time(9), UTC)

            def root(i: int, day=day, morning=morning) -> tuple[str, str, datetime]:
                at = morning + timedelta(minutes=i)
                body = f"Day {day}, note {i}" + ("?" if i % 10 == 0 else ".")
                return post(alice["user_id"], text(body), at), body, at

            roots[day] = []
            for event_id, body, at in pool.map(root, range(notes_a_day)):
                roots[day].append((event_id, at))
                found.expected[event_id] = Row("message", alice["user_id"], at, None, body)
            afternoon = morning + timedelta(hours=6)
            if day == 1:
                join = hs.api("PUT", _path(room_id, f"state/m.room.member/{bob['user_id']}",
                                           user_id=bob["user_id"], ts=_ms(afternoon)),
                              {"membership": "join", "displayname": "Bob Otieno"},
                              as_token)["event_id"]  # fmt: skip
                found.expected[join] = Row("join", bob["user_id"], afternoon)
                own = post(bot["user_id"], {"msgtype": "m.notice", "body": "Welcome!"},
                           afternoon + timedelta(minutes=1))  # fmt: skip
                notice = post(alice["user_id"], {"msgtype": "m.notice", "body": "Agenda"},
                              afternoon + timedelta(minutes=2))  # fmt: skip
                found.not_rows.update({own: "the bot's", notice: "a notice"})

            def reply(n: int, day=day, afternoon=afternoon) -> tuple[str, str, str, datetime]:
                parent, _ = roots[day][n]
                at = afternoon + timedelta(minutes=10 + n)
                body = f"Answer {n} on day {day}."
                relation = {"rel_type": "m.thread", "event_id": parent, "is_falling_back": True,
                            "m.in_reply_to": {"event_id": parent}}  # fmt: skip
                sent = post(bob["user_id"], text(body, **{"m.relates_to": relation}), at)
                return sent, parent, body, at

            for event_id, parent, body, at in pool.map(reply, range(replies.get(day, 0))):
                found.expected[event_id] = Row("reply", bob["user_id"], at, parent, body)
            if day == 2:
                gone = post(alice["user_id"], text("Oops, wrong room."), afternoon)
                hs.api("PUT", _path(room_id, f"redact/{gone}/{uuid.uuid4().hex}",
                                    user_id=alice["user_id"], ts=_ms(afternoon) + 1000),
                       {}, as_token)  # fmt: skip
                found.not_rows[gone] = "deleted"
            if day == 3:
                first, _ = roots[0][0]
                edit = post(alice["user_id"], edit_of(first, EDITED), afternoon)
                found.expected[first].text = EDITED
                found.not_rows[edit] = "an edit"
            if day == 4:
                target, _ = roots[4][1]
                like = {"m.relates_to": {"rel_type": "m.annotation", "event_id": target,
                                         "key": "👍"}}  # fmt: skip
                reaction = post(bob["user_id"], like, afternoon, "m.reaction")
                found.expected[reaction] = Row("reaction", bob["user_id"], afternoon)
    return found


@pytest.fixture(scope="module")
def past(synapse) -> Past:
    """The room with 300 past messages: 280 notes and 20 thread replies."""
    return write_history(synapse, ROOTS_A_DAY, REPLIES)


@pytest.fixture(scope="module")
def small(synapse) -> Past:
    """The same room with 40 notes and 3 replies, for what needs no more."""
    return write_history(synapse, 8, {2: 1, 3: 1, 4: 1})


def matrix_settings(past: Past, database_url: str, store: Path) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, matrix_homeserver=past.hs.url,
        matrix_user_id=past.bot_id, matrix_password="bot-password",
        matrix_store_path=str(store), store_message_text=True,
    )  # fmt: skip


async def run(settings: Settings, room: str, since: date | None = None):
    """An import as the command line runs it: (its summary, the history read)."""
    db = Database(settings.database_url)
    try:
        read = RoomHistory(settings, room, since=since)
        summary = await history.Importer(db, settings, now, since=since).run(read.units())
        return summary, read
    finally:
        await db.dispose()


def rows(database_url: str) -> dict[str, Row]:
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    with Session(engine) as session:
        found = session.execute(
            select(Activity.event_id, Activity.kind, Identity.user_id, Activity.ts,
                   Activity.thread_id, Activity.text)
            .join(Identity, Identity.member_id == Activity.member_id)
        ).all()  # fmt: skip
    engine.dispose()
    return {
        event_id: Row(kind, user, ts if ts.tzinfo else ts.replace(tzinfo=UTC), thread, text)
        for event_id, kind, user, ts, thread, text in found
    }


def table(database_url: str, *columns) -> list[tuple]:
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    with Session(engine) as session:
        found = [tuple(r) for r in session.execute(select(*columns)).all()]
    engine.dispose()
    return found


def same(found: dict[str, Row], expected: dict[str, Row]) -> None:
    """The rows are the expected ones: ids, kinds, members, threads and texts, and times to
    the millisecond."""
    assert set(found) == set(expected)
    for event_id, row in expected.items():
        got = found[event_id]
        assert (got.kind, got.user, got.thread_id, got.text) == (
            row.kind, row.user, row.thread_id, row.text), event_id  # fmt: skip
        assert abs(got.ts - row.ts) < timedelta(milliseconds=1), event_id


def devices(past: Past, token: str) -> set[str]:
    answer = past.hs.api("GET", "/_matrix/client/v3/devices", None, token)
    return {d["device_id"] for d in answer["devices"]}


async def test_a_room_s_300_past_messages_are_imported_once(past, database_url, tmp_path):
    settings = matrix_settings(past, database_url, tmp_path / "store")
    summary, read = await run(settings, past.alias)
    assert summary.rows == Counter({"message": 280, "reply": 20, "reaction": 1, "join": 2})
    assert sum(1 for r in past.expected.values() if r.kind in ("message", "reply")) == 300
    found = rows(database_url)
    same(found, past.expected)
    assert not set(found) & set(past.not_rows)
    assert summary.skipped == Counter({"posts by bots": 1, DELETED: 1, NOT_TEXT: 1})
    assert (summary.members_new, summary.channels) == (2, 1)
    assert read.room_id == past.room_id and read.pages >= 4 and read.undecryptable == 0
    assert table(database_url, Channel.channel_id, Channel.name, Channel.is_direct) == [
        (past.room_id, "#Budgeting", False)
    ]
    names = sorted(name for (name,) in table(database_url, Member.display_name))
    assert names == ["Alice Mwangi", "Bob Otieno"]
    # Signed in as the live bot does: a password login, its token and device kept for it.
    scope = f"matrix:{past.bot_id}"
    kept = {k: v for s, k, v in table(database_url, KeyValue.scope, KeyValue.key,
                                      KeyValue.value) if s == scope}  # fmt: skip
    assert {"access_token", "device_id"} <= set(kept)
    before = devices(past, kept["access_token"])
    assert kept["device_id"] in before

    again, read_again = await run(settings, past.alias)
    assert again.rows == Counter() and again.members_new == 0
    assert again.units == again.units_before == read_again.pages + 1  # every page skipped
    assert rows(database_url) == found
    assert devices(past, kept["access_token"]) == before  # the same device, signed in again


async def test_since_reads_from_that_day_on(small, database_url, tmp_path, monkeypatch):
    monkeypatch.setattr(matrix_history, "PAGE", 5)  # many pages of a small room
    settings = matrix_settings(small, database_url, tmp_path / "store")
    since = small.first_day + timedelta(days=3)
    start = datetime.combine(since, time(0), UTC)
    summary, read = await run(settings, small.room_id, since=since)
    # alice's join, which made the room, is stamped today but comes before all the history
    # the application service wrote: reading back from now stops long before it.
    recent = {k: r for k, r in small.expected.items() if r.ts >= start and k != small.created}
    assert Counter(r.kind for r in recent.values()) == Counter(
        {"message": 16, "reply": 2, "reaction": 1}
    )
    same(rows(database_url), recent)
    assert summary.rows == Counter(r.kind for r in recent.values())
    # The rest, read whole: the page that `since` cut is not taken for imported.
    rest, whole = await run(settings, small.room_id)
    assert read.pages <= whole.pages - 4  # days 0 to 2 and the room's making left unread
    assert sum(rest.rows.values()) == len(small.expected) - len(recent)
    same(rows(database_url), small.expected)


async def test_a_room_the_bot_is_not_in_is_one_line_and_nothing_written(
    small, database_url, tmp_path
):
    settings = matrix_settings(small, database_url, tmp_path / "store")
    not_in = "the bot .* is not in this room; invite it first"
    for room, why in [
        (small.other_alias, not_in),
        (small.other_room_id, not_in),
        ("#nowhere:localhost", "no such room"),
        ("budgeting", "not a Matrix room; give its id"),
    ]:
        with pytest.raises(history.BadInput, match=why) as raised:
            await run(settings, room)
        assert str(raised.value).startswith(f"{room}: ") and "\n" not in str(raised.value)
    assert table(database_url, func.count(Activity.id)) == [(0,)]
    assert table(database_url, func.count(Channel.id)) == [(0,)]


async def test_an_import_cancelled_or_cut_short_closes_the_client(
    small, database_url, tmp_path, monkeypatch
):
    settings = matrix_settings(small, database_url, tmp_path / "store")
    waiting = asyncio.Event()

    async def hanging(client, path):  # a homeserver that does not answer /messages
        waiting.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(matrix_history, "_get", hanging)
    read = RoomHistory(settings, small.alias)
    units = read.units()
    assert (await anext(units)).profiles  # the room and its members
    task = asyncio.create_task(anext(units))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert read.client is not None and read.client.client_session is None
    monkeypatch.undo()
    cut = RoomHistory(settings, small.alias)
    units = cut.units()
    await anext(units)
    await anext(units)
    await units.aclose()  # the importer stopped after the first page
    assert cut.client is not None and cut.client.client_session is None


class KeysOnly:
    """An intake that keeps what it is handed in memory: the live adapter signs in, joins and
    receives the room keys, as a running bot does, and no activity is written."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: dict[str, object] = {}

    async def submit(self, event, *, key=None, durable=False) -> None:
        self.seen[event.event_id] = event

    async def persisted(self) -> None:
        return None

    async def handle(self, event) -> None:
        self.seen[event.event_id] = event


async def test_an_encrypted_room_is_decrypted_with_the_bot_s_keys(synapse, database_url,
                                                                   tmp_path):  # fmt: skip
    """Alice's encrypted room: three messages before the bot was invited (their keys were
    never shared with it), then, while it runs, a message she later edits, a question, a
    thread reply and an event encrypted with a key nobody has. The import decrypts what the
    bot received keys for, with the device and store the live adapter keeps."""
    hs, _ = synapse
    tag = uuid.uuid4().hex[:6]
    bot_id = f"@convener{tag}:localhost"
    hs.register(f"convener{tag}", "bot-password")
    alice = EncryptedPerson(hs, f"alice{tag}", tmp_path / "alice-store")
    adapter: MatrixAdapter | None = None
    db = Database(database_url)
    try:
        await alice.client.set_displayname("Alice Mwangi")
        await alice.sync(0)
        created = await alice.client.room_create(name="Finance desk",
                                                 initial_state=[ENCRYPTION_STATE])  # fmt: skip
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await alice.sync(0)
        before = [await alice.say(room_id, f"Before the bot, {n}.") for n in range(3)]
        settings = Settings(_env_file=None, database_url=database_url,
                            matrix_homeserver=hs.url, matrix_user_id=bot_id,
                            matrix_password="bot-password",
                            matrix_store_path=str(tmp_path / "bot-store"),
                            store_message_text=True)  # fmt: skip
        intake = KeysOnly(db)
        adapter = MatrixAdapter(settings, sync_timeout_ms=1000)
        await alice.client.room_invite(room_id, bot_id)
        await adapter.start(intake)
        await adapter.ready()
        live = adapter

        async def until(check) -> None:
            async with asyncio.timeout(20), live.synced:
                await live.synced.wait_for(lambda: check() or not live.running)
            assert live.running

        await until(lambda: room_id in live.client.rooms
                    and bot_id in live.client.rooms[room_id].users)  # fmt: skip
        await alice.sync(0)  # she learns the bot's device
        first = await alice.say(room_id, "The audit starts on 1 April.")
        question = await alice.say(room_id, "Who has a capital plan template?")
        answer = await alice.say(room_id, "Quito shared theirs.", in_thread(question))
        edit = await alice.say(room_id, "", edit_of(first, "The audit starts on 2 April."))
        content = {"algorithm": MEGOLM, "ciphertext": "AwgAEhA", "device_id": "X",
                   "sender_key": "c2VuZGVy", "session_id": "bm8gc3VjaCBzZXNzaW9u"}  # fmt: skip
        lost = hs.api("PUT", _path(room_id, f"send/m.room.encrypted/{uuid.uuid4().hex}"),
                      content, alice.client.access_token)["event_id"]  # fmt: skip
        await until(lambda: lost in intake.seen)
        assert intake.seen[answer].text == "Quito shared theirs."  # the bot had the key live
        await adapter.stop(1.0)
        await adapter.close()
        adapter = None

        summary, read = await run(settings, room_id)
        assert summary.rows == Counter({"message": 6, "reply": 1, "join": 1})
        found = rows(database_url)
        texts = {event_id: (row.kind, row.text, row.thread_id) for event_id, row in found.items()}
        assert {k: v for k, v in texts.items() if v[0] != "join"} == {
            **{event_id: ("message", None, None) for event_id in before},
            first: ("message", "The audit starts on 2 April.", None),
            question: ("message", "Who has a capital plan template?", None),
            answer: ("reply", "Quito shared theirs.", question),
            lost: ("message", None, None),
        }
        assert edit not in found and read.undecryptable == 4
        again, _ = await run(settings, room_id)
        assert again.rows == Counter() and rows(database_url) == found
    finally:
        if adapter is not None:
            await adapter.stop(1.0)
            await adapter.close()
        await db.dispose()
        await alice.close()


def test_the_command_line_imports_and_prints_the_summary(
    small, database_url, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("CONVENER_DATABASE_URL", database_url)
    monkeypatch.setenv("MATRIX_HOMESERVER", small.hs.url)
    monkeypatch.setenv("MATRIX_USER_ID", small.bot_id)
    monkeypatch.setenv("MATRIX_PASSWORD", "bot-password")
    monkeypatch.setenv("MATRIX_STORE_PATH", str(tmp_path / "store"))
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "MATRIX_ACCESS_TOKEN", "MATRIX_DEVICE_ID",
                "MATRIX_ROOMS", "CONVENER_STORE_MESSAGE_TEXT"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    assert main(["import", "matrix", small.alias]) == 0
    out = capsys.readouterr().out
    assert "members: 2 new, 0 matched; channels: 1" in out
    assert "activity: added 2 join, 40 message, 1 reaction, 3 reply (46 rows" in out
    first, last = small.first_day, now().date()
    assert f"period covered: {first:%Y-%m-%d} to {last:%Y-%m-%d}" in out
    assert "skipped: " in out and f"1 {DELETED}" in out and "1 posts by bots" in out
    assert main(["import", "matrix", small.alias]) == 0
    assert "activity: added nothing (0 rows; 0 already there)" in capsys.readouterr().out
    assert main(["import", "matrix", small.other_alias]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        f"convener import matrix: {small.other_alias}: the bot ({small.bot_id}) is not in this "
        "room; invite it first"
    )
