"""Shared command-line plumbing for scripts/: JSON arguments and one-line errors instead of tracebacks."""
from __future__ import annotations

import json
import sys

from .training.loop import NonFiniteLossError

EXPECTED_ERRORS = (ValueError, FileNotFoundError, NonFiniteLossError, KeyError, NotImplementedError)


def json_arg(text: str):
    """argparse type for JSON-valued options (configs are passed as JSON by the Snakemake rules)."""
    return json.loads(text)


def run(main, context: str = "") -> None:
    """Call main(); expected failures print `error: <context>: <cause>` and exit 1 (set MLLMF_DEBUG=1 for the traceback)."""
    import os

    try:
        main()
    except EXPECTED_ERRORS as err:
        if os.environ.get("MLLMF_DEBUG"):
            raise
        prefix = f"{context}: " if context else ""
        print(f"error: {prefix}{err}", file=sys.stderr)
        sys.exit(1)
