"""The Slack fakes speak the protocol: checked with slack_sdk's and slack_bolt's real clients."""

from __future__ import annotations

import json
import time
import warnings

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slack_fake import (
    DELETE,
    RESPONSE_URL,
    UPLOAD_URL,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    encode_form,
    events_api_envelope,
    load_event,
    load_payload,
    load_slash_command,
    post_signed,
    sign_request,
    slash_command_envelope,
)

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"


@pytest.fixture
async def slack():
    async with FakeSlackWebAPI(users={"W111": "Ada", "W222": "Grace Hopper"}) as fake:
        yield fake


@pytest.fixture
async def socket_mode(slack):
    async with FakeSocketModeServer() as server:
        slack.attach_socket_mode(server)
        yield server


@pytest.fixture
def client(slack) -> AsyncWebClient:
    return AsyncWebClient(base_url=slack.base_url, token=BOT_TOKEN)


# --- payload helpers ---------------------------------------------------------------------


def test_sign_request_reproduces_documented_known_answer():
    known = load_payload("http/signing_known_answer.docs.json")
    headers = sign_request(known["signing_secret"], known["body"].encode(), int(known["timestamp"]))
    assert headers == {
        "X-Slack-Request-Timestamp": known["timestamp"],
        "X-Slack-Signature": known["valid_signature"],
    }


def test_load_event_gives_fresh_ids_and_overrides_inner_event():
    first = load_event("message_channel.bolt-python")
    second = load_event("message_channel.bolt-python", text="hello", user="W222", subtype=DELETE)
    assert first["event_id"] != second["event_id"] != "Ev111"
    assert abs(second["event_time"] - time.time()) < 5
    assert second["event"]["text"] == "hello" and second["event"]["user"] == "W222"
    assert first["event"]["text"] == "Hi there! Thanks for sharing the info!"
    bot_msg = load_event("message_bot_message_subtype.bolt-python", subtype=DELETE)
    assert "subtype" not in bot_msg["event"]
    challenge = load_event("url_verification.docs", challenge="abc")
    assert challenge["challenge"] == "abc" and "event_id" not in challenge


def test_load_slash_command_replaces_fields():
    form = load_slash_command("weekly report", user_id="W222", response_url="http://x/response/t")
    assert form["command"] == "/convener" and form["text"] == "weekly report"
    assert form["user_id"] == "W222" and form["channel_id"] == "C111"
    assert form["response_url"] == "http://x/response/t"
    assert form["team_id"] == "T111"  # untouched fixture fields stay
    assert load_slash_command("x")["trigger_id"] != form["trigger_id"]


def test_envelopes_have_the_real_frames_keys():
    real_event = load_payload("socket_mode/envelope_events_api_app_mention.python-slack-sdk.json")
    env = events_api_envelope(load_event("app_mention.bolt-python"), 2, "timeout")
    assert list(env) == list(real_event)
    assert (env["type"], env["retry_attempt"], env["retry_reason"]) == ("events_api", 2, "timeout")
    real_cmd = load_payload("socket_mode/envelope_slash_commands.bolt-python.json")
    cmd = slash_command_envelope(load_slash_command("hi"))
    assert list(cmd) == list(real_cmd) and cmd["accepts_response_payload"] is True
    assert env["envelope_id"] != events_api_envelope({})["envelope_id"]
    # slack_sdk parses them
    assert SocketModeRequest.from_dict(env).envelope_id == env["envelope_id"]
    assert SocketModeRequest.from_dict(cmd).payload["text"] == "hi"


# --- Web API -----------------------------------------------------------------------------


async def test_auth_test_returns_configured_identity(slack, client):
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert (resp["user_id"], resp["bot_id"], resp["team_id"]) == ("W23456789", "BZYBOTHED", "T111")
    assert resp.headers.get("x-oauth-scopes")
    (call,) = slack.calls_to("auth.test")
    assert call.token == BOT_TOKEN
    assert call.header("authorization") == f"Bearer {BOT_TOKEN}"


