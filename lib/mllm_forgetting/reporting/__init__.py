"""Tables and figures from the cells' results (aggregate.py), the run profile and the GPU cost model."""

# the figures every (backbone, target) gets, one PNG each (docs/results.md: which paper figure each mirrors)
FIGURES = ("erank", "top_tokens", "tsne", "alpha", "learning_curves")
# the figures every (backbone, sequence) gets (reporting/continual.py)
CONTINUAL_FIGURES = ("matrices", "task_curves", "erank_stages", "bwt_retention")
