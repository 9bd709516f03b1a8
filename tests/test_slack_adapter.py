"""The Slack adapter end to end: Slack's real payloads over signed HTTP and over Socket Mode,
through the real core and handlers, answered through a local Web API that records every call.

Every delivery must be acknowledged within Slack's 3 seconds: HTTP posts time out after 3 s
and Socket Mode acks are awaited for 3 s at most.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings

import pytest
from sqlalchemy import select

from adapters.slack import SlackAdapter
from bot import forms
from bot.app import Convener
from bot.arguments import Rest
from bot.commands import Command
from bot.context import Context
from bot.i18n import verbatim
from bot.models import Activity, Channel, Identity, Member
from bot.router import Router
from bot.settings import Settings
from bot.types import (
    ChannelRef,
    Event,
    MemberJoined,
    MemberLeft,
    Message,
    OutboundFile,
    ReactionAdded,
    UserRef,
)
from handlers import all_routers
from tests.slack_fake import (
    DELETE,
    RESPONSE_URL,
    UPLOAD_URL,
    FakeSlackWebAPI,
    FakeSocketModeServer,
    encode_form,
    events_api_envelope,
    load_event,
    load_slash_command,
    post_signed,
    slash_command_envelope,
)

pytestmark = pytest.mark.slack

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
BOT = "W23456789"  # the fake workspace's bot user
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ACK_SECONDS = 3
STOP_GRACE = 10


@pytest.fixture
async def socket_server():
    async with FakeSocketModeServer() as server:
        yield server


@pytest.fixture
async def slack(socket_server):
    users = {"W111": "Ada", "W222": "Grace Hopper", "UFAC": "Fatima"}
    async with FakeSlackWebAPI(users=users, socket_mode=socket_server) as fake:
        fake.add_channel("C111", "practice")
        yield fake


@pytest.fixture(params=["http", "socket"])
def transport(request) -> str:
    return request.param


def slack_settings(settings: Settings, slack: FakeSlackWebAPI, transport: str) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": BOT_TOKEN,
            "slack_api_url": slack.base_url,
            "slack_app_token": APP_TOKEN if transport == "socket" else "",
            "slack_signing_secret": SECRET if transport == "http" else "",
            "http_port": 0,
        }
    )


def recording_router(
    extra: Router | None = None, handlers: bool = True
) -> tuple[Router, list[Event]]:
    """The real handlers (unless not wanted) and `extra`, behind a listener that records
    every event the core dispatches."""
    seen: list[Event] = []
    recorder = Router()

    @recorder.on(Event)
    async def record(ctx: Context, event: Event) -> bool:
        seen.append(event)
        return False

    features = [forms.router, *all_routers()] if handlers else []  # as `every_router` has them
    routers = [recorder, *features] + ([extra] if extra else [])
    return Router().include(*routers), seen


class SlackBot:
    """Convener with a running `SlackAdapter`, and Slack's side of the conversation."""

    def __init__(
        self,
        settings: Settings,
        slack: FakeSlackWebAPI,
        socket_server: FakeSocketModeServer,
        transport: str,
        extra: Router | None = None,
        handlers: bool = True,
    ) -> None:
        self.settings = slack_settings(settings, slack, transport)
        self.slack = slack
        self.socket_server = socket_server
        self.transport = transport
        router, self.seen = recording_router(extra, handlers)
        self.app = Convener(self.settings, router=router)
        self.adapter = SlackAdapter(self.settings, host="127.0.0.1")
        self.app.add_platform(self.adapter)

    async def start(self) -> SlackBot:
        await self.app.start(migrate=False)
        try:
            await self.adapter.start(self.app)  # raises why the adapter could not start
            async with asyncio.timeout(10):
                await self.adapter.ready()
        except BaseException:
            await self.adapter.stop(0)
            await self.app.stop()
            raise
        return self

    async def stop(self) -> None:
        self.app.stopping()  # as `convener run` does at SIGTERM
        await self.adapter.stop(STOP_GRACE)
        await self.adapter.wait_closed()
        await self.app.stop()

    async def handled(self) -> None:
        """Until every event handed to the core so far has been handled, and the notices it
        queued delivered (the outbox's rounds, run here unless its sender was started)."""
        await self.app.processor.drain()
        if not self.app.outbox.running:
            await self.app.outbox.deliver_all()

    async def deliver(self, body: dict, retry: int = 0) -> None:
        """Deliver an Events API body as Slack does; returns once it is acked and handled."""
        if self.transport == "http":
            status, _ = await post_signed(
                self.adapter.url,
                json.dumps(body),
                JSON,
                SECRET,
                retry_num=retry or None,
                retry_reason="http_timeout" if retry else None,
                timeout=ACK_SECONDS,
            )
            assert status == 200
        else:
            envelope = events_api_envelope(body, retry, "timeout" if retry else "")
            await self.socket_server.send_envelope(envelope)
            await self.socket_server.wait_for_ack(envelope["envelope_id"], timeout=ACK_SECONDS)
        await self.handled()

    async def command(self, form: dict, *, drain: bool = True) -> None:
        """Deliver a slash command; returns once it is acked (and handled, with `drain`)."""
        if self.transport == "http":
            status, _ = await post_signed(
                self.adapter.url, encode_form(form), FORM, SECRET, timeout=ACK_SECONDS
            )
            assert status == 200
        else:
            envelope = slash_command_envelope(form)
            await self.socket_server.send_envelope(envelope)
            await self.socket_server.wait_for_ack(envelope["envelope_id"], timeout=ACK_SECONDS)
        if drain:
            await self.handled()

    async def activity(self) -> dict[str, str]:
        """Event id → activity kind of everything logged."""
        await self.app.activity.flush()
        async with self.app.db.sessions() as session:
            rows = await session.execute(select(Activity.event_id, Activity.kind))
            return {event_id: kind for event_id, kind in rows}


