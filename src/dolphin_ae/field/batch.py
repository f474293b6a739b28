"""``detect`` and ``embed`` over many recordings, here or on a Dask cluster; one file's failure not stopping the rest.

Every recording is one task (:func:`dolphin_ae.field.engine_run.map_recordings`) that writes one Parquet
part (:mod:`dolphin_ae.field.parts`); on a cluster a recording longer than ``options.task_s`` is scored in
spans by tasks of their own first (:mod:`dolphin_ae.field.spans`), its part still one. Given a folder as
``out``, the parts are the output: a dataset that pandas and dask read whole, which a rerun completes
(finished parts with unchanged inputs are kept). Given a file (``detect``: ``.csv``; ``embed``: ``.csv`` or
``.parquet``), the parts are made in a hidden temporary folder beside it and joined, in the order of the
inputs, into that one file, written atomically when the batch ends; so are the regions' audio (``wav_path``).
Either way a recording that cannot be used is listed with its reason in the result (and, in a folder, in
its ``_failures.csv``); the others go on.
"""

import contextlib
import functools
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import soundfile

from dolphin_ae.audio.loading import find_audio_files
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.field.engine_run import RunSpec, failure_reason, map_recordings, remember_run
from dolphin_ae.field.parts import (PartsFolder, TableSpec, check_output, is_dataset_folder, job_inputs, open_folder,
                                    plan_parts, write_failures, write_part)
from dolphin_ae.field.regions import DetectionOptions, Region
from dolphin_ae.field.run import model_fingerprint
from dolphin_ae.field.spans import span_tasks
from dolphin_ae.field.tables import TableWriter, write_regions_audio
from dolphin_ae.layout import ENCODER_FILE, MODELS_DIR
from dolphin_ae.runio import atomic_path

log = logging.getLogger(__name__)


def expand_inputs(inputs):
    """Files named, and the WAV/FLAC files under folders named, in order; folders that hold none are kept
    as inputs so that the batch reports them."""
    paths = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = find_audio_files(item)
            paths.extend(found if found else [item])
        else:
            paths.append(item)
    return paths


@dataclass
class BatchResult:
    """What a batch did: files whose rows are in the output, ``(file, reason)`` for those that could not be
    used, the files (among ``succeeded``) whose finished parts an earlier run left and this one kept, and
    those (among ``succeeded``) whose rows an index held already but made again because the recording
    changed since (``dolphin-ae index``)."""

    succeeded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    n_rows: int = 0
    reused: list = field(default_factory=list)
    changed: list = field(default_factory=list)

    @property
    def exit_status(self):
        """0 when at least one file was processed, else 1."""
        return 0 if self.succeeded else 1


# Kept under its old name: the index reports failures with it.
_reason = failure_reason


def _recordings(inputs):
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    return paths


def run_parts(run, paths, folder, table, *, options, client=None, progress=True):
    """Make the part of every recording of ``paths`` in ``folder`` that is missing or out of date.

    Parameters
    ----------
    run : DetectorRun
        Loaded here already (so that a bad run stops the batch before any work); workers load it again
        from ``run.run_dir``, once each (:func:`dolphin_ae.field.engine_run.cached_run`).
    folder : PartsFolder
    table : TableSpec
    client : distributed.Client or None
        Where the tasks run (:func:`dolphin_ae.engine.engine_client`); None: in this process.

    Returns
    -------
    BatchResult
    """
    spec = RunSpec.of(run)
    remember_run(spec, run)
    open_folder(folder, table)
    inputs = job_inputs(run, options, model_fingerprint(run.run_dir))
    todo, done = plan_parts(folder, paths, inputs, table)
    if done:
        log.info("%d of %d recording(s) have finished parts in %s with the same inputs; kept", len(done), len(paths),
                 folder.root)
    task = functools.partial(write_part, spec, options, table, str(folder.root), inputs)
    split = None if client is None else functools.partial(span_tasks, spec, options, table.command != "detect",
                                                          run.front_end)
    outcomes = {i: {"ok": True, "n_rows": n, "reused": True} for i, n in done.items()}
    for i, path, outcome in map_recordings(task, [path for _, path in todo], client=client, progress=progress,
                                           split=split):
        if not outcome["ok"]:
            log.warning("skipped %s: %s", path, outcome["reason"])
        outcomes[todo[i][0]] = outcome
    result = BatchResult()
    for i, path in enumerate(paths):
        outcome = outcomes[i]
        if outcome["ok"]:
            result.succeeded.append(str(path))
            result.n_rows += outcome["n_rows"]
            if outcome.get("reused"):
                result.reused.append(str(path))
        else:
            result.failed.append((str(path), outcome["reason"]))
    write_failures(folder, result.failed)
    return result


@contextlib.contextmanager
def _parts_for(out):
    """The parts folder for ``out``, and whether it is a temporary one to be joined into the file ``out``."""
    out = Path(out)
    if is_dataset_folder(out):
        yield PartsFolder(out), False
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.parts-") as temporary:
        yield PartsFolder(temporary), True


