"""Feature modules, one router each."""

from __future__ import annotations

from bot.router import Router


def all_routers() -> list[Router]:
    from handlers import (
        admin,
        calls,
        digest,
        events,
        help,
        knowledge,
        link,
        onboarding,
        privacy,
        profiles,
        prompts,
        questions,
        reports,
        topics,
        welcome,
    )

    return [
        help.router,
        admin.router,
        *(
            m.router
            for m in (welcome, onboarding, profiles, topics, questions, prompts, link, reports)
        ),
        digest.router,
        knowledge.router,
        events.router,
        calls.router,
        privacy.router,
    ]