@pytest.fixture
async def slack_bot(settings, slack, socket_server, transport):
    running = await SlackBot(settings, slack, socket_server, transport).start()
    yield running
    await running.stop()


@pytest.fixture
async def http_bot(settings, slack, socket_server):
    running = await SlackBot(settings, slack, socket_server, "http").start()
    yield running
    await running.stop()


def message(text: str, **fields) -> dict:
    """A channel message from Ada (W111) in C111, from the real payload."""
    return load_event("message_channel.bolt-python", text=text, blocks=DELETE, **fields)


# --- every event kind ------------------------------------------------------------------------


async def test_every_event_kind_reaches_the_core(slack_bot):
    bodies = {
        "message": message("Hello, practice!"),
        "reply": load_event("message_thread_reply_channel.docs-composed", channel="C111"),
        "broadcast": load_event("message_thread_broadcast.bolt-python"),
        "direct": load_event("message_thread_reply_dm.bolt-python", thread_ts=DELETE),
        "join": load_event("member_joined_channel.bolt-python"),
        "leave": load_event("member_joined_channel.bolt-python", type="member_left_channel"),
        "reaction": load_event("reaction_added.bolt-python"),
    }
    for body in bodies.values():
        await slack_bot.deliver(body)
    kinds = [type(e) for e in slack_bot.seen]
    assert kinds == [Message, Message, Message, Message, MemberJoined, MemberLeft, ReactionAdded]
    said, reply, broadcast, direct, joined, left, reaction = slack_bot.seen
    assert said.user == UserRef("slack", "W111") and said.user.name == "Ada"
    assert said.channel == ChannelRef("slack", "C111") and said.channel.name == "#practice"
    assert reply.thread_id == "1482960137.003543" and broadcast.thread_id == "1633663824.000500"
    assert direct.channel.is_direct and direct.text == "When Slack was released?"
    assert (joined.user.id, left.user.id) == ("W111", "W111")
    assert (reaction.emoji, reaction.message_id) == ("heart_eyes", "1599529504.000400")

    activity = await slack_bot.activity()
    assert activity[said.event_id] == "message"
    assert activity[reply.event_id] == activity[broadcast.event_id] == "reply"
    assert activity[direct.event_id] == "direct"
    assert activity[bodies["join"]["event_id"]] == "join"
    assert activity[bodies["leave"]["event_id"]] == "leave"
    assert activity[reaction.event_id] == "reaction"
    assert reaction.event_id == "react:C111:1599529504.000400:W111:heart_eyes"


