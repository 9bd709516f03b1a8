"""`SlackAdapter`: slack-bolt's `AsyncApp` over Socket Mode or signed HTTP for what comes in,
slack-sdk's Web API client for the `Platform` operations that go out.

Lifecycle (driven by `bot.cli.serve`): `start(intake)` signs in and connects or listens,
`ready()`, `wait_closed()`, `stop(grace)`. A delivery is acknowledged to Slack only after
`intake.submit(event, durable=True)` has returned, that is once its activity row is stored.

Buttons: a message sent with `actions` is drawn with Block Kit, each button's `value` being
the command it stands for. A click arrives as a `block_actions` payload (a form field
`payload` posted to `/slack/events`, or a Socket Mode `interactive` envelope) and is handed
to the core as that command typed by whoever pressed it, exactly like a slash command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.events import (
    convener_action,
    translate_action,
    translate_command,
    translate_event,
    translate_reply,
)
from adapters.slack.text import ACTION_PREFIX, PLATFORM, blocks, to_mrkdwn, user_from_mention
from bot.settings import Settings
from bot.types import (
    Action,
    ChannelRef,
    Event,
    OutboundFile,
    Sent,
    SlashCommand,
    ThreadMessage,
    UserRef,
)

if TYPE_CHECKING:
    from bot.platform import Intake

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENTS_PATH = "/slack/events"
LOOKUP_TTL_SECONDS = 3600.0
ACK_SECONDS = 2.5
"""How long a delivery may take to be stored before it is left unacknowledged (Slack waits
3 s, then retries)."""
NAMES_SECONDS = 1.0
"""How long the names of a delivery's sender and channel may take to look up (cache misses
only); past it the event goes on without them."""
MAX_IN_HAND = 1000
"""Deliveries being stored at once; past that, Slack is asked to deliver again later."""
CONNECT_SECONDS = 30.0
FINISH_SECONDS = 1.0
"""At stop, how long answers already decided may take to be written."""
THREAD_PAGE = 200
"""Replies asked for per `conversations.replies` request (Slack recommends at most 200; it
may return fewer)."""
MAX_THREAD_REPLIES = 1000
"""The most replies `thread` reads; a longer thread is cut there (with a warning)."""


def retry_handlers() -> list[AsyncRetryHandler]:
    """Dropped connections, HTTP 429 (after `Retry-After`) and 500/503 (with backoff and
    jitter) are retried by slack-sdk itself."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


class _InFlight:
    """Counts outbound requests in progress on the shared HTTP session, so that it is
    closed only once none of them uses it."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def __call__(self, session: object) -> AsyncIterator[None]:
        """Counts the block when `session` (the one the request will use) is the shared
        one; without one, the request opens and closes a session of its own."""
        if session is None:
            yield
            return
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if not self.count:
                self._idle.set()

    async def idle(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until no request is in progress; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class _WebClient(AsyncWebClient):
    """slack-sdk's client, counting its calls in progress (`in_flight`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = _InFlight()

    async def api_call(self, *args: Any, **kwargs: Any) -> Any:
        async with self.in_flight(self.session):
            return await super().api_call(*args, **kwargs)


def web_client(settings: Settings) -> _WebClient:
    """The Web API client, on `SLACK_API_URL` when set."""
    return _WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
        retry_handlers=retry_handlers(),
    )


