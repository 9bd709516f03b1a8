"""`/healthz` and `/metrics`: what a load balancer and Prometheus see."""

from __future__ import annotations

import aiohttp

from bot import health
from bot.cli import build
from bot.i18n import verbatim
from bot.settings import Settings
from tests.harness import FakePlatform


async def serving(app) -> tuple[health.HttpServer, str]:
    server = health.HttpServer(app, "127.0.0.1", 0)
    await server.start()
    return server, f"http://127.0.0.1:{server.port}"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthy_and_a_handled_command_is_counted(bot):
    server, base = await serving(bot.app)
    try:
        status, body = await get(f"{base}/healthz")
        assert status == 200, body
        assert '"database": "ok"' in body and f'"platform {bot.platform_name}": "ok"' in body
        await bot.say("alice", "!help")
        await bot.say("alice", "hello")
        status, text = await get(f"{base}/metrics")
        assert status == 200
        lines = text.splitlines()
        command = (
            f'convener_events_handled_total{{kind="command",platform="{bot.platform_name}"}} 1.0'
        )
        assert command in lines
        assert "convener_command_seconds_count 1.0" in lines
        assert "convener_open_questions 0.0" in lines
        assert "convener_activity_dead_letters 0.0" in lines
        assert any(line.startswith("convener_activity_rows_waiting ") for line in lines)
    finally:
        await server.close()


async def test_unhealthy_while_the_database_is_unreachable(tmp_path):
    settings = Settings(
        _env_file=None, database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    )
    app = build(settings, schedule=False)
    app.add_platform(FakePlatform("slack"))
    server, base = await serving(app)
    try:
        status, body = await get(f"{base}/healthz")
        assert status == 503
        assert '"status": "unhealthy"' in body and '"database": "unreachable' in body
        status, text = await get(f"{base}/metrics")  # the counters still answer
        assert status == 200 and "convener_handler_errors_total" in text
    finally:
        await server.close()
        await app.db.dispose()


async def test_a_platform_that_is_not_connected_is_named(bot):
    bot.platform.health = lambda: "not receiving events"
    healthy, parts = await health.check(bot.app)
    assert not healthy
    assert parts[f"platform {bot.platform_name}"] == "not receiving events"


async def test_the_scheduler_on_another_replica_is_healthy_standby(bot):
    class Standby:
        held = False

        async def stop(self) -> None:
            pass

    bot.app._start_scheduler = object()
    bot.app.scheduler_lease = Standby()
    healthy, parts = await health.check(bot.app)
    assert healthy and parts["scheduler"].startswith("standby")
    bot.app.scheduler_lease.held = True
    healthy, parts = await health.check(bot.app)
    assert not healthy and parts["scheduler"] == "not running"


async def test_a_notice_waiting_too_long_is_said_and_shown(bot):
    """A notice queued 31 minutes ago (the platform would not take it): `/healthz` says so
    and is 503; `/metrics` shows the depth and the age; once it goes, all is well again."""
    from bot import outbox

    await bot.join("kofi")
    general = bot.channel("general")
    await outbox.post(bot.app.services(), "call:1", "7d", general, verbatim("A week left"))
    bot.clock.advance(minutes=31)
    healthy, parts = await health.check(bot.app)
    assert not healthy and parts["outbox"].startswith("behind: the oldest of 1 queued")
    server, base = await serving(bot.app)
    try:
        _, text = await get(f"{base}/metrics")
        assert "convener_outbox_depth 1.0" in text.splitlines()
        assert "convener_outbox_oldest_seconds 1860.0" in text.splitlines()
    finally:
        await server.close()
    await bot.deliver()
    healthy, parts = await health.check(bot.app)
    assert healthy and parts["outbox"] == "ok"
