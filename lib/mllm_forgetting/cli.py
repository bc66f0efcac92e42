"""Shared command-line plumbing for scripts/: one-line errors instead of tracebacks. Imports no torch."""

from __future__ import annotations

import json
import os
import sys

from .cells import Cell
from .errors import NonFiniteLossError, Preempted


# OSError covers a missing file, a refused permission and a full disk (ENOSPC) alike; ConfigError is a ValueError.
EXPECTED_ERRORS = (ValueError, OSError, NonFiniteLossError, KeyError, NotImplementedError)


def describe(err: BaseException) -> str:
    """The cause on one line: an OSError as text + file (no "[Errno N]"), a KeyError as the missing key."""
    if isinstance(err, OSError) and err.strerror:
        files = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        text = f"{err.strerror}: {files}" if files else err.strerror
    elif isinstance(err, KeyError) and len(err.args) == 1:
        text = f"missing key {err.args[0]!r}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())  # a multi-line message (a library's) still makes one line


def spec_context(spec_json: str, step: str) -> str:
    """What an error line names: `cell <name>` for a cell's spec, `<step> <backbone>` for a backbone's, else
    the step (a spec too broken to read)."""
    try:
        spec = json.loads(spec_json)
        if "cell" in spec:
            return f"cell {Cell(**spec['cell']).name}"
        return f"{step} {spec['backbone_name']}"
    except (ValueError, TypeError, KeyError):
        return step


def run(main, context: str = "") -> None:
    """Call main(); expected failures print `error: <context>: <cause>` and exit 1 (MLLMF_DEBUG=1: the traceback)."""
    try:
        main()
    except Preempted as err:  # SIGTERM/SIGUSR1: state saved; 128 + 15 like a process the signal ended
        print(f"stopped: {_in_context(context, str(err))}", file=sys.stderr)
        sys.exit(143)
    except EXPECTED_ERRORS as err:
        if os.environ.get("MLLMF_DEBUG"):
            raise
        print(f"error: {_in_context(context, describe(err))}", file=sys.stderr)
        sys.exit(1)


def _in_context(context: str, text: str) -> str:
    """`<context>: <text>`, unless the text already starts with the context (a training loop's label)."""
    return text if not context or text.startswith(context) else f"{context}: {text}"
