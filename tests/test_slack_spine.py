"""The spine, on Slack: a delivery is acknowledged only once it is stored, a malformed one
never wedges the rest, a bad signature is a plain 401, and shutdown loses nothing that was
acknowledged. In process through `bot.cli.build` (the composition root) and, for shutdown,
against real `convener run --adapter slack` processes; SQLite, and PostgreSQL when
CONVENER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from sqlalchemy import create_engine, select

from adapters.slack import SlackAdapter
from bot.app import Convener
from bot.cli import build
from bot.models import Activity
from bot.settings import Settings
from tests.slack_fake import (
    DELETE,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    encode_form,
    events_api_envelope,
    load_event,
    load_slash_command,
    post_signed,
)
from tests.test_slack_adapter_replicas import (
    SECRET as REPLICA_SECRET,
)
from tests.test_slack_adapter_replicas import (
    start_replica,
    stop_replica,
    wait_until_serving,
)

pytestmark = pytest.mark.slack

SECRET = "spine-signing-secret"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
POISON = {"ts": "1610261659.001400", "why": "an object where Slack sends a string"}


def message(text: str, ts: str | None = None, **fields) -> dict:
    """A channel message from Ada (W111) in C111, from the real payload."""
    if ts is not None:
        fields["ts"] = ts
    return load_event("message_channel.bolt-python", text=text, blocks=DELETE, **fields)


def message_id(body: dict) -> str:
    return f"msg:{body['event']['channel']}:{body['event']['ts']}"


async def until(predicate: Callable[[], bool], turns: int = 100_000) -> None:
    """Let the loop run until `predicate` holds (checked on every turn); fail after `turns`."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"still not true after {turns} turns of the event loop")


def slack_settings(settings: Settings, slack: FakeSlackWebAPI, transport: str, **more) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": "xoxb-spine",
            "slack_api_url": slack.base_url,
            "slack_app_token": "xapp-spine" if transport == "socket" else "",
            "slack_signing_secret": SECRET if transport == "http" else "",
            "http_port": 0,
            **more,
        }
    )


class Bot:
    """The composition root's Convener (no scheduler) with a `SlackAdapter` on HTTP or
    Socket Mode, started and stopped the way `bot.cli.serve` does."""

    def __init__(self, settings: Settings, slack: FakeSlackWebAPI, transport: str) -> None:
        self.settings = slack_settings(settings, slack, transport)
        self.slack = slack
        self.transport = transport
        self.app: Convener = build(self.settings, schedule=False)
        self.adapter = SlackAdapter(self.settings, host="127.0.0.1")
        self.app.add_platform(self.adapter)

    async def start(self) -> Bot:
        await self.app.start(migrate=False)
        try:
            await self.adapter.start(self.app)
            await self.adapter.ready()
        except BaseException:
            await self.app.stop()
            raise
        return self

    async def stop(self, grace: float = 10) -> None:
        await self.adapter.stop(grace)
        await self.adapter.wait_closed()
        await self.app.stop(grace)

    async def post(self, body: dict | bytes, **kwargs) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _ = await post_signed(self.adapter.url, data, JSON, SECRET, **kwargs)
        return status

    async def stored(self) -> dict[str, str | None]:
        """Event id → thread id of every activity row."""
        async with self.app.db.sessions() as session:
            rows = await session.execute(select(Activity.event_id, Activity.thread_id))
            return dict(rows.all())


@pytest.fixture
async def socket_server() -> AsyncIterator[FakeSocketModeServer]:
    async with FakeSocketModeServer() as server:
        yield server


@pytest.fixture
async def slack(socket_server) -> AsyncIterator[FakeSlackWebAPI]:
    async with FakeSlackWebAPI(users={"W111": "Ada"}, socket_mode=socket_server) as fake:
        fake.add_channel("C111", "practice")
        yield fake


@pytest.fixture
async def http_bot(settings, slack) -> AsyncIterator[Bot]:
    running = await Bot(settings, slack, "http").start()
    yield running
    await running.stop()


