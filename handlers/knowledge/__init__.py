"""The knowledge library: solved questions and curated resources, searchable."""

from handlers.knowledge.commands import router

__all__ = ["router"]