async def test_edits_deletions_and_bots_are_not_activity(slack_bot):
    for name in (
        "message_changed.bolt-python",
        "message_deleted.bolt-python",
        "message_bot_message_subtype.bolt-python",
        "message_from_app_bot_no_subtype.bolt-python",
        "member_joined_channel.self.bolt-python",  # the bot itself joining
    ):
        await slack_bot.deliver(load_event(name))
    await slack_bot.deliver(message("!help", user=BOT, bot_id="BZYBOTHED"))  # its own message
    assert slack_bot.seen == []
    assert await slack_bot.activity() == {}
    assert not [c for c in slack_bot.slack.calls if c.method.startswith("chat.")]


async def test_command_in_a_channel_is_answered_ephemerally(slack_bot):
    await slack_bot.deliver(message("!help"))
    (answer,) = slack_bot.slack.ephemeral
    assert (answer["channel"], answer["user"]) == ("C111", "W111")
    assert answer["text"].startswith("Here is what you can ask me:")
    assert "• `help [command]`" in answer["text"]


async def test_mentioning_the_bot_runs_a_command_once(slack_bot):
    """Slack sends a `message` and an `app_mention` for one message; it is handled once."""
    text = f"<@{BOT}> help"
    mention = load_event("app_mention.bolt-python", text=text, user="W111")
    same = message(text, ts=mention["event"]["ts"])
    await slack_bot.deliver(mention)
    await slack_bot.deliver(same)
    (answer,) = slack_bot.slack.ephemeral
    assert answer["user"] == "W111" and answer["text"].startswith("Here is what you can ask me:")
    assert list((await slack_bot.activity()).values()) == ["command"]


async def test_bare_command_in_a_direct_message(slack_bot):
    await slack_bot.deliver(
        load_event("message_thread_reply_dm.bolt-python", thread_ts=DELETE, text="help")
    )
    (answer,) = [
        c.params
        for c in slack_bot.slack.calls_to("chat.postMessage")
        if c.params["channel"] == "D111"
    ]
    assert answer["text"].startswith("Here is what you can ask me:")


async def test_slash_command_answered_through_response_url(slack_bot):
    form = load_slash_command("help", response_url=slack_bot.slack.response_url("h1"))
    await slack_bot.command(form)
    (answer,) = slack_bot.slack.responses_to("h1")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Here is what you can ask me:")
    assert not slack_bot.slack.calls_to("chat.postMessage") and not slack_bot.slack.ephemeral
    assert (await slack_bot.activity())[f"cmd:{form['trigger_id']}"] == "command"


async def test_shortcut_commands(settings, slack, socket_server, transport):
    extra = Router()  # alone: the real `expertise` belongs to another feature

    @extra.command("expertise", args=[Rest("text")])
    async def expertise(ctx: Context, cmd: Command) -> str:
        return verbatim(f"offered: {cmd.values.text}")

    running = await SlackBot(settings, slack, socket_server, transport, extra, False).start()
    try:
        url = slack.response_url("expertise")
        await running.command(
            load_slash_command("add *budget* templates", "/expertise", response_url=url)
        )
    finally:
        await running.stop()
    assert slack.responses_to("expertise")[0]["text"] == "offered: add _budget_ templates"


# --- exactly once ----------------------------------------------------------------------------


async def test_retried_delivery_is_handled_once(slack_bot):
    body = message("!help")
    await slack_bot.deliver(body)
    await slack_bot.deliver(body, retry=1)
    await slack_bot.deliver(body, retry=2)
    assert len(slack_bot.slack.ephemeral) == 1
    assert list((await slack_bot.activity()).values()) == ["command"]