class StoringGate:
    """Holds the activity log's inserts, as a database that does not answer would, until
    `open()`; `blocked` is set once an insert waits."""

    def __init__(self, app: Convener) -> None:
        self.blocked = asyncio.Event()
        self._open = asyncio.Event()
        insert = app.activity._insert

        async def held(sql, rows):
            self.blocked.set()
            await self._open.wait()
            await insert(sql, rows)

        app.activity._insert = held  # type: ignore[method-assign]

    def open(self) -> None:
        self._open.set()


# --- a poisoned delivery wedges nothing ------------------------------------------------------


async def test_poisoned_message_then_a_thousand(http_bot):
    poisoned = message("thread_ts is an object", thread_ts=POISON)
    assert await http_bot.post(poisoned) == 200
    bodies = [message(f"note {i}", ts=f"1700000000.{i:06d}") for i in range(1000)]
    queue = iter(bodies)
    statuses: list[int] = []

    async def sender(session: aiohttp.ClientSession) -> None:
        for body in queue:
            statuses.append(await http_bot.post(body, session=session))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session) for _ in range(20)))
    assert statuses == [200] * 1000

    stored = await http_bot.stored()  # acknowledged means stored: no flush needed
    assert {message_id(body) for body in bodies} <= set(stored)
    assert stored[message_id(poisoned)] is None  # kept, without the malformed thread
    assert len(stored) == 1001

    await http_bot.post(message("!help", ts="1700000001.000001"))
    url = http_bot.slack.response_url("spine")
    status, _ = await post_signed(
        http_bot.adapter.url, encode_form(load_slash_command("help", response_url=url)),
        FORM, SECRET,
    )  # fmt: skip
    assert status == 200
    await http_bot.app.processor.drain()
    (answer,) = http_bot.slack.ephemeral
    assert answer["text"].startswith("Here is what you can ask me:")
    assert http_bot.slack.responses_to("spine")[0]["text"].startswith("Here is what you can")


# --- the signature check -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "abc"},
        {"X-Slack-Request-Timestamp": "-5"},
        {"X-Slack-Request-Timestamp": "1e9"},
        {"X-Slack-Request-Timestamp": "9" * 40},
        {"X-Slack-Request-Timestamp": ""},
        {"X-Slack-Signature": "abc"},
        {"X-Slack-Signature": "v0=zz"},
        {"X-Slack-Signature": ""},
    ],
    ids=lambda h: "-".join(f"{k[8:]}={v[:6]}" for k, v in h.items()),
)
async def test_malformed_signature_headers_are_401_without_traceback(http_bot, caplog, headers):
    caplog.set_level(logging.DEBUG)
    assert await http_bot.post(message("!help"), headers=headers) == 401
    form = encode_form(load_slash_command("help", response_url=http_bot.slack.response_url()))
    status, _ = await post_signed(http_bot.adapter.url, form, FORM, SECRET, headers=headers)
    assert status == 401
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert await http_bot.stored() == {}
    assert [c.method for c in http_bot.slack.calls] == ["auth.test"]


async def test_missing_signature_headers_are_401(http_bot):
    async with aiohttp.ClientSession() as session:
        response = await session.post(http_bot.adapter.url, data=b"{}", headers={})
        assert response.status == 401


async def test_unreadable_signed_body_is_one_warning(http_bot, caplog):
    for body in (b"not json", b"[1, 2]"):
        assert await http_bot.post(body) == 400
    assert await http_bot.post(b"\xff\xfe") == 401  # not UTF-8: no signature can be checked
    assert not [r for r in caplog.records if r.exc_info]
    assert caplog.text.count("could not read a delivery") == 2


