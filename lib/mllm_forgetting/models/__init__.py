"""Backbones: built tiny models (registry.py, a builder module each), loading.py, what is tuned (parts.py)."""
