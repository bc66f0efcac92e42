#!/usr/bin/env bash
# Create (or update) the project's virtual environment at .venv with everything the pipeline and tests need.
# torch is pinned to 2.13.0: on these machines that installs the CPU build from local disk, while an
# unpinned or newer torch pulls a multi-GB CUDA build. On a GPU cluster use environment.yml instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# CIDEr runs the COCO caption evaluation's PTB tokenizer, a Java program (pycocoevalcap): install a JRE.
if ! command -v java >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: no java and no apt-get: install a Java runtime (8 or later) for CIDEr's PTB tokenizer" >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing default-jre-headless (Java for CIDEr's PTB tokenizer)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[all]"
echo "environment ready: .venv ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