# --- acknowledged means stored -------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "socket"])
async def test_delivery_not_stored_in_time_is_not_acknowledged_nor_lost(
    settings, slack, socket_server, transport
):
    """The database does not answer: no acknowledgement (HTTP 503, no Socket Mode ack), so
    Slack delivers again; the event is stored and handled once the database is back, and
    the redelivery is acknowledged and changes nothing."""
    running = await Bot(settings, slack, transport).start()
    try:
        gate = StoringGate(running.app)
        running.adapter.ack_seconds = 0  # the deadline has passed as soon as it is asked
        body = message("!help")
        if transport == "http":
            assert await running.post(body) == 503
        else:
            first = events_api_envelope(body)
            await socket_server.send_envelope(first)
        await gate.blocked.wait()
        running.adapter.ack_seconds = 3
        gate.open()
        await running.app.persisted()
        assert message_id(body) in await running.stored()
        await running.app.processor.drain()
        assert len(slack.ephemeral) == 1  # handled, without any acknowledgement

        if transport == "http":
            assert await running.post(body, retry_num=1, retry_reason="http_error") == 200
        else:
            retry = events_api_envelope(body, 1, "timeout")
            await socket_server.send_envelope(retry)
            await socket_server.wait_for_ack(retry["envelope_id"], timeout=3)
            assert first["envelope_id"] not in socket_server.acks
        await running.app.processor.drain()
        assert len(slack.ephemeral) == 1
    finally:
        await running.stop()


@pytest.mark.parametrize("transport", ["http", "socket"])
async def test_retried_deliveries_are_handled_once(settings, slack, socket_server, transport):
    """Slack's retries (same event_id, X-Slack-Retry-Num or retry_attempt), arriving
    together with the original, after it, and for a slash command's repeat."""
    running = await Bot(settings, slack, transport).start()
    try:
        body = message("!help")
        joined = load_event("member_joined_channel.bolt-python")
        for delivery in (body, joined):
            if transport == "http":
                statuses = await asyncio.gather(
                    running.post(delivery),
                    running.post(delivery, retry_num=1, retry_reason="http_timeout"),
                    running.post(delivery, retry_num=2, retry_reason="http_timeout"),
                )
                assert statuses == [200, 200, 200]
            else:
                envelopes = [events_api_envelope(delivery, n, "timeout") for n in range(3)]
                for envelope in envelopes:
                    await socket_server.send_envelope(envelope)
                for envelope in envelopes:
                    await socket_server.wait_for_ack(envelope["envelope_id"], timeout=3)
        await running.app.processor.drain()
        assert len(slack.ephemeral) == 1
        stored = await running.stored()
        assert set(stored) == {message_id(body), joined["event_id"]}
    finally:
        await running.stop()


async def test_command_is_acknowledged_once_stored(http_bot):
    url = http_bot.slack.response_url("stored")
    form = load_slash_command("help", response_url=url)
    status, _ = await post_signed(http_bot.adapter.url, encode_form(form), FORM, SECRET)
    assert status == 200
    assert f"cmd:{form['trigger_id']}" in await http_bot.stored()


# --- lifecycle -------------------------------------------------------------------------------


async def test_stop_closes_the_listener_then_waits_for_deliveries_in_hand(settings, slack):
    running = await Bot(settings, slack, "http").start()
    gate = StoringGate(running.app)
    body = message("in hand at shutdown")
    delivery = asyncio.create_task(running.post(body))
    await gate.blocked.wait()
    assert running.adapter.in_hand == 1
    stopping = asyncio.create_task(running.adapter.stop(10))
    await until(lambda: not running.adapter.accepting)
    with pytest.raises(aiohttp.ClientConnectorError):
        await running.post(message("too late"))
    assert not stopping.done()
    gate.open()
    assert await delivery == 200
    await stopping
    await running.adapter.wait_closed()
    assert message_id(body) in await running.stored()
    await running.app.stop()


async def test_stop_after_grace_leaves_the_delivery_unacknowledged_not_lost(settings, slack):
    running = await Bot(settings, slack, "http").start()
    gate = StoringGate(running.app)
    body = message("the database is down at shutdown")
    delivery = asyncio.create_task(running.post(body))
    await gate.blocked.wait()
    await running.adapter.stop(0)
    assert await delivery == 503  # Slack delivers it again, to this replica or another
    gate.open()
    await running.app.stop()  # the recorded row is still written
    engine = create_engine(running.settings.database_url)
    try:
        with engine.connect() as conn:
            ids = set(conn.execute(select(Activity.event_id)).scalars())
    finally:
        engine.dispose()
    assert message_id(body) in ids


async def test_outbound_operations_work_after_stop(settings, slack):
    """The core finishes its handlers after the adapters stop; they can still answer."""
    from bot.types import ChannelRef

    running = await Bot(settings, slack, "http").start()
    await running.adapter.stop(1)
    sent = await running.adapter.send(ChannelRef("slack", "C111"), "still here")
    assert sent.message_id and slack.calls_to("chat.postMessage")
    await running.app.stop()


