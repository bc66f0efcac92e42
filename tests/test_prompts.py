"""Prompt templates word a row's content per backbone: the tiny backbones read what the embedded benchmark
used to store, the hub backbones LLaVA-1.5's evaluation prompts, character for character."""

import pytest
from conftest import smoke_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.prompts import LLAVA_1_5, WORDS, PromptTemplate, TaskPrompt

SHORT = "\nAnswer the question using a single word or phrase."
LETTER = "\nAnswer with the option's letter from the given choices directly."


def row(task, kind, question, context="", options=()):
    return {"task": task, "kind": kind, "question": question, "context": context, "options": list(options)}


class Turn:
    """A processor whose chat template shows what it was given."""

    def apply_chat_template(self, turn, add_generation_prompt):
        (message,) = turn
        return f"USER: <image>\n{message['content'][1]['text']} ASSISTANT:"


def test_the_tiny_backbones_read_the_embedded_benchmarks_old_inline_wording():
    mc = row(
        "mmbench", "multiple_choice", "what color is the circle", options=["red", "green", "blue", "yellow"]
    )
    assert (
        WORDS.prompt(mc, None)
        == "<image> what color is the circle options a red b green c blue d yellow answer"
    )
    assert WORDS.prompt(row("vqa", "open", "how many shapes are there"), None) == (
        "<image> how many shapes are there answer"
    )
    assert WORDS.prompt(row("caption", "caption", ""), None) == "<image> describe the image answer"
    assert WORDS.words() == ["a", "answer", "b", "c", "d", "describe", "image", "options", "the"]


@pytest.mark.parametrize(
    "example, expected",
    [
        (row("vqav2", "vqa", "What is on the table?"), "What is on the table?" + SHORT),
        (row("pope", "yes_no", "Is there a dog in the image?"), "Is there a dog in the image?" + SHORT),
        (
            row("vizwiz", "vqa", "What is this?"),
            "What is this?\nWhen the provided information is insufficient, respond with 'Unanswerable'."
            + SHORT,
        ),
        (
            row("scienceqa", "multiple_choice", "Which is a mammal?", "Mammals have fur.", ["cat", "fish"]),
            "Context: Mammals have fur.\nWhich is a mammal?\nA. cat\nB. fish" + LETTER,
        ),
        (
            row("scienceqa", "multiple_choice", "Which is a mammal?", "", ["cat", "fish"]),
            "Which is a mammal?\nA. cat\nB. fish" + LETTER,
        ),
        (
            row("mmbench", "multiple_choice", "What is shown?", "A hint.", ["x", "y", "z"]),
            "A hint.\nWhat is shown?\nA. x\nB. y\nC. z" + LETTER,
        ),
        (row("flickr30k", "caption", ""), "Provide a one-sentence caption for the provided image."),
    ],
)
def test_llava_template_writes_llava_1_5s_evaluation_prompts(example, expected):
    assert LLAVA_1_5.user_text(example) == expected
    assert LLAVA_1_5.prompt(example, Turn()) == f"USER: <image>\n{expected} ASSISTANT:"


def test_a_template_refuses_fields_it_does_not_have():
    with pytest.raises(ConfigError, match=r"text '\{question\} \{answer\}' may use only"):
        TaskPrompt(text="{question} {answer}")
    with pytest.raises(ConfigError, match="must use"):
        PromptTemplate(turn="<image> answer", tasks={"open": TaskPrompt(text="{question}")})
    with pytest.raises(ConfigError, match="no entry for task 'caption' or its kind 'caption'"):
        PromptTemplate(turn="chat", tasks={"open": TaskPrompt(text="{question}")}).user_text(
            row("caption", "caption", "")
        )


def test_a_config_can_define_a_template_and_a_backbone_use_it():
    terse = {
        "turn": "<image> {text} answer",
        "letters": "abcd",
        "tasks": {
            "open": {"text": "{question}"},
            "yes_no": {"text": "{question}"},
            "multiple_choice": {
                "text": "{question} {options}",
                "each_option": "{letter} {option}",
                "option_separator": " ",
            },
        },
    }

    def edit(raw):
        raw["prompts"] = {"terse": terse}
        raw["backbones"]["tiny-resampler"]["prompt"] = "terse"

    config = smoke_config(edit)
    mc = row("sqa", "multiple_choice", "is it red", options=["yes", "no"])
    assert config.prompt_of("tiny-resampler").prompt(mc, None) == "<image> is it red a yes b no answer"
    assert config.prompt_of("tiny-llava") == WORDS
    with pytest.raises(
        ConfigError, match="tiny-resampler: prompt 'terse': .* no entry for task 'vqa' or its kind 'open'"
    ):
        terse_without_open = {**terse, "tasks": {k: v for k, v in terse["tasks"].items() if k != "open"}}
        smoke_config(lambda raw: (edit(raw), raw["prompts"].update(terse=terse_without_open)))
    with pytest.raises(ConfigError, match="prompts.words: a built-in template has this name"):
        smoke_config(lambda raw: raw.update(prompts={"words": terse}))


def test_templates_letter_options_as_the_data_letters_answers():
    from mllm_forgetting.data.hub.common import LETTERS as HUB_LETTERS
    from mllm_forgetting.data.tasks import LETTERS as GENERATED_LETTERS

    assert WORDS.letters == GENERATED_LETTERS  # lowercase: the embedded benchmark's word-level vocabulary
    assert LLAVA_1_5.letters == HUB_LETTERS


def test_a_question_with_more_options_than_letters_is_refused():
    two_letters = PromptTemplate(
        turn="chat", letters="AB", tasks={"multiple_choice": TaskPrompt(text="{options}")}
    )
    with pytest.raises(ValueError, match="a question with 3 options, but the prompt template letters only 2"):
        two_letters.user_text(row("mmbench", "multiple_choice", "q", options=["x", "y", "z"]))
