"""Atomic file output: a path holds either its previous content or the complete new one, never half.

Every result the pipeline writes (JSON, CSV, npz, checkpoints) goes through atomic_output, so a job
killed mid-write, or a full disk, cannot leave a partial file that a later rule would take as complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | Path, durable: bool = False):
    """Yield a temporary path that becomes `path` only once fully written. A failed write (a full disk)
    leaves neither a partial output nor the temporary file. durable: fsync before the rename, so the
    content survives a node crash too (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):  # write() on a full disk names no file: say which output failed
            raise OSError(err.errno, f"{err.strerror or err} while writing {path}") from err
        raise


def write_json(path: str | Path, obj) -> None:
    """Write JSON atomically, so a reader never sees half a file."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def tree_digest(path: str | Path) -> str:
    """SHA-256 of a directory's content: every file's relative name, size and bytes, in sorted order.
    Hidden files (Snakemake's `.snakemake_timestamp`) are left out: they change when nothing else does.
    It names a prepared data directory or a pre-trained checkpoint, which a resumed checkpoint must match."""
    root = Path(path)
    digest = hashlib.sha256()
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for file in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(f"{file.relative_to(root).as_posix()}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