async def test_auth_errors(slack):
    with pytest.raises(SlackApiError) as no_token:
        await AsyncWebClient(base_url=slack.base_url).auth_test()
    assert no_token.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as app_token:
        await AsyncWebClient(base_url=slack.base_url, token=APP_TOKEN).auth_test()
    assert app_token.value.response["error"] == "not_allowed_token_type"
    strict = FakeSlackWebAPI(bot_token="xoxb-right")
    async with strict:
        with pytest.raises(SlackApiError) as wrong:
            await AsyncWebClient(base_url=strict.base_url, token="xoxb-wrong").auth_test()
        assert wrong.value.response["error"] == "invalid_auth"
        assert wrong.value.response.status_code == 200


async def test_chat_post_message_fresh_ts_and_echoed_channel(slack, client):
    parent = "1610261659.001400"
    first = await client.chat_postMessage(channel="C111", text="hello", thread_ts=parent)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*b*"}}]
    second = await client.chat_postMessage(channel="C111", text="b", blocks=blocks)
    assert first["channel"] == second["channel"] == "C111"
    assert first["ts"] != second["ts"] and float(first["ts"]) < float(second["ts"])
    msg = first["message"]
    assert msg["text"] == "hello" and msg["ts"] == first["ts"]
    assert msg["bot_id"] == slack.bot_id and msg["user"] == slack.bot_user_id
    assert msg["thread_ts"] == parent
    assert second["message"]["blocks"][0]["type"] == "section"
    # slack_sdk sends chat.postMessage as JSON; the fake parsed it
    calls = slack.calls_to("chat.postMessage")
    assert calls[0].header("content-type").startswith("application/json")
    assert calls[0].params["text"] == "hello"
    # form-encoded bodies are parsed too
    form = await client.api_call("chat.postMessage", data={"channel": "C222", "text": "form"})
    assert form["channel"] == "C222"
    assert slack.calls_to("chat.postMessage")[-1].params["text"] == "form"
    # a user id lands in the DM channel, like Slack
    dm = await client.chat_postMessage(channel="W111", text="psst")
    assert dm["channel"] == "DW111"
    with pytest.raises(SlackApiError) as no_text:
        await client.api_call("chat.postMessage", json={"channel": "C111"})
    assert no_text.value.response["error"] == "no_text"


async def test_ephemeral_update_reactions_info(slack, client):
    eph = await client.chat_postEphemeral(channel="C111", user="W111", text="only you")
    assert eph["message_ts"]
    posted = await client.chat_postMessage(channel="C111", text="v1")
    reply = await client.chat_postMessage(channel="C111", text="r", thread_ts=posted["ts"])
    assert reply["message"]["parent_user_id"] == slack.bot_user_id
    updated = await client.chat_update(channel="C111", ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"] and updated["message"]["text"] == "v2"
    assert slack.messages[("C111", posted["ts"])]["text"] == "v2"
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C111", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    assert (await client.reactions_add(channel="C111", timestamp=posted["ts"], name="wave"))["ok"]
    with pytest.raises(SlackApiError) as again:
        await client.reactions_add(channel="C111", timestamp=posted["ts"], name="wave")
    assert again.value.response["error"] == "already_reacted"
    slack.add_channel("C999", "practice", is_private=True)
    info = await client.conversations_info(channel="C999")
    assert info["channel"]["name"] == "practice" and info["channel"]["is_private"] is True
    im = await client.conversations_info(channel="DW111")
    assert im["channel"]["is_im"] is True


async def test_conversations_open_is_stable_per_user(slack, client):
    first = await client.conversations_open(users="W111")
    again = await client.conversations_open(users=["W111"])
    other = await client.conversations_open(users="W222")
    assert first["channel"]["id"] == again["channel"]["id"] == "DW111"
    assert again["already_open"] is True
    assert other["channel"]["id"] == "DW222"


async def test_users_info_known_and_unknown(slack, client):
    resp = await client.users_info(user="W222")
    user = resp["user"]
    assert user["id"] == "W222" and user["profile"]["display_name"] == "Grace Hopper"
    assert user["profile"]["real_name"] == user["real_name"] == "Grace Hopper"
    assert user["is_bot"] is False
    bot = (await client.users_info(user=slack.bot_user_id))["user"]
    assert bot["is_bot"] is True
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="W404")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "user_not_found"


