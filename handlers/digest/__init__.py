"""The facilitators' weekly digest: built from SQL aggregates (service.py), shown on demand
with `digest` (commands.py) and sent by direct message to every facilitator once a week
(jobs.py, registered by the scheduler)."""

from handlers.digest.commands import router

__all__ = ["router"]
