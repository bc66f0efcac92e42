"""Tables and figures from the cells' results (aggregate.py), the run profile and the GPU cost model."""

# the figures every (backbone, target) gets, one PNG each (docs/results.md: which paper figure each mirrors)
FIGURES = ("erank", "top_tokens", "tsne", "alpha", "learning_curves")
