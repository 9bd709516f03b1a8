"""Members' data rights: `mydata` (everything Convener holds about you, as a workbook:
export.py) and `forgetme` / `forgetme confirm` (erasure: erase.py), in commands.py."""

from handlers.privacy.commands import router

__all__ = ["router"]
