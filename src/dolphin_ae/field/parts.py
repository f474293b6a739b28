"""A resumable output dataset: one Parquet part per recording, each with a record of the inputs that made it.

::

    OUT_DIR/
        <stem>-<digest>.parquet      one recording's rows (digest: of its resolved path); zero rows, same schema,
                                     for a recording without regions
        _parts/<stem>-<digest>.json  the part's record: the recording (size, modification time), the models
                                     (SHA-256), front end, threshold, the options that change the rows, and the
                                     table (detect; embed per region or window); written after the part
        _dataset.json                the table's kind and columns, so that parts of another kind never mix in
        _failures.csv                file,reason of the recordings the last run could not use

``pandas.read_parquet(OUT_DIR)`` and ``dask.dataframe.read_parquet(OUT_DIR)`` read every part: pyarrow skips
names starting with ``_`` or ``.``, and dask takes only files ending in ``.parquet``, so no other file
here ends in it (a part being written is ``.<stem>.tmp-*.parquet-partial``, renamed into place when whole).

A rerun skips a recording whose part and record exist and whose record matches the inputs now; it
redoes one whose recording, models, front end, threshold or options changed (its old part and record
are removed first, so a job killed before the new part is written leaves no stale rows).
"""

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field.engine_run import cached_run
from dolphin_ae.field.regions import detect_file
from dolphin_ae.field.tables import embedding_schema, embedding_table
from dolphin_ae.runio import atomic_path, json_values, read_json, write_json

PARTS_VERSION = 1
RECORDS_DIR = "_parts"
DATASET_FILE = "_dataset.json"
FAILURES_FILE = "_failures.csv"
PARTIAL_SUFFIX = ".parquet-partial"
# Options that change the rows (block_s, batch_size and task_s change only how the work is cut).
ROW_OPTIONS = ("step_frames", "min_gap_s", "min_region_s", "channel")


def region_schema():
    """``detect``'s columns: file, start_s, end_s (s), score (mean not-silence probability)."""
    import pyarrow as pa

    return pa.schema([pa.field("file", pa.string()), pa.field("start_s", pa.float64()),
                      pa.field("end_s", pa.float64()), pa.field("score", pa.float64())])


@dataclass(frozen=True)
class TableSpec:
    """What a part holds: ``detect``'s regions, or ``embed``'s codes ``per`` region or window (``signal_only``)."""

    command: str
    per: str = "region"
    signal_only: bool = False
    latent_dim: int = None

    def schema(self):
        if self.command == "detect":
            return region_schema()
        return embedding_schema(self.latent_dim, per=self.per)


def is_dataset_folder(out):
    """Whether ``--out`` names a dataset folder: an existing folder, or a name without a suffix."""
    out = Path(out)
    return out.is_dir() or not out.suffix


def check_output(out, suffixes):
    """Refuse an ``--out`` that is neither a folder nor a file with one of ``suffixes`` (``ParameterError``)."""
    if not is_dataset_folder(out) and Path(out).suffix.lower() not in suffixes:
        raise ParameterError(f"--out {out}: expected a {' or '.join(suffixes)} file, or a folder (a name without a "
                             f"suffix) for one Parquet part per recording; got {Path(out).suffix}")


@dataclass(frozen=True)
class PartsFolder:
    """The paths of one output dataset folder (nothing is created here)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def name(self, path):
        digest = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]
        # A leading "_" or "." would hide the part from the readers.
        return f"{Path(path).stem.lstrip('._') or 'recording'}-{digest}"

    def part(self, path):
        return self.root / f"{self.name(path)}.parquet"

    def record(self, path):
        return self.root / RECORDS_DIR / f"{self.name(path)}.json"

    @property
    def dataset(self):
        return self.root / DATASET_FILE

    @property
    def failures(self):
        return self.root / FAILURES_FILE


def recording_stat(path):
    """The recording's resolved path, size (bytes) and modification time (ns), or None when it is missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return {"path": str(Path(path).resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def job_inputs(run, options, fingerprint):
    """What every part of a batch is made with: the models (``fingerprint``: SHA-256 by file), front end,
    threshold and the options that change the rows."""
    return {"models": fingerprint, "front_end": run.front_end.to_dict(), "threshold": float(run.threshold),
            "options": {name: asdict(options)[name] for name in ROW_OPTIONS}}


def part_inputs(path, inputs, table):
    """Everything a recording's part is made from, as its record keeps it (JSON types): the recording's
    :func:`recording_stat`, the batch's :func:`job_inputs` and the table."""
    return json_values({"recording": recording_stat(path), **inputs, "table": asdict(table)})


def open_folder(folder, table):
    """Create ``folder`` for ``table``, or check that it already holds ``table``'s kind and columns.

    Raises
    ------
    ParameterError
        The folder holds another table (another command, ``per``, ``signal_only`` or code size), or is a
        non-empty folder this module did not make.
    """
    columns = table.schema().names
    ours = json_values({"version": PARTS_VERSION, "table": asdict(table), "columns": columns})
    if folder.dataset.is_file():
        try:
            theirs = read_json(folder.dataset)
        except ValueError:
            theirs = None
        if theirs != ours:
            raise ParameterError(f"--out {folder.root}: holds parts of another table ({folder.dataset.name}: "
                                 f"{theirs}); this command writes {ours['table']}: choose another --out")
        return
    if folder.root.is_dir() and any(folder.root.iterdir()):
        raise ParameterError(f"--out {folder.root}: a folder that is not empty and holds no {DATASET_FILE}; "
                             f"choose a new or empty folder for the parts")
    write_json(folder.dataset, ours)


