"""Local fakes that play Slack for tests: the Web API, Socket Mode, and signed HTTP deliveries.

There is no maintained local emulator of Slack, so tests run against these small aiohttp
servers, which answer with Slack's documented shapes (templates are the real payloads in
``tests/fixtures/slack``), record every request and can inject rate limits and errors.

Typical use::

    async with FakeSocketModeServer() as sm, FakeSlackWebAPI(socket_mode=sm) as slack:
        client = AsyncWebClient(base_url=slack.base_url, token="xoxb-test")
        ...
        await sm.send_envelope(events_api_envelope(load_event("app_mention.bolt-python")))

A button click is ``load_block_actions(...)``: over HTTP post ``encode_payload(click)`` as a
form, over Socket Mode send ``interactive_envelope(click)``.

Conventions (all as Slack does them):

* API errors are HTTP 200 with ``{"ok": false, "error": ...}``; only injected faults
  (``fail_next``) answer 429/5xx.
* Bot methods accept any non-empty token except app-level ``xapp-`` tokens
  (``not_allowed_token_type``); ``apps.connections.open`` requires an ``xapp-`` token.
  Pass ``bot_token=`` to accept only that one token (others get ``invalid_auth``).
* The raw file upload and ``response_url`` posts are recorded as calls too, under the
  pseudo-method names ``UPLOAD_URL`` (``"upload_url"``) and ``RESPONSE_URL``
  (``"response_url"``); Slack method names always contain a dot, so they cannot clash.
* The fake knows the bot's own posts (``messages``) and what a test says people posted
  (``add_message``, ``add_reply``, ``edit_message``, ``delete_message``);
  ``conversations.replies`` answers from both.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import email.parser
import email.policy
import functools
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

__all__ = [
    "DELETE",
    "RESPONSE_URL",
    "UPLOAD_URL",
    "Call",
    "FakeSlackWebAPI",
    "FakeSocketModeServer",
    "encode_form",
    "encode_payload",
    "events_api_envelope",
    "interactive_envelope",
    "load_block_actions",
    "load_event",
    "load_home_click",
    "load_payload",
    "load_slash_command",
    "load_view_submission",
    "new_event_id",
    "payloads_dir",
    "post_signed",
    "sign_request",
    "slash_command_envelope",
]

UPLOAD_URL = "upload_url"
"""Pseudo-method name under which raw POSTs to an ``upload_url`` are recorded."""
RESPONSE_URL = "response_url"
"""Pseudo-method name under which posts to a ``response_url`` are recorded."""


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Any = _Delete()
"""Pass as an override value to ``load_event`` to remove that key."""
KEEP: Any = object()
"""In ``load_view_submission``: a block sent as the modal was opened."""

_counter = itertools.count(1)


# --------------------------------------------------------------------------------------
# Payload files
# --------------------------------------------------------------------------------------


def payloads_dir() -> Path:
    """The Slack payload fixtures, kept in the repository beside the tests."""
    return Path(__file__).resolve().parent / "fixtures" / "slack"


@functools.cache
def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_payload(relative: str) -> Any:
    """A fresh copy of a JSON file under ``payloads_dir()`` (e.g. ``"events/x.json"``)."""
    return json.loads(_read_text(str(payloads_dir() / relative)))


def _web_api_example(method: str, index: int = 0) -> dict[str, Any]:
    return load_payload(f"web_api_responses/{method}.docs.json")[index]


def new_event_id() -> str:
    """A fresh id shaped like Slack's (``Ev`` + 10 upper-case alphanumerics), unique per process."""
    return "Ev" + uuid.uuid4().hex[:10].upper()