def _join_parts(folder, result, out, schema, *, csv_float_format=None):
    """The parts of ``result.succeeded``, in order, as one ``.parquet`` or ``.csv`` file, written atomically.

    ``csv_float_format`` writes the CSV through pandas with that format (detect's table, as it always
    was); else pyarrow's writer streams it batch by batch."""
    import pandas as pd
    import pyarrow.parquet

    with atomic_path(out) as temporary:
        if csv_float_format is not None and Path(out).suffix.lower() == ".csv":
            pd.DataFrame(columns=schema.names).to_csv(temporary, index=False)
            for path in result.succeeded:
                pd.read_parquet(folder.part(path)).to_csv(temporary, mode="a", header=False, index=False,
                                                          float_format=csv_float_format)
            return
        writer = TableWriter(temporary, schema)
        try:
            for path in result.succeeded:
                for batch in pyarrow.parquet.ParquetFile(str(folder.part(path))).iter_batches():
                    writer.write(pyarrow.Table.from_batches([batch], schema=schema))
        finally:
            writer.close()


def _write_audio(folder, result, wav_path, *, sr, options):
    """The regions of every recording of ``result``, one after another, into one WAV file (atomically)."""
    import pandas as pd

    with atomic_path(wav_path) as temporary:
        is_wav = Path(wav_path).suffix.lower() == ".wav"
        first = True
        with soundfile.SoundFile(str(temporary), mode="w", samplerate=sr, channels=1,
                                 subtype="FLOAT" if is_wav else None) as sound_file:
            for path in list(result.succeeded):
                rows = pd.read_parquet(folder.part(path), columns=["start_s", "end_s"])
                regions = [Region(start_s=s, end_s=e, score=float("nan"), n_windows=0)
                           for s, e in zip(rows["start_s"], rows["end_s"])]
                try:
                    first = write_regions_audio(sound_file, path, regions, sr=sr, channel=options.channel,
                                                block_s=options.block_s, first=first)
                except AudioError as error:  # changed since its regions were found
                    result.failed.append((path, failure_reason(error, path)))


def detect_batch(run, inputs, out, *, options=None, wav_path=None, progress=True, client=None):
    """Regions of many recordings (``file,start_s,end_s,score``), and optionally their audio in one WAV.

    Parameters
    ----------
    out : str or Path
        A ``.csv`` file, written when the batch ends; or a folder, the resumable dataset of one Parquet
        part per recording (:mod:`dolphin_ae.field.parts`).
    wav_path : str or Path or None
        One WAV file of every region's audio, 0.1 s of zeros between regions.
    client : distributed.Client or None
        Run the recordings as tasks on this cluster (:func:`dolphin_ae.engine.engine_client`).

    Returns
    -------
    BatchResult
    """
    check_output(out, (".csv",))
    options = (options or DetectionOptions()).check()
    paths = _recordings(inputs)
    table = TableSpec("detect")
    with _parts_for(out) as (folder, join):
        result = run_parts(run, paths, folder, table, options=options, client=client, progress=progress)
        if wav_path is not None:
            _write_audio(folder, result, wav_path, sr=run.front_end.sr, options=options)
        if join:
            _join_parts(folder, result, out, table.schema(), csv_float_format="%.4f")
    return result


def embed_batch(run, inputs, out_path, *, per="region", signal_only=False, options=None, progress=True, client=None):
    """One code per window or per region of many recordings, to Parquet or CSV, or to a folder of parts.

    Parameters
    ----------
    out_path : str or Path
        A ``.parquet`` or ``.csv`` file, written when the batch ends; or a folder, the resumable dataset
        of one Parquet part per recording (:mod:`dolphin_ae.field.parts`).
    per : {"region", "window"}
        ``region``: one row per detected region, its code the mean of its windows' codes, with
        ``score`` and ``n_windows``. ``window``: one row per window, with ``p_not_silence`` and
        ``is_signal``.
    signal_only : bool
        With ``per="window"``, keep only windows called not silent.
    client : distributed.Client or None
        Run the recordings as tasks on this cluster (:func:`dolphin_ae.engine.engine_client`).

    A recording's rows go to its part as they are made, a block at a time, and the part is renamed
    into place only when the recording succeeded, so one that fails half way leaves nothing behind.

    Returns
    -------
    BatchResult
    """
    if per not in ("region", "window"):
        raise ParameterError(f"per must be 'region' or 'window', got {per!r}")
    check_output(out_path, (".parquet", ".csv"))
    options = (options or DetectionOptions()).check()
    if run.encoder is None:
        raise ParameterError(f"{run.run_dir}: embeddings need the encoder ({MODELS_DIR}/{ENCODER_FILE})")
    paths = _recordings(inputs)
    table = TableSpec("embed", per=per, signal_only=bool(signal_only and per == "window"), latent_dim=run.latent_dim)
    with _parts_for(out_path) as (folder, join):
        result = run_parts(run, paths, folder, table, options=options, client=client, progress=progress)
        if join:
            _join_parts(folder, result, out_path, table.schema())
    return result
