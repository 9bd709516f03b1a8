"""No secret reaches the logs, at any level: each adapter runs with every logger at DEBUG (the
libraries' too, SQLAlchemy's included) while it logs in, handles a command and answers it,
and the captured text is searched for every configured secret and for the Matrix access
token the bot gets at run time. The redaction is `bot.logs`, installed by `setup_logging`."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot import logs
from bot.settings import Settings
from tests.matrix_homeserver import Homeserver, require_synapse

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def fake_secrets() -> dict[str, str]:
    """Secret settings shaped like the real ones, different in every test."""
    return {
        "slack_bot_token": f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}",
        "slack_app_token": f"xapp-1-A111-{secrets.randbelow(10**12)}-{secrets.token_hex(16)}",
        "slack_signing_secret": secrets.token_hex(16),
        "matrix_password": "pw-" + secrets.token_urlsafe(12),
        "matrix_access_token": "mat-" + secrets.token_urlsafe(24),
    }


def with_password(database_url: str) -> tuple[str, str | None]:
    """The database URL with a password in it on PostgreSQL (the test server trusts every
    local connection, so any password works), and that password."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url, None
    password = "db-" + secrets.token_urlsafe(12)
    return url.set(password=password).render_as_string(hide_password=False), password


def assert_nothing_secret(text: str, named: dict[str, str | None]) -> None:
    leaked = {name: text.count(value) for name, value in named.items() if value and value in text}
    lines = [
        line[:300] for line in text.splitlines() if any(v and v in line for v in named.values())
    ]
    assert not leaked, f"secrets in the log {leaked}:\n" + "\n".join(lines[:10])


