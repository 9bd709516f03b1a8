"""`help [command]`: the commands this person may use, generated from what is registered."""

from __future__ import annotations

from bot import roles
from bot.arguments import Rest
from bot.commands import Command, split_words
from bot.context import Context
from bot.router import CommandSpec, Router

router = Router()


def _usable(ctx: Context, cmd: Command) -> list[CommandSpec]:
    specs = sorted(ctx.router.commands.values(), key=lambda s: s.name)
    return [s for s in specs if roles.permits(ctx.sender.roles, s.roles)]


@router.command(
    "help", args=[Rest("command", optional=True, label="command")], summary="what I can do for you"
)
async def help_command(ctx: Context, cmd: Command) -> str:
    specs = _usable(ctx, cmd)
    if cmd.values.command is not None:
        words = split_words(cmd.values.command)
        wanted = " ".join(words).lower().lstrip("!/")
        matches = [s for s in specs if s.name == wanted or s.name.startswith(wanted + " ")]
        if not matches:
            barred = [
                s for s in ctx.router.commands.values()
                if s.name == wanted or s.name.startswith(wanted + " ")
            ]  # fmt: skip
            if barred:
                return f"Only {barred[0].who} can use `{barred[0].name}`."
            hint = ctx.router.suggest(words[0])
            tail = f" Did you mean `{hint}`?" if hint else ""
            return f"There is no command `{wanted[:30]}` you can use.{tail} Type `help` for all."
        return "\n".join(_line(s) for s in matches)
    lines = ["Here is what you can ask me:"]
    families: dict[str, list[CommandSpec]] = {}
    for spec in specs:
        families.setdefault(spec.words[0], []).append(spec)
    for family in families.values():
        first = min(family, key=lambda s: len(s.words))
        more = len(family) - 1
        tail = f" (+{more} more: `help {first.words[0]}`)" if more else ""
        lines.append(f"• `{first.usage}`{tail}" if more else _line(first, example=False))
    lines.append("Type `help <command>` for one command, with an example.")
    return "\n".join(lines)


def _line(spec: CommandSpec, example: bool = True) -> str:
    summary = f" — {spec.summary}" if spec.summary else ""
    example = f" (e.g. `{spec.example}`)" if example and spec.example != spec.usage else ""
    return f"• `{spec.usage}`{summary}{example}"