def plan_parts(folder, paths, inputs, table):
    """Split ``paths`` into those to do and those whose part is finished with the same inputs.

    Returns
    -------
    todo : list of (i, path)
        Their old part and record are removed here.
    done : dict
        ``i -> n_rows`` of the finished parts.
    """
    todo, done = [], {}
    for i, path in enumerate(paths):
        wanted = part_inputs(path, inputs, table)
        record_path, part_path = folder.record(path), folder.part(path)
        try:
            record = read_json(record_path) if record_path.is_file() else None
        except ValueError:  # a record cut short: the part is redone
            record = None
        if (record is not None and wanted["recording"] is not None and record.get("inputs") == wanted
                and part_path.is_file() and part_path.stat().st_size == record.get("part_bytes")):
            done[i] = int(record["n_rows"])
            continue
        record_path.unlink(missing_ok=True)
        part_path.unlink(missing_ok=True)
        todo.append((i, path))
    return todo, done


def write_part(spec, options, table, root, inputs, path, progress=None, spans=None):
    """One recording's part and then its record (the task :func:`~dolphin_ae.field.engine_run.map_recordings`
    runs, here or on a worker). Returns ``{"n_rows": n}``; raises ``AudioError`` when the recording cannot
    be used, leaving nothing behind.

    ``spans``: the recording's spans already scored by other tasks (:func:`dolphin_ae.field.spans.score_span`),
    in time order; their windows are merged here as the recording's own would be. None: read it all here.

    The recording's size and time are taken before it is read: one that changes meanwhile is redone next time.
    """
    import pyarrow.parquet

    from dolphin_ae.field.spans import spans_scans

    scans = None
    if spans is None:
        wanted = part_inputs(path, inputs, table)
    else:
        scans, stat = spans_scans(path, spans)
        wanted = json_values({**part_inputs(path, inputs, table), "recording": stat})
    run = cached_run(spec)
    folder = PartsFolder(root)
    schema = table.schema()
    with atomic_path(folder.part(path), temporary_suffix=PARTIAL_SUFFIX) as temporary:
        writer = pyarrow.parquet.ParquetWriter(str(temporary), schema)
        try:
            n_rows = _write_rows(writer, run, path, options, table, schema, progress, scans)
        finally:
            writer.close()
    write_json(folder.record(path), {"version": PARTS_VERSION, "file": str(path), "inputs": wanted, "n_rows": n_rows,
                                     "part_bytes": folder.part(path).stat().st_size})
    return {"n_rows": n_rows}


def _write_rows(writer, run, path, options, table, schema, progress, scans):
    if table.command == "detect":
        regions = detect_file(run, path, options=options, progress=progress, scans=scans)
        writer.write_table(_region_rows(schema, path, regions, {"score": np.array([r.score for r in regions])}))
        return len(regions)
    if table.per == "window":
        n_rows = [0]

        def on_windows(start_s, end_s, p_not_silence, is_signal, codes):
            keep = is_signal if table.signal_only else np.ones(len(start_s), dtype=bool)
            rows = embedding_table(schema, str(path), start_s[keep], end_s[keep],
                                   {"p_not_silence": p_not_silence[keep].astype(np.float32),
                                    "is_signal": is_signal[keep]}, codes[keep])
            writer.write_table(rows)
            n_rows[0] += rows.num_rows

        detect_file(run, path, options=options, with_codes=True, progress=progress, on_windows=on_windows, scans=scans)
        if n_rows[0] == 0:
            writer.write_table(schema.empty_table())
        return n_rows[0]
    regions = detect_file(run, path, options=options, with_codes=True, progress=progress, scans=scans)
    codes = np.stack([r.code for r in regions]) if regions else np.zeros((0, table.latent_dim), dtype=np.float32)
    writer.write_table(embedding_table(schema, str(path), [r.start_s for r in regions], [r.end_s for r in regions],
                                       {"score": np.array([r.score for r in regions], dtype=np.float32),
                                        "n_windows": np.array([r.n_windows for r in regions], dtype=np.int32)},
                                       codes))
    return len(regions)


def _region_rows(schema, path, regions, middle):
    import pyarrow as pa

    return pa.table({"file": pa.array([str(path)] * len(regions), pa.string()),
                     "start_s": np.array([r.start_s for r in regions], dtype=np.float64),
                     "end_s": np.array([r.end_s for r in regions], dtype=np.float64), **middle}).cast(schema)


def write_failures(folder, failed):
    """``_failures.csv`` (file,reason) of this run's failures; a header only when there were none."""
    import pandas as pd

    with atomic_path(folder.failures) as temporary:
        pd.DataFrame(failed, columns=["file", "reason"]).to_csv(temporary, index=False)
