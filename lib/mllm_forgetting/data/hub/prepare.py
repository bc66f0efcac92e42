"""Load the registered hub datasets, sample and convert them, and save them in the common schema.

Layout (as the embedded benchmark's): out_dir/<task>/ holds a DatasetDict with train, val and test
(one shard each; a split the task does not map is saved empty, so every task has the same layout and
its absence shows as 0 rows), plus out_dir/manifest.json (source "hub"; per task the kind, hub ids,
configs, splits, filters and row counts).

Sampling: each hub source (repository, config, split, row filter) gets one seeded permutation of its
rows. Common splits that read the same source take consecutive, disjoint runs of it: sized splits in
the order val, train, test, then a split of size None takes every remaining row, in source order.
Val goes first because it is the small one: when the test size exceeds what a source holds (MMBench
dev, VizWiz val), the test gets the rest rather than leaving val empty. Rows that `convert` rejects
are skipped and the next rows drawn, so a sized split gets exactly its size while the source lasts.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import datasets
import numpy as np
from tqdm.auto import tqdm

from ..benchmark import FEATURES, fixed_fingerprint, png_bytes, quiet_datasets
from .common import COMMON_SPLITS, HubDataset, HubSplit
from .registry import HUB_DATASETS, check_hub_tasks

ALLOCATION_ORDER = ("val", "train", "test")
CHUNK_ROWS = 1000  # rows converted per Dataset.map call: bounds memory, keeps the bar moving

Loader = Callable[..., datasets.Dataset]


def load_from_hub(
    hub_id: str, config: str | None, split: str, revision: str | None = None
) -> datasets.Dataset:
    """The default loader. A test passes its own with this signature, returning local Datasets."""
    return datasets.load_dataset(hub_id, config, split=split, revision=revision)


def prepare_hub_tasks(
    out_dir,
    tasks,
    sizes: dict[str, int | None],
    seed: int = 0,
    progress: bool = True,
    load: Loader | None = None,
) -> dict:
    """Build out_dir/<task>/ for every task from its hub dataset; returns the manifest it writes.

    sizes: rows per common split (train/val/test); None, or a split left out, means all rows.
    load(hub_id, config, split=..., revision=...) -> datasets.Dataset (default: the hub).
    """
    check_hub_tasks(tasks)
    _check_sizes(sizes)
    load = load or load_from_hub
    cache: dict[tuple, datasets.Dataset] = {}

    def cached_load(hub_id, config, split, revision):
        key = (hub_id, config, split, revision)
        if key not in cache:
            cache[key] = load(hub_id, config, split=split, revision=revision)
        return cache[key]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"source": "hub", "seed": seed, "sizes": dict(sizes), "tasks": {}}
    with quiet_datasets():
        for task in tasks:
            spec = HUB_DATASETS[task]
            splits, split_info = _build_task(spec, sizes, seed, cached_load, progress)
            shutil.rmtree(out / task, ignore_errors=True)  # no stale splits from an earlier build
            datasets.DatasetDict(splits).save_to_disk(str(out / task), num_shards={s: 1 for s in splits})
            manifest["tasks"][task] = {
                "kind": spec.kind,
                "hub_id": spec.hub_id,
                "config": spec.config,
                "revision": spec.revision,
                "images": None if spec.images is None else asdict(spec.images),
                "splits": split_info,
                "notes": spec.notes,
            }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _check_sizes(sizes) -> None:
    unknown = set(sizes) - set(COMMON_SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) in sizes: {sorted(unknown)}; expected {list(COMMON_SPLITS)}")
    bad = {s: n for s, n in sizes.items() if n is not None and (not isinstance(n, int) or n < 0)}
    if bad:
        raise ValueError(f"sizes must be non-negative integers or None, got {bad}")


# ------------------------------------------------------------------------------------------ one task


def _build_task(spec: HubDataset, sizes, seed, load, progress):
    groups: dict[tuple, list[str]] = {}
    for split in ALLOCATION_ORDER:
        if split in spec.splits:
            groups.setdefault(_source_key(spec, spec.splits[split]), []).append(split)
    known = [sizes.get(s) for s in spec.splits]
    bar = tqdm(
        total=None if None in known else sum(known), desc=f"hub {spec.name}", unit="row", disable=not progress
    )
    image_of = _image_lookup(spec, load)
    built: dict[str, datasets.Dataset] = {}
    info: dict[str, dict] = {}
    for key, members in groups.items():
        hub_split = spec.splits[members[0]]
        source = _load_source(spec, hub_split, load)
        order = _seeded_order(source, hub_split, seed, key)
        unsized = [s for s in members if sizes.get(s) is None]
        if len(unsized) > 1:
            raise ValueError(
                f"{spec.name}: splits {unsized} both read hub split {hub_split.split!r} with no "
                f"size; give all but one a size so that they stay disjoint"
            )
        start = 0
        for split in [s for s in members if s not in unsized] + unsized:
            want = sizes.get(split)
            run = order[start:] if want is not None else np.sort(order[start:])
            ds, used = _convert_run(spec, split, hub_split, source, run, want, image_of, bar)
            start += used
            built[split] = _freeze(ds, [spec.name, split, key, seed, want])
            info[split] = {
                "hub_id": key[0],
                "config": key[1],
                "split": hub_split.split,
                "where": list(hub_split.where) if hub_split.where else None,
                "rows": len(ds),
            }
    bar.close()
    for split in COMMON_SPLITS:
        if split not in built:
            built[split] = _freeze(_empty(), [spec.name, split, "empty"])
            info[split] = {"hub_id": None, "config": None, "split": None, "where": None, "rows": 0}
    return {s: built[s] for s in COMMON_SPLITS}, {s: info[s] for s in COMMON_SPLITS}


def _source_key(spec: HubDataset, hub_split: HubSplit) -> tuple:
    hub_id = hub_split.hub_id or spec.hub_id
    config = hub_split.config if hub_split.hub_id or hub_split.config else spec.config
    return (hub_id, config, hub_split.split, hub_split.where, spec.revision)


def _describe(spec: HubDataset, hub_split: HubSplit) -> str:
    hub_id, config, split, _, _ = _source_key(spec, hub_split)
    return f"{hub_id} (config {config or 'default'}, split {split!r})"


def _load_source(spec: HubDataset, hub_split: HubSplit, load) -> datasets.Dataset:
    hub_id, config, split, where, revision = _source_key(spec, hub_split)
    source = load(hub_id, config, split, revision)
    needed = list(spec.columns) + ([where[0]] if where else [])
    if spec.images is not None:
        needed.append(spec.images.foreign_key)
    _require_columns(source, needed, _describe(spec, hub_split), spec.name)
    return _undecoded(source, spec.image_column)


def _require_columns(table: datasets.Dataset, columns, described: str, task: str) -> None:
    for column in columns:
        if column not in table.column_names:
            raise ValueError(
                f"{described} has no column {column!r}, which task {task!r} needs; "
                f"its columns: {table.column_names}"
            )


def _undecoded(source: datasets.Dataset, column: str) -> datasets.Dataset:
    """Images as stored ({bytes, path}): no decode/re-encode, so JPEG bytes pass through unchanged."""
    if isinstance(source.features.get(column), datasets.Image):
        return source.cast_column(column, datasets.Image(decode=False))
    return source


def _seeded_order(source, hub_split: HubSplit, seed: int, key) -> np.ndarray:
    """The seeded permutation of the source rows that pass the filter. It depends on the source, not
    the task, so tasks reading one source (aokvqa, aokvqa_da) draw the same questions."""
    if hub_split.where is None:
        candidates = np.arange(len(source), dtype=np.int64)
    else:
        column, value = hub_split.where
        candidates = np.array([i for i, v in enumerate(source[column]) if v == value], dtype=np.int64)
    # crc32, not hash(): Python's str hash is salted per process
    ss = np.random.SeedSequence([seed, zlib.crc32(repr(key).encode())])
    return np.random.default_rng(ss).permutation(candidates)


def _image_lookup(spec: HubDataset, load):
    """For datasets whose images sit in their own table (GQA): image key -> stored image."""
    if spec.images is None:
        return None
    table_spec = spec.images
    table = load(spec.hub_id, table_spec.config, table_spec.split, spec.revision)
    _require_columns(
        table,
        (table_spec.key, spec.image_column),
        f"{spec.hub_id} (config {table_spec.config}, split {table_spec.split!r})",
        spec.name,
    )
    table = _undecoded(table, spec.image_column)
    position = {str(k): i for i, k in enumerate(table[table_spec.key])}

    def image_of(key):
        if str(key) not in position:
            raise ValueError(f"{spec.hub_id}: image {key!r} is not in config {table_spec.config!r}")
        return table[position[str(key)]][spec.image_column]

    return image_of


# ------------------------------------------------------------------------------------- conversion


def _convert_run(spec, split, hub_split, source, run, want, image_of, bar):
    """Convert source rows in `run` order until `want` rows are kept (None: all of them).
    Returns the converted rows and how many positions of `run` were used."""
    parts, kept, used = [], 0, 0
    while used < len(run) and (want is None or kept < want):
        step = CHUNK_ROWS if want is None else min(CHUNK_ROWS, want - kept)
        indices = run[used : used + step]
        part = _convert_chunk(spec, split, hub_split, source, indices, image_of)
        parts.append(part)
        kept += len(part)
        used += len(indices)
        bar.update(len(part))
    return (datasets.concatenate_datasets(parts) if parts else _empty()), used


def _convert_chunk(spec, split, hub_split, source, indices, image_of) -> datasets.Dataset:
    def convert_batch(batch, positions):
        cols = {name: [] for name in FEATURES}
        for pos in positions:
            row = {k: v[pos - positions[0]] for k, v in batch.items()}
            source_index = int(indices[pos])
            if image_of is not None:
                row[spec.image_column] = image_of(row[spec.images.foreign_key])
            try:
                converted = spec.convert(row)
            except KeyError as e:
                raise ValueError(
                    f"{_describe(spec, hub_split)} row {source_index} has no column {e.args[0]!r}, "
                    f"which task {spec.name!r} needs"
                ) from e
            # a blank reference is no answer (load_split refuses it); a row left without any is skipped
            answers = (
                [str(a) for a in converted["answers"] if str(a).strip()] if converted is not None else []
            )
            if not answers:
                continue
            native = converted.get("id")
            cols["id"].append(
                f"{spec.name}-{native}"
                if native is not None
                else f"{spec.name}-{hub_split.split}-{source_index}"
            )
            cols["image"].append(_image_cell(converted["image"], spec, source_index))
            cols["question"].append(str(converted["question"]))
            cols["context"].append(str(converted.get("context", "")))
            cols["options"].append([str(o) for o in converted.get("options", [])])
            cols["answers"].append(answers)
            cols["task"].append(spec.name)
            cols["kind"].append(spec.kind)
        return cols

    chunk = source.select(indices)
    fingerprint = fixed_fingerprint([spec.name, split, repr(_source_key(spec, hub_split)), indices.tolist()])
    return chunk.map(
        convert_batch,
        batched=True,
        batch_size=None,
        with_indices=True,
        remove_columns=chunk.column_names,
        features=FEATURES,
        new_fingerprint=fingerprint,
        load_from_cache_file=False,
    )


def _image_cell(value, spec: HubDataset, source_index: int) -> dict:
    """Any stored image form -> {"bytes", "path": None} for datasets.Image (bytes kept as stored)."""
    if isinstance(value, dict) and value.get("bytes") is not None:
        return {"bytes": value["bytes"], "path": None}
    if isinstance(value, dict) and value.get("path"):
        return {"bytes": Path(value["path"]).read_bytes(), "path": None}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value), "path": None}
    if isinstance(value, (str, Path)):
        return {"bytes": Path(value).read_bytes(), "path": None}
    if hasattr(value, "save"):  # a PIL image
        return {"bytes": png_bytes(value), "path": None}
    raise ValueError(f"{spec.name}: row {source_index} has no usable image ({type(value).__name__})")


# ------------------------------------------------------------------------------------ finishing


def _empty() -> datasets.Dataset:
    return datasets.Dataset.from_dict({name: [] for name in FEATURES}, features=FEATURES)


def _freeze(ds: datasets.Dataset, fingerprint_parts) -> datasets.Dataset:
    """Check ids are unique, and give the split a fingerprint derived from the arguments: the
    random one map/from_dict draw would land in state.json and change the files on every build."""
    ids = ds["id"]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{fingerprint_parts[0]}: duplicate ids in split {fingerprint_parts[1]!r}")
    if ds._indices is not None:  # a bare table below must hold exactly the split's rows
        ds = ds.flatten_indices()
    return datasets.Dataset(
        ds.data,
        info=datasets.DatasetInfo(features=FEATURES),
        fingerprint=fixed_fingerprint(fingerprint_parts),
    )
