"""Prompt templates: how a row of the common schema becomes the text a backbone reads.

Prepared data holds a task's content only (question, context, options, answers); the wording around it
belongs to the backbone and is applied when a split is encoded, as lmms-eval keeps per-model prompt
settings beside each task. A template has a `turn` (the processor's chat template, or a format string
around the image) and, per task kind or task name, how the question, its context and its options are
written. A backbone's config entry names its template (`prompt:`); the cell specs carry the template's
full text, so editing a template reruns exactly the cells of the backbones that use it.

Multiple-choice answers are option letters in the data, so a template's `letters` must be the ones the
data's answers use (uppercase for the hub datasets, lowercase in the embedded benchmark).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .config.typed import ConfigError, option


@dataclass(frozen=True, kw_only=True)
class TaskPrompt:
    """The user's text for one task kind (or one task)."""

    text: str = option(
        "the user's text: {question}, {context} (the formatted context, empty without one), {options}"
    )
    context: str = option(
        "a row's non-empty context (a hint, a passage), formatted with {context}", "{context}\n"
    )
    each_option: str = option("one option, formatted with {letter} and {option}", "{letter}. {option}")
    option_separator: str = option("between two formatted options", "\n")

    def __post_init__(self):
        _check_fields("text", self.text, {"question", "context", "options"})
        _check_fields("context", self.context, {"context"})
        _check_fields("each_option", self.each_option, {"letter", "option"})

    def render(self, row: dict, letters: str) -> str:
        if len(row["options"]) > len(letters):
            raise ValueError(
                f"task {row['task']!r}: a question with {len(row['options'])} options, but the prompt "
                f"template letters only {len(letters)} ({letters})"
            )
        options = self.option_separator.join(
            self.each_option.format(letter=letter, option=choice)
            for letter, choice in zip(letters, row["options"])
        )
        context = self.context.format(context=row["context"]) if row["context"] else ""
        return self.text.format(question=row["question"], context=context, options=options)


@dataclass(frozen=True, kw_only=True)
class PromptTemplate:
    """A backbone's prompt: the turn around the user's text and the user's text per task kind or task name."""

    turn: str = option(
        '"chat" (the processor\'s chat template: image, then text) or a format with <image> and {text}'
    )
    tasks: dict[str, TaskPrompt] = option(
        "task kind or task name -> its prompt (a task name wins over its kind)"
    )
    letters: str = option(
        "option letters in order: those of the data's multiple-choice answers", string.ascii_uppercase
    )

    def __post_init__(self):
        if self.turn != "chat":
            _check_fields("turn", self.turn, {"text"}, required={"text"})

    def task_prompt(self, task: str, kind: str) -> TaskPrompt:
        found = self.tasks.get(task) or self.tasks.get(kind)
        if found is None:
            raise ConfigError(
                f"prompt template has no entry for task {task!r} or its kind {kind!r} "
                f"(it has: {', '.join(self.tasks)})"
            )
        return found

    def user_text(self, row: dict) -> str:
        """The question of `row` written out with its context and options (no image, no turn)."""
        return self.task_prompt(row["task"], row["kind"]).render(row, self.letters)

    def prompt(self, row: dict, processor) -> str:
        """The whole prompt of `row`: the user's text in the turn ("chat": the processor's chat template)."""
        text = self.user_text(row)
        if self.turn == "chat":
            turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            return processor.apply_chat_template(turn, add_generation_prompt=True)
        return self.turn.format(text=text)

    def words(self) -> list[str]:
        """Plain words the template writes, which join a built backbone's word-level vocabulary."""
        texts = [self.turn] if self.turn != "chat" else []
        for p in self.tasks.values():
            texts.append(p.text)
            texts += [p.context] if "{context}" in p.text else []
            texts += [p.each_option, p.option_separator] if "{options}" in p.text else []
        words = {w for t in texts for w in re.sub(r"<[^>]*>|\{[^}]*\}", " ", t).split()}
        uses_letters = any("{options}" in p.text for p in self.tasks.values())
        return sorted(words | (set(self.letters) if uses_letters else set()))


def _check_fields(name: str, text: str, allowed: set[str], required: set[str] = frozenset()) -> None:
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as err:
        raise ConfigError(f"{name} {text!r} is not a valid format string ({err})") from None
    if used - allowed or required - used:
        raise ConfigError(
            f"{name} {text!r} may use only {sorted(allowed)}"
            + (f" and must use {sorted(required)}" if required else "")
            + f"; it uses {sorted(used)}"
        )


# ---------------------------------------------------------------------------------- built-in templates

# The embedded benchmark's backbones: a word-level vocabulary, lowercase letters, no punctuation.
_PLAIN = TaskPrompt(text="{context}{question}", context="{context} ")
WORDS = PromptTemplate(
    turn="<image> {text} answer",
    letters="abcd",
    tasks={
        "open": _PLAIN,
        "vqa": _PLAIN,
        "yes_no": _PLAIN,
        "pathvqa": _PLAIN,
        "multiple_choice": TaskPrompt(
            text="{context}{question} options {options}",
            context="{context} ",
            each_option="{letter} {option}",
            option_separator=" ",
        ),
        "caption": TaskPrompt(text="describe the image"),
    },
)

# LLaVA-1.5's evaluation prompts (its scripts/v1_5/eval), which lmms-eval also uses as the default for
# every model, Qwen2-VL included.
_SHORT = "{question}\nAnswer the question using a single word or phrase."
_LETTER = "{context}{question}\n{options}\nAnswer with the option's letter from the given choices directly."
LLAVA_1_5 = PromptTemplate(
    turn="chat",
    tasks={
        "open": TaskPrompt(text=_SHORT),
        "vqa": TaskPrompt(text=_SHORT),
        "yes_no": TaskPrompt(text=_SHORT),
        "pathvqa": TaskPrompt(text=_SHORT),
        "vizwiz": TaskPrompt(
            text="{question}\nWhen the provided information is insufficient, respond with "
            "'Unanswerable'.\nAnswer the question using a single word or phrase."
        ),
        "multiple_choice": TaskPrompt(text=_LETTER),
        "scienceqa": TaskPrompt(text=_LETTER, context="Context: {context}\n"),
        "caption": TaskPrompt(text="Provide a one-sentence caption for the provided image."),
    },
)

PROMPTS: dict[str, PromptTemplate] = {"words": WORDS, "llava_1_5": LLAVA_1_5}