def _not_token_unused(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and then warns that the client
    we pass (built from that same token) wins: true, and nothing to act on."""
    return "`token` will be unused" not in record.getMessage()


class _Lookups:
    """Answers looked up on Slack, remembered for a while (misses too, so a channel the bot
    may not read is not asked about on every message). Concurrent lookups of one key share
    one request; a failed request is not remembered."""

    def __init__(self, ttl: float = LOOKUP_TTL_SECONDS, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, asyncio.Future] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[str | None]]) -> str | None:
        hit = self._items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(fetch())
            pending.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(pending)

    def _settle(self, key: str, done: asyncio.Future) -> None:
        self._pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, done.result())


class SlackAdapter:
    """Slack for Convener. Socket Mode when `SLACK_APP_TOKEN` is set, else the Events API
    over HTTP at `/slack/events` on `CONVENER_HTTP_PORT` (with `SLACK_SIGNING_SECRET`).

    A delivery is acknowledged only once the core has stored it (`submit(durable=True)`);
    handling then runs in the core's bounded processor. A delivery that cannot be stored
    within `ack_seconds` is not acknowledged (HTTP 503, or no Socket Mode ack), so Slack
    delivers it again; the hand-over still goes on, and the core dedupes by event id, so
    Slack's retries and other replicas change nothing.
    """

    name = PLATFORM

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
        self._user_names = _Lookups()
        self._channel_names = _Lookups()
        self._dm_channels = _Lookups(ttl=24 * LOOKUP_TTL_SECONDS)
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

    async def _connect_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.bolt is not None
        handler = AsyncSocketModeHandler(self.bolt, app_token=self.settings.slack_app_token)
        # Every envelope passes through `_on_socket_request`, which can refuse it and
        # tracks it until it is acknowledged.
        handler.client.socket_mode_request_listeners[:] = [self._on_socket_request]
        self._socket = handler
        try:
            # The client would retry a refused token forever: ask for the first URL here.
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = exc.response.get("error", exc.response.status_code)
            raise RuntimeError(f"Slack refused SLACK_APP_TOKEN ({error})") from None
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                await handler.connect_async()
        except TimeoutError:
            raise RuntimeError(
                f"Slack: no Socket Mode connection within {CONNECT_SECONDS:.0f} s"
            ) from None
        log.info("Slack: connected over Socket Mode")

    async def _on_socket_request(self, client: Any, request: Any) -> None:
        """One Socket Mode envelope: refused while stopping (no ack, so Slack delivers it
        again), else dispatched through bolt, which acknowledges it when the listener says."""
        if not self._accepting or self._socket is None:
            return
        task = asyncio.current_task()
        if task is not None:
            self._socket_requests.add(task)
        try:
            if request.type == "interactive" and _not_convener_click(request.payload):
                await client.send_socket_mode_response(
                    SocketModeResponse(envelope_id=request.envelope_id)
                )
                return
            await self._socket.handle(client, request)
        except Exception as exc:  # not acknowledged: Slack delivers it again
            _unreadable(exc)
        finally:
            if task is not None:
                self._socket_requests.discard(task)

    async def _listen_http(self) -> None:
        server = web.Application()
        server.router.add_post(EVENTS_PATH, self._on_http)
        if self.routes:  # the core's /healthz and /metrics, on this same port
            server.add_routes(self.routes)
        else:
            server.router.add_get("/healthz", self._on_health)
        runner = web.AppRunner(server, access_log=None, shutdown_timeout=FINISH_SECONDS)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise RuntimeError(
                f"Slack: cannot listen on {self.host}:{self.settings.http_port} ({exc.strerror})"
            ) from exc
        self._site = site
        self.port = runner.addresses[0][1]
        log.info("Slack: events over HTTP on %s:%d%s", self.host, self.port, EVENTS_PATH)

    async def _on_http(self, request: web.Request) -> web.Response:
        """Slack's signature is checked here, on the exact bytes received: a missing,
        malformed or wrong signature, or a timestamp more than five minutes off, is a 401
        (with no traceback). Then bolt dispatches the request."""
        body = await request.read()
        if not self._signed(request, body):
            log.debug("Slack: rejected a request without a valid signature")
            return web.Response(status=401, text="invalid request signature")
        if not self._accepting or self.bolt is None:
            return web.Response(status=503, text="stopping")
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8", errors="replace"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except Exception as exc:  # signed, yet not shaped like anything Slack sends
            _unreadable(exc)
            if _is_interaction(body, request.content_type):
                # A click Slack would only show as failed: nothing to deliver again.
                return web.Response(status=200, text="")
            return web.Response(status=400, text="unreadable request")
        if _not_convener_click(bolt_request.body):
            return web.Response(status=200, text="")
        answer = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(answer)

    def _signed(self, request: web.Request, body: bytes) -> bool:
        """slack-sdk's check, which raises on a malformed timestamp, a body that is not
        UTF-8 or a non-ASCII signature: any of those is simply not signed."""
        verifier = SignatureVerifier(self.settings.slack_signing_secret)
        try:
            return verifier.is_valid(
                body,
                request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"),
            )
        except (ValueError, TypeError, OverflowError):
            return False

    def health(self) -> str | None:
        """What is wrong with receiving events, or None."""
        return None if self._accepting else "not receiving events"

    async def _on_health(self, request: web.Request) -> web.Response:
        if not self._accepting:
            return web.Response(status=503, text="stopping")
        return web.Response(text="ok")

    # Inbound ----------------------------------------------------------------------------

    def _bolt(self) -> AsyncApp:
        """`process_before_response`: bolt answers Slack (HTTP or Socket Mode) only after the
        listener returns, that is once the event is stored; a listener that returns a
        response other than 200 leaves the delivery unacknowledged. The signature is
        checked in `_on_http` (Socket Mode needs none)."""
        bolt_log = logging.getLogger("slack_bolt.AsyncApp")
        bolt_log.addFilter(_not_token_unused)
        try:
            bolt = AsyncApp(
                name="convener",
                client=self.client,
                signing_secret=self.settings.slack_signing_secret,
                request_verification_enabled=False,
                process_before_response=True,
            )
        finally:
            bolt_log.removeFilter(_not_token_unused)
        bolt.middleware(self._on_rate_limited)
        bolt.event(re.compile(".*"))(self._on_event)
        bolt.command(re.compile(".*"))(self._on_command)
        bolt.action(re.compile(f"^{re.escape(ACTION_PREFIX)}"))(self._on_action)
        bolt.error(self._on_error)
        return bolt

    async def _on_rate_limited(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Slack drops events while an app gets more than 30,000 an hour, and says so once
        a minute: log it, and acknowledge the notice."""
        if isinstance(body, dict) and body.get("type") == "app_rate_limited":
            log.warning(
                "Slack: dropping events sent to Convener (over 30,000 an hour; minute %s)",
                body.get("minute_rate_limited"),
            )
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def _on_error(self, error: Exception, body: Any) -> None:
        """A delivery bolt itself could not read: one line (no traceback); bolt answers 500,
        so Slack retries it."""
        event_id = body.get("event_id") if isinstance(body, dict) else None
        log.warning("Slack: could not process delivery %s: %s: %s", event_id,
                    type(error).__name__, str(error)[:200])  # fmt: skip

    async def _on_event(self, body: dict[str, Any]) -> BoltResponse | None:
        """An Events API event: stored, then acknowledged; one Convener does not act on
        is acknowledged at once."""
        event = translate_event(body, self.bot_user.id if self.bot_user else None)
        if event is None:
            inner = body.get("event") if isinstance(body, dict) else None
            inner = inner if isinstance(inner, dict) else {}
            log.debug("Slack: %r/%r %r not acted on", inner.get("type"), inner.get("subtype"),
                      body.get("event_id") if isinstance(body, dict) else None)  # fmt: skip
            return None
        return await self._deliver(event)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> BoltResponse | None:
        """A slash command: `ack()` once it is stored (within Slack's 3 s)."""
        event = translate_command(command, self.clock())
        if event is not None:
            refused = await self._deliver(event)
            if refused is not None:
                return refused
        await ack()
        return None

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse | None:
        """A click on one of Convener's buttons: the command it stands for, from whoever
        pressed it, handed over like a slash command (`ack()` once it is stored); a
        malformed click is acknowledged after one warning line."""
        event = translate_action(body, self.clock())
        if event is not None:
            refused = await self._deliver(event)
            if refused is not None:
                return refused
        await ack()
        return None

    async def _deliver(self, event: Event) -> BoltResponse | None:
        """Hand `event` to the core and wait until it is stored, at most `ack_seconds`.
        None means stored (acknowledge it); a 503 response means not acknowledged, so Slack
        delivers it again. The hand-over goes on past the deadline (until `stop`), so an
        event whose storing was only slow is not lost; its redelivery is a duplicate."""
        if not self._accepting:
            return _not_acknowledged()
        if len(self._in_hand) >= self.max_in_hand:
            log.warning("Slack: %d deliveries already in hand; %s not acknowledged",
                        len(self._in_hand), event.event_id)  # fmt: skip
            return _not_acknowledged()
        task = asyncio.get_running_loop().create_task(self._hand_over(event))
        self._in_hand.add(task)
        task.add_done_callback(self._in_hand.discard)
        done, _ = await asyncio.wait([task], timeout=self.ack_seconds)
        if done and not task.cancelled() and task.result():
            return None
        if not done:
            log.warning("Slack: %s not stored within %.1f s (is the database down?); not "
                        "acknowledged, Slack delivers it again", event.event_id,
                        self.ack_seconds)  # fmt: skip
        return _not_acknowledged()

    async def _hand_over(self, event: Event) -> bool:
        """Names looked up (briefly), then `submit(durable=True)`: True once stored."""
        assert self._intake is not None
        try:
            event = await self._with_names(event)
            await self._intake.submit(event, key=(PLATFORM, event.channel.id), durable=True)
        except Exception:
            log.exception("Slack: could not hand %s to Convener", event.event_id)
            return False
        return True

    async def _quick(self, lookup: Awaitable[T]) -> T | None:
        """A lookup's answer if it comes within `names_seconds`; the request itself goes on
        (and fills the cache) when it does not."""
        try:
            return await asyncio.wait_for(lookup, self.names_seconds)
        except Exception as exc:
            log.debug("Slack: lookup failed or slow (%s)", type(exc).__name__)
            return None

    async def _with_names(self, event: Event) -> Event:
        """The event with the person's and the channel's names from Slack (cached, or
        looked up for at most `names_seconds`); a slash command typed in someone else's
        direct chat (or one that cannot be checked in time) is answered ephemerally, not
        there."""
        user, channel = event.user, event.channel
        if user.is_bot:
            return event
        wants_channel = channel.name is None and not channel.is_direct
        checks_dm = isinstance(event, SlashCommand) and channel.is_direct
        user_name, channel_name, dm_id = await asyncio.gather(
            self._quick(self._user_name(user.id)),
            self._quick(self._channel_name(channel.id)) if wants_channel else _none(),
            self._quick(self._dm_channel_id(user)) if checks_dm else _none(),
        )
        user = replace(user, name=user_name or user.name)
        if wants_channel:
            channel = replace(channel, name=f"#{channel_name}" if channel_name else None)
        if checks_dm and dm_id != channel.id:
            channel = replace(channel, is_direct=False)
        return replace(event, user=user, channel=channel)

    async def _user_name(self, user_id: str) -> str | None:
        return await self._user_names.get(user_id, lambda: self._fetch_user_name(user_id))

    async def _fetch_user_name(self, user_id: str) -> str | None:
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except SlackApiError as exc:
            log.debug("Slack: users.info %s: %s", user_id, exc.response.get("error"))
            return None
        if not isinstance(user, dict):
            return None
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        names = (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                 user.get("name"))  # fmt: skip
        return next((name for name in names if isinstance(name, str) and name), None)

    async def _channel_name(self, channel_id: str) -> str | None:
        return await self._channel_names.get(
            channel_id, lambda: self._fetch_channel_name(channel_id)
        )

    async def _fetch_channel_name(self, channel_id: str) -> str | None:
        try:
            channel = (await self.client.conversations_info(channel=channel_id))["channel"]
        except SlackApiError as exc:
            log.debug("Slack: conversations.info %s: %s", channel_id, exc.response.get("error"))
            return None
        name = channel.get("name") if isinstance(channel, dict) else None
        return name if isinstance(name, str) and name else None

    async def _dm_channel_id(self, user: UserRef) -> str:
        channel_id = await self._dm_channels.get(user.id, lambda: self._open_dm(user.id))
        assert channel_id is not None
        return channel_id

    async def _open_dm(self, user_id: str) -> str:
        opened = await self.client.conversations_open(users=user_id)
        return opened["channel"]["id"]

    # Platform ---------------------------------------------------------------------------

    async def send(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        """Post to a channel (into a thread with `thread_id`); with `actions`, as Block Kit:
        the text in `section` blocks, then a button for each action whose `value` is its
        command. `text` stays the notification's fallback."""
        mrkdwn = to_mrkdwn(text)
        extra: dict[str, Any] = {}
        if actions:
            extra["blocks"] = blocks(mrkdwn, actions)
        posted = await self.client.chat_postMessage(
            channel=channel.id, text=mrkdwn, thread_ts=thread_id, **extra
        )
        sent = Sent(channel, posted["ts"], text, thread_id)
        if actions:
            sent.extra["actions"] = list(actions)
        return sent

    async def send_dm(self, user: UserRef, text: str, actions: Sequence[Action] = ()) -> Sent:
        channel = ChannelRef(PLATFORM, await self._dm_channel_id(user), None, is_direct=True)
        sent = await self.send(channel, text, actions=actions)
        sent.private_to = user
        return sent

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        """`chat.getPermalink`: a link that opens the message (in its thread if it is a
        reply); None if Slack refuses or cannot be reached."""
        try:
            answer = await self.client.chat_getPermalink(channel=channel.id, message_ts=message_id)
        except SlackApiError as exc:
            log.info("Slack: no permalink for %s in %s (%s)", message_id, channel.id,
                     exc.response.get("error"))  # fmt: skip
            return None
        except Exception as exc:  # the connection, a timeout, a response that is not JSON
            log.info("Slack: no permalink for %s in %s (%s: %s)", message_id, channel.id,
                     type(exc).__name__, str(exc)[:200])  # fmt: skip
            return None
        link = answer.get("permalink")
        return link if isinstance(link, str) and link else None

    async def thread(self, channel: ChannelRef, root_id: str) -> list[ThreadMessage]:
        """`conversations.replies`, page after page (`cursor`): the thread's replies as they
        stand now (Slack returns edited text and leaves deleted replies out), oldest first,
        without the root and without what is not a post; bots' messages have `is_bot`. At
        most `max_thread_replies` (a longer thread is cut, with a warning). People's names
        come from the cached lookup, for at most `names_seconds` (else None). Raises what
        the client raises (`SlackApiError`, a connection error) when Slack cannot be asked."""
        bot_id = self.bot_user.id if self.bot_user else None
        cap = max(self.max_thread_replies, 0)
        replies: dict[str, ThreadMessage] = {}
        cursor: str | None = None
        cursors: set[str] = set()
        cut = False
        for _ in range(cap + 1):  # a well-behaved page adds at least one reply
            page = await self.client.conversations_replies(
                channel=channel.id, ts=root_id, limit=self.thread_page, cursor=cursor
            )
            messages = page.get("messages")
            for message in messages if isinstance(messages, list) else ():
                reply = translate_reply(message, root_id, bot_id)
                if reply is not None:
                    replies.setdefault(reply.message_id, reply)  # a root repeated per page
            metadata = page.get("response_metadata")
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not isinstance(cursor, str) or not cursor or cursor in cursors:
                break
            cursors.add(cursor)
            if len(replies) >= cap:
                cut = True
                break
        ordered = sorted(replies.values(), key=lambda reply: (reply.ts, reply.message_id))
        if cut or len(ordered) > cap:
            log.warning("Slack: read only the first %d replies of thread %s in %s; the "
                        "rest were left out", cap, root_id, channel.id)  # fmt: skip
        return await self._with_reply_names(ordered[:cap])

    async def _with_reply_names(self, replies: list[ThreadMessage]) -> list[ThreadMessage]:
        """The replies with their authors' names: the bot's own from sign-in, people's from
        the cached lookup (each for at most `names_seconds`, all at once)."""
        wanted = sorted({r.user.id for r in replies if not r.user.is_bot and not r.user.name})
        found = await asyncio.gather(*(self._quick(self._user_name(uid)) for uid in wanted))
        names = dict(zip(wanted, found, strict=True))
        named = []
        for reply in replies:
            user = reply.user
            if self.bot_user is not None and user.id == self.bot_user.id:
                user = self.bot_user
            elif names.get(user.id):
                user = replace(user, name=names[user.id])
            named.append(replace(reply, user=user) if user is not reply.user else reply)
        return named

    async def send_private(
        self,
        user: UserRef,
        text: str,
        channel: ChannelRef | None = None,
        reply_token: str | None = None,
    ) -> Sent:
        """Ephemeral through the slash command's `response_url` when there is one, else
        `chat.postEphemeral`; in a direct chat a plain message. If Slack refuses (the bot
        is not in the channel, the URL expired), a direct message."""
        if channel is not None and reply_token and await self._respond(reply_token, text):
            return Sent(channel, "", text, private_to=user, extra={"ephemeral": True})
        if channel is not None and channel.is_direct:
            sent = await self.send(channel, text)
            sent.private_to = user
            return sent
        if channel is not None:
            try:
                posted = await self.client.chat_postEphemeral(
                    channel=channel.id, user=user.id, text=to_mrkdwn(text)
                )
                return Sent(
                    channel,
                    posted.get("message_ts", ""),
                    text,
                    private_to=user,
                    extra={"ephemeral": True},
                )
            except SlackApiError as exc:
                log.info(
                    "Slack: no ephemeral reply to %s in %s (%s); sending a direct message",
                    user.id,
                    channel.id,
                    exc.response.get("error"),
                )
        return await self.send_dm(user, text)

    async def _respond(self, response_url: str, text: str) -> bool:
        webhook = AsyncWebhookClient(
            response_url, session=self._session, retry_handlers=retry_handlers()
        )
        try:
            async with self.client.in_flight(webhook.session):
                answer = await webhook.send(text=to_mrkdwn(text), response_type="ephemeral")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("Slack: response_url failed (%s)", exc)
            return False
        if answer.status_code != 200:
            log.info("Slack: response_url answered %s %s", answer.status_code, answer.body[:100])
            return False
        return True

    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        """Upload into the member's direct chat (`files_upload_v2`: three requests)."""
        channel_id = await self._dm_channel_id(user)
        async with self.client.in_flight(self.client.session):  # the upload is no `api_call`
            uploaded = await self.client.files_upload_v2(
                channel=channel_id,
                content=file.data,
                filename=file.filename,
                title=file.title or file.filename,
                initial_comment=to_mrkdwn(text) if text else None,
            )
        file_id = (uploaded.get("file") or {}).get("id", "")
        channel = ChannelRef(PLATFORM, channel_id, None, is_direct=True)
        return Sent(channel, file_id, text, private_to=user, file=file)

    def user_from_mention(self, text: str) -> UserRef | None:
        return user_from_mention(text)

    async def display_name(self, user: UserRef) -> str:
        try:
            name = await self._user_name(user.id)
        except Exception:
            log.debug("Slack: no name for %s", user.id, exc_info=True)
            name = None
        return name or user.name or user.id


def _unreadable(error: Exception) -> None:
    log.warning("Slack: could not read a delivery (%s: %s)", type(error).__name__,
                str(error)[:200])  # fmt: skip


def _not_convener_click(payload: Any) -> bool:
    """Whether `payload` is a button click (`block_actions`) Convener cannot act on: no
    `actions`, or not a button it drew. One warning line; the click is then acknowledged
    without going through bolt (which cannot read a payload without actions) and Slack does
    not deliver it again."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return False
    if convener_action(payload) is not None:
        return False
    log.warning("Slack: ignored a block_actions payload without a Convener button "
                "(trigger %.100r)", payload.get("trigger_id"))  # fmt: skip
    return True


def _is_interaction(body: bytes, content_type: str) -> bool:
    """Whether a request body is an interaction (`payload=` in a form), not an event."""
    if content_type != "application/x-www-form-urlencoded":
        return False
    return any(
        name == "payload"
        for name, _ in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    )


def _not_acknowledged() -> BoltResponse:
    """What a listener returns to leave a delivery unacknowledged: HTTP 503 (Slack retries
    it); in Socket Mode bolt sends no ack for anything but 200."""
    return BoltResponse(status=503, body="")


async def _none() -> None:
    return None


async def _wait(tasks: set[asyncio.Task], timeout: float) -> None:  # noqa: ASYNC109
    """Wait for `tasks` to end, at most `timeout` seconds."""
    if tasks and timeout > 0:
        await asyncio.wait(tasks, timeout=timeout)
