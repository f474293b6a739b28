"""``detect`` and ``embed`` over many recordings: inputs, progress bars, one file's failure not stopping the rest.

Each recording goes through :func:`dolphin_ae.field.regions.detect_file`; a file that cannot be used
is logged and listed with its reason in the batch's result, and the others go on. Outputs are written
atomically when the batch ends.
"""

import contextlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from dolphin_ae.audio.loading import find_audio_files
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.field.regions import DetectionOptions, detect_file
from dolphin_ae.field.tables import (REGION_COLUMNS, TableWriter, check_table_suffix, embedding_schema,
                                     embedding_table, write_regions_audio)
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
    """What a batch did: files that worked, and ``(file, reason)`` for those that did not."""

    succeeded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    n_rows: int = 0

    @property
    def exit_status(self):
        """0 when at least one file was processed, else 1."""
        return 0 if self.succeeded else 1


def _progress(total, *, desc, unit, enabled, leave=True, bar_format=None):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, dynamic_ncols=True,
                mininterval=1.0, bar_format=bar_format)


def _file_bar(path, enabled):
    """A progress bar in seconds of audio for one recording."""
    try:
        duration_s = soundfile.info(str(path)).duration
    except Exception:  # the scan itself reports an unreadable file
        duration_s = None
    return _progress(duration_s, desc=Path(path).name[-30:], unit="s", enabled=enabled, leave=False,
                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]")


def detect_batch(run, inputs, out_csv, *, options=None, wav_path=None, progress=True):
    """Regions of many recordings to a CSV (``file,start_s,end_s,score``) and optionally one WAV.

    A file that cannot be used is logged and listed in the result's ``failed``; the others go on.
    Both outputs are written atomically when the batch ends.

    Returns
    -------
    BatchResult
    """
    import pandas as pd

    options = (options or DetectionOptions()).check()
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    result = BatchResult()
    rows = []
    with (atomic_path(wav_path) if wav_path is not None else contextlib.nullcontext()) as wav_temporary:
        sound_file = None
        if wav_temporary is not None:
            is_wav = Path(wav_path).suffix.lower() == ".wav"
            sound_file = soundfile.SoundFile(str(wav_temporary), mode="w", samplerate=run.front_end.sr, channels=1,
                                             subtype="FLOAT" if is_wav else None)
        first = True
        files_bar = _progress(len(paths), desc="recordings", unit="file", enabled=progress)
        try:
            for path in paths:
                bar = _file_bar(path, progress)
                try:
                    regions = detect_file(run, path, options=options, progress=bar)
                    if sound_file is not None:
                        first = write_regions_audio(sound_file, path, regions, sr=run.front_end.sr,
                                                    channel=options.channel, block_s=options.block_s, first=first)
                except AudioError as error:
                    log.warning("skipped %s", error)
                    result.failed.append((str(path), _reason(error, path)))
                else:
                    result.succeeded.append(str(path))
                    rows += [{"file": str(path), "start_s": r.start_s, "end_s": r.end_s, "score": r.score}
                             for r in regions]
                finally:
                    bar.close()
                    files_bar.update(1)
        finally:
            files_bar.close()
            if sound_file is not None:
                sound_file.close()
        with atomic_path(out_csv) as temporary:
            pd.DataFrame(rows, columns=list(REGION_COLUMNS)).to_csv(temporary, index=False, float_format="%.4f")
    result.n_rows = len(rows)
    return result


def _reason(error, path):
    text = str(error)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def embed_batch(run, inputs, out_path, *, per="region", signal_only=False, options=None, progress=True):
    """One code per window or per region of many recordings, to Parquet or CSV.

    Parameters
    ----------
    per : {"region", "window"}
        ``region``: one row per detected region, its code the mean of its windows' codes, with
        ``score`` and ``n_windows``. ``window``: one row per window, with ``p_not_silence`` and
        ``is_signal``.
    signal_only : bool
        With ``per="window"``, keep only windows called not silent.

    Rows of a file are written only when the whole file succeeded (per-window rows are spooled to
    a temporary file meanwhile), so a file that fails half way leaves nothing behind.

    Returns
    -------
    BatchResult
    """
    import pyarrow.parquet

    if per not in ("region", "window"):
        raise ParameterError(f"per must be 'region' or 'window', got {per!r}")
    check_table_suffix(out_path)
    options = (options or DetectionOptions()).check()
    if run.encoder is None:
        raise ParameterError(f"{run.run_dir}: embeddings need the encoder ({MODELS_DIR}/{ENCODER_FILE})")
    paths = expand_inputs(inputs)
    if not paths:
        raise ParameterError("no recordings given: pass audio files or folders holding .wav/.flac files")
    schema = embedding_schema(run.latent_dim, per=per)
    result = BatchResult()
    out_path = Path(out_path)
    with atomic_path(out_path) as temporary, tempfile.TemporaryDirectory(dir=out_path.parent,
                                                                         prefix=f".{out_path.stem}.") as spool_dir:
        spool_path = Path(spool_dir) / "spool.parquet"  # one file's per-window rows until the file succeeds
        writer = TableWriter(temporary, schema)
        files_bar = _progress(len(paths), desc="recordings", unit="file", enabled=progress)
        try:
            for path in paths:
                bar = _file_bar(path, progress)
                spool = pyarrow.parquet.ParquetWriter(str(spool_path), schema) if per == "window" else None
                n_rows = [0]

                def on_windows(start_s, end_s, p_not_silence, is_signal, codes, path=path, spool=spool, n_rows=n_rows):
                    keep = is_signal if signal_only else np.ones(len(start_s), dtype=bool)
                    table = embedding_table(schema, str(path), start_s[keep], end_s[keep],
                                             {"p_not_silence": p_not_silence[keep].astype(np.float32),
                                              "is_signal": is_signal[keep]}, codes[keep])
                    spool.write_table(table)
                    n_rows[0] += table.num_rows

                try:
                    regions = detect_file(run, path, options=options, with_codes=True, progress=bar,
                                          on_windows=on_windows if per == "window" else None)
                except AudioError as error:
                    log.warning("skipped %s", error)
                    result.failed.append((str(path), _reason(error, path)))
                    if spool is not None:
                        spool.close()
                    continue
                finally:
                    bar.close()
                    files_bar.update(1)
                result.succeeded.append(str(path))
                if per == "window":
                    spool.close()
                    for batch in pyarrow.parquet.ParquetFile(str(spool_path)).iter_batches():
                        writer.write(pyarrow.Table.from_batches([batch], schema=schema))
                    result.n_rows += n_rows[0]
                elif regions:
                    writer.write(embedding_table(
                        schema, str(path), [r.start_s for r in regions], [r.end_s for r in regions],
                        {"score": np.array([r.score for r in regions], dtype=np.float32),
                         "n_windows": np.array([r.n_windows for r in regions], dtype=np.int32)},
                        np.stack([r.code for r in regions])))
                    result.n_rows += len(regions)
        finally:
            writer.close()
            files_bar.close()
    return result
