"""Feature modules, one router each; the home feature collects the sections the others
declare."""

from __future__ import annotations

from bot.router import Router


def all_routers() -> list[Router]:
    from handlers import (
        admin,
        calendar,
        calls,
        digest,
        events,
        help,
        home,
        intros,
        knowledge,
        link,
        onboarding,
        privacy,
        profile_home,
        profiles,
        prompts,
        questions,
        reports,
        topics,
        welcome,
    )

    features = [
        help.router,
        admin.router,
        *(
            m.router
            for m in (welcome, onboarding, profiles, topics, questions, prompts, link, reports)
        ),
        digest.router,
        knowledge.router,
        events.router,
        intros.router,
        calls.router,
        calendar.router,
        privacy.router,
        profile_home.router,
    ]
    return [*features, home.feature(features)]