async def test_retry_after_a_restart_is_not_handled_again(settings, slack, socket_server):
    body = message("!help")
    first = await SlackBot(settings, slack, socket_server, "http").start()
    try:
        await first.deliver(body)
    finally:
        await first.stop()
    second = await SlackBot(settings, slack, socket_server, "http").start()
    try:
        await second.deliver(body, retry=1)
        assert list((await second.activity()).values()) == ["command"]
    finally:
        await second.stop()
    assert len(slack.ephemeral) == 1


# --- the HTTP endpoint ---------------------------------------------------------------------


async def test_bad_signature_and_stale_timestamp_are_rejected(http_bot):
    body = json.dumps(message("!help")).encode()
    url = http_bot.adapter.url
    assert (await post_signed(url, body, JSON, "wrong-secret"))[0] == 401
    assert (await post_signed(url, body, JSON, SECRET, timestamp=int(time.time()) - 301))[0] == 401
    assert (await post_signed(url, body, JSON, SECRET, timestamp=int(time.time()) + 301))[0] == 401
    form = encode_form(load_slash_command("help", response_url=http_bot.slack.response_url()))
    assert (await post_signed(url, form, FORM, "wrong-secret"))[0] == 401
    await http_bot.handled()
    assert await http_bot.activity() == {}
    assert not [c for c in http_bot.slack.calls if c.method != "auth.test"]


async def test_url_verification_answers_the_challenge(http_bot):
    body = json.dumps(load_event("url_verification.docs", challenge="xyz"))
    status, text = await post_signed(http_bot.adapter.url, body, JSON, SECRET)
    assert status == 200 and json.loads(text) == {"challenge": "xyz"}


async def test_app_rate_limited_notice_is_logged(http_bot, caplog):
    body = json.dumps(load_event("app_rate_limited.docs"))
    status, _ = await post_signed(http_bot.adapter.url, body, JSON, SECRET)
    assert status == 200
    assert "over 30,000 an hour; minute 1518467820" in caplog.text


# --- slow work after the ack ---------------------------------------------------------------


async def test_slow_command_is_acked_before_it_finishes(settings, slack, socket_server, transport):
    gate = asyncio.Event()
    order: list[str] = []
    slow = Router()

    @slow.command("slow")
    async def slow_command(ctx: Context, cmd: Command) -> str:
        await gate.wait()
        order.append("finished")
        return verbatim("done at last")

    running = await SlackBot(settings, slack, socket_server, transport, slow).start()
    try:
        url = slack.response_url("slow")
        await running.command(load_slash_command("slow", response_url=url), drain=False)
        order.append("acked")  # within ACK_SECONDS, while the command still waits
        gate.set()
        await running.handled()
    finally:
        await running.stop()
    assert order == ["acked", "finished"]
    assert slack.responses_to("slow")[0]["text"] == "done at last"


# --- Web API calls ---------------------------------------------------------------------------


async def test_file_is_uploaded_in_three_steps_to_the_direct_chat(http_bot):
    data = bytes(range(256)) * 64
    ada = UserRef("slack", "W111", "Ada")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        sent = await http_bot.adapter.send_file(
            ada, OutboundFile("report.xlsx", data, "Engagement"), "Your **report**"
        )
    methods = [c.method for c in http_bot.slack.calls if c.method != "auth.test"]
    assert methods == [
        "conversations.open",
        "files.getUploadURLExternal",
        UPLOAD_URL,
        "files.completeUploadExternal",
    ]
    assert http_bot.slack.uploaded_files[sent.message_id] == data
    (done,) = http_bot.slack.completed_uploads
    assert done["channel_id"] == "DW111" and done["initial_comment"] == "Your *report*"
    assert done["files"][0]["title"] == "Engagement"
    assert sent.private_to == ada and sent.channel.is_direct


