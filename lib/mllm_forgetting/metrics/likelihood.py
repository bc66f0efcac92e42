"""Likelihood scoring of closed-answer questions: rank a question's candidate answers by the model's
log-likelihood of each after the prompt, as lmms-eval's `loglikelihood` output type does for multiple
choice, instead of reading a generated answer. Where generation fails for format (a caption-tuned model
describes the image when asked for a letter), the likelihood still shows which answer the model prefers.
"""

from __future__ import annotations

import torch


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the sum of log p(token) over the positions whose label is not -100, each token predicted
    from the position before it (logits (B, L, V), labels (B, L), as a causal LM's loss reads them).
    Only the labelled positions are normalised (in fp32), so a 150k vocabulary costs (answer tokens x V)."""
    targets = labels[:, 1:]
    rows, cols = (targets != -100).nonzero(as_tuple=True)
    picked = torch.log_softmax(logits[:, :-1][rows, cols].float(), dim=-1)
    logp = picked.gather(-1, targets[rows, cols].unsqueeze(-1)).squeeze(-1)
    return torch.zeros(len(labels), dtype=logp.dtype, device=logp.device).index_add_(0, rows, logp)


def best_candidates(scores: list[list[float]], candidates: list[list[str]]) -> list[str]:
    """Each question's highest-scoring candidate (the first one on a tie, so the choice is deterministic)."""
    if len(scores) != len(candidates):
        raise ValueError("one score list per question is needed")
    out = []
    for row_scores, row_candidates in zip(scores, candidates):
        if len(row_scores) != len(row_candidates) or not row_candidates:
            raise ValueError("each question needs one score per candidate and at least one candidate")
        out.append(row_candidates[max(range(len(row_scores)), key=lambda k: (row_scores[k], -k))])
    return out


def closed_candidates(kind: str, options: list[str], letters: str, yes_no=("yes", "no")) -> list[str]:
    """A question's possible answers in the form its answers take: the option letters of a multiple-choice
    question (the prompt template's, as the data's answers), `yes_no` (the words the backbone answers
    with, yes first) for a yes/no question."""
    if kind == "multiple_choice":
        if not options or len(options) > len(letters):
            raise ValueError(
                f"a multiple-choice question with {len(options)} options and letters {letters!r}"
            )
        return list(letters[: len(options)])
    if kind == "yes_no":
        return list(yes_no)
    raise ValueError(f"likelihood scoring needs closed answers: kind multiple_choice or yes_no, not {kind!r}")
