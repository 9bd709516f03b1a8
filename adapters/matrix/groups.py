"""Group conversations on Matrix (`open_group`): a private room the bot makes for a few
members, each invited, named after them (`Convener: Ada & Grace`: a named room is never taken
for a direct chat, by clients or by `_room`), encrypted when every member's client does
encryption, as direct rooms are. The room made for a key is kept in the adapter's state
(`group:<key>`), so a retry, a restart or another replica asking with the same key gets the
same room. A mixin of `MatrixAdapter`, after `OutboundMixin` (whose requests it uses)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nio import RoomCreateResponse, RoomPreset

from adapters.matrix import polls
from adapters.matrix.outbound import ENCRYPTION_STATE, _refusal, outgoing
from adapters.matrix.text import PLATFORM
from bot.platform import Undeliverable
from bot.types import ChannelRef, UserRef

GROUP = "group:"  # state key prefix: the group's key -> its room id
MAX_NAME = 255  # characters of a room name (Synapse refuses longer)


class GroupsMixin:
    @outgoing
    async def open_group(self, users: Sequence[UserRef], key: str) -> ChannelRef:
        """The room of `key`: as kept, else a new one with each member invited (kept). One
        at a time per key in a replica; two replicas asking for a new key at the same
        moment could each make one (the outbox sends a notice from one replica)."""
        bot_id = self.settings.matrix_user_id
        members = list({u.id: u for u in users if u.id != bot_id}.values())
        if not members:
            raise Undeliverable("Matrix: a group needs at least one member")
        stored = polls.state_key(GROUP, key)
        name = None
        async with self._opening.setdefault(stored, asyncio.Lock()):
            room_id = await self._get(stored)
            if not room_id:
                name = await self._group_name(members)
                room_id = await self._new_group(members, name)
                await self._put(**{stored: room_id})
        self._opening.pop(stored, None)
        room = self._outbound().rooms.get(room_id)
        if room is None and name:
            return ChannelRef(PLATFORM, room_id, f"#{name}"[:MAX_NAME], is_direct=False)
        return self._room(room_id, room)

    async def _group_name(self, members: Sequence[UserRef]) -> str:
        names = await asyncio.gather(*(self.display_name(user) for user in members))
        return ("Convener: " + " & ".join(names))[:MAX_NAME]

    async def _new_group(self, members: Sequence[UserRef], name: str) -> str:
        ids = [user.id for user in members]
        encrypted = await self._encrypts(*ids)
        response = await self._request(
            lambda client: client.room_create(
                name=name, is_direct=False, preset=RoomPreset.private_chat, invite=ids,
                initial_state=[ENCRYPTION_STATE] if encrypted else (),
            )
        )  # fmt: skip
        if not isinstance(response, RoomCreateResponse):
            raise _refusal(f"a group of {', '.join(ids)}", response)
        if encrypted:
            self._know_direct_room(response.room_id, *ids)
        return response.room_id
