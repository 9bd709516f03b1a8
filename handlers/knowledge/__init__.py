"""The knowledge library: solved questions and curated resources, searchable. Other features
use it through what this package exports: questions add what was solved and offer similar
entries; onboarding points newcomers at what to read."""

from handlers.knowledge.commands import router
from handlers.knowledge.library import add, for_learning, link, shown, similar

__all__ = ["add", "for_learning", "link", "router", "shown", "similar"]
