"""Slack: events in through slack-bolt (Socket Mode or signed HTTP), the `Platform`
operations out through slack-sdk. `events` and `text` are pure translations."""

from adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
