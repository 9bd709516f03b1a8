"""Comparable keys for free text (display names, cities), the same on every database.

SQL `lower()` folds only ASCII on SQLite (and depends on the locale on PostgreSQL), so
case-insensitive lookups compare a key computed here instead: stored beside the text in a
`*_key` column (kept in sync by listeners in bot/models/members.py) and computed the same way from
what a person typed. Unlike a topic's key (handlers/topics/service.py), accents count:
"Élodie" and "ÉLODIE" share a key, "Elodie" does not.
"""

from __future__ import annotations

import unicodedata

NAME_KEY_LENGTH = 200  # members.name_key, identities.name_key
CITY_KEY_LENGTH = 80  # members.city_key


def fold(text: str | None, limit: int | None = None) -> str | None:
    """The key of `text`: Unicode NFC, case folded, surrounding whitespace stripped and inner
    runs of whitespace made one space, cut to `limit` characters (a key column's length: case
    folding can lengthen text, "ß" becomes "ss"); None for None or blank text."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    key = " ".join(folded.split())[:limit].rstrip()
    return key or None
