"""Small named values (`bot.state`): two writers of one key at once both succeed (adapters
store a direct room or a DM channel while several notices go out at once)."""

from __future__ import annotations

import asyncio

from bot import state
from bot.db import Database


async def test_two_writers_of_one_new_key_at_once_both_succeed(database_url):
    db = Database(database_url)
    await asyncio.to_thread(db.upgrade)
    try:

        async def put(value: str) -> None:
            async with db.sessions() as session:
                await state.put(session, "matrix:@bot:example.org", "m.direct", value)
                await asyncio.sleep(0.05)  # both sessions hold their write before committing
                await session.commit()

        await asyncio.gather(put("one"), put("two"))
        async with db.sessions() as session:
            found = await state.get(session, "matrix:@bot:example.org", "m.direct")
            assert found in ("one", "two")
            await state.put(session, "matrix:@bot:example.org", "m.direct", "three")
            await session.commit()
            assert await state.get(session, "matrix:@bot:example.org", "m.direct") == "three"
    finally:
        await db.dispose()
