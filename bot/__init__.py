"""Convener's platform-neutral core: events, the Platform protocol, the router, storage."""

__version__ = "0.1.0"
