"""An embedding index over recordings (``dolphin-ae index``): region codes and a nearest-neighbour graph.

Each recording is detected and embedded exactly as ``embed --per region`` does
(:func:`dolphin_ae.field.regions.detect_file`): a region's code is the mean of its windows' codes.
The per-window codes of every region are kept too, for re-ranking by DTW
(:mod:`dolphin_ae.field.search`). One recording makes one *part* (``parts/<k>.parquet`` and
``parts/<k>.sequences.npy``, :class:`dolphin_ae.layout.IndexLayout`), so adding recordings to an
index embeds only the new ones, and those already in it whose size or modification time changed since
they were indexed (their part is replaced: the codes of a recording as it was are never kept for it as
it is); the neighbour graph is then rebuilt over every code, which costs far less than embedding. The
recordings are tasks on the same engine as ``embed``'s
(:func:`dolphin_ae.field.engine_run.map_recordings`: this process, or a Dask cluster), and each part's
record (``parts/<k>.json``) lets a build interrupted before its manifest keep the parts it finished.

The approximate-nearest-neighbour index is pynndescent's ``NNDescent``: it is already installed
and pinned with umap-learn (``requirements.lock``), so it adds no dependency; it is pure Python and
numba, runs on every platform the project runs on, and its graph search answers queries in
milliseconds for archives of millions of regions. hnswlib, usearch or faiss-cpu would be faster
to build, but each adds a compiled dependency for no gain at the sizes this project meets. Its
cost is numba compilation in each process that builds a graph (about two minutes on a loaded 2-core
machine); so indexes of fewer than ``MIN_ANN_REGIONS`` regions are searched exactly instead (a
distance to every code, milliseconds there), and ``index.json`` says which (``search``).

Nothing half-written is trusted: every file is written atomically, and ``index.json`` (the
manifest: run, front end, detection options, parts and their SHA-256 checksums) is written last.
:func:`load_index` refuses a folder without a manifest, and a part or graph whose checksum differs. The
files of a part replaced (its recording changed) are deleted only once the new ``index.json`` is in place.
"""

import functools
import logging
import pickle
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field.batch import BatchResult, expand_inputs
from dolphin_ae.field.engine_run import RunSpec, cached_run, map_recordings, remember_run
from dolphin_ae.field.parts import recording_stat
from dolphin_ae.field.regions import DetectionOptions, detect_file, window_geometry
# EMBEDDINGS and PooledSpectrogramEncoder are re-exported: they lived here first.
from dolphin_ae.field.run import (EMBEDDINGS, PooledSpectrogramEncoder, embedding_run, file_sha256,  # noqa: F401
                                  load_detector_run, model_fingerprint)
from dolphin_ae.field.tables import code_columns, embedding_schema, embedding_table
from dolphin_ae.layout import IndexLayout
from dolphin_ae.runio import atomic_path, json_values, read_json, save_array, write_json

log = logging.getLogger(__name__)

INDEX_VERSION = 1
# Options that change the regions or their codes; an index is extended only with the same ones.
EMBEDDING_OPTIONS = ("step_frames", "min_gap_s", "min_region_s", "channel")
N_NEIGHBORS = 15
# Under this many regions the codes are searched exactly (a matrix product, milliseconds), not through
# the graph: exact is faster there, and it spares the graph's numba compilation.
MIN_ANN_REGIONS = 2048
# A window lies inside a region (or a query span) when it does up to this much (s): float sums of times.
TIME_TOLERANCE_S = 1e-6


def embed_regions(run, path, *, options):
    """Regions of one recording, their mean codes and the codes of their windows.

    Returns
    -------
    regions : list of Region, with ``code`` (latent_dim,)
    sequences : list of np.ndarray, each (n_windows_i, latent_dim), float32
        Region ``i``'s windows' codes in time order; their mean is ``regions[i].code``.
    """
    starts, codes = [], []

    def keep(start_s, end_s, p_not_silence, is_signal, window_codes):
        starts.append(start_s)
        codes.append(window_codes)

    regions = detect_file(run, path, options=options, with_codes=True, on_windows=keep)
    start_s = np.concatenate(starts) if starts else np.zeros(0)
    codes = np.concatenate(codes) if codes else np.zeros((0, run.latent_dim), dtype=np.float32)
    _, window_s = window_geometry(run.front_end, options.step_frames)
    sequences = [codes[windows_inside(start_s, window_s, r.start_s, r.end_s)] for r in regions]
    return regions, sequences


