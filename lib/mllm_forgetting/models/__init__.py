"""Backbones: built tiny models (registry.py, one builder module each), loading (loading.py), what is tuned (parts.py)."""
