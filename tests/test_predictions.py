"""predictions.jsonl: written, read back and rescored to the scores the metrics give."""

import pytest
from mllm_forgetting.evaluation.predictions import (
    prediction_records,
    read_predictions,
    rescore,
    write_predictions,
)


def test_rescoring_written_predictions_gives_the_metrics_scores(tmp_path):
    records = prediction_records(
        "vqa", "open", ["q1", "q2", "q3"], ["red", "blue", "two"], [["red"], ["green"], ["two"]]
    )
    records += prediction_records(
        "pope",
        "yes_no",
        [1, 2, 3, 4],
        ["yes", "no", "yes", "yes"],
        [["yes"], ["yes"], ["no"], ["yes"]],
        ["yes", "yes", "no", "no"],
    )
    path = tmp_path / "predictions.jsonl"
    write_predictions(path, records)
    back = read_predictions(path)
    assert back == records and back[3]["id"] == "1"
    generated = rescore(back)
    assert generated["vqa"]["score"] == pytest.approx(200 / 3)
    # truth yes, yes, no, yes; generated yes, no, yes, yes: tp 2, fp 1, fn 1 -> F1 = 4 / 6
    assert generated["pope"]["score"] == pytest.approx(400 / 6)
    by_likelihood = rescore(back, field="likelihood_prediction")
    assert list(by_likelihood) == ["pope"]  # an open task has no likelihood answer
    # truth yes, yes, no, yes; chosen yes, yes, no, no: tp 2, fp 0, fn 1 -> F1 = 2 * 2 / (2 * 2 + 0 + 1)
    assert by_likelihood["pope"]["score"] == pytest.approx(80.0)


def test_a_damaged_line_is_named():
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "p.jsonl"
        path.write_text(
            '{"task": "vqa", "kind": "open", "id": "1", "prediction": "a", "answers": ["a"]}\n{oops\n'
        )
        with pytest.raises(ValueError, match=r"p.jsonl:2: not a JSON line"):
            read_predictions(path)
        path.write_text('{"task": "vqa", "kind": "open", "id": "1", "prediction": "a"}\n')
        with pytest.raises(ValueError, match=r"lacks \['answers'\]"):
            read_predictions(path)
