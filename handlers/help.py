"""`help [command]`: the commands this person may use, generated from what is registered,
each with its summary in the reader's language."""

from __future__ import annotations

from bot import roles
from bot.arguments import Rest
from bot.commands import Command, split_words
from bot.context import Context
from bot.i18n import Message, _, lines, n_
from bot.router import CommandSpec, Router

router = Router()


def _usable(ctx: Context, cmd: Command) -> list[CommandSpec]:
    specs = sorted(ctx.router.commands.values(), key=lambda s: s.name)
    return [s for s in specs if roles.permits(ctx.sender.roles, s.roles)]


@router.command(
    "help", args=[Rest("command", optional=True, label="command")], summary="what I can do for you"
)
async def help_command(ctx: Context, cmd: Command) -> Message:
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
                return barred[0].denied()
            hint = ctx.router.suggest(words[0])
            if hint:
                return _("There is no command `{command}` you can use. Did you mean `{hint}`? "
                         "Type `help` for all.", command=wanted[:30], hint=hint)  # fmt: skip
            return _("There is no command `{command}` you can use. Type `help` for all.",
                     command=wanted[:30])  # fmt: skip
        return lines(*(_line(s) for s in matches))
    families: dict[str, list[CommandSpec]] = {}
    for spec in specs:
        families.setdefault(spec.words[0], []).append(spec)
    shown: list[Message] = []
    for family in families.values():
        first = min(family, key=lambda s: len(s.words))
        more = len(family) - 1
        if more:
            shown.append(n_("• `{usage}` (+{n} more: `help {family}`)",
                            "• `{usage}` (+{n} more: `help {family}`)",
                            more, usage=first.usage, family=first.words[0]))  # fmt: skip
        else:
            shown.append(_line(first, example=False))
    return lines(
        _("Here is what you can ask me:"),
        *shown,
        _("Type `help <command>` for one command, with an example."),
    )


def _line(spec: CommandSpec, example: bool = True) -> Message:
    summary = spec.said_summary
    shown = example and spec.example != spec.usage
    if summary is not None and shown:
        return _("• `{usage}` — {summary} (e.g. `{example}`)",
                 usage=spec.usage, summary=summary, example=spec.example)  # fmt: skip
    if summary is not None:
        return _("• `{usage}` — {summary}", usage=spec.usage, summary=summary)
    if shown:
        return _("• `{usage}` (e.g. `{example}`)", usage=spec.usage, example=spec.example)
    return _("• `{usage}`", usage=spec.usage)
