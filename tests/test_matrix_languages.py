"""Languages on Matrix, against a real Synapse: Matrix has no notion of a user's language, so
a member chooses one (`!profile language fr`) and from then on `!help` answers in French."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.i18n import _
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import is_text

pytestmark = pytest.mark.matrix
homeserver, world = base.homeserver, base.world  # the fixtures, shared


async def test_profile_language_then_help_in_french(world):
    alice, bot_id = world["alice"], world["bot_id"]
    await alice.sync()
    saved = i18n.render(_("Saved: your language is {language}.", language="Français"), "fr")
    assert saved != "Saved: your language is Français."
    await alice.say(world["room"], "!profile language fr")
    _room, reply = await alice.wait_for(is_text(saved))
    assert reply.sender == bot_id
    heading = i18n.render(_("Here is what you can ask me:"), "fr")
    assert heading != "Here is what you can ask me:"
    await alice.say(world["room"], "!help")
    _where, answer = await alice.wait_for(is_text(heading))
    assert answer.sender == bot_id
    assert "Here is what you can ask me" not in answer.body
    assert "<code>help [command]</code>" in answer.formatted_body  # command words stay