def _apply_overrides(target: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value


def load_event(name: str, *, wrapper: dict[str, Any] | None = None, **overrides: Any) -> dict:
    """Load ``events/<name>.json`` as an Events API body with fresh ``event_id``/``event_time``.

    ``overrides`` replace fields of the inner ``event`` dict (``DELETE`` removes one);
    ``wrapper`` replaces fields of the outer body (``team_id``, ``authorizations``...).
    Bodies without an inner ``event`` (``url_verification``, ``app_rate_limited``) get the
    overrides on the top level and no ``event_id``.
    """
    if name.endswith(".json"):
        name = name[: -len(".json")]
    body = load_payload(f"events/{name}.json")
    inner = body.get("event")
    if isinstance(inner, dict):
        body["event_id"] = new_event_id()
        body["event_time"] = int(time.time())
        _apply_overrides(inner, overrides)
    else:
        _apply_overrides(body, overrides)
    if wrapper:
        _apply_overrides(body, wrapper)
    return body


def load_slash_command(
    text: str,
    command: str = "/convener",
    user_id: str = "W111",
    channel_id: str = "C111",
    response_url: str | None = None,
    **fields: str,
) -> dict[str, str]:
    """The real slash-command form body (bolt-python fixture) as a dict, with fields replaced.

    ``response_url`` keeps the fixture's hooks.slack.com URL unless given: point it at
    ``FakeSlackWebAPI.response_url()`` in tests. ``trigger_id`` is fresh on every call.
    """
    raw = _read_text(str(payloads_dir() / "http" / "slash_command.bolt-python.form.txt"))
    form = dict(parse_qsl(raw.strip(), keep_blank_values=True))
    form.update(text=text, command=command, user_id=user_id, channel_id=channel_id)
    if response_url is not None:
        form["response_url"] = response_url
    form["trigger_id"] = f"{int(time.time())}.{next(_counter)}.{uuid.uuid4().hex[:12]}"
    form.update(fields)
    return form


def encode_form(form: dict[str, Any]) -> bytes:
    """Form-encode a dict as Slack sends slash commands (``application/x-www-form-urlencoded``)."""
    return urlencode(form).encode("utf-8")


def load_block_actions(
    value: str,
    action_id: str = "convener:0",
    *,
    source: str = "docs",
    user_id: str = "W111",
    channel_id: str = "C111",
    message_ts: str | None = None,
    response_url: str | None = None,
    label: str | None = None,
    **fields: Any,
) -> dict:
    """A real ``block_actions`` payload (``interactive/block_actions.<source>.json``) for a
    click on the button ``action_id`` whose ``value`` is ``value``, by ``user_id`` in
    ``channel_id``. ``trigger_id`` and ``action_ts`` are fresh on every call; ``response_url``
    keeps the fixture's hooks.slack.com URL unless given (point it at
    ``FakeSlackWebAPI.response_url()``); ``fields`` replace top-level keys (``DELETE``
    removes one)."""
    payload = load_payload(f"interactive/block_actions.{source}.json")
    now = time.time()
    payload["trigger_id"] = f"{int(now)}.{next(_counter)}.{uuid.uuid4().hex[:12]}"
    payload["user"]["id"] = user_id
    payload["channel"]["id"] = channel_id
    payload["container"]["channel_id"] = channel_id
    if message_ts is not None:
        payload["container"]["message_ts"] = message_ts
        if isinstance(payload.get("message"), dict):
            payload["message"]["ts"] = message_ts
    if response_url is not None:
        payload["response_url"] = response_url
    action = payload["actions"][0]
    action.update(action_id=action_id, value=value, action_ts=f"{now:.6f}")
    if label is not None:
        action["text"]["text"] = label
    _apply_overrides(payload, fields)
    return payload


def load_home_click(value: str, action_id: str = "convener:0", *, user_id: str = "W111") -> dict:
    """A click on a Home tab button (``interactive/block_actions_home.docs-composed.json``:
    ``container.type`` view, no channel, no ``response_url``) on the button ``action_id``
    whose ``value`` is ``value``, by ``user_id``; ``trigger_id`` and ``action_ts`` fresh."""
    payload = load_payload("interactive/block_actions_home.docs-composed.json")
    now = time.time()
    payload["trigger_id"] = f"{int(now)}.{next(_counter)}.{uuid.uuid4().hex[:12]}"
    payload["user"]["id"] = user_id
    payload["actions"][0].update(action_id=action_id, value=value, action_ts=f"{now:.6f}")
    return payload


def _state_value(element: dict, given: Any) -> dict:
    """One element's entry in ``view.state.values``, shaped as Slack reports each type
    (slack-sdk ``slack_sdk.models.views.ViewStateValue``): ``given`` is text, an option's
    value, or a list of them; ``KEEP`` sends what the element was opened with."""
    kind = element.get("type")
    if kind == "static_select":
        options = element.get("options") or [
            option for group in element.get("option_groups", []) for option in group["options"]
        ]
        if given is KEEP:
            return {"type": kind, "selected_option": element.get("initial_option")}
        chosen = next((o for o in options if o["value"] == given), None)
        if chosen is None and given is not None:  # forged: a value the modal never offered
            chosen = {"text": {"type": "plain_text", "text": str(given)}, "value": given}
        return {"type": kind, "selected_option": chosen}
    if kind == "multi_static_select":
        if given is KEEP:
            return {"type": kind, "selected_options": list(element.get("initial_options", []))}
        labels = {o["value"]: o for o in element.get("options", [])}
        chosen = [labels.get(v) or {"text": {"type": "plain_text", "text": v}, "value": v}
                  for v in given or []]  # fmt: skip
        return {"type": kind, "selected_options": chosen}
    field = {"datepicker": ("selected_date", "initial_date"),
             "timepicker": ("selected_time", "initial_time")}.get(
        kind, ("value", "initial_value"))  # fmt: skip
    return {"type": kind, field[0]: element.get(field[1]) if given is KEEP else given}


def load_view_submission(view: dict, values: dict[str, Any], *, user_id: str = "W111") -> dict:
    """The real ``view_submission`` payload (``interactive/view_submission.bolt-python.json``)
    for ``view`` (a modal as ``views.open`` answered it) submitted by ``user_id``:
    ``view.state.values`` holds every input block, by ``block_id`` then ``action_id``, each
    as given in ``values`` by block id (``None``: left empty) or, when not given, as it was
    opened. ``trigger_id`` is fresh."""
    payload = load_payload("interactive/view_submission.bolt-python.json")
    payload["trigger_id"] = f"{int(time.time())}.{next(_counter)}.{uuid.uuid4().hex[:12]}"
    payload["user"].update(id=user_id)
    state: dict[str, dict] = {}
    for block in view.get("blocks", []):
        element = block.get("element") if block.get("type") == "input" else None
        if element is not None:
            given = values.get(block["block_id"], KEEP)
            state[block["block_id"]] = {element["action_id"]: _state_value(element, given)}
    payload["view"] = {**payload["view"], **view, "state": {"values": state}}
    return payload


def encode_payload(payload: Any) -> bytes:
    """An interaction as Slack posts it: the form field ``payload`` holding the JSON (a
    string is sent as it is, to send one that is not JSON)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": data}).encode("utf-8")


# --------------------------------------------------------------------------------------
# Request signing
# --------------------------------------------------------------------------------------


def sign_request(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signing headers: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    base = b"v0:" + ts.encode("ascii") + b":" + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


async def post_signed(
    url: str,
    body: bytes | str,
    content_type: str,
    secret: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10,  # noqa: ASYNC109
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, str]:
    """POST ``body`` signed with ``secret`` the way Slack delivers events and commands.

    ``retry_num``/``retry_reason`` add ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``;
    ``headers`` replace any header, the signing ones too. Pass ``session`` to send many
    deliveries over one connection pool. Returns ``(status, text)``.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    all_headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    all_headers.update(sign_request(secret, body, timestamp))
    if retry_num is not None:
        all_headers["X-Slack-Retry-Num"] = str(retry_num)
    if retry_reason is not None:
        all_headers["X-Slack-Retry-Reason"] = retry_reason
    if headers:
        all_headers.update(headers)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    if session is not None:
        async with session.post(
            url, data=body, headers=all_headers, timeout=client_timeout
        ) as resp:
            return resp.status, await resp.text()
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as own,
        own.post(url, data=body, headers=all_headers) as resp,
    ):
        return resp.status, await resp.text()


