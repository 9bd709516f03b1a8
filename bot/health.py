"""`/healthz`, `/metrics` and the features' pages (`bot.pages`: members' calendar feeds) over
HTTP on `CONVENER_HTTP_HOST`:`CONVENER_HTTP_PORT`.

When Slack runs over HTTP, its adapter serves these routes beside `/slack/events` on the same
port; otherwise `serve` starts a small server of its own. `/healthz` is 200 when the database
answers, every platform is connected, the scheduler runs (or another replica holds it) and
no queued notice has waited longer than `CONVENER_OUTBOX_ALERT_MINUTES`, else 503; either way
the JSON body says what was checked.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.metrics import database_gauges
from bot.pages import Page

if TYPE_CHECKING:
    from bot.app import Convener

log = logging.getLogger(__name__)

CHECK_SECONDS = 5


async def check(app: Convener) -> tuple[bool, dict[str, str]]:
    """Whether this replica is healthy, and what each part said."""
    parts: dict[str, str] = {}
    try:
        async with app.db.sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), CHECK_SECONDS)
        parts["database"] = "ok"
    except Exception as exc:  # unreachable, refused, timed out: the body says which
        parts["database"] = f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    for name, platform in app.platforms.items():
        problem = getattr(platform, "health", lambda: None)()
        parts[f"platform {name}"] = problem or "ok"
    parts["scheduler"] = app.scheduler_health()
    parts["outbox"] = await _outbox(app)
    healthy = all(value == "ok" or value.startswith("standby") for value in parts.values())
    return healthy, parts


async def _outbox(app: Convener) -> str:
    """`ok`, or how long the oldest queued notice has waited once that passes
    `CONVENER_OUTBOX_ALERT_MINUTES`."""
    try:
        depth, age = await asyncio.wait_for(app.outbox.measure(), CHECK_SECONDS)
    except Exception as exc:
        return f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"
    waited = age / 60
    if waited > app.settings.outbox_alert_minutes:
        return f"behind: the oldest of {depth} queued notices has waited {waited:.0f} min"
    return "ok"


def routes(app: Convener) -> list[web.RouteDef]:
    async def healthz(_request: web.Request) -> web.Response:
        healthy, parts = await check(app)
        body = {"status": "ok" if healthy else "unhealthy", "checks": parts}
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(_request: web.Request) -> web.Response:
        app.metrics.activity_waiting.set(app.activity.waiting)
        try:
            await asyncio.wait_for(app.outbox.measure(), CHECK_SECONDS)
            dead, open_questions = await asyncio.wait_for(
                app.db.read(database_gauges), CHECK_SECONDS
            )
            app.metrics.dead_letters.set(dead)
            app.metrics.open_questions.set(open_questions)
        except Exception as exc:  # the counters still answer while the database does not
            log.warning("metrics: could not read the database: %r", exc)
        return web.Response(
            body=app.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    pages = [web.get(page.path, _serve(app, page)) for page in app.router.pages]
    return [web.get("/healthz", healthz), web.get("/metrics", metrics), *pages]


def _serve(app: Convener, page: Page):
    async def serve(request: web.Request) -> web.Response:
        answer = await page.func(app.services(), request.match_info.get("name", ""))
        return web.Response(
            status=answer.status, body=answer.body, content_type=answer.content_type,
            charset=answer.charset, headers=answer.headers,
        )  # fmt: skip

    return serve


class HttpServer:
    """The health, metrics and pages server when no Slack HTTP endpoint carries them."""

    def __init__(self, app: Convener, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        server = web.Application()
        server.add_routes(routes(self.app))
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise RuntimeError(
                f"cannot serve /healthz on {self.host}:{self.port} ({exc.strerror}); set "
                "CONVENER_HTTP_PORT to a free port"
            ) from exc
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
