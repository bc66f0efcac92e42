"""The typed config: settings.py (load_config and the config classes), typed.py (strict construction)."""