def windows_inside(start_s, window_s, span_start_s, span_end_s):
    """Indices of the windows (starts ``start_s``, shape (n,), s; each ``window_s`` long) lying inside a span (s)."""
    inside = (start_s >= span_start_s - TIME_TOLERANCE_S) & (start_s + window_s <= span_end_s + TIME_TOLERANCE_S)
    return np.flatnonzero(inside)


def _write_part(layout, part, path, regions, sequences, latent_dim):
    import pyarrow as pa
    import pyarrow.parquet

    schema = embedding_schema(latent_dim, per="region")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    table = embedding_table(schema, str(path), [r.start_s for r in regions], [r.end_s for r in regions],
                            {"score": np.array([r.score for r in regions], dtype=np.float32),
                             "n_windows": lengths.astype(np.int32)},
                            np.stack([r.code for r in regions]) if regions else np.zeros((0, latent_dim)))
    table = table.append_column("first_window", pa.array(np.concatenate([[0], np.cumsum(lengths)[:-1]])
                                                         .astype(np.int64) if regions else [], pa.int64()))
    with atomic_path(layout.part_regions(part)) as temporary:
        pyarrow.parquet.write_table(table, str(temporary))
    flat = np.concatenate(sequences) if sequences else np.zeros((0, latent_dim), dtype=np.float32)
    save_array(layout.part_sequences(part), flat.astype(np.float32))
    return {"part": part, "file": str(path), "n_regions": len(regions),
            "regions_sha256": file_sha256(layout.part_regions(part)),
            "sequences_sha256": file_sha256(layout.part_sequences(part))}


def build_ann(codes, *, seed=0, min_regions=MIN_ANN_REGIONS):
    """The nearest-neighbour index over ``codes`` (n, latent_dim), Euclidean; None (searched exactly) under
    ``min_regions`` codes (and always under 3)."""
    if codes.shape[0] < max(3, min_regions):
        return None
    from pynndescent import NNDescent

    ann = NNDescent(np.asarray(codes, dtype=np.float32), metric="euclidean",
                    n_neighbors=min(N_NEIGHBORS, codes.shape[0] - 1), random_state=seed)
    ann.prepare()
    return ann


def _check_same(manifest, key, ours, what):
    if manifest[key] != ours:
        raise ParameterError(f"the index was built with {what} {manifest[key]}; this run or these options give "
                             f"{ours}: build a new index (another --out) or use the same run and options")


def _index_part(spec, options, root, numbers, ours, path, progress=None):
    """One recording's part and record (the task :func:`~dolphin_ae.field.engine_run.map_recordings` runs)."""
    recording = recording_stat(path)
    run = cached_run(spec)
    regions, sequences = embed_regions(run, path, options=options)
    layout = IndexLayout(root)
    entry = _write_part(layout, numbers[str(path)], path, regions, sequences, run.latent_dim)
    entry["recording"] = recording  # in the manifest too: a later build sees whether the recording changed
    write_json(layout.part_record(entry["part"]), {"entry": entry, "recording": recording, "inputs": ours})
    return {"n_rows": len(regions), "entry": entry}


def _finished_parts(layout, paths, ours, known):
    """Entries of the parts an interrupted build finished for ``paths`` (records matching ``ours`` and the
    recordings as they are now, files matching their checksums), and every part number in use."""
    adopted, numbers = {}, set(known)
    wanted = {str(path) for path in paths}
    for record_path in sorted(layout.parts.glob("*.json")) if layout.parts.is_dir() else []:
        try:
            record = read_json(record_path)
            entry = record["entry"]
            numbers.add(int(entry["part"]))
        except (ValueError, KeyError, TypeError):
            continue
        if (entry["part"] in known or entry["file"] not in wanted or record.get("inputs") != json_values(ours)
                or record.get("recording") != recording_stat(entry["file"])):
            continue
        files = (layout.part_regions(entry["part"]), layout.part_sequences(entry["part"]))
        if all(f.is_file() for f in files) and [file_sha256(f) for f in files] == [entry["regions_sha256"],
                                                                                  entry["sequences_sha256"]]:
            adopted[entry["file"]] = entry
    return adopted, numbers


