"""What comes in to `SlackAdapter`: the Socket Mode connection and the HTTP listener (with
Slack's signature checked on the exact bytes received), bolt's listeners, and the hand-over
of each delivery to the core, acknowledged only once it is stored. A mixin of
`SlackAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack.events import (
    convener_action,
    translate_action,
    translate_command,
    translate_event,
)
from adapters.slack.forms import CALLBACK_PREFIX, FormsMixin
from adapters.slack.shortcuts import translate_shortcut
from adapters.slack.text import ACTION_PREFIX, PLATFORM
from adapters.slack.web import log
from bot.types import Event

EVENTS_PATH = "/slack/events"
ACK_SECONDS = 2.5
"""How long a delivery may take to be stored before it is left unacknowledged (Slack waits
3 s, then retries)."""
MAX_IN_HAND = 1000
"""Deliveries being stored at once; past that, Slack is asked to deliver again later."""
CONNECT_SECONDS = 30.0
FINISH_SECONDS = 1.0
"""At stop, how long answers already decided may take to be written."""


class IntakeMixin(FormsMixin):
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

    async def _on_health(self, request: web.Request) -> web.Response:
        if not self._accepting:
            return web.Response(status=503, text="stopping")
        return web.Response(text="ok")

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
        bolt.message_shortcut(re.compile(".*"))(self._on_shortcut)
        bolt.view_submission(re.compile(f"^{re.escape(CALLBACK_PREFIX)}"))(self._on_view)
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
        """A slash command: `ack()` once it is stored (within Slack's 3 s), or once the
        modal it opens is open (`FormsMixin`)."""
        event = translate_command(command, self.clock())
        return await self._answer(ack, event, command.get("trigger_id"))

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse | None:
        """A click on one of Convener's buttons: the command it stands for, from whoever
        pressed it, handed over like a slash command (`ack()` once it is stored); a
        malformed click is acknowledged after one warning line. A button that opens a form
        opens it (`FormsMixin`)."""
        event = translate_action(body, self.clock())
        return await self._answer(ack, event, body.get("trigger_id"))

    async def _on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse | None:
        """A message shortcut (`message_action`): the `Shortcut` it stands for, from whoever
        chose it, handed over like a slash command (`ack()` once it is stored); a malformed
        one is acknowledged after one warning line."""
        bot_id = self.bot_user.id if self.bot_user else None
        return await self._answer(ack, translate_shortcut(body, self.clock(), bot_id))

    async def _answer(
        self, ack: AsyncAck, event: Event | None, trigger: Any = None
    ) -> BoltResponse | None:
        """Open the form `event` stands for (with its `trigger`), else hand `event` over,
        then `ack()`; a refused hand-over is left unacknowledged, so Slack delivers it again.
        None (a malformed delivery, already logged) is only acknowledged."""
        if event is not None and trigger is not None and await self._open_form(event, trigger):
            await ack()
            return None
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


def _not_token_unused(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and then warns that the client
    we pass (built from that same token) wins: true, and nothing to act on."""
    return "`token` will be unused" not in record.getMessage()


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
