"""What the modules of the Matrix adapter share: its errors, its logger and the faults of the
connection to the homeserver it retries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger("adapters.matrix.adapter")
"""One logger for the whole adapter, named after the module it was first written in, so that
log filters and levels set for it still apply."""

CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class MatrixError(RuntimeError):
    """The homeserver refused an operation (the message says why)."""


class MatrixNotReady(MatrixError):
    """An outbound operation before the adapter is ready (or after it stopped)."""


def for_log(value: Any) -> str:
    """A value from a payload, safe for a log line."""
    return value[:100] if isinstance(value, str) and value.isprintable() else repr(value)[:100]
