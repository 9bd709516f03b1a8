"""The ask form: the question for `ask`, and its topics chosen apart from it (typed, they
follow a colon)."""

from __future__ import annotations

from bot import forms
from bot.arguments import TopicNames
from bot.forms import Field, Form
from bot.i18n import _
from bot.router import Router
from bot.types import FieldKind
from handlers.questions.asking import MAX_QUESTION

router = Router()

router.form(Form(
    name="ask",
    title=_("Ask the community"),
    submit=_("Ask"),
    fields=(
        Field(name="question", kind=FieldKind.LONG, label=_("Your question"), command="ask",
              limit=MAX_QUESTION,
              hint=_("Members who know its topics are asked; anyone can answer in its "
                     "thread.")),
        Field(name="topics", kind=FieldKind.MULTI, label=_("Topics"), command="ask",
              argument=TopicNames(), optional=True, options=forms.topic_choices,
              hint=_("I also find topics in the question itself.")),
    ),
))  # fmt: skip
