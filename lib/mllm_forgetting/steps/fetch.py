"""fetch_backbone: download a hub checkpoint (the paper's phi) into results/checkpoints/<backbone>."""

from __future__ import annotations

from pathlib import Path

from .common import write_json

# weights as safetensors, configs, tokenizer and processor files, chat templates, remote modeling code
CHECKPOINT_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja", "*.py"]


def fetch_backbone(hub_id: str, out_dir: str, revision: str) -> dict:
    from huggingface_hub import HfApi, snapshot_download

    out = Path(out_dir)
    commit = HfApi().model_info(hub_id, revision=revision).sha  # pin what was fetched, even for a branch
    snapshot_download(hub_id, revision=commit, local_dir=out, allow_patterns=CHECKPOINT_FILES)
    if not (out / "config.json").is_file():
        raise FileNotFoundError(f"{hub_id}@{revision}: no config.json in the downloaded files")
    summary = {"hub_id": hub_id, "revision": revision, "commit": commit}
    write_json(out / "fetch.json", summary)
    return summary
