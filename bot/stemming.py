"""Words as the knowledge library indexes and searches them, in each entry's own language.

An entry is indexed in one language (`LANGUAGES`: those Convener speaks, each with its Snowball
stemmer): each word is case-folded, stemmed by that language's stemmer (which expects the
accents), then stripped of its accents, and tagged with the language (`es1presupuest`), so
that "presupuestos" and "presupuesto" are one term, and "financiacion" finds "financiación".
When stemming the word without its accents gives another stem (French and Portuguese, at
times: `fiscalite` / `fiscalité`), that one follows the text's terms too, so a word typed
without accents still finds it.

A searched word is stemmed in every language (`query_forms`), each form tagged with its
language: it finds an English entry through its English stem and a Spanish one through its
Spanish stem, and never an English entry through its French stem ("notes" is `fr1not`,
which no English "not" is). Common words of any of the languages (`STOPWORDS`) are not
searched for, nor are an entry's common words indexed (a phrase matches without them:
"state of the art" is `en1state en1art`).

`detect` tells an entry's language from its words when they say it clearly; otherwise the
entry takes the language of the member who added it.

The stemmers are not thread-safe: each thread has its own; stems are cached.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

from bot import i18n


def _snowball_names() -> dict[str, str]:
    """Each language Convener speaks (a catalog, `bot.i18n`) with its Snowball stemmer's
    name, so that a fifth catalog brings its own stemming (`de`: german)."""
    algorithms = set(snowballstemmer.algorithms())
    found = {}
    for code in i18n.available():
        name = i18n.babel_locale(code).english_name.lower()
        if name in algorithms:
            found[code] = name
    return found


LANGUAGES = _snowball_names()
DEFAULT = "en"
MAX_DETECTED = 4000  # characters of a text read to tell its language
CLEAR = 1.5  # the least score of a detected language, and how much it must lead the next

_WORD = re.compile(r"[^\W_]+")

# A few dozen of each language's most common words (no accents: compared without them);
# words common to several count for each a share. Mind English content words ("sin", "son").
_COMMON = {
    "en": "a an the and of to in is are was were be been for with as that this these those it "
    "its on at by from have has had not but or i me my we us our you your they their them "
    "what which who why how when where there do does did can will would should about into "
    "than then any anyone other others",
    "fr": "le la les un une des du de et est sont etait dans pour pas par sur au aux avec ce "
    "cette ces qui que il elle ils nous vous leur leurs mais ou plus comment notre nos "
    "votre vos ete etre tres sans aussi tout on se ne",
    "es": "el la los las un una unos unas del de y es esta estan en por para con como pero "
    "mas sus su que cuando muy tambien hay este esto estos entre sobre ya lo se no al "
    "nuestro nuestra donde",
    "pt": "o a os as um uma uns umas do da dos das de e esta em no na nos nas por para com "
    "como mas mais seu sua seus que nao ao aos pelo pela tambem ha este isso entre sobre "
    "sem ja se nosso nossa onde foi sao",
}
COMMON = {language: frozenset(_COMMON.get(language, "").split()) for language in LANGUAGES}
STOPWORDS = frozenset().union(*COMMON.values())
# Letters and endings only one or two of the languages write (checked with accents).
_CUES = {
    "ñ": ("es",), "ción": ("es",), "ã": ("pt",), "õ": ("pt",), "ç": ("fr", "pt"),
    "è": ("fr",), "ù": ("fr",), "œ": ("fr",), "ê": ("fr", "pt"), "â": ("fr", "pt"),
}  # fmt: skip

_local = threading.local()


def supported(language: str | None) -> str | None:
    """The indexed language a code means (`pt_BR` is `pt`), or None."""
    code = i18n.code(language or "")
    return code if code in LANGUAGES else None


def unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


def words(text: str) -> list[str]:
    """A text's words, case-folded, in order."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def tag(language: str) -> str:
    """What the terms of a language begin with (`es1presupuest`)."""
    return f"{language}1"


def _stemmer(language: str):
    found = getattr(_local, "stemmers", None)
    if found is None:
        found = _local.stemmers = {}
    if language not in found:
        found[language] = snowballstemmer.stemmer(LANGUAGES[language])
    return found[language]


@lru_cache(maxsize=65536)
def _forms(word: str, language: str) -> tuple[str, ...]:
    """A case-folded word's indexed term in `language`, then its stem without accents when
    that differs; none for the language's common words, which are not indexed."""
    bare = unaccented(word)
    if bare in COMMON[language]:
        return ()
    stemmer = _stemmer(language)
    main = tag(language) + unaccented(stemmer.stemWord(word))
    if bare == word:
        return (main,)
    other = tag(language) + stemmer.stemWord(bare)
    return (main,) if other == main else (main, other)


def terms(text: str, language: str) -> str:
    """A text as the index holds it: the terms of its words in `language` but the common
    ones, in order (for phrases), then the other forms of its accented words."""
    language = supported(language) or DEFAULT
    found = [stems for word in words(text) if (stems := _forms(word, language))]
    main = [stems[0] for stems in found]
    seen = set(main)
    extra = [form for stems in found for form in stems[1:] if form not in seen]
    return " ".join(main + list(dict.fromkeys(extra)))


def forms(word: str, language: str) -> set[str]:
    """The terms by which a searched word finds an entry in `language`."""
    return set(_forms(word, language))


def query_forms(word: str) -> set[str]:
    """The terms by which a searched (case-folded) word finds entries in any language."""
    return {form for language in LANGUAGES for form in _forms(word, language)}


def phrase_forms(phrase: str) -> list[str]:
    """A phrase as it stands in an entry in each language: the terms in order, the common
    words left out (also without accents, when that differs); none for only common words."""
    said = words(phrase)
    found: dict[str, None] = {}
    for language in LANGUAGES:
        per_word = [stems for word in said if (stems := _forms(word, language))]
        found[" ".join(stems[0] for stems in per_word)] = None
        found[" ".join(stems[-1] for stems in per_word)] = None
    return [variant for variant in found if variant]


def content_words(text: str, limit: int = 20) -> list[str]:
    """A text's words worth searching for, each once, in order (no common words)."""
    kept = (word for word in words(text) if unaccented(word) not in STOPWORDS)
    return list(dict.fromkeys(kept))[:limit]


def detect(text: str, default: str) -> str:
    """The language a text is clearly written in, else `default`: the one whose common
    words (and letters) it holds most, by `CLEAR` at least and by twice as many as the
    next."""
    scores = dict.fromkeys(LANGUAGES, 0.0)
    for word in words(text[:MAX_DETECTED]):
        _score(scores, [lang for lang, common in COMMON.items() if unaccented(word) in common])
        for cue, languages in _CUES.items():
            if cue in word:
                _score(scores, languages)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= CLEAR and top >= 2 * second:
        return best
    return supported(default) or DEFAULT


def _score(scores: dict[str, float], languages: Iterable[str]) -> None:
    languages = list(languages)
    for language in languages:
        scores[language] += 1 / len(languages)