# --------------------------------------------------------------------------------------
# Shared bits
# --------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request received by a fake server."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    http_verb: str = "POST"
    path: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, looked up case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    @property
    def token(self) -> str | None:
        """The token sent (``Authorization: Bearer`` or a ``token`` parameter)."""
        auth = self.header("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        token = self.params.get("token")
        return token if isinstance(token, str) and token else None

    def json(self) -> Any:
        return json.loads(self.body)


class _Changes:
    """Wake waiters whenever recorded state changes."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()

    async def notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float,  # noqa: ASYNC109
        what: str,
    ) -> Any:
        try:
            async with asyncio.timeout(timeout), self._cond:
                return await self._cond.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}") from None


def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str | None, str | None, bytes]]:
    """(field name, filename, bytes) of each part of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        parts.append((name, filename, payload))
    return parts


async def _read_call(request: web.Request, method: str) -> Call:
    body = await request.read()
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if body:
        if ctype == "application/json":
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                params.update(parsed)
        elif ctype == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        elif ctype.startswith("multipart/"):
            for name, filename, data in _parse_multipart(request.headers["Content-Type"], body):
                if name is None:
                    continue
                if filename is None:
                    params[name] = data.decode("utf-8", errors="replace")
                else:
                    params[name] = data
    return Call(
        method=method,
        params=params,
        headers=dict(request.headers),
        body=body,
        http_verb=request.method,
        path=request.path_qs,
    )


async def _start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]


# --------------------------------------------------------------------------------------
# Socket Mode
# --------------------------------------------------------------------------------------


def events_api_envelope(
    event_body: dict,
    retry_attempt: int = 0,
    retry_reason: str = "",
    *,
    envelope_id: str | None = None,
) -> dict:
    """A Socket Mode ``events_api`` frame carrying ``event_body`` (shape of the real frame)."""
    env = load_payload("socket_mode/envelope_events_api_app_mention.python-slack-sdk.json")
    env["envelope_id"] = envelope_id or str(uuid.uuid4())
    env["payload"] = event_body
    env["accepts_response_payload"] = False
    env["retry_attempt"] = retry_attempt
    env["retry_reason"] = retry_reason
    return env


def slash_command_envelope(form: dict, *, envelope_id: str | None = None) -> dict:
    """A Socket Mode ``slash_commands`` frame whose payload is the command's form fields."""
    env = load_payload("socket_mode/envelope_slash_commands.bolt-python.json")
    env["envelope_id"] = envelope_id or str(uuid.uuid4())
    env["payload"] = dict(form)
    env["accepts_response_payload"] = True
    return env


def interactive_envelope(payload: dict, *, envelope_id: str | None = None) -> dict:
    """A Socket Mode ``interactive`` frame (shortcuts, block actions, view submissions)."""
    env = load_payload("socket_mode/envelope_interactive_shortcut.bolt-python.json")
    env["envelope_id"] = envelope_id or str(uuid.uuid4())
    env["payload"] = payload
    return env


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    number: int
    ticket: str | None


