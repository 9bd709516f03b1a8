"""What the modules of the Matrix adapter share: its errors, its logger and the faults of the
connection to the homeserver it retries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from nio import AsyncClient

log = logging.getLogger("adapters.matrix.adapter")
"""One logger for the whole adapter, named after the module it was first written in, so that
log filters and levels set for it still apply."""

CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class MatrixError(RuntimeError):
    """The homeserver refused an operation (the message says why)."""


class MatrixNotReady(MatrixError):
    """An outbound operation before the adapter is ready (or after it stopped)."""


async def get_json(client: AsyncClient, path: str) -> tuple[int, Any]:
    """GET a client-server API path with the client's token: the HTTP status and the JSON
    answer (None when it is not JSON). A lost connection raises one of `CONNECTION_ERRORS`."""
    headers = {"Authorization": f"Bearer {client.access_token}"}
    response = await client.send("GET", path, headers=headers)
    async with response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        return response.status, body


def for_log(value: Any) -> str:
    """A value from a payload, safe for a log line."""
    return value[:100] if isinstance(value, str) and value.isprintable() else repr(value)[:100]