@pytest.fixture
def debug_log() -> Iterator[logging.StreamHandler]:
    """Every logger at DEBUG into one handler on the root logger (its `stream` holds the
    text); levels put back after. Tests redact it as `setup_logging` redacts stderr."""
    root = logging.getLogger()
    loggers = [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    saved_root = root.level
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    root.setLevel(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


# --- the redactor ------------------------------------------------------------------------


def test_redactor_removes_known_secrets_and_what_looks_like_one():
    redactor = logs.Redactor(["hunter2-secret", "p@ss w/rd"])
    cases = {
        "{'user_id': '@c:x', 'access_token': 'opaque123', 'device_id': 'D'}": "opaque123",
        "('matrix:@c:x', 'access_token', 'opaque456', '2026-01-01')": "opaque456",
        "GET /_matrix/client/v3/sync?since=s1&access_token=opaque789 failed": "opaque789",
        "headers: {'Authorization': 'Bearer abc.def'}": "abc.def",
        "Authorization: Basic dXNlcjpwYXNz": "dXNlcjpwYXNz",
        "postgresql+psycopg://convener:p%40ss%20w%2Frd@db/convener": "p%40ss",
        "postgresql://convener:other@db/convener": "other",
        'login {"password": "hunter2-secret"}': "hunter2-secret",
        'payload {"token": "verification-token"}': "verification-token",
        "ws://127.0.0.1:1/link/?ticket=526da1db&app_id=A111": "526da1db",
        "https://hooks.slack.com/commands/T111/123/abcDEF": "abcDEF",
        "tokens xoxb-1-2-abc, xapp-1-A1-xyz and syt_Y29u_acLdSI_0rH5oI": "xoxb-1-2-abc",
        "host=db password=s3cr3t dbname=x": "s3cr3t",
        "the word hunter2-secret alone": "hunter2-secret",
    }
    for text, secret in cases.items():
        scrubbed = redactor.scrub(text)
        assert secret not in scrubbed and logs.MASK in scrubbed, (text, scrubbed)
    kept = "the stored Matrix access token was refused; Slack refused SLACK_BOT_TOKEN (x)"
    assert redactor.scrub(kept) == kept


def test_records_arguments_and_tracebacks_are_redacted(debug_log):
    logs.install(handlers=[debug_log])
    logs.redact("learned-at-run-time")
    log = logging.getLogger("tests.secrets")
    log.debug("token %s in %r", "learned-at-run-time", {"password": "in-a-dict"})
    try:
        raise RuntimeError("failed: https://x.org/sync?access_token=in-a-traceback")
    except RuntimeError:
        log.exception("it failed")
    log.info("stack", stack_info=True)
    text = debug_log.stream.getvalue()
    assert "RuntimeError: failed: https://x.org/sync?access_token=[redacted]" in text
    for secret in ("learned-at-run-time", "in-a-dict", "in-a-traceback"):
        assert secret not in text


def test_secrets_of_settings():
    values = fake_secrets()
    settings = Settings(
        _env_file=None, database_url="postgresql+psycopg://u:p%40ssword@db/x", **values
    )
    found = logs.secrets_of(settings)
    assert set(values.values()) <= set(found)
    assert {"p%40ssword", "p@ssword"} <= set(found)


# --- console ----------------------------------------------------------------------------


@pytest.mark.slow
def test_console_at_debug_logs_no_secret(tmp_path, database_url):
    """The real `convener run`, its logging set up by `setup_logging` at DEBUG."""
    values = fake_secrets()
    url, db_password = with_password(database_url)
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'console.db'}"
    env = {
        **os.environ,
        **{name.upper(): value for name, value in values.items()},
        "CONVENER_DATABASE_URL": url,
        "CONVENER_LOG_LEVEL": "DEBUG",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--adapter", "console"],
        input="/as alice\n!help\nhello\n/reply I agree\n!profile\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[DM @alice] convener: Here is what you can ask me:" in done.stdout
    assert " DEBUG " in done.stderr  # the log really is at DEBUG
    assert_nothing_secret(done.stderr + done.stdout, {**values, "database password": db_password})


# --- Slack ------------------------------------------------------------------------------


@pytest.mark.slack
@pytest.mark.parametrize("transport", ["http", "socket"])
async def test_slack_at_debug_logs_no_secret(settings, transport, debug_log):
    from adapters.slack import SlackAdapter
    from bot.cli import build
    from tests.slack_fake import (
        FakeSlackWebAPI,
        FakeSocketModeServer,
        encode_form,
        events_api_envelope,
        load_event,
        load_slash_command,
        post_signed,
        slash_command_envelope,
    )

    values = fake_secrets()
    url, db_password = with_password(settings.database_url)
    async with (
        FakeSocketModeServer() as sockets,
        FakeSlackWebAPI(
            users={"W111": "Ada"}, socket_mode=sockets, bot_token=values["slack_bot_token"]
        ) as slack,
    ):
        slack.add_channel("C111", "practice")
        config = settings.model_copy(
            update={
                **values,
                "database_url": url,
                "slack_api_url": slack.base_url,
                "http_port": 0,
            }
        )
        if transport == "http":
            config = config.model_copy(update={"slack_app_token": ""})
        logs.install(config, [debug_log])
        app = build(config, schedule=False)
        adapter = SlackAdapter(config, host="127.0.0.1")
        app.add_platform(adapter)
        await app.start()
        try:
            await adapter.start(app)
            await adapter.ready()
            assert adapter.mode == transport
            said = load_event("message_channel.bolt-python", text="!help")
            form = load_slash_command("help", response_url=slack.response_url("h1"))
            if transport == "http":
                secret = values["slack_signing_secret"]
                for body, kind in (
                    (json.dumps(said), "application/json"),
                    (encode_form(form), "application/x-www-form-urlencoded"),
                ):
                    status, _ = await post_signed(adapter.url, body, kind, secret, timeout=3)
                    assert status == 200
            else:
                for envelope in (events_api_envelope(said), slash_command_envelope(form)):
                    await sockets.send_envelope(envelope)
                    await sockets.wait_for_ack(envelope["envelope_id"], timeout=3)
            await app.processor.drain()
        finally:
            await adapter.stop(5)
            await app.stop(5)
            await adapter.close()
    assert slack.ephemeral[0]["text"].startswith("Here is what you can ask me:")
    assert slack.responses_to("h1")[0]["text"].startswith("Here is what you can ask me:")
    text = debug_log.stream.getvalue()
    assert " DEBUG slack_sdk." in text and " sqlalchemy.engine" in text  # libraries log too
    assert_nothing_secret(text, {**values, "database password": db_password})


# --- Matrix -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory) -> Iterator[Homeserver]:
    hs = Homeserver(tmp_path_factory.mktemp("synapse"), python=require_synapse())
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


@pytest.mark.matrix
async def test_matrix_at_debug_logs_no_secret(homeserver, database_url, debug_log):
    """A password login (the access token comes at run time), a command and its answer,
    then a restart that signs in again with the stored token."""
    from tests.test_matrix_adapter import Bot, Person, is_text

    values = fake_secrets()
    values["matrix_access_token"] = ""  # the bot logs in with its password
    url, db_password = with_password(database_url)
    name = "convener" + secrets.token_hex(4)
    homeserver.register(name, values["matrix_password"])
    alice = Person(homeserver, "alice" + secrets.token_hex(4))
    bot_id = f"@{name}:localhost"
    tokens: list[str] = []
    answers: set[str] = set()

    def new_answer(room_id: str, event) -> bool:
        return is_text("Here is what you can ask me")(room_id, event) and (
            event.event_id not in answers
        )

    try:
        for start in range(2):
            bot = Bot(homeserver, bot_id, values["matrix_password"], url)
            bot.settings = bot.settings.model_copy(update=values)
            logs.install(bot.settings, [debug_log])
            await bot.start()
            try:
                tokens.append(bot.adapter.client.access_token)
                if start == 0:
                    room = await alice.client.room_create(name="Budgeting", invite=[bot_id])
                    joined = bot.adapter.client.rooms
                    await bot.wait_until(lambda r=room, j=joined: r.room_id in j)
                await alice.say(room.room_id, "!help")
                _, answer = await alice.wait_for(new_answer)
                answers.add(answer.event_id)
            finally:
                await bot.stop()
    finally:
        await alice.close()
    assert tokens[0] == tokens[1]  # the restart reused the stored token
    text = debug_log.stream.getvalue()
    assert " DEBUG nio." in text and " sqlalchemy.engine" in text  # libraries log too
    named = {**values, "access token": tokens[0], "database password": db_password}
    assert_nothing_secret(text, named)