def _indexed_stat(layout, entry):
    """The :func:`~dolphin_ae.field.parts.recording_stat` of ``entry``'s recording when it was indexed, or None
    when nothing says it.

    The manifest's entry holds it; entries written before it did are looked up in their part's record
    (``parts/<k>.json``), trusted only when that record's entry is the manifest's, checksums and all."""
    if "recording" in entry:
        return entry["recording"]
    try:
        record = read_json(layout.part_record(entry["part"]))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("entry") != entry:
        return None
    return record.get("recording")


def _remove_part(layout, entry):
    """Delete a part's files, once no ``index.json`` counts it (a file left by an interruption is never read)."""
    for path in (layout.part_record(entry["part"]), layout.part_regions(entry["part"]),
                 layout.part_sequences(entry["part"])):
        path.unlink(missing_ok=True)


def build_index(run_dir, inputs, out_dir, *, options=None, embedding="encoder", seed=0, threshold=None,
                min_ann_regions=MIN_ANN_REGIONS, client=None, progress=False):
    """Index the regions of ``inputs``, or add them to the index in ``out_dir`` when there is one.

    Parameters
    ----------
    run_dir : str or Path
        A trained run (:func:`dolphin_ae.field.run.load_detector_run`).
    inputs : list of str or Path
        Recordings or folders of them. One already in the index is skipped, not re-embedded, while its size
        and modification time are those it had when it was indexed; else it is embedded again and its
        part replaced (or, when it can no longer be used, removed, its failure listed). One in the index but
        missing now is listed as failed and its part kept as it was; recordings of the index not among
        ``inputs`` are kept as they are.
    out_dir : str or Path
        The index folder (:class:`dolphin_ae.layout.IndexLayout`); created when missing.
    options : DetectionOptions
        As for ``detect``; an existing index is extended only with the options it was built with.
    embedding : {"encoder", "pooled"}
        The run's encoder codes, or the peer's raw pooled spectrograms (:class:`PooledSpectrogramEncoder`).
    threshold : float or None
        The silence threshold (None: the run's).
    min_ann_regions : int
        Indexes of fewer regions are searched exactly (:func:`build_ann`).
    client : distributed.Client or None
        Embed the recordings as tasks on this cluster (:func:`dolphin_ae.engine.engine_client`), as
        ``embed`` does; None: in this process.

    Each part is written with a record (``parts/<k>.json``); a build interrupted before ``index.json``
    is taken up by the next one, which keeps the finished parts of recordings whose size and time, run
    and options are unchanged.

    Returns
    -------
    result : BatchResult
        Recordings added or re-embedded (``succeeded``; among them ``changed``, those re-embedded because
        they changed since they were indexed, and ``reused``, those whose part an interrupted build left),
        and those that could not be used with their reasons.
    """
    import pandas as pd

    options = (options or DetectionOptions()).check()
    run = load_detector_run(run_dir, threshold=threshold)
    run = embedding_run(run, embedding)
    layout = IndexLayout(out_dir)
    ours = {"front_end": run.front_end.to_dict(), "embedding": embedding, "models": model_fingerprint(run.run_dir),
            "options": {name: asdict(options)[name] for name in EMBEDDING_OPTIONS}}
    manifest = None
    if layout.manifest.exists():
        manifest = load_manifest(layout)
        for key, what in (("front_end", "the front end"), ("embedding", "the embedding"),
                          ("models", "the models"), ("options", "the options")):
            _check_same(manifest, key, ours[key], what)
    parts = list(manifest["parts"]) if manifest else []
    position = {part["file"]: i for i, part in enumerate(parts)}
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    adopted, in_use = _finished_parts(layout, paths, ours, {part["part"] for part in parts})
    result = BatchResult()
    todo, seen = [], set()
    stale = {}  # file: its entry in the index, made from the recording as it was before it changed

    def place(file, entry):
        if file in stale:
            parts[position[file]] = entry
            result.changed.append(file)
            log.info("%s changed since it was indexed; re-embedded", file)
        else:
            parts.append(entry)
        result.succeeded.append(file)
        result.n_rows += entry["n_regions"]

    for path in paths:
        file = str(path)
        if file in seen:
            continue
        seen.add(file)
        if file in position:
            now = recording_stat(path)
            if now is None:
                reason = "missing now; its regions in the index are kept as they were indexed"
                log.warning("%s: %s", path, reason)
                result.failed.append((file, reason))
                continue
            if now == _indexed_stat(layout, parts[position[file]]):
                log.info("%s is in the index already and unchanged; its codes are kept", path)
                continue
            stale[file] = parts[position[file]]
        if file in adopted:
            log.info("%s: its part from an interrupted build is kept", path)
            place(file, adopted[file])
            result.reused.append(file)
        else:
            todo.append(path)
    first = 1 + max(in_use, default=-1)
    numbers = {str(path): first + k for k, path in enumerate(todo)}
    spec = RunSpec.of(run, embedding)
    remember_run(spec, run)
    task = functools.partial(_index_part, spec, options, str(layout.root), numbers, ours)
    outcomes = {}
    for _, path, outcome in map_recordings(task, todo, client=client, progress=progress):
        outcomes[str(path)] = outcome
    dropped = set()
    for path in todo:  # in the order of the inputs, whatever order the tasks finished in
        file, outcome = str(path), outcomes[str(path)]
        if outcome["ok"]:
            place(file, outcome["entry"])
            continue
        reason = outcome["reason"]
        if file in stale:  # its old codes are of another recording than the one there now
            dropped.add(position[file])
            reason += "; it changed since it was indexed, so its old regions were removed from the index"
        log.warning("skipped %s: %s", path, reason)
        result.failed.append((file, reason))
    if not result.succeeded and not dropped:
        return result  # nothing new: the index (if any) stays as it was
    parts = [part for i, part in enumerate(parts) if i not in dropped]
    tables = [pd.read_parquet(layout.part_regions(part["part"])) for part in parts]
    regions = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    codes = regions[code_columns(run.latent_dim)].to_numpy(np.float32) if len(regions) else np.zeros((0, 1))
    ann = build_ann(codes, seed=seed, min_regions=min_ann_regions)
    with atomic_path(layout.ann) as temporary:
        temporary.write_bytes(pickle.dumps(ann))
    write_json(layout.manifest, {"version": INDEX_VERSION, "run_dir": str(Path(run.run_dir).resolve()),
                                 "threshold": run.threshold, **ours, "latent_dim": run.latent_dim,
                                 "n_regions": int(len(regions)), "parts": parts, "seed": seed,
                                 "search": "exact" if ann is None else "pynndescent",
                                 "ann_sha256": file_sha256(layout.ann)})
    for entry in stale.values():  # replaced or removed; index.json no longer counts them
        _remove_part(layout, entry)
    return result


