"""Members' private calendar feeds: `calendar` and `calendar reset` (commands.py), the feed
itself served over HTTP (feed.py), and its tokens (service.py)."""

from bot.router import Router
from handlers.calendar import commands, feed

router = Router().include(commands.router, feed.router)

__all__ = ["router"]
