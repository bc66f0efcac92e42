"""Every evaluated answer as a JSON line beside metrics.json, so a run can be rescored without a model.

One line per test question: task, kind, id, the generated `prediction`, the `answers` it is scored against
and, for multiple-choice and yes/no questions, the `likelihood_prediction` (the candidate answer the
model's likelihood ranks first). `rescore` scores a file again with the task kinds' metrics (metrics/), or
with another scorer of the same signature: what interop with other evaluation suites needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..files import atomic_output
from ..metrics import score_task

FIELDS = ("prediction", "likelihood_prediction")


def prediction_records(
    task: str, kind: str, ids, predictions, answers, likelihood_predictions=None
) -> list[dict]:
    rows = []
    for k, (i, p, a) in enumerate(zip(ids, predictions, answers, strict=True)):
        row = {"task": task, "kind": kind, "id": str(i), "prediction": p, "answers": list(a)}
        if likelihood_predictions is not None:
            row["likelihood_prediction"] = likelihood_predictions[k]
        rows.append(row)
    return rows


def write_predictions(path, records: list[dict]) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )


def read_predictions(path) -> list[dict]:
    path = Path(path)
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{n}: not a JSON line ({err.msg})") from None
        missing = [k for k in ("task", "kind", "id", "prediction", "answers") if k not in record]
        if missing:
            raise ValueError(f"{path}:{n}: a prediction line lacks {missing}")
        records.append(record)
    return records


def rescore(records: list[dict], field: str = "prediction", scorer: Callable = score_task) -> dict:
    """{task: scorer(kind, predictions, answers, ids)} over the records' `field` answers, tasks in file
    order; tasks whose records lack `field` (likelihood_prediction of an open task) are left out."""
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    by_task: dict[str, list[dict]] = {}
    for r in records:
        if field in r:
            by_task.setdefault(r["task"], []).append(r)
    out = {}
    for task, rows in by_task.items():
        kinds = {r["kind"] for r in rows}
        if len(kinds) != 1:
            raise ValueError(f"task {task!r} has lines of several kinds: {sorted(kinds)}")
        out[task] = scorer(
            kinds.pop(), [r[field] for r in rows], [r["answers"] for r in rows], [r["id"] for r in rows]
        )
    return out