async def test_files_upload_v2_three_steps_keeps_bytes(slack, client):
    content = bytes(range(256)) * 5000  # > 1 MiB, not UTF-8
    with warnings.catch_warnings():
        # aiohttp warns (ResourceWarning) when slack_sdk posts > 1 MiB as raw bytes
        warnings.simplefilter("ignore", ResourceWarning)
        resp = await client.files_upload_v2(
            channel="C111", content=content, filename="report.xlsx", title="Weekly report"
        )
    methods = [c.method for c in slack.calls]
    assert methods == ["files.getUploadURLExternal", UPLOAD_URL, "files.completeUploadExternal"]
    file_id = resp["file"]["id"]
    assert resp["file"]["title"] == "Weekly report"
    assert slack.uploaded_files[file_id] == content
    get_url = slack.calls_to("files.getUploadURLExternal")[0]
    assert get_url.params["filename"] == "report.xlsx"
    assert int(get_url.params["length"]) == len(content)
    assert slack.completed_uploads[0]["channel_id"] == "C111"


async def test_rate_limit_429_retried_by_slack_sdk(slack):
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client = AsyncWebClient(
        base_url=slack.base_url,
        token=BOT_TOKEN,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    resp = await client.chat_postMessage(channel="C111", text="after the limit")
    assert resp["ok"] is True
    assert len(slack.calls_to("chat.postMessage")) == 2
    # without a handler slack_sdk raises with the 429 and Retry-After
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    plain = AsyncWebClient(base_url=slack.base_url, token=BOT_TOKEN)
    with pytest.raises(SlackApiError) as err:
        await plain.chat_postMessage(channel="C111", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"


async def test_server_error_retried_and_api_errors(slack):
    slack.fail_next("users.info", status=503, times=2)
    client = AsyncWebClient(
        base_url=slack.base_url,
        token=BOT_TOKEN,
        retry_handlers=[
            AsyncServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0)
            )
        ],
    )
    assert (await client.users_info(user="W111"))["ok"] is True
    assert len(slack.calls_to("users.info")) == 3
    slack.api_error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C111", text="x")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C111", text="x"))["ok"] is True
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("admin.nonsense")
    assert unknown.value.response["error"] == "unknown_method"
    slack.set_response("conversations.members", {"ok": True, "members": ["W111"]})
    assert (await client.conversations_members(channel="C111"))["members"] == ["W111"]


async def test_response_url_records_posts(slack):
    url = slack.response_url("tok1")
    resp = await AsyncWebhookClient(url).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200 and resp.body == "ok"
    (call,) = await slack.wait_for_call(RESPONSE_URL)
    assert call.params == {"text": "done", "response_type": "ephemeral"}
    assert slack.responses_to("tok1") == [call.params]


# --- Socket Mode -------------------------------------------------------------------------


async def test_socket_mode_client_connects_acks_and_reconnects(slack, socket_mode):
    web_client = AsyncWebClient(base_url=slack.base_url)
    sm_client = SocketModeClient(app_token=APP_TOKEN, web_client=web_client)
    frames: list[dict] = []
    requests: list[SocketModeRequest] = []

    async def on_message(client, message, raw):
        frames.append(message)

    async def on_request(client, req: SocketModeRequest):
        requests.append(req)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    sm_client.message_listeners.append(on_message)
    sm_client.socket_mode_request_listeners.append(on_request)
    try:
        await sm_client.connect()
        await socket_mode.wait_for_connections(1)
        (open_call,) = slack.calls_to("apps.connections.open")
        assert open_call.token == APP_TOKEN

        env = events_api_envelope(load_event("message_channel.bolt-python", text="hi"))
        await socket_mode.send_envelope(env)
        ack = await socket_mode.wait_for_ack(env["envelope_id"])
        assert ack == {"envelope_id": env["envelope_id"]}
        assert requests[0].type == "events_api"
        assert requests[0].payload["event"]["text"] == "hi"
        assert frames[0]["type"] == "hello"

        await socket_mode.disconnect()  # reason refresh_requested
        await slack.wait_for_call("apps.connections.open", count=2)
        await socket_mode.wait_for_connections(2)
        env2 = events_api_envelope(load_event("app_mention.bolt-python"), 1, "timeout")
        await socket_mode.send_envelope(env2)
        assert (await socket_mode.wait_for_ack(env2["envelope_id"]))["envelope_id"] == env2[
            "envelope_id"
        ]
        assert requests[-1].retry_attempt == 1 and requests[-1].retry_reason == "timeout"
        assert socket_mode.connections_count == 2
    finally:
        await sm_client.close()


