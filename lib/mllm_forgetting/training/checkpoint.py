"""Training checkpoints that survive a kill at any instant.

A checkpoint is two files: the payload `step-NNNNNN.pt` (torch.save of the training state) and its
manifest `step-NNNNNN.json` (step, SHA-256 of the payload, the fingerprint of the run that wrote it).
Both are written to a temporary name, flushed to disk and renamed, payload first: a checkpoint exists
only once its manifest does, so a kill mid-write leaves the previous checkpoint as the latest. On load
a payload whose checksum does not match its manifest is reported and the previous one is tried.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..files import atomic_output

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot belong to this cell (another backbone): resuming would be wrong."""


@dataclass
class Checkpointer:
    """Where and how often a training run checkpoints, and what it must match to resume.

    fingerprint: JSON-able facts of the run (backbone, trainable tensor shapes, settings); a checkpoint
    whose backbone differs is an error, one whose other facts differ (the config changed) is discarded.
    """

    directory: Path
    every: int
    fingerprint: dict
    label: str = ""
    keep: int = 2
    notes: dict = field(
        default_factory=dict
    )  # saved beside the state, e.g. the MLflow run a resume continues

    def __post_init__(self):
        self.directory = Path(self.directory)
        # compared with the copy a manifest stores: normalised the same way (tuples -> lists, sorted keys)
        self.fingerprint = json.loads(json.dumps(self.fingerprint, sort_keys=True))

    def due(self, step: int) -> bool:
        """Whether the state after `step` (0-based) completes a checkpoint interval."""
        return self.every > 0 and (step + 1) % self.every == 0

    def save(self, step: int, state: dict) -> Path:
        """Write the state reached after `step` steps atomically; keep the newest `keep` checkpoints."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = self.directory / f"step-{step:06d}.pt"
        with atomic_output(payload, durable=True) as tmp:
            torch.save(state, tmp)
        manifest = {
            "format": FORMAT,
            "step": step,
            "sha256": _sha256(payload),
            "fingerprint": self.fingerprint,
            "notes": self.notes,
        }
        with atomic_output(payload.with_suffix(".json"), durable=True) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))
        for old in self._manifests()[self.keep :]:
            _remove_checkpoint(old)
        return payload

    def load_latest(self) -> dict | None:
        """The newest intact checkpoint's state, or None (nothing to resume: start from scratch)."""
        for manifest_path in self._manifests():
            manifest = _read_manifest(manifest_path)
            if manifest is None:
                self._warn(f"checkpoint manifest {manifest_path.name} unreadable; trying the previous one")
                continue
            if not self._compatible(manifest.get("fingerprint", {})):
                return None
            payload = manifest_path.with_suffix(".pt")
            if not payload.exists() or _sha256(payload) != manifest.get("sha256"):
                self._warn(
                    f"checkpoint {payload.name} is corrupted (checksum mismatch); trying the previous one"
                )
                continue
            try:
                state = torch.load(payload, map_location="cpu", weights_only=True)
            except Exception as err:  # intact bytes that do not load (another torch, a foreign object)
                self._warn(
                    f"checkpoint {payload.name} cannot be loaded ({type(err).__name__}: "
                    f"{' '.join(str(err).split())[:200]}); trying the previous one"
                )
                continue
            self._warn(f"resuming from checkpoint {payload.name} (step {manifest['step']})")
            return state
        if self._manifests():
            self._warn("no intact checkpoint left; starting from scratch")
        return None

    def latest_notes(self) -> dict:
        """The notes of the newest checkpoint of this configuration ({} if none), read before resuming."""
        for manifest in filter(None, map(_read_manifest, self._manifests())):
            return manifest.get("notes", {}) if manifest.get("fingerprint") == self.fingerprint else {}
        return {}

    def clear(self) -> None:
        """Remove every checkpoint (the cell finished: a rerun starts afresh and gives the same result)."""
        for manifest in self._manifests():
            _remove_checkpoint(manifest)
        for stray in (
            self.directory.glob("step-*") if self.directory.exists() else []
        ):  # half-written ones too
            stray.unlink()
        if self.directory.exists() and not any(self.directory.iterdir()):
            self.directory.rmdir()

    def _compatible(self, found: dict) -> bool:
        expected = self.fingerprint
        if found.get("backbone") != expected.get("backbone"):
            raise CheckpointError(
                f"checkpoint in {self.directory} was written for backbone {found.get('backbone')!r}, "
                f"not {expected.get('backbone')!r}; delete it to start this cell afresh"
            )
        if found != expected:
            changed = _differences(found, expected)
            self._warn(
                f"checkpoints in {self.directory} belong to another configuration (differs in "
                f"{', '.join(changed)}); discarding them and starting from scratch"
            )
            self.clear()
            return False
        return True

    def _manifests(self) -> list[Path]:
        """Manifests, newest step first."""
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("step-*.json"), reverse=True)

    def _warn(self, message: str) -> None:
        warnings.warn(f"{self.label}: {message}" if self.label else message, stacklevel=3)


def _differences(a, b, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ (e.g. spec.training.lr), in key order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [prefix.rstrip(".")] if a != b else []


def _read_manifest(path: Path) -> dict | None:
    """A manifest's content; None when it cannot be read or parsed (then an older checkpoint is used)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove_checkpoint(manifest: Path) -> None:
    manifest.unlink(
        missing_ok=True
    )  # the manifest first: a half-removed checkpoint is never taken as complete
    manifest.with_suffix(".pt").unlink(missing_ok=True)
