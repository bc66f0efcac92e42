"""VQAv2 (LLaVA-1.5 pre-trained task), scored by VQA soft accuracy over the 10 human answers."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/lmms-lab/VQAv2 README dataset_info (question_id int64, question,
# answers = list of {answer, answer_confidence, answer_id}, image) and lmms-eval tasks/vqav2/utils.py.


def answer_strings(answers) -> list[str]:
    """The answer texts of VQAv2's list of {answer, answer_confidence, answer_id} records
    (also accepted column-wise, {answer: [...], ...}, as older `Sequence` features return it)."""
    if isinstance(answers, dict):
        return [str(a) for a in answers.get("answer", [])]
    return [str(a["answer"]) for a in answers or []]


def convert(row: dict) -> dict | None:  # testdev/test rows carry no answers: skipped
    return answered_row(row["question_id"], row["image"], row["question"], answer_strings(row["answers"]))


VQAV2 = HubDataset(
    name="vqav2",
    hub_id="lmms-lab/VQAv2",
    config=None,
    kind="vqa",
    # test-dev answers are hidden (EvalAI server); the labelled validation split is the test set and
    # the val split a disjoint seeded slice of it
    splits={"val": HubSplit("validation"), "test": HubSplit("validation")},
    convert=convert,
    columns=("question_id", "question", "answers", "image"),
    notes="test and val are disjoint samples of the labelled validation split (test-dev is unlabelled)",
)
