"""Two replicas on one database receive the same Slack deliveries: each is handled once.

The replicas are real `convener run --adapter slack` processes (the path production takes),
each serving signed HTTP on its own port; they run on SQLite, and on PostgreSQL when
CONVENER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, func, select

from bot.models import Activity
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