async def test_rate_limited_call_is_retried(slack_bot):
    slack_bot.slack.fail_next("chat.postEphemeral", status=429, retry_after=0)
    await slack_bot.deliver(message("!help"))
    assert len(slack_bot.slack.calls_to("chat.postEphemeral")) == 2
    assert len(slack_bot.slack.ephemeral) == 1


async def test_platform_operations(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    ada = UserRef("slack", "W111")
    channel = ChannelRef("slack", "C111", "#practice")

    sent = await adapter.send(channel, "See **this**", thread_id="1610261659.001400")
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["text"] == "See *this*" and post.params["thread_ts"] == sent.thread_id
    assert ("C111", sent.message_id) in slack.messages

    first = await adapter.send_dm(ada, "one")
    second = await adapter.send_dm(ada, "two")
    assert first.channel.id == second.channel.id == "DW111" and second.private_to == ada
    assert len(slack.calls_to("conversations.open")) == 1  # the direct chat is remembered

    private = await adapter.send_private(ada, "only you", channel)
    assert private.extra["ephemeral"] and slack.ephemeral[-1]["user"] == "W111"
    slack.api_error_next("chat.postEphemeral", "not_in_channel")
    fallback = await adapter.send_private(ada, "still you", ChannelRef("slack", "C999"))
    assert fallback.channel.id == "DW111" and fallback.private_to == ada
    slack.fail_next(RESPONSE_URL, status=404, retry_after=None)
    expired = await adapter.send_private(ada, "late", channel, reply_token=slack.response_url())
    assert expired.extra["ephemeral"] and slack.ephemeral[-1]["text"] == "late"

    assert await adapter.display_name(ada) == "Ada"
    assert await adapter.display_name(UserRef("slack", "W222")) == "Grace Hopper"
    assert await adapter.display_name(UserRef("slack", "W404", "ghost")) == "ghost"
    assert await adapter.display_name(ada) == "Ada"
    assert len(slack.calls_to("users.info")) == 3
    assert adapter.user_from_mention("<@W222>") == UserRef("slack", "W222")
    assert adapter.bot_user == UserRef("slack", BOT) and adapter.bot_user.name == "convener"


async def test_members_and_channels_get_their_slack_names(http_bot):
    await http_bot.deliver(message("hello"))
    await http_bot.deliver(message("again"))
    await http_bot.app.activity.flush()
    async with http_bot.app.db.sessions() as session:
        member = await session.scalar(
            select(Member).join(Identity).where(Identity.user_id == "W111")
        )
        channel = await session.scalar(select(Channel).where(Channel.channel_id == "C111"))
    assert member.display_name == "Ada" and channel.name == "#practice"
    assert len(http_bot.slack.calls_to("users.info")) == 1
    assert len(http_bot.slack.calls_to("conversations.info")) == 1


async def test_role_grant_by_mention_through_a_slash_command(slack_bot):
    await slack_bot.deliver(message("hi", user="W222"))  # Grace is known
    url = slack_bot.slack.response_url("grant")
    form = load_slash_command(
        "role grant <@W222|grace> coordinator", user_id="UFAC", response_url=url
    )
    await slack_bot.command(form)
    assert slack_bot.slack.responses_to("grant")[0]["text"] == "Grace Hopper is now a coordinator."


# --- Socket Mode and start-up --------------------------------------------------------------


async def test_socket_mode_reconnects_and_keeps_handling(settings, slack, socket_server):
    running = await SlackBot(settings, slack, socket_server, "socket").start()
    try:
        await socket_server.disconnect()
        await socket_server.wait_for_connections(2)
        await running.deliver(message("!help"))
        assert len(slack.ephemeral) == 1
        assert slack.calls_to("apps.connections.open")[0].token == APP_TOKEN
    finally:
        await running.stop()


async def test_refuses_to_start_without_a_working_token(settings, socket_server):
    async with FakeSlackWebAPI(bot_token="xoxb-other") as strict:
        running = SlackBot(settings, strict, socket_server, "http")
        with pytest.raises(RuntimeError, match=r"refused SLACK_BOT_TOKEN \(invalid_auth\)"):
            await running.start()
    no_transport = settings.model_copy(update={"slack_bot_token": BOT_TOKEN})
    with pytest.raises(RuntimeError, match="SLACK_APP_TOKEN"):
        await SlackAdapter(no_transport).start(None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="SLACK_BOT_TOKEN"):
        await SlackAdapter(settings).start(None)  # type: ignore[arg-type]


async def test_direct_chats_are_remembered_across_a_restart(settings, slack, socket_server):
    """The direct chat's id is stored with the account: a restarted bot writes to Ada
    without opening the conversation again; a stored chat Slack no longer knows is opened
    again, once."""
    ada = UserRef("slack", "W111", "Ada")
    first = await SlackBot(settings, slack, socket_server, "http").start()
    try:
        await first.adapter.send_dm(ada, "one")
    finally:
        await first.stop()
    again = await SlackBot(settings, slack, socket_server, "http").start()
    try:
        sent = await again.adapter.send_dm(ada, "two")
        assert sent.channel.id == "DW111"
        assert len(slack.calls_to("conversations.open")) == 1
        slack.api_error_next("chat.postMessage", "channel_not_found")
        await again.adapter.send_dm(ada, "three")
        assert len(slack.calls_to("conversations.open")) == 2
        assert [c.params["text"] for c in slack.calls_to("chat.postMessage")][-1] == "three"
    finally:
        await again.stop()


async def test_a_refused_send_is_told_to_the_core_as_what_it_is(http_bot):
    """The outbox needs to know "slow down" (after the client's own retries) from "never":
    HTTP 429 becomes `RateLimited` with Slack's `Retry-After`, a deactivated account
    `Undeliverable`."""
    from bot.platform import RateLimited, Undeliverable

    ada = UserRef("slack", "W111", "Ada")
    http_bot.slack.fail_next("chat.postMessage", status=429, retry_after=0, times=4)
    with pytest.raises(RateLimited) as limited:
        await http_bot.adapter.send(ChannelRef("slack", "C111"), "hello")
    assert limited.value.retry_after == 0
    http_bot.slack.api_error_next("chat.postMessage", "account_inactive")
    with pytest.raises(Undeliverable, match="account_inactive"):
        await http_bot.adapter.send_dm(ada, "hello")


# --- history imported from an export -------------------------------------------------------


async def test_what_an_export_brought_in_is_not_logged_again_when_delivered_live(
    slack_bot, settings, tmp_path
):
    """The same message and reaction, once in an export (the message object Slack delivered,
    without the envelope) and once delivered live over the wire: one row each."""
    from adapters.slack.export import Export
    from bot.history import Importer
    from tests import slack_export
    from tests.harness import FakeClock

    live_message = load_event("message_channel.bolt-python")
    live_reaction = load_event("reaction_added.bolt-python")
    posted = {k: v for k, v in live_message["event"].items()
              if k not in ("channel", "channel_type", "event_ts")}  # fmt: skip
    reacted = live_reaction["event"]
    earlier = {
        "type": "message", "ts": reacted["item"]["ts"], "user": reacted["item_user"],
        "text": "Our budget calendar",
        "reactions": [{"name": reacted["reaction"], "users": [reacted["user"]], "count": 1}],
    }  # fmt: skip
    path = slack_export.write_files(tmp_path, {
        "users.json": [], "channels.json": [{"id": "C111", "name": "practice"}],
        "practice/2020-09-08.json": [earlier], "practice/2021-01-10.json": [posted],
    })  # fmt: skip
    keep_all = settings.model_copy(update={"retention_days": 0})
    summary = await Importer(slack_bot.app.db, keep_all, FakeClock()).run(Export(path).units())
    assert summary.rows == {"message": 2, "reaction": 1}
    before = await slack_bot.activity()
    await slack_bot.deliver(live_message)
    await slack_bot.deliver(live_reaction)
    assert len(slack_bot.seen) == 2  # both reached the core
    assert await slack_bot.activity() == before
