"""Which language each reader reads, and the `Voice` that renders what Convener says in it.

A member reads their own language (`profile language`, or their Slack locale at first
sight), a channel's posts are in the channel's (`channel language`); either falls back to the
community's (`CONVENER_LANGUAGE`). The sender's language comes with the resolved member, and
channels' choices are kept in memory (loaded at start, refreshed by a job for replicas), so
no event costs a statement to find its reader's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.errors import CommandError
from bot.i18n import Message, _
from bot.models import Channel, Identity, Member
from bot.platform import Platform
from bot.types import Action, ChannelRef, Home, Item, OutboundFile, Section, Sent, UserRef

if TYPE_CHECKING:
    from bot.claims import Sender
    from bot.context import Context
    from bot.db import Database

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


class Languages:
    """The community's language and each channel's own, in memory."""

    def __init__(self, db: Database, default: str) -> None:
        self.db = db
        self.default = i18n.code(default) or i18n.ENGLISH
        i18n.preload()
        self._channels: dict[tuple[str, str], str] = {}
        self._task: asyncio.Task | None = None

    def of(self, language: str | None) -> str:
        """A stored choice as a language to speak (the community's when none or unknown)."""
        return (language and i18n.code(language)) or self.default

    def of_member(self, member: Member | None) -> str:
        return self.of(member.language if member is not None else None)

    def of_channel(self, channel: ChannelRef) -> str:
        return self._channels.get((channel.platform, channel.id), self.default)

    def channel_choice(self, channel: ChannelRef) -> str | None:
        """The channel's own choice (None: it follows the community's)."""
        return self._channels.get((channel.platform, channel.id))

    async def of_user(self, user: UserRef) -> str:
        """A platform account's member's language (one statement)."""
        return (await self.reader_of_user(user))[0]

    async def reader_of_user(self, user: UserRef) -> tuple[str, str | None]:
        """A platform account's member's language and own time zone (one statement)."""
        async with self.db() as session:
            found = (
                await session.execute(
                    select(Member.language, Member.timezone)
                    .join(Identity, Identity.member_id == Member.id)
                    .where(Identity.platform == user.platform, Identity.user_id == user.id)
                )
            ).first()
        return (self.of(found[0]), found[1]) if found else (self.default, None)

    async def of_member_id(self, session: AsyncSession, member_id: int) -> str:
        return (await self.reader_of_member_id(session, member_id))[0]

    async def reader_of_member_id(
        self, session: AsyncSession, member_id: int
    ) -> tuple[str, str | None]:
        """A member's language and own time zone (one statement)."""
        found = (
            await session.execute(
                select(Member.language, Member.timezone).where(Member.id == member_id)
            )
        ).first()
        return (self.of(found[0]), found[1]) if found else (self.default, None)

    async def set_channel(
        self, session: AsyncSession, channel: ChannelRef, language: str | None
    ) -> None:
        """Keep a channel's language (None: the community's); the caller commits, and this
        process knows at once."""
        from bot import members

        row = await members.resolve_channel(session, channel)
        await session.execute(update(Channel).where(Channel.id == row.id).values(language=language))
        self._remember(channel.platform, channel.id, language)

    def _remember(self, platform: str, channel_id: str, language: str | None) -> None:
        if language:
            self._channels[(platform, channel_id)] = language
        else:
            self._channels.pop((platform, channel_id), None)

    async def load(self) -> None:
        """Read every channel's choice (at start, then now and then for other replicas')."""
        async with self.db() as session:
            rows = (
                await session.execute(
                    select(Channel.platform, Channel.channel_id, Channel.language).where(
                        Channel.language.is_not(None)
                    )
                )
            ).all()
        self._channels = {(platform, cid): lang for platform, cid, lang in rows if lang}

    def start(self, replicas: bool) -> None:
        """With other replicas (`replicas`), read their channels' choices now and then."""
        if replicas and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_fresh())

    async def _keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.load()
            except Exception as exc:
                log.warning("could not read channels' languages (%s); will retry", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def set_member(session: AsyncSession, member_id: int, language: str | None) -> None:
    """Keep a member's language (None: the community's); the caller commits."""
    await session.execute(update(Member).where(Member.id == member_id).values(language=language))


# What `profile language`, `channel language` and the onboarding conversation accept, and the
# line that names the languages when they are given something else.


def offered() -> Message:
    """The languages Convener speaks, each as its code and its own name."""
    return i18n.join(
        _("`{code}` ({name})", code=code, name=i18n.name_of(code)) for code in i18n.available()
    )


def not_a_language(given: str | None) -> Message:
    """The answer to a language Convener does not speak (or none), naming those it does."""
    given = (given or "").strip()
    if not given:
        return _("Which language? Choose one of: {languages}.", languages=offered())
    return _("`{given}` is not a language I speak. Choose one of: {languages}.",
             given=given[:20], languages=offered())  # fmt: skip


def chosen(given: str | None) -> str:
    """The language `given` names (`fr`, `FR`, `fr-FR`, `pt_BR`); CommandError naming the
    languages otherwise."""
    code = i18n.code(given or "")
    if code is None:
        raise CommandError(not_a_language(given))
    return code


async def speak(ctx: Context, code: str) -> Message:
    """Keep the sender's language and speak it at once: the answer is already in it."""
    async with ctx.db() as session:
        await set_member(session, ctx.sender.member_id, code)
        await session.commit()
    ctx.sender.member.language = code  # the sender's detached copy, for this event's answers
    return _("Saved: your language is {language}.", language=i18n.name_of(code))


class Voice:
    """A platform that speaks Convener's messages: each is rendered in its reader's language,
    then handed to the adapter. A channel post is in the channel's language, anything to one
    person in theirs (the sender's is known; anyone else's is looked up)."""

    __slots__ = ("_languages", "_sender", "platform")

    def __init__(self, platform: Platform, languages: Languages, sender: Sender | None) -> None:
        self.platform = platform
        self._languages = languages
        self._sender = sender

    def __getattr__(self, name: str):
        return getattr(self.platform, name)

    @property
    def name(self) -> str:
        return self.platform.name

    @property
    def bot_user(self) -> UserRef | None:
        return self.platform.bot_user

    async def language_of(self, user: UserRef) -> str:
        return (await self.reader_of(user))[0]

    async def reader_of(self, user: UserRef) -> tuple[str, str | None]:
        """The language and own time zone of the person `user` is."""
        sender = self._sender
        if sender is not None and (sender.user.platform, sender.user.id) == (
            user.platform,
            user.id,
        ):
            return self._languages.of_member(sender.member), sender.member.timezone
        return await self._languages.reader_of_user(user)

    def language_in(self, channel: ChannelRef) -> str:
        """The language of what is said in `channel`: a direct chat's is its person's."""
        return self.reader_in(channel)[0]

    def reader_in(self, channel: ChannelRef) -> tuple[str, str | None]:
        """The language and time zone of what is said in `channel`: a direct chat's are its
        person's; a channel has no time zone of its own (times show the event's and UTC)."""
        if channel.is_direct and self._sender is not None:
            member = self._sender.member
            return self._languages.of_member(member), member.timezone
        return self._languages.of_channel(channel), None

    async def send(
        self,
        channel: ChannelRef,
        text: Message | str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        language, zone = self.reader_in(channel)
        return await self.platform.send(
            channel, i18n.render(text, language, zone), thread_id=thread_id,
            actions=rendered(actions, language),
        )  # fmt: skip

    async def send_dm(
        self, user: UserRef, text: Message | str, actions: Sequence[Action] = ()
    ) -> Sent:
        language, zone = await self.reader_of(user)
        return await self.platform.send_dm(
            user, i18n.render(text, language, zone), actions=rendered(actions, language)
        )

    async def send_private(
        self,
        user: UserRef,
        text: Message | str,
        channel: ChannelRef | None = None,
        reply_token: str | None = None,
    ) -> Sent:
        language, zone = await self.reader_of(user)
        return await self.platform.send_private(
            user, i18n.render(text, language, zone), channel=channel, reply_token=reply_token
        )

    async def send_file(self, user: UserRef, file: OutboundFile, text: Message | str = "") -> Sent:
        language, zone = await self.reader_of(user)
        return await self.platform.send_file(
            user, file, i18n.render(text, language, zone) if text else ""
        )

    async def post_file(
        self,
        channel: ChannelRef,
        file: OutboundFile,
        text: Message | str = "",
        thread_id: str | None = None,
    ) -> Sent:
        language = self.language_in(channel)
        return await self.platform.post_file(
            channel, file, i18n.render(text, language) if text else "", thread_id=thread_id
        )

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        """Show `home` on the member's own page in the platform, in their language and
        time zone."""
        return await self.platform.publish_home(
            user, rendered_home(home, *await self.reader_of(user))
        )


def rendered_home(home: Home, language: str, zone: str | None = None) -> Home:
    """A home with every text in `language`, times in `zone` (commands stay as typed)."""

    def said(message: Message | str | None) -> str | None:
        return i18n.render(message, language, zone) if message is not None else None

    return Home(tuple(
        Section(
            said(section.title),
            tuple(Item(said(item.text), rendered(item.actions, language))
                  for item in section.items),
            rendered(section.actions, language),
            said(section.empty),
        )
        for section in home.sections
    ))  # fmt: skip


def rendered(actions: Sequence[Action], language: str) -> tuple[Action, ...]:
    """Buttons with their labels in `language` (their commands stay as typed)."""
    return tuple(replace(a, label=i18n.render(a.label, language)) for a in actions)


class Voices(Mapping[str, Voice]):
    """The running platforms, each speaking through a `Voice`."""

    __slots__ = ("_make", "_platforms")

    def __init__(self, platforms: Mapping[str, Platform], make: Callable[[Platform], Voice]):
        self._platforms = platforms
        self._make = make

    def __getitem__(self, name: str) -> Voice:
        return self._make(self._platforms[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._platforms)

    def __len__(self) -> int:
        return len(self._platforms)

    def __contains__(self, name: object) -> bool:
        return name in self._platforms
