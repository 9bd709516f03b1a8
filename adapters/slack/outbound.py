"""What `SlackAdapter` asks of Slack's Web API: the `Platform` operations (messages, with
Block Kit buttons for actions; ephemeral answers; files; permalinks; threads) and the names
of people and channels and the direct chats, looked up once and cached. A mixin of
`SlackAdapter`, whose `__init__` sets the state used here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.events import translate_reply
from adapters.slack.home import home_blocks
from adapters.slack.text import PLATFORM, blocks, to_mrkdwn, user_from_mention
from adapters.slack.web import log, retry_handlers
from bot import state
from bot.platform import RateLimited, Undeliverable
from bot.types import (
    Action,
    ChannelRef,
    Event,
    FormSubmitted,
    Home,
    OutboundFile,
    Sent,
    Shortcut,
    SlashCommand,
    ThreadMessage,
    UserRef,
)

T = TypeVar("T")

NAMES_SECONDS = 1.0
"""How long the names of a delivery's sender and channel may take to look up (cache misses
only); past it the event goes on without them."""
THREAD_PAGE = 200
"""Replies asked for per `conversations.replies` request (Slack recommends at most 200; it
may return fewer)."""
MAX_THREAD_REPLIES = 1000
"""The most replies `thread` reads; a longer thread is cut there (with a warning)."""


DM_SCOPE = "slack:dm"  # `bot.state`: user id -> the id of the bot's direct chat with them
GONE = frozenset({
    "account_inactive", "user_not_found", "user_disabled", "channel_not_found",
    "not_in_channel", "is_archived", "cannot_dm_bot", "user_not_visible",
})  # fmt: skip
"""Errors after which a send can never succeed as asked."""
GROUP_REFUSED = frozenset({"not_enough_users", "too_many_users", "users_list_not_supplied"})
"""Errors of `conversations.open` after which that group can never be opened."""


def _refusal(exc: SlackApiError) -> Exception:
    """A refused send as the core's outbox knows it: "slow down" once the client's own
    retries are spent (HTTP 429, with `Retry-After`), for good (`GONE`), or as it was."""
    response = exc.response
    if getattr(response, "status_code", None) == 429:
        headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
        retry = headers.get("retry-after")
        try:
            seconds = float(retry[0] if isinstance(retry, list) else retry)
        except (TypeError, ValueError):
            seconds = 1.0
        return RateLimited(seconds, "Slack: rate limited")
    error = response.get("error") if hasattr(response, "get") else None
    if error in GONE:
        return Undeliverable(f"Slack: {error}")
    return exc


class OutboundMixin:
    _user_locales: dict[str, str | None]

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
        there, and a click on the Home tab (a channel named by the presser's id) in their
        direct chat."""
        user, channel = event.user, event.channel
        if user.is_bot:
            return event
        wants_channel = channel.name is None and not channel.is_direct
        checks_dm = isinstance(event, SlashCommand | Shortcut | FormSubmitted) and channel.is_direct
        user_name, channel_name, dm_id = await asyncio.gather(
            self._quick(self._user_name(user.id)),
            self._quick(self._channel_name(channel.id)) if wants_channel else _none(),
            self._quick(self._dm_channel_id(user)) if checks_dm else _none(),
        )
        user = replace(user, name=user_name or user.name,
                       locale=self._user_locales.get(user.id) or user.locale)  # fmt: skip
        if wants_channel:
            channel = replace(channel, name=f"#{channel_name}" if channel_name else None)
        if checks_dm and channel.id == user.id:
            channel = replace(channel, id=dm_id or user.id)
        elif checks_dm and dm_id != channel.id:
            channel = replace(channel, is_direct=False)
        return replace(event, user=user, channel=channel)

    async def _user_name(self, user_id: str) -> str | None:
        return await self._user_names.get(user_id, lambda: self._fetch_user_name(user_id))

    async def _fetch_user_name(self, user_id: str) -> str | None:
        """The person's name, from `users.info`, which also gives their locale (kept for
        `locale`: the same request)."""
        try:
            user = (await self.client.users_info(user=user_id, include_locale=True))["user"]
        except SlackApiError as exc:
            log.debug("Slack: users.info %s: %s", user_id, exc.response.get("error"))
            return None
        if not isinstance(user, dict):
            return None
        if len(self._user_locales) >= 50_000:
            self._user_locales.clear()
        locale = user.get("locale")
        self._user_locales[user_id] = locale if isinstance(locale, str) else None
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
        """The direct chat with the user: as stored (so a restart does not open every
        conversation again), else opened and stored."""
        stored = await self._stored_dm(user_id)
        if stored:
            return stored
        opened = await self.client.conversations_open(users=user_id)
        channel_id = opened["channel"]["id"]
        await self._store_dm(user_id, channel_id)
        return channel_id

    async def _stored_dm(self, user_id: str) -> str | None:
        db = getattr(self._intake, "db", None)
        if db is None:
            return None
        try:
            async with db.sessions() as session:
                return await state.get(session, DM_SCOPE, user_id)
        except Exception as exc:  # the database is down: open the conversation instead
            log.debug("Slack: stored direct chats unreadable (%s)", type(exc).__name__)
            return None

    async def _store_dm(self, user_id: str, channel_id: str | None) -> None:
        db = getattr(self._intake, "db", None)
        if db is None:
            return
        try:
            async with db.sessions() as session:
                if channel_id is None:
                    await state.delete(session, DM_SCOPE, user_id)
                else:
                    await state.put(session, DM_SCOPE, user_id, channel_id)
                await session.commit()
        except Exception as exc:
            log.debug("Slack: could not store a direct chat (%s)", type(exc).__name__)

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
        try:
            return await self._post(channel, text, thread_id, actions)
        except SlackApiError as exc:
            raise _refusal(exc) from exc

    async def _post(
        self, channel: ChannelRef, text: str, thread_id: str | None, actions: Sequence[Action]
    ) -> Sent:
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
        """In the direct chat with the user; a stored chat Slack no longer knows is opened
        again, once."""
        for attempt in (1, 2):
            try:
                channel_id = await self._dm_channel_id(user)
                channel = ChannelRef(PLATFORM, channel_id, None, is_direct=True)
                sent = await self._post(channel, text, None, actions)
            except SlackApiError as exc:
                if attempt == 1 and exc.response.get("error") == "channel_not_found":
                    self._dm_channels.forget(user.id)
                    await self._store_dm(user.id, None)
                    continue
                raise _refusal(exc) from exc
            sent.private_to = user
            return sent
        raise AssertionError("unreachable")

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

    async def post_file(
        self,
        channel: ChannelRef,
        file: OutboundFile,
        text: str = "",
        thread_id: str | None = None,
    ) -> Sent:
        """Upload into a channel (into a thread with `thread_id`), `text` as the file's
        comment (`files_upload_v2`, as `send_file`)."""
        try:
            async with self.client.in_flight(self.client.session):
                uploaded = await self.client.files_upload_v2(
                    channel=channel.id,
                    thread_ts=thread_id,
                    content=file.data,
                    filename=file.filename,
                    title=file.title or file.filename,
                    initial_comment=to_mrkdwn(text) if text else None,
                )
        except SlackApiError as exc:
            raise _refusal(exc) from exc
        file_id = (uploaded.get("file") or {}).get("id", "")
        return Sent(channel, file_id, text, thread_id, file=file)

    async def open_group(self, users: Sequence[UserRef], key: str) -> ChannelRef:
        """`conversations.open` with the members' ids: a group DM of them and Convener (an
        mpim; Slack gives the same one for the same people, so `key` is not kept). With one
        member, their direct chat."""
        bot_id = self.bot_user.id if self.bot_user else None
        ids = list(dict.fromkeys(user.id for user in users if user.id != bot_id))
        if not ids:
            raise Undeliverable("Slack: a group needs at least one member")
        try:
            opened = await self.client.conversations_open(users=",".join(ids))
        except SlackApiError as exc:
            refusal = _refusal(exc)
            if exc.response.get("error") in GROUP_REFUSED:
                refusal = Undeliverable(f"Slack: {exc.response.get('error')}")
            raise refusal from exc
        channel_id = opened["channel"]["id"]
        return ChannelRef(PLATFORM, channel_id, None, is_direct=len(ids) == 1)

    def user_from_mention(self, text: str) -> UserRef | None:
        return user_from_mention(text)

    async def locale(self, user: UserRef) -> str | None:
        """The person's Slack locale (`fr-FR`), asked with their name at first sight."""
        if user.id not in self._user_locales:
            self._user_names.forget(user.id)
            try:
                await self._user_name(user.id)
            except Exception:
                log.debug("Slack: no locale for %s", user.id, exc_info=True)
        return self._user_locales.get(user.id)

    async def close_choices(self, channel: ChannelRef, message_id: str) -> None:
        return None

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        """`views.publish`: the member's Home tab as Block Kit (`adapters.slack.home`), its
        buttons carrying their commands like a message's."""
        try:
            await self.client.views_publish(
                user_id=user.id, view={"type": "home", "blocks": home_blocks(home)}
            )
        except SlackApiError as exc:
            raise _refusal(exc) from exc
        return True

    async def display_name(self, user: UserRef) -> str:
        try:
            name = await self._user_name(user.id)
        except Exception:
            log.debug("Slack: no name for %s", user.id, exc_info=True)
            name = None
        return name or user.name or user.id


async def _none() -> None:
    return None
