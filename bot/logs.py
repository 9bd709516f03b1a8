"""Keeping secrets out of the logs, at every level and from every library.

`install(settings)` (called by `bot.cli.setup_logging`) puts one `Redactor` on each handler of
the root logger: every record that reaches them, ours or a library's (matrix-nio, aiohttp,
aiosqlite, slack-sdk, psycopg, SQLAlchemy...), has its message, traceback and stack rewritten
before it is formatted. It removes

* the value of every secret setting (any setting whose name says token, password or secret,
  and the password of any URL setting such as CONVENER_DATABASE_URL), as written and as it
  appears URL-encoded or escaped in JSON and reprs;
* secrets learned at run time, which their owner registers with `redact(value)` as soon as it
  has them (the Matrix access token of a password login);
* whatever looks like a credential whatever its value: `access_token=...` and the like in a
  URL query or form, `"password": "..."`-style pairs in JSON, dicts and tuples, Authorization
  headers and `Bearer ...`, a URL's `user:password@`, Slack tokens (`xoxb-`, `xapp-`...),
  Synapse tokens (`syt_`, `syr_`) and Slack's `hooks.slack.com` response URLs. These catch a
  secret in the records a library writes before anyone could register it (matrix-nio logs
  the login response, access token included, before `login()` returns).

A logging filter is process-wide by nature, so there is one `Redactor` per process
(`REDACTOR`). A handler added to the root logger after `install` is not covered until
`install` is called again. Values shorter than `MIN_SECRET_LENGTH` are not searched for (they
would turn every log line into noise); the patterns above still apply to them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

MASK = "[redacted]"
MIN_SECRET_LENGTH = 4
_SECRET_NAME = re.compile(r"token|password|passwd|secret", re.IGNORECASE)

# The name of a field that holds a credential (access_token, password, client_secret...).
_KEY = r"[\w.-]*?(?:token|passw(?:or)?d|secret|ticket|api[_-]?key)[\w.-]*"
_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # Authorization headers, however they are printed; then any bearer token.
    (
        re.compile(
            r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)(?:(bearer|basic|token|digest)\s+)?"""
            r"""[^\s'",}]+"""
        ),
        lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]+"), rf"\1 {MASK}"),
    # 'access_token': 'x' / "password": "x" / ('...', 'access_token', 'x', ...)
    (
        re.compile(rf"""(?i)(['"])({_KEY})\1(\s*[:,]\s*)(['"])(?:\\.|(?!\4)[^\\])*\4"""),
        rf"\1\2\1\3\4{MASK}\4",
    ),
    # access_token=x in a query string or a form, password=x in a conninfo, key='x' in a repr
    (
        re.compile(rf"""(?i)\b({_KEY})=(?:'[^']*'|"[^"]*"|[^\s&;,'")}}\]]+)"""),
        rf"\1={MASK}",
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+@"), rf"\1{MASK}@"),
    # Slack tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxe-..., xapp-) and Synapse's (syt_, syr_)
    (re.compile(r"\b(?:xox[a-z](?:\.[\w-]+)?-|xapp-|sy[tr]_)[\w-]+"), MASK),
    # Slack response URLs and incoming webhooks: whoever has one can post
    (re.compile(r"(https://hooks\.slack\.com/)[\w/%-]+"), rf"\1{MASK}"),
]


def _variants(secret: str) -> set[str]:
    """How a secret may be written in a log line: as is, URL-encoded, and escaped as a
    string inside JSON or a Python repr."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }


class Redactor(logging.Filter):
    """A filter that rewrites records so that no known secret and nothing that looks like a
    credential is left in them; it never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remove `secret` from every record from now on (values too short are ignored)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            new = _variants(secret) - self._secrets
            if not new:
                return
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
            self._known = re.compile("|".join(map(re.escape, ordered)))

    def scrub(self, text: str) -> str:
        """`text` without secrets."""
        known = self._known
        if known is not None:
            text = known.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_convener_redacted", False):
            return True  # seen by another handler already
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        record._convener_redacted = True
        return True


REDACTOR = Redactor()
"""The process's redactor: what `install` puts on the root handlers and `redact` feeds."""


def redact(secret: str | None) -> None:
    """Keep `secret`, learned at run time (an access token from a login), out of every log
    line from now on. Call it as soon as the value is known, before it is stored or used."""
    REDACTOR.add(secret)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in `settings`: the fields named like a token, password or secret,
    and the password of every URL (the database's, say)."""
    found: list[str] = []
    for name, value in settings.model_dump().items():
        if not isinstance(value, str) or not value:
            continue
        if _SECRET_NAME.search(name):
            found.append(value)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                continue
            if password:
                found.extend({password, unquote(password)})
    return found


def install(
    settings: Settings | None = None, handlers: Iterable[logging.Handler] | None = None
) -> Redactor:
    """Redact the secrets of `settings` from everything the root logger's handlers (or just
    `handlers`) write from now on. Safe to call again (after adding a handler, say)."""
    if settings is not None:
        for secret in secrets_of(settings):
            if len(secret) < MIN_SECRET_LENGTH:
                log.warning(
                    "a secret setting is shorter than %d characters: it cannot be kept out of "
                    "the logs reliably; use a real secret",
                    MIN_SECRET_LENGTH,
                )
            REDACTOR.add(secret)
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    return REDACTOR
