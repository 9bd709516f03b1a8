"""The knowledge library: solved questions, threads facilitators chose (*Add to the library*)
and curated resources, searchable. Other features use it through what this package exports:
questions keep what was solved and offer similar entries; onboarding points newcomers at what
to read. Answered threads found in imported history wait as candidates (`candidates`)."""

from bot.router import Router
from handlers.knowledge import candidates, commands, shortcuts
from handlers.knowledge.keeping import Unreadable, answers, keep
from handlers.knowledge.library import add, for_learning, link, shown, similar

router = Router().include(commands.router, shortcuts.router, candidates.router)

__all__ = [
    "Unreadable",
    "add",
    "answers",
    "for_learning",
    "keep",
    "link",
    "router",
    "shown",
    "similar",
]
