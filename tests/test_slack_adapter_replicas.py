"""Replicas on one database: real `convener run --adapter slack` processes (the path
production takes), each serving signed HTTP, `/healthz` and `/metrics` on its own port.

On PostgreSQL two replicas receive the same Slack deliveries and handle each once; exactly one
runs the scheduler, and when it is killed the other takes the schedule over. On SQLite, a
single-process database, a second replica is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, func, insert, select

from bot.models import Activity, Channel, Prompt, PromptSchedule
from tests.conftest import _truncate
from tests.databases import PG_URL
from tests.slack_fake import (
    DELETE,
    FakeSlackWebAPI,
    encode_form,
    load_event,
    load_slash_command,
    post_signed,
)

pytestmark = [pytest.mark.slack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "replica-signing-secret"
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_replica(
    tmp_path: Path, database_url: str, slack: FakeSlackWebAPI
) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {
        **os.environ,
        "CONVENER_DATABASE_URL": database_url,
        "CONVENER_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": "xoxb-replica",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "CONVENER_HTTP_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("SLACK_APP_TOKEN", "MATRIX_HOMESERVER"):
        env.pop(name, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--adapter",
        "slack",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return proc, f"http://127.0.0.1:{port}"


async def wait_until_serving(proc: asyncio.subprocess.Process, origin: str) -> None:
    """Poll the health endpoint until the replica answers (start-up includes migrations)."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(START_SECONDS):
        while True:
            if proc.returncode is not None:
                err = (await proc.stderr.read()).decode() if proc.stderr else ""
                raise AssertionError(f"replica exited with {proc.returncode}:\n{err}")
            try:
                async with session.get(f"{origin}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def stop_replica(proc: asyncio.subprocess.Process) -> str:
    """SIGTERM, which lets events in hand finish; returns what it wrote to stderr."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    return err.decode()


def activity_rows(database_url: str, event_id: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(Activity.event_id == event_id)
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


async def test_two_replicas_handle_each_delivery_once(tmp_path, database_url):
    async with FakeSlackWebAPI(users={"W111": "Ada"}) as slack:
        if database_url.startswith("sqlite"):
            await refused_on_sqlite(tmp_path, database_url, slack)
            return
        replicas = [await start_replica(tmp_path, database_url, slack) for _ in range(2)]
        try:
            for proc, origin in replicas:
                await wait_until_serving(proc, origin)
            body = json.dumps(
                load_event("message_channel.bolt-python", text="!help", blocks=DELETE)
            )
            form = encode_form(load_slash_command("help", response_url=slack.response_url("r")))
            deliveries = [
                post_signed(f"{origin}/slack/events", payload, ctype, SECRET)
                for _, origin in replicas
                for payload, ctype in (
                    (body, "application/json"),
                    (form, "application/x-www-form-urlencoded"),
                )
            ]
            statuses = [status for status, _ in await asyncio.gather(*deliveries)]
            assert statuses == [200, 200, 200, 200]
        finally:
            errors = [await stop_replica(proc) for proc, _ in replicas]
    assert [proc.returncode for proc, _ in replicas] == [0, 0], errors
    assert all("Traceback" not in err for err in errors), errors
    looked_up = [c for c in slack.calls_to("users.info") if c.params.get("user") == "W111"]
    assert len(looked_up) == 2  # both replicas received and worked on the deliveries
    assert len(slack.ephemeral) == 1 and slack.ephemeral[0]["user"] == "W111"
    assert len(slack.responses_to("r")) == 1
    ts = json.loads(body)["event"]["ts"]
    assert activity_rows(database_url, f"msg:C111:{ts}") == 1


async def refused_on_sqlite(tmp_path: Path, database_url: str, slack: FakeSlackWebAPI) -> None:
    first, origin = await start_replica(tmp_path, database_url, slack)
    try:
        await wait_until_serving(first, origin)
        second, _ = await start_replica(tmp_path, database_url, slack)
        async with asyncio.timeout(START_SECONDS):
            _, err = await second.communicate()
        assert second.returncode == 1
        assert "another convener run is using" in err.decode()
        assert f"(pid {first.pid})" in err.decode()
    finally:
        await stop_replica(first)
    assert first.returncode == 0


PROMPT = "Which tool helps you most with arrears?"


def schedule_a_prompt(database_url: str, at: datetime) -> None:
    """A prompt in the queue and a weekly schedule in #C111 with a slot at `at` (UTC), made a
    minute before it."""
    engine = create_engine(database_url)
    now = at - timedelta(minutes=1)
    try:
        with engine.begin() as conn:
            channel = conn.execute(
                select(Channel.id).where(Channel.platform == "slack", Channel.channel_id == "C111")
            ).scalar_one_or_none() or conn.execute(
                insert(Channel).values(platform="slack", channel_id="C111", name="#general")
                .returning(Channel.id)
            ).scalar_one()  # fmt: skip
            conn.execute(insert(Prompt).values(text=PROMPT, created_at=now))
            conn.execute(
                insert(PromptSchedule).values(
                    channel_id=channel, weekday=at.weekday(), time_of_day=f"{at:%H:%M}",
                    timezone="UTC", created_at=now, active=True,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


async def metric(origin: str, line_start: str) -> float | None:
    async with aiohttp.ClientSession() as session, session.get(f"{origin}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
    return None


async def holds_scheduler(origin: str) -> bool:
    return await metric(origin, 'convener_leader{role="scheduler"}') == 1.0


async def any_holds(replicas) -> bool:
    return any([await holds_scheduler(origin) for _, origin in replicas])


async def posted(slack: FakeSlackWebAPI) -> bool:
    return any(PROMPT in str(message) for message in slack.messages.values())


async def answered(slack: FakeSlackWebAPI, count: int) -> bool:
    return len(slack.ephemeral) >= count


async def poll(seconds: float, check) -> None:
    """Until `check()` is true: these replicas are other processes, seen only over HTTP."""
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.2)


@pytest.mark.skipif(not PG_URL, reason="replicas need PostgreSQL (CONVENER_TEST_DATABASE_URL)")
async def test_the_scheduler_moves_to_the_other_replica_when_its_holder_dies(
    tmp_path, postgres_database
):
    """One replica runs the scheduler; a prompt slot comes due and, before that replica's
    next look at the schedules (every minute), it is killed (SIGKILL: nothing is handed over).
    The other replica takes the scheduler over within 60 seconds and posts the missed slot,
    once; deliveries before and after the kill are each handled once."""
    database_url = postgres_database
    _truncate(database_url)
    async with FakeSlackWebAPI(users={"W111": "Ada"}) as slack:
        replicas = [await start_replica(tmp_path, database_url, slack) for _ in range(2)]
        try:
            for proc, origin in replicas:
                await wait_until_serving(proc, origin)
            await poll(START_SECONDS, lambda: any_holds(replicas))
            leaders = [await holds_scheduler(origin) for _, origin in replicas]
            assert leaders.count(True) == 1  # exactly one replica runs the scheduler
            (holder, holder_origin), (other, other_origin) = (
                replicas if leaders[0] else replicas[::-1]
            )
            before = load_event("message_channel.bolt-python", text="!help", blocks=DELETE)
            for origin in (holder_origin, other_origin):  # the same delivery to both
                status, _ = await post_signed(
                    f"{origin}/slack/events", json.dumps(before), "application/json", SECRET
                )
                assert status == 200
            await poll(30, lambda: answered(slack, 1))  # acknowledged is not yet answered

            schedule_a_prompt(database_url, datetime.now(UTC).replace(second=0, microsecond=0))
            holder.kill()
            await holder.wait()
            killed = time.monotonic()
            await poll(60, lambda: holds_scheduler(other_origin))
            assert time.monotonic() - killed < 60

            after = load_event(
                "message_channel.bolt-python", text="!help topics", blocks=DELETE,
                ts="1700000001.000200",
            )  # fmt: skip
            status, _ = await post_signed(
                f"{other_origin}/slack/events", json.dumps(after), "application/json", SECRET
            )
            assert status == 200
            await poll(30, lambda: posted(slack))
            await asyncio.sleep(2)  # a second post, if there were one, would come now
        finally:
            errors = [await stop_replica(proc) for proc, _ in replicas]
    assert other.returncode == 0, errors
    assert len([m for m in slack.messages.values() if PROMPT in str(m)]) == 1
    for event in (before, after):
        assert activity_rows(database_url, f"msg:C111:{event['event']['ts']}") == 1
    assert len(slack.ephemeral) == 2  # one answer to each command