def load_manifest(layout):
    """The index's ``index.json``, checked; ``ParameterError`` naming the folder when it is missing or unreadable."""
    layout = layout if isinstance(layout, IndexLayout) else IndexLayout(layout)
    if not layout.root.is_dir():
        raise ParameterError(f"INDEX_DIR {layout.root}: no such folder (make one with `dolphin-ae index`)")
    if not layout.manifest.is_file():
        raise ParameterError(f"INDEX_DIR {layout.root}: no {layout.manifest.name}; not an index made by "
                             f"`dolphin-ae index`, or its build was interrupted (build it again)")
    try:
        manifest = read_json(layout.manifest)
    except ValueError as error:
        raise ParameterError(f"{layout.manifest}: corrupt, not valid JSON ({error}); build the index again") from None
    needed = ("version", "run_dir", "front_end", "embedding", "options", "parts", "latent_dim", "ann_sha256")
    if not isinstance(manifest, dict) or any(key not in manifest for key in needed):
        raise ParameterError(f"{layout.manifest}: corrupt, expected the keys {needed}; build the index again")
    if manifest["version"] != INDEX_VERSION:
        raise ParameterError(f"{layout.manifest}: index version {manifest['version']}, this dolphin-ae reads "
                             f"version {INDEX_VERSION}; build the index again")
    return manifest


def _checked(path, expected):
    if not path.is_file():
        raise ParameterError(f"{path}: missing from the index; build the index again")
    if file_sha256(path) != expected:
        raise ParameterError(f"{path}: corrupt (its checksum differs from the one in index.json); build the "
                             f"index again")
    return path
