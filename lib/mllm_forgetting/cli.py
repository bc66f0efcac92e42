"""Shared command-line plumbing for scripts/: one-line errors instead of tracebacks. Imports no torch."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .cells import cell_from_dict
from .errors import NonFiniteLossError, Preempted

# OSError: a missing file, a refused permission, a full disk (ENOSPC); ConfigError is a ValueError.
EXPECTED_ERRORS = (ValueError, OSError, NonFiniteLossError, KeyError, NotImplementedError)


# The arguments the step scripts share: what a rule passes besides the spec are paths and job settings.
ARGUMENTS = {
    "spec": {
        "required": True,
        "help": "the step's spec as JSON (what its rule passes; lib/mllm_forgetting/spec.py)",
    },
    "data": {"required": True, "help": "prepared datasets directory"},
    "pretrained": {"required": True, "help": "the backbone's pre-trained checkpoint (phi)"},
    "model": {"required": True, "help": "the cell's model/ directory (written by train)"},
    "train-json": {"default": None, "help": "the cell's train.json (none: the pre-trained model, stage 0)"},
    "out": {"required": True, "help": "output directory"},
    "results": {"required": True, "help": "results directory (the MLflow store unless MLFLOW_TRACKING_URI)"},
    "threads": {"type": int, "required": True, "help": "torch threads"},
    "checkpoint-every": {"type": int, "required": True, "help": "checkpoint every N steps (0: never)"},
    "previous": {
        "default": None,
        "help": "the previous stage's directory (a continual stage after the first)",
    },
    "state-dir": {"required": True, "help": "pre-training's checkpoints (a rerun resumes from them)"},
    "no-tracking": {"action": "store_true", "help": "log nothing to MLflow (local files only)"},
}


def parse_args(description: str, *names: str) -> argparse.Namespace:
    """The command line of a step script: the shared arguments `names` (keys of ARGUMENTS)."""
    parser = argparse.ArgumentParser(description=description)
    for name in names:
        parser.add_argument(f"--{name}", **ARGUMENTS[name])
    return parser.parse_args()


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
            return f"cell {cell_from_dict(spec['cell']).name}"
        return f"{step} {spec['backbone_name']}"
    except (ValueError, TypeError, KeyError):
        return step


def run(main, context: str = "") -> None:
    """Call main(); an expected failure prints `error: <context>: <cause>` and exits 1 "
    "(MLLMF_DEBUG=1: traceback)."""
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