async def test_apps_connections_open_without_server(slack):
    client = AsyncWebClient(base_url=slack.base_url)
    with pytest.raises(SlackApiError) as err:
        await client.apps_connections_open(app_token=APP_TOKEN)
    assert err.value.response["error"] == "fake_socket_mode_server_not_attached"
    with pytest.raises(SlackApiError) as bot_token:
        await client.apps_connections_open(app_token=BOT_TOKEN)
    assert bot_token.value.response["error"] == "not_allowed_token_type"


# --- bolt end to end (a recipe for the adapter) --------------------------------------------


def _bolt_app(slack: FakeSlackWebAPI, **kwargs) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(base_url=slack.base_url, token=BOT_TOKEN), **kwargs)

    @app.event("app_mention")
    async def on_mention(event, say):
        await say(text=f"hello <@{event['user']}>", thread_ts=event["ts"])

    @app.command("/convener")
    async def on_command(ack, respond, command):
        await ack()
        await respond(f"you said {command['text']}")

    return app


async def test_bolt_app_over_socket_mode(slack, socket_mode):
    app = _bolt_app(slack, signing_secret="unused-in-socket-mode")
    handler = AsyncSocketModeHandler(app, app_token=APP_TOKEN)
    try:
        await handler.connect_async()
        env = events_api_envelope(load_event("app_mention.bolt-python"))
        await socket_mode.send_envelope(env)
        assert await socket_mode.wait_for_ack(env["envelope_id"]) == {
            "envelope_id": env["envelope_id"]
        }
        (post,) = await slack.wait_for_call("chat.postMessage")
        assert post.params["channel"] == "C111" and post.params["text"] == "hello <@W222>"
        assert post.params["thread_ts"] == env["payload"]["event"]["ts"]

        url = slack.response_url("cmd1")
        cmd = slash_command_envelope(load_slash_command("ping", response_url=url))
        await socket_mode.send_envelope(cmd)
        assert await socket_mode.wait_for_ack(cmd["envelope_id"]) == {
            "envelope_id": cmd["envelope_id"]
        }
        await slack.wait_for_call(RESPONSE_URL)
        assert slack.responses_to("cmd1")[0]["text"] == "you said ping"
        assert len(slack.calls_to("auth.test")) == 1  # bolt calls it once, lazily
    finally:
        await handler.close_async()


async def test_bolt_app_over_signed_http(slack):
    secret = "test-signing-secret"
    app = _bolt_app(slack, signing_secret=secret)
    seen_headers: list[dict] = []

    async def endpoint(request: web.Request) -> web.StreamResponse:
        seen_headers.append(dict(request.headers))
        bolt_resp = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_resp)

    server = web.Application()
    server.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        form = encode_form(load_slash_command("ping", response_url=slack.response_url("h1")))
        ctype = "application/x-www-form-urlencoded"
        assert (await post_signed(url, form, ctype, secret))[0] == 200
        await slack.wait_for_call(RESPONSE_URL)
        assert slack.responses_to("h1")[0]["text"] == "you said ping"
        assert SignatureVerifier(secret).is_valid_request(form, seen_headers[0])

        assert (await post_signed(url, form, ctype, "wrong-secret"))[0] == 401
        stale = int(time.time()) - 301
        assert (await post_signed(url, form, ctype, secret, timestamp=stale))[0] == 401

        body = json.dumps(load_event("app_mention.bolt-python")).encode()
        status, _ = await post_signed(
            url, body, "application/json", secret, retry_num=1, retry_reason="http_timeout"
        )
        assert status == 200
        assert seen_headers[-1]["X-Slack-Retry-Num"] == "1"
        assert seen_headers[-1]["X-Slack-Retry-Reason"] == "http_timeout"
        await slack.wait_for_call("chat.postMessage")
    finally:
        await runner.cleanup()