async def test_start_raises_when_the_port_is_in_use(settings, slack):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        adapter = SlackAdapter(slack_settings(settings, slack, "http", http_port=port))
        with pytest.raises(RuntimeError, match="cannot listen"):
            await adapter.start(None)  # type: ignore[arg-type]
    assert adapter.client.session is None and not adapter.accepting  # nothing left open


async def test_start_raises_when_slack_refuses_the_app_token(settings, slack):
    refused = slack_settings(settings, slack, "socket", slack_app_token="xoxb-not-an-app")
    adapter = SlackAdapter(refused)
    with pytest.raises(RuntimeError, match=r"refused SLACK_APP_TOKEN \(not_allowed_token_type\)"):
        await adapter.start(None)  # type: ignore[arg-type]
    assert adapter.client.session is None


async def test_wait_closed_returns_once_stopped(settings, slack, socket_server):
    running = await Bot(settings, slack, "socket").start()
    waiting = asyncio.create_task(running.adapter.wait_closed())
    await asyncio.sleep(0)
    assert not waiting.done()
    await running.stop()
    await waiting
    assert socket_server.active_connections == 0


# --- a real process, stopped in the middle of a burst ----------------------------------------

SIGNAL_AFTER = 40
WORKERS = 16


async def exited(proc: asyncio.subprocess.Process, seconds: float = 60) -> str:
    """Wait for the process to end on its own; returns what it wrote to stderr."""
    async with asyncio.timeout(seconds):
        _, err = await proc.communicate()
    return err.decode()


def stored_ids(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(Activity.event_id)).scalars())
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("poisoned", [False, True], ids=["clean", "poisoned"])
async def test_sigterm_mid_burst_keeps_every_acknowledged_delivery(
    tmp_path, database_url, poisoned
):
    """Deliveries keep coming until the stopping process refuses connections; every one
    answered 200 is in the activity table afterwards, and the process exits 0."""
    acked: list[str] = []
    answered: list[int | str] = []
    signalled, refused = asyncio.Event(), asyncio.Event()
    numbers = itertools.count()
    async with FakeSlackWebAPI(users={"W111": "Ada"}) as slack:
        proc, origin = await start_replica(tmp_path, database_url, slack)
        try:
            await wait_until_serving(proc, origin)

            async def worker(session: aiohttp.ClientSession) -> None:
                while not refused.is_set():
                    n = next(numbers)
                    fields = {"thread_ts": POISON} if poisoned and n % 7 == 3 else {}
                    body = message(f"burst {n}", ts=f"1700000000.{n:06d}", **fields)
                    try:
                        status, _ = await post_signed(
                            f"{origin}/slack/events", json.dumps(body), JSON,
                            REPLICA_SECRET, session=session,
                        )  # fmt: skip
                    except aiohttp.ClientConnectorError:
                        answered.append("refused")
                        if signalled.is_set():
                            refused.set()  # the listener is closed
                        continue
                    except aiohttp.ClientError as exc:
                        answered.append(type(exc).__name__)
                        continue
                    answered.append(status)
                    if status == 200:
                        acked.append(message_id(body))
                    if len(acked) >= SIGNAL_AFTER and not signalled.is_set():
                        signalled.set()
                        proc.send_signal(signal.SIGTERM)

            connector = aiohttp.TCPConnector(limit=WORKERS)
            async with aiohttp.ClientSession(connector=connector) as session:
                async with asyncio.timeout(60):
                    await asyncio.gather(*(worker(session) for _ in range(WORKERS)))
        finally:
            # Signalled once already: a second SIGTERM during the last moments of shutdown
            # (after the loop removed its handlers) would kill it.
            err = await exited(proc) if signalled.is_set() else await stop_replica(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert len(acked) >= SIGNAL_AFTER and refused.is_set()
    missing = set(acked) - stored_ids(database_url)
    assert not missing, (len(missing), sorted(missing)[:5], answered[-40:])
    if poisoned:
        assert "ignored malformed thread_ts" in err
