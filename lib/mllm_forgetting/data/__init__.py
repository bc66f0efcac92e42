"""Datasets in one schema (benchmark.FEATURES): the generated benchmark (tasks.py, scenes.py) and real
datasets from the hub (hub/), written and loaded by benchmark.py."""
