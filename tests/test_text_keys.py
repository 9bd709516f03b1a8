"""Lookups by display name, city and topic ignore case beyond ASCII, the same on SQLite and
PostgreSQL: once per platform and database, plus the migration that fills in the keys."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from bot import members
from bot.db import upgrade
from bot.models import Base, Identity, Member
from bot.textkey import fold
from bot.types import UserRef
from tests.databases import downgrade

DECOMPOSED = unicodedata.normalize("NFD", "ÉLODIE")


def test_fold():
    assert fold("Élodie") == fold("ÉLODIE") == fold(DECOMPOSED) == fold(" élodie ") == "élodie"
    assert fold("SÃO  PAULO") == fold("São Paulo") == "são paulo"
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("Elodie") != fold("Élodie")  # accents count in names, unlike topic keys
    assert fold(None) is None and fold("") is None and fold(" \t") is None
    assert fold("ß" * 50, 80) == "s" * 80  # cut to the key column's length


@pytest.mark.parametrize("typed", ["élodie", "ÉLODIE", "Élodie", DECOMPOSED])
async def test_profile_by_display_name_in_any_case(bot, typed):
    await bot.say("Élodie", "!profile city Lyon")
    await bot.say("bob", f"!profile {typed}")
    assert bot.last_reply_to("bob").startswith("**Élodie**\nCity: Lyon")


async def test_keys_follow_orm_writes(bot):
    await bot.say("Élodie", "!profile city SÃO PAULO")
    async with bot.app.db.sessions() as session:
        member = await members.find(session, bot.user("Élodie"))
        identity = await session.scalar(select(Identity).where(Identity.member_id == member.id))
        assert (member.name_key, member.city_key) == ("élodie", "são paulo")
        assert identity.name_key == "élodie"
    await bot.say("Élodie", "!profile city -")
    async with bot.app.db.sessions() as session:
        member = await members.find(session, bot.user("Élodie"))
        assert (member.city, member.city_key) == (None, None)
        member.display_name = "ÅSA Öberg"
        await session.commit()
        stored = await session.scalar(select(Member.name_key).where(Member.id == member.id))
    assert stored == "åsa öberg"


async def test_members_created_in_bulk_have_keys(bot):
    now = datetime(2026, 3, 2, tzinfo=UTC)
    user = UserRef(bot.platform_name, "U0NANDU", "Ñandú Pérez")
    async with bot.app.db.sessions() as session:
        ids = await members.resolve_many(session, [user], now)
        await session.commit()
        member = await session.get(Member, ids[(user.platform, user.id)])
        assert member.name_key == "ñandú pérez"
        found = await members.from_mention(session, bot.platform, "ÑANDÚ PÉREZ")
    assert found.id == member.id


@pytest.mark.parametrize("stored", ["Données", "données", "DONNÉES"])
async def test_experts_for_an_accented_topic_in_any_case(bot, stored):
    await bot.say("fac", f"!topic add {stored}")
    await bot.say("amina", f"!expertise add {stored}")
    for typed in ("Données", "données", "DONNÉES", unicodedata.normalize("NFD", "DONNÉES")):
        await bot.say("bob", f"!experts {typed}")
        assert bot.last_reply_to("bob") == f"Who can help with {stored}:\n• amina"


async def test_introductions_match_cities_in_any_case(bot):
    await bot.say("bob", "!profile city São Paulo")
    await bot.say("eve", "!profile city Sao Paulo")  # another spelling is another city
    await bot.join("dana")
    await bot.dm("dana", "SÃO PAULO")
    await bot.dm("dana", "stop")
    assert bot.last_reply_to("dana").endswith(
        "People you might like to meet:\n• bob: also in São Paulo"
    )


# the migration --------------------------------------------------------------------------


def test_migration_fills_in_the_keys(empty_database):
    url = empty_database
    upgrade(url, "0002")
    names = ["Élodie", "  SÃO\tPaulo ", None, "", "ß" * 80, *(f"Member {i}" for i in range(2500))]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, display_name, city, is_bot, created_at, is_away) "
                "VALUES (:id, :name, :city, false, CURRENT_TIMESTAMP, false)"
            ),
            [
                {"id": i, "name": name or "", "city": name and name[:80]}
                for i, name in enumerate(names, start=1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO identities (member_id, platform, user_id, display_name) "
                "VALUES (1, 'matrix', '@elodie:example.org', :name)"
            ),
            {"name": unicodedata.normalize("NFD", "ÉLODIE B.")},
        )
    engine.dispose()

    upgrade(url)

    engine = create_engine(url)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, name_key FROM members")).all())
        cities = dict(conn.execute(text("SELECT id, city_key FROM members")).all())
        identity = conn.execute(text("SELECT name_key FROM identities")).scalar_one()
        diffs = [
            diff
            for diff in _compare(conn)
            if any(key in repr(diff) for key in ("name_key", "city_key"))
        ]
    engine.dispose()
    assert (keys[1], cities[1]) == ("élodie", "élodie")
    assert (keys[2], cities[2]) == ("são paulo", "são paulo")
    assert (keys[3], cities[3]) == (None, None)
    assert (keys[4], cities[4]) == (None, None)
    assert (keys[5], cities[5]) == ("s" * 160, "s" * 80)
    assert keys[len(names)] == "member 2499" and cities[len(names)] == "member 2499"
    assert sum(key is not None for key in keys.values()) == len(names) - 2
    assert identity == "élodie b."
    assert diffs == []  # the migration builds exactly what bot/models.py declares

    downgrade(url, "0002")
    engine = create_engine(url)
    with engine.connect() as conn:
        columns = list(conn.execute(text("SELECT * FROM members")).keys())
        count = conn.execute(text("SELECT count(*) FROM identities")).scalar_one()
    engine.dispose()
    assert "name_key" not in columns and "city_key" not in columns
    assert count == 1  # nothing cascaded away
    upgrade(url)


def _compare(conn) -> list:
    from alembic.autogenerate import compare_metadata

    return compare_metadata(MigrationContext.configure(conn), Base.metadata)
