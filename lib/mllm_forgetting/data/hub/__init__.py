"""Adapters that bring the paper's real datasets from the Hugging Face hub into the common schema
(registry.HUB_DATASETS, one module each) and prepare.py, which builds them on disk."""
