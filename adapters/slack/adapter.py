"""`SlackAdapter`: slack-bolt's `AsyncApp` over Socket Mode or signed HTTP for what comes in,
slack-sdk's Web API client for the `Platform` operations that go out."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.events import translate_command, translate_event
from adapters.slack.text import PLATFORM, to_mrkdwn, user_from_mention
from bot.settings import Settings
from bot.types import ChannelRef, Event, OutboundFile, Sent, SlashCommand, UserRef

if TYPE_CHECKING:
    from bot.app import Convener

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
CLOSE_GRACE_SECONDS = 10.0
LOOKUP_TTL_SECONDS = 3600.0


def retry_handlers() -> list[AsyncRetryHandler]:
    """Dropped connections, HTTP 429 (after `Retry-After`) and 500/503 (with backoff and
    jitter) are retried by slack-sdk itself."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, on `SLACK_API_URL` when set."""
    return AsyncWebClient(
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

    Every delivery is acknowledged at once and handled in a task of its own; the core
    dedupes by event id, so Slack's retries and other replicas change nothing.
    """

    name = PLATFORM

    def __init__(self, settings: Settings, *, host: str = "0.0.0.0") -> None:
        self.settings = settings
        self.host = host
        self.port: int | None = None
        self.bot_user: UserRef | None = None
        self.client = web_client(settings)
        self.bolt: AsyncApp | None = None
        self._app: Convener | None = None
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task] = set()
        self._user_names = _Lookups()
        self._channel_names = _Lookups()
        self._dm_channels = _Lookups(ttl=24 * LOOKUP_TTL_SECONDS)
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._served = asyncio.Event()
        self._running = False

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

    # Running ----------------------------------------------------------------------------

    async def run(self, app: Convener) -> None:
        """Receive Slack's events until `close()` or cancellation; raises if it cannot start
        (no bot token, no app token or signing secret, a token Slack refuses, a port in use)."""
        if not self.settings.slack_bot_token:
            raise RuntimeError("Slack needs SLACK_BOT_TOKEN (xoxb-...)")
        if self.mode is None:
            raise RuntimeError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)"
            )
        self._app = app
        self.bolt = self._bolt()
        self._running = True
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession()
                self.client.session = self._session
            await self._sign_in()
            if self.mode == "socket":
                await self._serve_socket_mode()
            else:
                await self._serve_http()
        finally:
            self._served.set()

    async def wait_ready(self) -> None:
        """Until events can arrive (the socket is connected or the port listens)."""
        await self._ready.wait()

    async def _sign_in(self) -> None:
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error", exc.response.status_code)
            raise RuntimeError(f"Slack refused SLACK_BOT_TOKEN ({error})") from None
        self.bot_user = UserRef(PLATFORM, auth["user_id"], auth.get("user"), is_bot=True)
        log.info("Slack: signed in as %s (%s)", auth.get("user"), auth["user_id"])

    async def _serve_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.bolt is not None
        handler = AsyncSocketModeHandler(self.bolt, app_token=self.settings.slack_app_token)
        try:
            await handler.connect_async()
            log.info("Slack: connected over Socket Mode")
            self._ready.set()
            await self._stop.wait()
        finally:
            await handler.close_async()

    async def _serve_http(self) -> None:
        server = web.Application()
        server.router.add_post(EVENTS_PATH, self._on_http)
        server.router.add_get("/healthz", self._on_health)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.settings.http_port).start()
            self.port = runner.addresses[0][1]
            log.info("Slack: events over HTTP on %s:%d%s", self.host, self.port, EVENTS_PATH)
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    async def _on_http(self, request: web.Request) -> web.Response:
        """Bolt checks the signature and the timestamp (401 when either is wrong)."""
        assert self.bolt is not None
        answer = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(answer)

    async def _on_health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every event received so far has been handled; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._inflight:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._inflight), timeout=left)
        return True

    async def close(self) -> None:
        """Stop receiving, let events in hand finish (a few seconds at most), disconnect."""
        self._stop.set()
        if self._running:
            await self._served.wait()
        if not await self.drain(CLOSE_GRACE_SECONDS):
            log.warning("Slack: %d events still in hand at shutdown", len(self._inflight))
        if self._session is not None:
            await self._session.close()
            self._session = self.client.session = None

    # Inbound ----------------------------------------------------------------------------

    def _bolt(self) -> AsyncApp:
        """Listeners only translate and hand over, so bolt answers Slack at once;
        `process_before_response` makes that hand-over happen before the answer."""
        bolt_log = logging.getLogger("slack_bolt.AsyncApp")
        bolt_log.addFilter(_not_token_unused)
        try:
            bolt = AsyncApp(
                name="convener",
                client=self.client,
                signing_secret=self.settings.slack_signing_secret,
                process_before_response=True,
            )
        finally:
            bolt_log.removeFilter(_not_token_unused)
        bolt.middleware(self._on_rate_limited)
        bolt.event(re.compile(".*"))(self._on_event)
        bolt.command(re.compile(".*"))(self._on_command)
        return bolt

    async def _on_rate_limited(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Slack drops events while an app gets more than 30,000 an hour, and says so once
        a minute: log it, and acknowledge the notice."""
        if body.get("type") == "app_rate_limited":
            log.warning(
                "Slack: dropping events sent to Convener (over 30,000 an hour; minute %s)",
                body.get("minute_rate_limited"),
            )
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def _on_event(self, body: dict[str, Any]) -> None:
        event = translate_event(body, self.bot_user.id if self.bot_user else None)
        if event is None:
            kind = (body.get("event") or {}).get("type")
            subtype = (body.get("event") or {}).get("subtype")
            log.debug("Slack: %s/%s %s not acted on", kind, subtype, body.get("event_id"))
            return
        self._hand_over(event)

    async def _on_command(self, ack, command: dict[str, Any]) -> None:
        await ack()
        now = self._app.clock() if self._app else datetime.now(UTC)
        event = translate_command(command, now)
        if event is not None:
            self._hand_over(event)

    def _hand_over(self, event: Event) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(event))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _deliver(self, event: Event) -> None:
        assert self._app is not None
        try:
            event = await self._with_names(event)
        except Exception:
            log.warning("Slack: could not look up names for %s", event.event_id, exc_info=True)
        await self._app.handle(event)

    async def _with_names(self, event: Event) -> Event:
        """The event with the person's and the channel's names from Slack (cached); a slash
        command typed in someone else's direct chat is answered ephemerally, not there."""
        user, channel = event.user, event.channel
        if user.is_bot:
            return event
        user = replace(user, name=await self._user_name(user.id) or user.name)
        if channel.name is None and not channel.is_direct:
            name = await self._channel_name(channel.id)
            channel = replace(channel, name=f"#{name}" if name else None)
        if isinstance(event, SlashCommand) and channel.is_direct:
            if await self._dm_channel_id(user) != channel.id:
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
        profile = user.get("profile") or {}
        return (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or None
        )

    async def _channel_name(self, channel_id: str) -> str | None:
        return await self._channel_names.get(
            channel_id, lambda: self._fetch_channel_name(channel_id)
        )

    async def _fetch_channel_name(self, channel_id: str) -> str | None:
        try:
            return (await self.client.conversations_info(channel=channel_id))["channel"].get("name")
        except SlackApiError as exc:
            log.debug("Slack: conversations.info %s: %s", channel_id, exc.response.get("error"))
            return None

    async def _dm_channel_id(self, user: UserRef) -> str:
        channel_id = await self._dm_channels.get(user.id, lambda: self._open_dm(user.id))
        assert channel_id is not None
        return channel_id

    async def _open_dm(self, user_id: str) -> str:
        opened = await self.client.conversations_open(users=user_id)
        return opened["channel"]["id"]

    # Platform ---------------------------------------------------------------------------

    async def send(self, channel: ChannelRef, text: str, thread_id: str | None = None) -> Sent:
        posted = await self.client.chat_postMessage(
            channel=channel.id, text=to_mrkdwn(text), thread_ts=thread_id
        )
        return Sent(channel, posted["ts"], text, thread_id)

    async def send_dm(self, user: UserRef, text: str) -> Sent:
        channel = ChannelRef(PLATFORM, await self._dm_channel_id(user), None, is_direct=True)
        sent = await self.send(channel, text)
        sent.private_to = user
        return sent

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