class FakeSocketModeServer:
    """A WebSocket server playing Slack's Socket Mode on 127.0.0.1.

    Each connection gets the ``hello`` frame; frames the client sends are recorded in
    ``received`` and, when they carry an ``envelope_id``, in ``acks``.
    """

    events_api_envelope = staticmethod(events_api_envelope)
    slash_command_envelope = staticmethod(slash_command_envelope)
    interactive_envelope = staticmethod(interactive_envelope)

    def __init__(
        self,
        *,
        app_id: str = "A111",
        host: str = "127.0.0.1",
        port: int = 0,
        send_hello: bool = True,
    ) -> None:
        self.app_id = app_id
        self.host = host
        self.port = port
        self.send_hello = send_hello
        self.connections_count = 0
        self.tickets_issued: list[str] = []
        self.received: list[dict] = []
        self.acks: dict[str, dict] = {}
        self.sent: list[dict] = []
        self._conns: list[_Conn] = []
        self._changes = _Changes()
        self._runner: web.AppRunner | None = None
        self._app = web.Application()
        self._app.router.add_get("/link/", self._handle_ws)

    # lifecycle --------------------------------------------------------------

    async def start(self) -> FakeSocketModeServer:
        self._runner, self.port = await _start_site(self._app, self.host, self.port)
        return self

    async def stop(self) -> None:
        for conn in list(self._conns):
            await conn.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSocketModeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # addresses --------------------------------------------------------------

    def url(self, ticket: str | None = None) -> str:
        """A fresh WebSocket URL, shaped like Slack's (``.../link/?ticket=...&app_id=...``)."""
        ticket = ticket or uuid.uuid4().hex
        self.tickets_issued.append(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def active_connections(self) -> int:
        return len(self._conns)

    # frames -----------------------------------------------------------------

    def _hello(self) -> dict:
        frame = load_payload("socket_mode/hello.python-slack-sdk.json")
        frame["num_connections"] = len(self._conns)
        frame["connection_info"]["app_id"] = self.app_id
        return frame

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections_count += 1
        conn = _Conn(ws=ws, number=self.connections_count, ticket=request.query.get("ticket"))
        self._conns.append(conn)
        await self._changes.notify()
        try:
            if self.send_hello:
                await ws.send_json(self._hello())
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = {"raw": msg.data}
                self.received.append(data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                await self._changes.notify()
        finally:
            if conn in self._conns:
                self._conns.remove(conn)
            await self._changes.notify()
        return ws

    async def wait_for_connections(self, count: int = 1, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until ``count`` connections have been accepted in total."""
        await self._changes.wait_for(
            lambda: self.connections_count >= count, timeout, f"{count} Socket Mode connection(s)"
        )

    async def _newest(self, timeout: float) -> _Conn:  # noqa: ASYNC109
        await self._changes.wait_for(
            lambda: any(not c.ws.closed for c in self._conns), timeout, "a connected client"
        )
        return [c for c in self._conns if not c.ws.closed][-1]

    async def send_frame(
        self,
        frame: dict | str,
        *,
        broadcast: bool = False,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> None:
        """Send any frame (dict as JSON) to the newest connection, or to all of them."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        if broadcast:
            await self._newest(timeout)
            targets = [c for c in self._conns if not c.ws.closed]
        else:
            targets = [await self._newest(timeout)]
        for conn in targets:
            await conn.ws.send_str(text)
        if isinstance(frame, dict):
            self.sent.append(frame)

    async def send_envelope(self, envelope: dict, *, timeout: float = 5) -> str:  # noqa: ASYNC109
        """Push an envelope to the newest connected client (waiting for one); returns its id.

        Slack delivers each envelope over one of the app's connections; after a
        reconnect the newest one is the live one.
        """
        await self.send_frame(envelope, timeout=timeout)
        return envelope["envelope_id"]

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5) -> dict:  # noqa: ASYNC109
        """The acknowledgement the client sent: ``{"envelope_id": ..., "payload": ...?}``."""
        return await self._changes.wait_for(
            lambda: self.acks.get(envelope_id), timeout, f"the ack of envelope {envelope_id}"
        )

    async def disconnect(self, reason: str = "refresh_requested", *, close: bool = False) -> None:
        """Send a ``disconnect`` frame to every client; ``close=True`` then drops the sockets."""
        frame = load_payload("socket_mode/disconnect_too_many_websockets.python-slack-sdk.json")
        frame["reason"] = reason
        frame["num_connections"] = len(self._conns)
        frame["connection_info"]["app_id"] = self.app_id
        await self.send_frame(frame, broadcast=True)
        if close:
            await self.close_connections()

    async def close_connections(self, code: int = aiohttp.WSCloseCode.GOING_AWAY) -> None:
        """Close every socket from the server side without a ``disconnect`` frame first."""
        for conn in list(self._conns):
            await conn.ws.close(code=code)


# --------------------------------------------------------------------------------------
# Web API
# --------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    times: int


@dataclass
class _ScriptedError:
    error: str
    times: int
    extra: dict[str, Any] = field(default_factory=dict)


_FAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


def _fits(element: dict) -> bool:
    """A select's options within Block Kit's limits, its initial ones among them."""
    groups = element.get("option_groups")
    if groups is not None and not 0 < len(groups) <= 100:
        return False
    lists = [g.get("options", []) for g in groups] if groups else [element.get("options")]
    if element.get("type") not in ("static_select", "multi_static_select"):
        return True
    if not all(isinstance(o, list) and 0 < len(o) <= 100 for o in lists):
        return False
    options = [option for found in lists for option in found]
    if not all(0 < len(o["text"]["text"]) <= 75 for o in options):
        return False
    initial = [*element.get("initial_options", []), element.get("initial_option") or options[0]]
    return all(option in options for option in initial)


def _as_list(value: Any) -> list:
    """Slack list parameters arrive as JSON (list) or as a JSON string in form/query params."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


def _ts_key(ts: str) -> tuple[int, int]:
    """A Slack ``ts`` (``"1482960137.003543"``) in time order."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int(fraction or 0)


def _cursor_of(ts: str) -> str:
    """What a ``conversations.replies`` cursor stands for: ``next_ts:`` and the ts of the
    page's first reply without the dot (the documented example's cursor decodes so)."""
    return "next_ts:" + ts.replace(".", "")


class _Limit:
    """A token bucket across the workspace and, optionally, spacing per channel."""

    def __init__(self, per_second: float, burst: int, per_channel_seconds: float) -> None:
        self.per_second, self.burst = per_second, burst
        self.per_channel_seconds = per_channel_seconds
        self.tokens, self.at = float(burst), time.monotonic()
        self.channel_at: dict[str, float] = {}

    def refuse(self, channel: str | None) -> float:
        """0 if the call may go now (and it is counted), else the seconds to wait."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return (1 - self.tokens) / self.per_second
        if channel and self.per_channel_seconds:
            last = self.channel_at.get(channel)
            if last is not None and now - last < self.per_channel_seconds:
                return self.per_channel_seconds - (now - last)
            self.channel_at[channel] = now
        self.tokens -= 1
        return 0.0


class FakeSlackWebAPI:
    """A local HTTP server playing Slack's Web API (``base_url`` ends in ``/api/``).

    Every request is recorded in ``calls``; built-in answers follow Slack's documented
    shapes. Users and channels are configurable; unknown methods answer ``unknown_method``.
    """

    def __init__(
        self,
        *,
        bot_user_id: str = "W23456789",
        bot_id: str = "BZYBOTHED",
        team_id: str = "T111",
        team: str = "Convener Test Workspace",
        team_domain: str = "convener-test",
        app_id: str = "A111",
        bot_name: str = "convener",
        users: dict[str, str] | None = None,
        bot_token: str | None = None,
        bot_scopes: str = (
            "app_mentions:read,channels:history,channels:read,chat:write,files:write,"
            "groups:history,im:history,im:write,reactions:write,users:read"
        ),
        socket_mode: FakeSocketModeServer | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team = team
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_name = bot_name
        self.bot_token = bot_token
        self.bot_scopes = bot_scopes
        self.socket_mode = socket_mode
        self.host = host
        self.port = port

        self.calls: list[Call] = []
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.messages: dict[tuple[str, str], dict] = {}
        """Messages the bot posted, by (channel id, ts); ``chat.update`` edits them."""
        self.others_messages: dict[tuple[str, str], dict] = {}
        """Messages people (and other apps) posted, by (channel id, ts): what a test
        registered with ``add_message``/``add_reply``. ``conversations.replies`` reads these
        and the bot's own."""
        self.root_on_every_page = True
        """Whether ``conversations.replies`` repeats the thread's root at the top of every
        page, or gives it on the first page only."""
        self.ephemeral: list[dict] = []
        self.reactions: list[tuple[str, str, str]] = []
        self.dm_channels: dict[str, str] = {}
        self.file_meta: dict[str, dict] = {}
        self.completed_uploads: list[dict] = []
        self.home_views: dict[str, dict] = {}
        """The Home tab each user was last shown (``views.publish``), by user id."""
        self.views: dict[str, dict] = {}
        """The modals opened (``views.open``, ``views.update``), by view id."""
        self.used_triggers: set[str] = set()
        self._uploaded: dict[str, bytes] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._errors: dict[str, list[_ScriptedError]] = {}
        self._custom: dict[str, dict | Callable[[Call], dict]] = {}
        self._limits: dict[str, _Limit] = {}
        self.limited: list[Call] = []
        """Calls answered 429 by an enforced rate limit (``enforce_limit``)."""
        self._ts_counter = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._changes = _Changes()
        self._runner: web.AppRunner | None = None

        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)
        for user_id, display_name in (users or {}).items():
            self.add_user(user_id, display_name)

        self._handlers: dict[str, Callable[[Call], dict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "apps.connections.open": self._apps_connections_open,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }
        # Slack accepts uploads far above aiohttp's 1 MiB default body limit.
        self._app = web.Application(client_max_size=1024**3)
        self._app.router.add_route("*", "/api/{method}", self._handle_api)
        self._app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        self._app.router.add_post("/response/{token}", self._handle_response_url)

    # lifecycle --------------------------------------------------------------

    async def start(self) -> FakeSlackWebAPI:
        self._runner, self.port = await _start_site(self._app, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackWebAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Pass to ``AsyncWebClient(base_url=...)``."""
        return f"{self.origin}/api/"

    def response_url(self, token: str | None = None) -> str:
        """A ``response_url`` on this server (``/response/<token>``); posts are recorded."""
        return f"{self.origin}/response/{token or uuid.uuid4().hex[:16]}"

    def attach_socket_mode(self, server: FakeSocketModeServer) -> None:
        """Make ``apps.connections.open`` hand out URLs of ``server``."""
        self.socket_mode = server

    # configuration ----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        display_name: str,
        *,
        real_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        locale: str = "en-US",
        **fields: Any,
    ) -> dict:
        """Register a user for ``users.info`` (object from the documented example); `locale`
        is answered only when the call asks ``include_locale``, as Slack does."""
        user = _web_api_example("users.info")["user"]
        real_name = real_name or display_name
        name = display_name.lower().replace(" ", ".") or user_id.lower()
        user.update(
            id=user_id,
            team_id=self.team_id,
            name=name,
            deleted=deleted,
            real_name=real_name,
            tz=tz,
            tz_label="Greenwich Mean Time",
            tz_offset=0,
            is_admin=False,
            is_bot=is_bot,
            is_app_user=False,
            updated=int(time.time()),
            locale=locale,
        )
        profile = user["profile"]
        profile.update(
            real_name=real_name,
            real_name_normalized=real_name,
            display_name=display_name,
            display_name_normalized=display_name,
            email=f"{name}@example.com",
            status_text="",
            status_emoji="",
            team=self.team_id,
        )
        if is_bot:
            profile.pop("email", None)
            if user_id == self.bot_user_id:
                profile["bot_id"] = self.bot_id
        user.update(fields)
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = True,
        **fields: Any,
    ) -> dict:
        """Register a channel for ``conversations.info`` and ``#name`` lookups."""
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": 1449252889,
            "is_archived": False,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "is_member": is_member,
            "creator": "W012A3CDE",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        channel.update(fields)
        self.channels[channel_id] = channel
        return channel

    def add_message(
        self,
        channel: str,
        user: str | None,
        text: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        **fields: Any,
    ) -> str:
        """Register a message someone posted in ``channel`` (into the thread of
        ``thread_ts``), shaped like a message of the documented ``conversations.replies``
        example; returns its ``ts`` (a fresh one unless given). ``fields`` replace keys
        (``DELETE`` removes one): ``bot_id=...`` for an app's message, ``subtype=...``;
        ``user=None`` leaves ``user`` out (a classic ``bot_message`` has none)."""
        ts = ts or self._next_ts()
        examples = _web_api_example("conversations.replies")["messages"]
        message = copy.deepcopy(examples[1] if thread_ts else examples[0])
        for key in ("reply_count", "subscribed", "last_read", "unread_count"):
            message.pop(key, None)  # set on a root only once it has replies
        message.update(user=user, text=text, ts=ts)
        if user is None:
            del message["user"]
        if thread_ts:
            parent = self._message(channel, thread_ts) or {}
            message.update(thread_ts=thread_ts, parent_user_id=parent.get("user", ""))
        else:
            message.pop("thread_ts", None)
        _apply_overrides(message, fields)
        self.others_messages[(channel, ts)] = message
        return ts

    def add_reply(
        self,
        channel: str,
        root_ts: str,
        user: str | None,
        text: str,
        ts: str | None = None,
        **fields: Any,
    ) -> str:
        """Register a reply someone posted in the thread of ``root_ts``; returns its ts."""
        return self.add_message(channel, user, text, ts=ts, thread_ts=root_ts, **fields)

    def edit_message(self, channel: str, ts: str, text: str) -> dict:
        """Edit a message as its author does in Slack: new text and an ``edited`` mark."""
        message = self._message(channel, ts)
        if message is None:
            raise KeyError((channel, ts))
        message["text"] = text
        message.pop("blocks", None)
        message["edited"] = {"user": message.get("user", ""), "ts": self._next_ts()}
        return message

    def delete_message(self, channel: str, ts: str) -> None:
        """Delete a message: gone from ``conversations.replies``. A root that has replies
        stays as a ``tombstone`` (as Slack shows a deleted thread root)."""
        key = (channel, ts)
        message = self._message(channel, ts)
        if message is None:
            raise KeyError(key)
        self.messages.pop(key, None)
        self.others_messages.pop(key, None)
        if self._thread_replies(channel, ts):
            self.others_messages[key] = {
                "type": "message",
                "subtype": "tombstone",
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "hidden": True,
                "thread_ts": ts,
                "ts": ts,
            }

    def _message(self, channel: str, ts: str) -> dict | None:
        return self.messages.get((channel, ts)) or self.others_messages.get((channel, ts))

    def _thread_replies(self, channel: str, root_ts: str) -> list[dict]:
        """The thread's replies (the bot's and others'), oldest first."""
        found = [
            message
            for store in (self.messages, self.others_messages)
            for (where, ts), message in store.items()
            if where == channel and ts != root_ts and message.get("thread_ts") == root_ts
        ]
        return sorted(found, key=lambda message: _ts_key(message["ts"]))

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` (429, 500, 503...).

        429 carries ``Retry-After`` (seconds) and ``{"ok": false, "error": "ratelimited"}``.
        slack_sdk sleeps ``Retry-After + random()`` seconds: use 0 in tests.
        """
        self._faults.setdefault(method, []).append(_Fault(status, retry_after, times))

    def enforce_limit(
        self, method: str, per_second: float, burst: int = 1, per_channel_seconds: float = 0.0
    ) -> None:
        """Answer ``method`` as Slack's rate limits do: past ``per_second`` (bursts of
        ``burst``) across the workspace, or a second call within ``per_channel_seconds`` in
        one channel, HTTP 429 with ``Retry-After`` (whole seconds, as Slack sends)."""
        self._limits[method] = _Limit(per_second, burst, per_channel_seconds)

    def api_error_next(
        self, method: str, error: str = "channel_not_found", times: int = 1, **extra: Any
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 200 ``ok: false``."""
        self._errors.setdefault(method, []).append(_ScriptedError(error, times, extra))

    def set_response(self, method: str, response: dict | Callable[[Call], dict] | None) -> None:
        """Answer ``method`` with a fixed body or ``fn(call) -> body`` (``None`` restores)."""
        if response is None:
            self._custom.pop(method, None)
        else:
            self._custom[method] = response

    # inspection -------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def uploaded_files(self) -> dict[str, bytes]:
        """Bytes POSTed to each ``upload_url``, by file id."""
        return self._uploaded

    def responses_to(self, token: str) -> list[Any]:
        """JSON bodies posted to ``response_url(token)``."""
        path = f"/response/{token}"
        return [c.params for c in self.calls_to(RESPONSE_URL) if c.path.split("?")[0] == path]

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``method`` has been called ``count`` times; returns those calls."""
        try:
            await self._changes.wait_for(
                lambda: len(self.calls_to(method)) >= count, timeout, f"{count} x {method}"
            )
        except TimeoutError as e:
            seen = [c.method for c in self.calls]
            raise TimeoutError(f"{e}; calls so far: {seen}") from None
        return self.calls_to(method)

    def clear_calls(self) -> None:
        self.calls.clear()

    # plumbing ---------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        await self._changes.notify()

    def _take_fault(self, method: str) -> web.Response | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        error = _FAULT_ERRORS.get(fault.status, "internal_error")
        body = {"ok": False, "error": error}
        return web.json_response(body, status=fault.status, headers=headers)

    def _take_error(self, method: str) -> dict | None:
        queue = self._errors.get(method)
        if not queue:
            return None
        scripted = queue[0]
        scripted.times -= 1
        if scripted.times <= 0:
            queue.pop(0)
        return {"ok": False, "error": scripted.error, **scripted.extra}

    def _check_token(self, call: Call) -> str | None:
        token = call.token
        if not token:
            return "not_authed"
        if call.method == "apps.connections.open":
            return None if token.startswith("xapp-") else "not_allowed_token_type"
        if token.startswith("xapp-"):
            return "not_allowed_token_type"
        if self.bot_token is not None and token != self.bot_token:
            return "invalid_auth"
        return None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = await _read_call(request, method)
        await self._record(call)
        fault = self._take_fault(method)
        if fault is not None:
            return fault
        limit = self._limits.get(method)
        wait = limit.refuse(call.params.get("channel")) if limit is not None else 0.0
        if wait > 0:
            self.limited.append(call)
            retry = str(max(1, int(wait + 0.999)))
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers={"Retry-After": retry})
        headers = {"X-OAuth-Scopes": self.bot_scopes, "X-Accepted-OAuth-Scopes": ""}
        scripted = self._take_error(method)
        if scripted is not None:
            return web.json_response(scripted, headers=headers)
        custom = self._custom.get(method)
        handler = self._handlers.get(method)
        if custom is None and handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, headers=headers)
        auth_error = self._check_token(call)
        if auth_error is not None:
            return web.json_response({"ok": False, "error": auth_error}, headers=headers)
        try:
            if custom is not None:
                result = custom(call) if callable(custom) else copy.deepcopy(custom)
            else:
                assert handler is not None
                result = handler(call)
        except _ApiError as e:
            result = {"ok": False, "error": e.error, **e.extra}
        return web.json_response(result, headers=headers)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        call = await _read_call(request, UPLOAD_URL)
        await self._record(call)
        fault = self._take_fault(UPLOAD_URL)
        if fault is not None:
            return fault
        file_id = request.match_info["file_id"]
        if file_id not in self.file_meta:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        data = call.body
        if request.content_type.startswith("multipart/"):
            parts = _parse_multipart(request.headers["Content-Type"], call.body)
            files = [p for p in parts if p[1] is not None] or parts
            data = files[0][2] if files else b""
        self._uploaded[file_id] = data
        await self._changes.notify()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        call = await _read_call(request, RESPONSE_URL)
        if "payload" in call.params and isinstance(call.params["payload"], str):
            call.params = json.loads(call.params["payload"])
        await self._record(call)
        fault = self._take_fault(RESPONSE_URL)
        if fault is not None:
            return fault
        return web.Response(text="ok", content_type="text/plain")

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts_counter):06d}"

    def _dm_channel(self, user_id: str) -> str:
        return self.dm_channels.setdefault(user_id, "D" + user_id)

    def _resolve_channel(self, channel: Any) -> str:
        if not channel or not isinstance(channel, str):
            raise _ApiError("channel_not_found")
        if channel.startswith("#"):
            for cid, info in self.channels.items():
                if info.get("name") == channel[1:]:
                    return cid
            raise _ApiError("channel_not_found")
        if channel[0] in "UW":
            return self._dm_channel(channel)  # posting to a user id lands in the DM
        return channel

    # methods ----------------------------------------------------------------

    def _auth_test(self, call: Call) -> dict:
        result = _web_api_example("auth.test", 2)  # the bot-token example
        result.update(
            url=f"https://{self.team_domain}.slack.com/",
            team=self.team,
            user=self.bot_name,
            team_id=self.team_id,
            user_id=self.bot_user_id,
            bot_id=self.bot_id,
            is_enterprise_install=False,
        )
        return result

    def _bot_message(self, channel: str, text: Any, params: dict[str, Any], ts: str) -> dict:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text or "",
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        for key in ("blocks", "attachments", "metadata"):
            value = params.get(key)
            if value:
                message[key] = json.loads(value) if isinstance(value, str) else value
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
            parent = self._message(channel, message["thread_ts"])
            if parent is not None and parent is not message:
                message["parent_user_id"] = parent.get("user", "")
        return message

    @staticmethod
    def _require_content(params: dict[str, Any]) -> None:
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")

    def _chat_post_message(self, call: Call) -> dict:
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        self._require_content(params)
        ts = self._next_ts()
        message = self._bot_message(channel, params.get("text"), params, ts)
        self.messages[(channel, ts)] = message
        result = _web_api_example("chat.postMessage")
        result.update(channel=channel, ts=ts, message=message)
        return result

    def _chat_post_ephemeral(self, call: Call) -> dict:
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        if not params.get("user"):
            raise _ApiError("user_not_in_channel")
        self._require_content(params)
        ts = self._next_ts()
        self.ephemeral.append({**params, "channel": channel, "message_ts": ts})
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, call: Call) -> dict:
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        message = self.messages.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        self._require_content(params)
        updated = self._bot_message(channel, params.get("text"), params, ts)
        if "thread_ts" in message and "thread_ts" not in updated:
            updated["thread_ts"] = message["thread_ts"]
        updated["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self.messages[(channel, ts)] = updated
        text = updated["text"]
        return {"ok": True, "channel": channel, "ts": ts, "text": text, "message": updated}

    def _chat_get_permalink(self, call: Call) -> dict:
        """The documented shapes: ``.../archives/<channel>/p<ts without the dot>``, with
        ``?thread_ts=...&cid=...`` for a reply in a thread (one the bot posted or a test
        registered). Any message of a valid timestamp has a link."""
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        ts = str(params.get("message_ts") or "")
        seconds, dot, fraction = ts.partition(".")
        if not (dot and seconds.isdigit() and fraction.isdigit()):
            raise _ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{seconds}{fraction}"
        message = self._message(channel, ts) or {}
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        result = _web_api_example("chat.getPermalink")
        result.update(channel=channel, permalink=link)
        return result

    def _conversations_open(self, call: Call) -> dict:
        params = call.params
        users = params.get("users")
        if isinstance(users, str):
            users = [u for u in users.split(",") if u]
        if params.get("channel"):
            channel_id = params["channel"]
            users = []
        elif not users:
            raise _ApiError("users_list_not_supplied")
        elif len(users) == 1:
            channel_id = users[0]
        else:
            return self._open_mpim(users, params)
        already_open = False
        if users and len(users) == 1:
            already_open = users[0] in self.dm_channels
            channel_id = self._dm_channel(users[0])
        examples = load_payload("web_api_responses/conversations.open.docs.json")
        full = examples[1]["channel"]
        full.update(id=channel_id, created=int(time.time()), user=users[0] if users else None)
        return_im = str(params.get("return_im", "")).lower() in ("1", "true")
        if already_open:
            result = examples[1]
            result["channel"] = full
        else:
            result = examples[0]
            result["channel"] = full if return_im else {"id": channel_id}
        return result

    def _open_mpim(self, users: list[str], params: dict[str, Any]) -> dict:
        """A group DM of the bot and ``users`` (2 to 8 others, each a known user), as
        Slack opens one: the same members always get the same conversation (an mpim, ``G``
        id, ``is_mpim``), kept in ``channels`` for ``conversations.info``; the answer is
        shaped like ``conversations.open``'s documented ones (``{"id"}`` alone the first
        time unless ``return_im``; the whole conversation, ``already_open``, after)."""
        members = list(dict.fromkeys([self.bot_user_id, *users]))
        if len(members) > 9:
            raise _ApiError("too_many_users")
        unknown = [u for u in members if u not in self.users]
        if unknown:
            raise _ApiError("user_not_found")
        digest = hashlib.sha1(",".join(sorted(members)).encode()).hexdigest()[:10].upper()
        channel_id = "G" + digest
        already_open = channel_id in self.channels
        if not already_open:
            names = "--".join(self.users[u]["name"] for u in members)
            self.add_channel(
                channel_id, f"mpdm-{names}-1", is_private=True, is_channel=False,
                is_group=False, is_mpim=True, creator=self.bot_user_id, members=members,
                is_open=True, created=int(time.time()),
            )  # fmt: skip
        full = copy.deepcopy(self.channels[channel_id])
        examples = load_payload("web_api_responses/conversations.open.docs.json")
        if already_open:
            result = examples[1]
            result["channel"] = full
        else:
            result = examples[0]
            return_im = str(params.get("return_im", "")).lower() in ("1", "true")
            result["channel"] = full if return_im else {"id": channel_id}
        return result

    def _conversations_info(self, call: Call) -> dict:
        channel = call.params.get("channel")
        if not channel or not isinstance(channel, str):
            raise _ApiError("channel_not_found")
        if channel in self.channels:
            info = copy.deepcopy(self.channels[channel])
        elif channel[0] == "D":
            user = next((u for u, d in self.dm_channels.items() if d == channel), channel[1:])
            info = {
                "id": channel,
                "created": 1460147748,
                "is_im": True,
                "is_org_shared": False,
                "user": user,
                "is_user_deleted": False,
                "priority": 0,
            }
        elif channel[0] in "CG":
            info = self.add_channel(channel, channel.lower(), is_private=channel[0] == "G")
            info = copy.deepcopy(info)
        else:
            raise _ApiError("channel_not_found")
        return {"ok": True, "channel": info}

    def _conversations_replies(self, call: Call) -> dict:
        """The documented shape: the root first, then its replies oldest first, ``limit``
        replies a page (default and most 1000); while more remain, ``has_more`` and a
        ``response_metadata.next_cursor`` (base64 of ``next_ts:<ts without the dot>``, as in
        the documented example) to pass back as ``cursor``. The root comes at the top of
        every page (``root_on_every_page``) or of the first only. A message without replies
        is a thread of one."""
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        root_ts = str(params.get("ts") or "")
        root = self._message(channel, root_ts)
        if root is None:
            raise _ApiError("thread_not_found")
        try:
            limit = min(max(int(params.get("limit") or 1000), 1), 1000)
        except ValueError:
            raise _ApiError("invalid_limit") from None
        replies = self._thread_replies(channel, root_ts)
        start = 0
        cursor = params.get("cursor")
        if cursor:
            try:
                marker = base64.b64decode(str(cursor), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _ApiError("invalid_cursor") from None
            starts = [n for n, m in enumerate(replies) if _cursor_of(m["ts"]) == marker]
            if not starts:
                raise _ApiError("invalid_cursor")
            start = starts[0]
        page = replies[start : start + limit]
        root = copy.deepcopy(root)
        if replies:
            root.update(thread_ts=root_ts, reply_count=len(replies))
        messages = [root] if start == 0 or self.root_on_every_page else []
        messages += [copy.deepcopy(message) for message in page]
        result = _web_api_example("conversations.replies")
        result["messages"] = messages
        result["has_more"] = start + limit < len(replies)
        if result["has_more"]:
            marker = _cursor_of(replies[start + limit]["ts"]).encode()
            result["response_metadata"] = {"next_cursor": base64.b64encode(marker).decode()}
        else:
            result.pop("response_metadata", None)
        return result

    def _users_info(self, call: Call) -> dict:
        user = self.users.get(call.params.get("user") or "")
        if user is None:
            raise _ApiError("user_not_found")
        found = copy.deepcopy(user)
        if str(call.params.get("include_locale", "")).lower() not in ("1", "true"):
            found.pop("locale", None)
        return {"ok": True, "user": found}

    def _reactions_add(self, call: Call) -> dict:
        params = call.params
        channel = self._resolve_channel(params.get("channel"))
        ts = str(params.get("timestamp") or "")
        name = str(params.get("name") or "").strip(":")
        if not ts:
            raise _ApiError("no_item_specified")
        if not name:
            raise _ApiError("invalid_name")
        key = (channel, ts, name)
        if key in self.reactions:
            raise _ApiError("already_reacted")
        self.reactions.append(key)
        return {"ok": True}

    def _files_get_upload_url_external(self, call: Call) -> dict:
        params = call.params
        if not params.get("filename") or params.get("length") in (None, ""):
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._file_counter):08d}X"
        self.file_meta[file_id] = {
            "filename": params["filename"],
            "length": int(params["length"]),
            "alt_txt": params.get("alt_txt"),
            "snippet_type": params.get("snippet_type"),
        }
        result = _web_api_example("files.getUploadURLExternal")
        result.update(upload_url=f"{self.origin}/upload/v1/{file_id}", file_id=file_id)
        return result

    def _files_complete_upload_external(self, call: Call) -> dict:
        params = call.params
        try:
            entries = _as_list(params.get("files"))
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        if not entries:
            raise _ApiError("invalid_arguments")
        files = []
        for entry in entries:
            file_id = entry.get("id")
            meta = self.file_meta.get(file_id)
            if meta is None or file_id not in self._uploaded:
                raise _ApiError("file_not_found")
            files.append(
                {
                    "id": file_id,
                    "created": int(time.time()),
                    "timestamp": int(time.time()),
                    "name": meta["filename"],
                    "title": entry.get("title") or meta["filename"],
                    "mimetype": "application/octet-stream",
                    "filetype": "binary",
                    "user": self.bot_user_id,
                    "user_team": self.team_id,
                    "size": len(self._uploaded[file_id]),
                }
            )
        channel_id = params.get("channel_id")
        channels = params.get("channels")
        self.completed_uploads.append(
            {
                "files": files,
                "channel_id": channel_id,
                "channels": channels,
                "initial_comment": params.get("initial_comment"),
                "thread_ts": params.get("thread_ts"),
            }
        )
        result = _web_api_example("files.completeUploadExternal")
        result["files"] = files
        return result

    def _views_publish(self, call: Call) -> dict:
        """A ``home`` view of at most 100 blocks for a user (Slack answers
        ``invalid_arguments`` otherwise); kept in ``home_views``."""
        user_id, view = call.params.get("user_id"), call.params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise _ApiError("invalid_arguments") from None
        if not user_id or not isinstance(view, dict) or view.get("type") != "home":
            raise _ApiError("invalid_arguments")
        if not isinstance(view.get("blocks"), list) or len(view["blocks"]) > 100:
            raise _ApiError("invalid_arguments")
        result = _web_api_example("views.publish")
        result["view"].update(view, team_id=self.team_id, app_id=self.app_id, bot_id=self.bot_id)
        self.home_views[str(user_id)] = result["view"]
        return result

    def _modal(self, call: Call) -> dict:
        """The ``view`` of a call, checked against Block Kit's limits as Slack checks them
        (``invalid_arguments`` otherwise): a ``modal`` whose title and submit label have at
        most 24 characters, at most 100 blocks with distinct ids, selects of 1 to 100
        options (or groups of them) of at most 75 characters each, initial options among
        them, ``private_metadata`` of at most 3,000 characters."""
        view = call.params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise _ApiError("invalid_arguments") from None
        if not isinstance(view, dict) or view.get("type") != "modal":
            raise _ApiError("invalid_arguments")
        blocks = view.get("blocks")
        ids = [b.get("block_id") for b in blocks or [] if b.get("block_id")]
        labels = [view.get("title", {}).get("text", ""), view.get("submit", {}).get("text", "")]
        if (
            not isinstance(blocks, list) or len(blocks) > 100 or len(ids) != len(set(ids))
            or not all(0 < len(label) <= 24 for label in labels)
            or len(view.get("private_metadata", "")) > 3000
            or not all(_fits(b.get("element") or {}) for b in blocks)
        ):  # fmt: skip
            raise _ApiError("invalid_arguments")
        return view

    def _opened(self, view: dict, view_id: str) -> dict:
        result = _web_api_example("views.open")
        result["view"] = {
            **result["view"], **view, "id": view_id, "root_view_id": view_id,
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}", "state": {"values": {}},
            "team_id": self.team_id, "app_id": self.app_id, "bot_id": self.bot_id,
        }  # fmt: skip
        self.views[view_id] = result["view"]
        return result

    def _views_open(self, call: Call) -> dict:
        """A modal opened with a ``trigger_id`` (each works once: ``exchanged_trigger_id``
        the second time); kept in ``views`` under a fresh id."""
        trigger = call.params.get("trigger_id")
        if not trigger:
            raise _ApiError("invalid_arguments")
        if trigger in self.used_triggers:
            raise _ApiError("exchanged_trigger_id")
        view = self._modal(call)
        self.used_triggers.add(trigger)
        return self._opened(view, f"V{uuid.uuid4().hex[:10].upper()}")

    def _views_update(self, call: Call) -> dict:
        """A modal replaced by id (``not_found`` for an unknown one; ``hash_conflict`` when
        a ``hash`` is given that is not the current one)."""
        view_id = call.params.get("view_id")
        if view_id not in self.views:
            raise _ApiError("not_found")
        given = call.params.get("hash")
        if given and given != self.views[view_id]["hash"]:
            raise _ApiError("hash_conflict")
        return self._opened(self._modal(call), view_id)

    def _apps_connections_open(self, call: Call) -> dict:
        if self.socket_mode is None:
            raise _ApiError("fake_socket_mode_server_not_attached")
        result = _web_api_example("apps.connections.open")
        result["url"] = self.socket_mode.url()
        return result
