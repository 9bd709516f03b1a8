"""`SlackAdapter`: slack-bolt's `AsyncApp` over Socket Mode or signed HTTP for what comes in,
slack-sdk's Web API client for the `Platform` operations that go out.

Lifecycle (driven by `bot.cli.serve`): `start(intake)` signs in and connects or listens,
`ready()`, `wait_closed()`, `stop(grace)`. A delivery is acknowledged to Slack only after
`intake.submit(event, durable=True)` has returned, that is once its activity row is stored.

Buttons: a message sent with `actions` is drawn with Block Kit, each button's `value` being
the command it stands for. A click arrives as a `block_actions` payload (a form field
`payload` posted to `/slack/events`, or a Socket Mode `interactive` envelope) and is handed
to the core as that command typed by whoever pressed it, exactly like a slash command.

The class keeps the state and the lifecycle; `intake` (Socket Mode, signed HTTP, bolt's
listeners, the hand-over) and `outbound` (the Web API calls and cached lookups) are its
mixins, and `web` holds the Web API client with its retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.slack.intake import ACK_SECONDS, EVENTS_PATH, FINISH_SECONDS, MAX_IN_HAND, IntakeMixin
from adapters.slack.outbound import MAX_THREAD_REPLIES, NAMES_SECONDS, THREAD_PAGE, OutboundMixin
from adapters.slack.text import PLATFORM
from adapters.slack.web import LOOKUP_TTL_SECONDS, Lookups, log, web_client
from bot.platform import Budget
from bot.settings import Settings
from bot.types import UserRef

if TYPE_CHECKING:
    from bot.platform import Intake


class SlackAdapter(IntakeMixin, OutboundMixin):
    """Slack for Convener. Socket Mode when `SLACK_APP_TOKEN` is set, else the Events API
    over HTTP at `/slack/events` on `CONVENER_HTTP_PORT` (with `SLACK_SIGNING_SECRET`).

    A delivery is acknowledged only once the core has stored it (`submit(durable=True)`);
    handling then runs in the core's bounded processor. A delivery that cannot be stored
    within `ack_seconds` is not acknowledged (HTTP 503, or no Socket Mode ack), so Slack
    delivers it again; the hand-over still goes on, and the core dedupes by event id, so
    Slack's retries and other replicas change nothing.
    """

    name = PLATFORM
    send_budget = Budget(per_second=4.0, burst=20, per_channel_seconds=1.0)
    """`chat.postMessage`: one message a second in a channel (short bursts allowed) and a
    few hundred a minute across the workspace."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "0.0.0.0",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.host = host
        self.clock = clock
        self.port: int | None = None
        self.bot_user: UserRef | None = None
        self.client = web_client(settings)
        self.bolt: AsyncApp | None = None
        self.ack_seconds = ACK_SECONDS
        self.names_seconds = NAMES_SECONDS
        self.max_in_hand = MAX_IN_HAND
        self._intake: Intake | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._socket: Any = None  # AsyncSocketModeHandler, imported only in Socket Mode
        self._in_hand: set[asyncio.Task] = set()
        self._socket_requests: set[asyncio.Task] = set()
        self._accepting = False
        self._serving: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._stopped = False
        self._user_names = Lookups()
        self._user_locales: dict[str, str | None] = {}  # filled with the names (users.info)
        self._channel_names = Lookups()
        self._dm_channels = Lookups(ttl=24 * LOOKUP_TTL_SECONDS)
        self.thread_page = THREAD_PAGE
        self.max_thread_replies = MAX_THREAD_REPLIES
        self.routes: list[web.RouteDef] = []  # more routes for the HTTP server to serve

    @property
    def mode(self) -> str | None:
        """`socket` or `http`, whichever the settings allow (Socket Mode first)."""
        if self.settings.slack_app_token:
            return "socket"
        if self.settings.slack_signing_secret:
            return "http"
        return None

    @property
    def url(self) -> str:
        """Where Slack (or a test) posts events in HTTP mode, once serving."""
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    @property
    def accepting(self) -> bool:
        """Whether deliveries are taken (between `start` and `stop`)."""
        return self._accepting

    @property
    def in_hand(self) -> int:
        """Deliveries being handed to the core (not yet stored, so not yet acknowledged)."""
        return len(self._in_hand)

    # Lifecycle --------------------------------------------------------------------------

    async def start(self, intake: Intake) -> None:
        """Sign in and begin receiving: connect Socket Mode or listen for HTTP. Raises if it
        cannot (no bot token, no app token or signing secret, a token Slack refuses, a port
        in use); nothing is left open then."""
        if not self.settings.slack_bot_token:
            raise RuntimeError("Slack needs SLACK_BOT_TOKEN (xoxb-...)")
        if self.mode is None:
            raise RuntimeError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)"
            )
        if self._serving is not None or self._stopped:
            raise RuntimeError("the Slack adapter has already been started")
        self._intake = intake
        self.bolt = self._bolt()
        self._session = aiohttp.ClientSession()
        self.client.session = self._session
        try:
            await self._sign_in()
            if self.mode == "socket":
                await self._connect_socket_mode()
            else:
                await self._listen_http()
        except BaseException:
            await self._close_transport()
            await self._close_session()
            raise
        self._accepting = True
        self._ready.set()
        self._serving = asyncio.get_running_loop().create_task(self._serve(), name="slack")

    async def ready(self) -> None:
        """Until events can arrive (the socket is connected or the port listens)."""
        await self._ready.wait()

    async def wait_closed(self) -> None:
        """Until the adapter has stopped; raises what ended it, if anything did."""
        if self._serving is not None:
            await asyncio.shield(self._serving)

    async def _serve(self) -> None:
        """The adapter's life: the socket and the listener serve on their own tasks (Socket
        Mode reconnects by itself), so this waits for `stop()`."""
        await self._closed.wait()

    async def stop(self, grace: float) -> None:
        """Stop intake first (close the HTTP listener; in Socket Mode refuse new envelopes,
        which Slack then delivers again), give deliveries in hand up to `grace` seconds to be
        stored and acknowledged, then close the socket or the server and the HTTP session.

        Outbound operations keep working afterwards (a session per request), for handlers
        the core is still finishing."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace, 0.0)
        try:
            if self._site is not None:
                await self._site.stop()
            await _wait(self._in_hand | self._socket_requests, deadline - loop.time())
            if self._in_hand:
                log.warning("Slack: %d deliveries not stored after %.0f s; not acknowledged "
                            "(Slack delivers them again)", len(self._in_hand), grace)  # fmt: skip
                pending = list(self._in_hand)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await _wait(self._socket_requests, FINISH_SECONDS)
            await self._close_transport()
            # Requests already on the shared session (a handler replying) may finish;
            # later ones open a session of their own.
            self.client.session = None
            await self.client.in_flight.idle(max(deadline - loop.time(), FINISH_SECONDS))
        finally:
            await self._close_session()
            self._closed.set()

    async def close(self) -> None:
        """Nothing is left to disconnect after `stop()`: each later request opens and closes a
        session of its own."""
        await self.client.in_flight.idle(FINISH_SECONDS)

    async def _close_transport(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close_async()
        runner, self._runner, self._site = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        self.client.session = None  # later calls open a session of their own
        if session is not None:
            await session.close()

    async def _sign_in(self) -> None:
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error", exc.response.status_code)
            raise RuntimeError(f"Slack refused SLACK_BOT_TOKEN ({error})") from None
        self.bot_user = UserRef(PLATFORM, auth["user_id"], auth.get("user"), is_bot=True)
        log.info("Slack: signed in as %s (%s)", auth.get("user"), auth["user_id"])

    def health(self) -> str | None:
        """What is wrong with receiving events, or None."""
        return None if self._accepting else "not receiving events"


async def _wait(tasks: set[asyncio.Task], timeout: float) -> None:  # noqa: ASYNC109
    """Wait for `tasks` to end, at most `timeout` seconds."""
    if tasks and timeout > 0:
        await asyncio.wait(tasks, timeout=timeout)
