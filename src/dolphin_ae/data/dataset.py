"""Labelled windows from a folder of recordings, split by recording, cached in the run directory.

Input layouts (DESIGN.md), chosen by ``layout`` (``auto`` detects them in this order):

- ``annotations``: long recordings (``DIR/**/*.wav|flac``) with ``DIR/annotations.csv``
  (``file,start_s,end_s,label[,type]``);
- ``raven``: long recordings with Raven selection tables (``*.txt``) beside them;
- ``folders``: clips in ``DIR/<label>/*.wav|flac``; every window of a clip takes its folder's label.

Windows of annotated recordings are labelled by the events they overlap (the rule is in
:mod:`dolphin_ae.data.annotations`); ``noise`` is silence. Which recording a file belongs to is decided
by :mod:`dolphin_ae.data.recordings`: a ``recordings.csv`` (``file,recording``) in the data folder, else
the first group of ``recording_pattern``, else the name before ``__`` in
``<recording>__<anything>.wav``, else the file is a recording of its own. Train and test never
share a recording, so no background, animal or session is seen in both.

Clips shorter than one window (0.18 s of audio at the seed's settings) but at least
``min_duration_s`` long are centred in one window, padded with their own audio reflected at the
edges (see :func:`dolphin_ae.audio.loading.pad_to_length`); shorter ones, and files that cannot be used, are
skipped with their reason.

The windows of a data set are written to a memory-mapped cache, ``<cache_dir>/<key>/``, where the
key hashes the front end's parameters, the reading options and every input file's path, size and
modification time: a re-run over unchanged files with unchanged parameters reads the cache instead
of recomputing.
"""

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.data.annotations import (
    ANNOTATIONS_FILE,
    find_raven_tables,
    read_annotations_csv,
    read_raven_table,
    window_labels,
)
from dolphin_ae.audio.loading import check_audio_file, find_audio_files, load_audio, pad_to_length, resampled_length
from dolphin_ae.exceptions import AudioError, NoUsableAudioError, ParameterError
from dolphin_ae.data.recordings import (
    RECORDINGS_FILE,
    assign_recordings,
    compile_recording_pattern,
    one_recording_per_file_warning,
    recording_of,
)
from dolphin_ae.runio import atomic_path, read_json, write_json
from dolphin_ae.audio.spectrogram import (
    FrontEnd,
    band_spectrogram,
    n_windows_of,
    normalize_windows,
    spectrogram_windows,
    window_level_db,
    window_start_s,
)
from dolphin_ae.constants import SILENCE_LABEL

log = logging.getLogger(__name__)

from dolphin_ae.layout import DATASET_FILE, EVENTS_FILE, INDEX_FILE, WINDOWS_FILE  # noqa: E402 (names of a run's files)
LAYOUTS = ("auto", "folders", "annotations", "raven")
# Bump when the way windows are computed changes, so that old caches are not trusted.
CACHE_VERSION = 2


@dataclass(frozen=True)
class Clip:
    """One audio file of a data set: a folder-per-label clip (``label`` set) or an annotated
    recording (``events`` set, one row per event)."""

    path: Path
    file: str  # path relative to the data folder, with forward slashes
    label: str | None
    recording: str
    events: pd.DataFrame | None = field(default=None, compare=False, hash=False)


def detect_layout(data_dir):
    """``annotations`` when ``DIR/annotations.csv`` exists, else ``raven`` when a Raven selection table
    is in the folder, else ``folders``."""
    data_dir = Path(data_dir)
    if (data_dir / ANNOTATIONS_FILE).is_file():
        return "annotations"
    if find_raven_tables(data_dir):
        return "raven"
    return "folders"


def _with_recordings(clips, data_dir, recording_pattern):
    """``clips`` with the recordings :func:`dolphin_ae.data.recordings.assign_recordings` gives them."""
    recordings, _ = assign_recordings([c.file for c in clips], data_dir, pattern=recording_pattern)
    return [Clip(path=c.path, file=c.file, label=c.label, recording=r, events=c.events)
            for c, r in zip(clips, recordings)]


def scan_labelled_folder(data_dir, *, recording_pattern=None):
    """Every audio clip of ``data_dir/<label>/``, labelled by its folder, with its recording
    (:mod:`dolphin_ae.data.recordings`; ``recording_pattern`` is its rule 2).

    Raises
    ------
    NoUsableAudioError
        When the folder holds no ``.wav``/``.flac`` file in a label subfolder.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise NoUsableAudioError(f"{data_dir}: is not a folder; expected DIR/<label>/*.wav|flac")
    clips = []
    for label_dir in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in find_audio_files(label_dir):
            relative = path.relative_to(data_dir)
            clips.append(Clip(path=path, file=relative.as_posix(), label=label_dir.name,
                              recording=recording_of(relative)))
    if not clips:
        raise NoUsableAudioError(f"{data_dir}: no .wav or .flac files in label subfolders (DIR/<label>/*.wav)")
    return _with_recordings(clips, data_dir, recording_pattern)


def scan_annotated_recordings(data_dir, *, layout="annotations", label_column=None, recording_pattern=None):
    """Every recording under ``data_dir`` with its events from ``annotations.csv`` or Raven tables.

    Every audio file is a recording; the time no event covers is background, so a recording the
    table does not mention is all ``noise``.

    Returns
    -------
    clips : list of Clip
        One per audio file, ``events`` holding its rows of the table (start_s, end_s, label, type).
    skipped : list of dict
        Table rows that name a missing recording, or Raven tables that cannot be used: file, reason.

    Raises
    ------
    NoUsableAudioError
        The folder holds no audio file.
    AudioError
        ``annotations.csv`` cannot be read or has a malformed row.
    """
    data_dir = Path(data_dir)
    if layout not in ("annotations", "raven"):
        raise ParameterError(f"layout must be 'annotations' or 'raven' here, got {layout!r}")
    audio_files = find_audio_files(data_dir) if data_dir.is_dir() else []
    if not audio_files:
        raise NoUsableAudioError(f"{data_dir}: no .wav or .flac recordings found")
    skipped = []
    if layout == "annotations":
        events = read_annotations_csv(data_dir / ANNOTATIONS_FILE)
    else:
        tables = []
        for table_path in find_raven_tables(data_dir):
            try:
                tables.append(read_raven_table(table_path, data_dir=data_dir, audio_files=audio_files,
                                               label_column=label_column))
            except AudioError as error:
                log.warning("skipped %s", error)
                skipped.append({"file": table_path.relative_to(data_dir).as_posix(), "reason": str(error)})
        events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["file", "start_s", "end_s",
                                                                                          "label", "type"])
    known = {p.relative_to(data_dir).as_posix() for p in audio_files}
    for file in sorted(set(events["file"]) - known):
        reason = f"{data_dir / file}: named in the annotations, but no such recording in {data_dir}"
        log.warning("skipped %s", reason)
        skipped.append({"file": file, "reason": reason})
    by_file = dict(tuple(events.groupby("file", sort=False)))
    clips = []
    for path in audio_files:
        relative = path.relative_to(data_dir).as_posix()
        own = by_file.get(relative, events.iloc[0:0]).reset_index(drop=True)
        clips.append(Clip(path=path, file=relative, label=None, recording=recording_of(relative), events=own))
    return _with_recordings(clips, data_dir, recording_pattern), skipped


def split_by_recording(recordings, labels, *, test_fraction=0.25, seed=0):
    """Choose test recordings so that about ``test_fraction`` of the items, in every class, are test.

    Parameters
    ----------
    recordings, labels : sequences of str, one entry per item (window or clip)

    Returns
    -------
    is_test : np.ndarray of bool, shape (n_items,)
        Items of one recording are all train or all test.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    recordings = np.asarray(recordings)
    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    n_splits = max(2, int(round(1 / test_fraction)))
    n_recordings = len(np.unique(recordings))
    if n_recordings < n_splits:
        raise ParameterError(
            f"a test fraction of {test_fraction} needs at least {n_splits} recordings to split by recording, "
            f"found {n_recordings}"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, test_items = next(folds.split(np.zeros(len(labels)), labels, groups=recordings))
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_items] = True
    return is_test


@dataclass
class WindowDataset:
    """Normalised windows with one index row per window.

    ``windows`` has shape (n_windows, window_frames, n_bins), float32 (memory-mapped when loaded).
    ``index`` columns: file, recording, label, start_s, level_db (mean band power before
    normalisation, dB), padded (the clip was shorter than a window), split ("train" or "test");
    for annotated recordings also type and event_overlap (share of the window covered by events).
    ``events`` (annotated layouts only, else None): one row per annotated event of a recording that
    gave windows, columns file, recording, start_s, end_s (s), label, type, split.
    ``recording_rule`` names the rule that assigned recordings (:mod:`dolphin_ae.data.recordings`) and
    ``recording_warning`` is its warning when every file is a recording of its own (else None).
    """

    windows: np.ndarray
    index: pd.DataFrame
    front_end: FrontEnd
    skipped: list = field(default_factory=list)
    layout: str = "folders"
    events: pd.DataFrame | None = None
    recording_rule: str = "file names"
    recording_warning: str | None = None

    @property
    def is_silence(self):
        """True for windows labelled ``noise`` (the seed's silence class), shape (n_windows,)."""
        return (self.index["label"] == SILENCE_LABEL).to_numpy()

    def split_indices(self, split):
        if split not in ("train", "test"):
            raise ParameterError(f"split must be 'train' or 'test', got {split!r}")
        return np.flatnonzero((self.index["split"] == split).to_numpy())

    def save(self, directory):
        directory = Path(directory)
        with atomic_path(directory / WINDOWS_FILE) as temporary:
            _link_or_copy_npy(self.windows, temporary)
        with atomic_path(directory / INDEX_FILE) as temporary:
            self.index.to_csv(temporary, index=False)
        if self.events is not None:
            with atomic_path(directory / EVENTS_FILE) as temporary:
                self.events.to_csv(temporary, index=False)
        else:
            (directory / EVENTS_FILE).unlink(missing_ok=True)
        # Written last: its presence says the two files above are complete.
        write_json(directory / DATASET_FILE, {
            "front_end": self.front_end.to_dict(),
            "skipped": self.skipped,
            "layout": self.layout,
            "n_windows": int(self.windows.shape[0]),
            "window_shape": list(self.windows.shape[1:]),
            "n_recordings": int(self.index["recording"].nunique()),
            "recording_rule": self.recording_rule,
            "recording_warning": self.recording_warning,
        })

    @classmethod
    def load(cls, directory):
        """Open a saved data set; the windows stay on disk (memory-mapped, read-only)."""
        directory = Path(directory)
        meta = read_json(directory / DATASET_FILE, default=None)
        if not meta:
            raise FileNotFoundError(f"{directory / DATASET_FILE}: no finished data set here; run the data stage first")
        windows = np.load(directory / WINDOWS_FILE, mmap_mode="r")
        if windows.shape[0] != meta["n_windows"]:
            raise ParameterError(f"{directory / WINDOWS_FILE}: holds {windows.shape[0]} windows, "
                                 f"{DATASET_FILE} says {meta['n_windows']}")
        index = read_index(directory / INDEX_FILE)
        events = read_index(directory / EVENTS_FILE) if (directory / EVENTS_FILE).is_file() else None
        return cls(windows=windows, index=index, front_end=FrontEnd(**meta["front_end"]), skipped=meta["skipped"],
                   layout=meta.get("layout", "folders"), events=events,
                   recording_rule=meta.get("recording_rule", "file names"),
                   recording_warning=meta.get("recording_warning"))


def read_index(path):
    """A window index table; labels such as "NA" stay strings, a missing type is ""."""
    index = pd.read_csv(path, keep_default_na=False, na_values={"start_s": [""], "end_s": [""], "level_db": [""],
                                                                "event_overlap": [""]})
    for column in ("file", "recording", "label", "type", "split"):
        if column in index.columns:
            index[column] = index[column].astype(str)
    return index


def _whole_npy_file(windows):
    """The ``.npy`` file that ``windows`` maps in full, or None (in memory, or a part of a file)."""
    source = getattr(windows, "filename", None)
    if not isinstance(windows, np.memmap) or source is None or Path(source).suffix != ".npy":
        return None
    with open(source, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(handle)
    # A C-contiguous view with the file's whole shape can only be the file's whole data.
    if (tuple(shape) == windows.shape and dtype == windows.dtype and not fortran_order
            and windows.flags.c_contiguous):
        return Path(source)
    return None


def _link_or_copy_npy(windows, destination):
    """Write ``windows`` as ``.npy`` at ``destination``: a hard link when it is a whole ``.npy`` memory
    map (the cache; no copy), else a chunked copy."""
    destination = Path(destination)
    source = _whole_npy_file(windows)
    if source is not None:
        try:
            destination.unlink(missing_ok=True)
            os.link(source, destination)
            return
        except OSError:
            pass
    out = np.lib.format.open_memmap(destination, mode="w+", dtype=np.float32, shape=windows.shape)
    for start in range(0, windows.shape[0], 1024):
        out[start:start + 1024] = windows[start:start + 1024]
    out.flush()
    del out


def _stat_entry(path, data_dir):
    stat = Path(path).stat()
    return [Path(path).relative_to(data_dir).as_posix(), stat.st_size, stat.st_mtime_ns]


def cache_key(data_dir, clips, tables, options):
    """A hex digest of everything the windows depend on: options, front end, files' paths/sizes/mtimes."""
    data_dir = Path(data_dir)
    content = {
        "version": CACHE_VERSION,
        "options": options,
        "audio": [_stat_entry(c.path, data_dir) for c in clips],
        "tables": [_stat_entry(t, data_dir) for t in tables],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _scan(data_dir, layout, label_column, recording_pattern):
    data_dir = Path(data_dir)
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    compile_recording_pattern(recording_pattern)  # a bad pattern fails before any file is read
    if not data_dir.is_dir():
        raise NoUsableAudioError(f"{data_dir}: is not a folder")
    if layout == "auto":
        layout = detect_layout(data_dir)
    # recordings.csv decides the split, so it is part of the cache key like the annotation tables.
    assignment = [data_dir / RECORDINGS_FILE] if (data_dir / RECORDINGS_FILE).is_file() else []
    if layout == "folders":
        return layout, scan_labelled_folder(data_dir, recording_pattern=recording_pattern), [], assignment
    clips, skipped = scan_annotated_recordings(data_dir, layout=layout, label_column=label_column,
                                               recording_pattern=recording_pattern)
    tables = [data_dir / ANNOTATIONS_FILE] if layout == "annotations" else find_raven_tables(data_dir)
    return layout, clips, skipped, list(tables) + assignment


def extract_windows(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, layout="auto",
                    min_event_overlap=0.5, label_column=None, pad_mode="reflect", recording_pattern=None,
                    cache_dir=None, progress=False):
    """Labelled, normalised windows of every usable file of ``data_dir`` (no split), cached.

    Parameters
    ----------
    data_dir : str or Path
    front_end : FrontEnd or None
    channel : int
        Channel of multi-channel files (0 is the first).
    min_duration_s : float
        Files shorter than this (s) are skipped; those between it and one window are padded.
    layout : {"auto", "folders", "annotations", "raven"}
    min_event_overlap : float
        Share of a window (or of a shorter event) an annotated event must cover to label it.
    label_column : str or None
        Raven tables' label column; None picks ``Annotation``, ``Label``, ``Type``, ... .
    pad_mode : {"reflect", "zeros"}
        How clips shorter than a window are padded.
    recording_pattern : str or None
        Regular expression whose first group names a file's recording (see
        :mod:`dolphin_ae.data.recordings`; a ``recordings.csv`` in ``data_dir`` takes precedence).
    cache_dir : str, Path or None
        Where the windows are cached (memory-mapped); None keeps them in memory, uncached.

    Returns
    -------
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32
    index : pd.DataFrame, one row per window (without ``split``)
    skipped : list of dict (file, reason)
    layout : str, the layout used

    Raises
    ------
    NoUsableAudioError
        No file yields a window.
    ParameterError
        ``recording_pattern`` is not a regular expression with a group, or ``recordings.csv`` leaves
        files out.
    """
    windows, index, skipped, layout, _ = _extract(
        data_dir, front_end=front_end, channel=channel, min_duration_s=min_duration_s, layout=layout,
        min_event_overlap=min_event_overlap, label_column=label_column, pad_mode=pad_mode,
        recording_pattern=recording_pattern, cache_dir=cache_dir, progress=progress)
    return windows, index, skipped, layout


def _extract(data_dir, *, front_end, channel, min_duration_s, layout, min_event_overlap, label_column, pad_mode,
             recording_pattern, cache_dir, progress):
    """:func:`extract_windows`, also returning the scanned clips."""
    fe = front_end or FrontEnd()
    data_dir = Path(data_dir)
    if min_duration_s < 0:
        raise ParameterError(f"min_duration_s must be >= 0 s, got {min_duration_s}")
    layout, clips, skipped, tables = _scan(data_dir, layout, label_column, recording_pattern)
    options = {"front_end": fe.to_dict(), "channel": channel, "min_duration_s": min_duration_s, "layout": layout,
               "min_event_overlap": min_event_overlap, "label_column": label_column, "pad_mode": pad_mode,
               "recording_pattern": recording_pattern or None}
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / cache_key(data_dir, clips, tables, options)
        meta = read_json(cache / DATASET_FILE, default=None)
        if meta:
            log.info("reading cached windows from %s", cache)
            windows = np.load(cache / WINDOWS_FILE, mmap_mode="r")
            index = read_index(cache / INDEX_FILE)
            return windows, index, meta["skipped"], layout, clips

    # First pass, headers only: which files are usable, and how many windows each gives.
    planned = []
    for clip in clips:
        try:
            info = check_audio_file(clip.path, channel=channel, fmax_hz=fe.fmax_hz, min_duration_s=min_duration_s)
        except AudioError as error:
            log.warning("skipped %s", error)
            skipped.append({"file": clip.file, "reason": str(error)})
            continue
        n_samples = max(resampled_length(info.frames, orig_sr=info.sr, target_sr=fe.sr), fe.window_samples)
        planned.append((clip, n_windows_of(n_samples, fe)))
    total = sum(n for _, n in planned)
    if total == 0:
        raise NoUsableAudioError(f"{data_dir}: none of {len(clips)} audio files could be used; "
                                 f"first reason: {skipped[0]['reason'] if skipped else 'none'}")
    shape = (total, fe.window_frames, fe.n_bins)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / ".windows.partial.npy"
        windows = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape)
    else:
        windows = np.empty(shape, dtype=np.float32)

    if progress:
        from tqdm import tqdm

        planned = tqdm(planned, desc="reading recordings", unit="file", mininterval=5)
    frames = []
    position = 0
    window_length_s = fe.window_samples / fe.sr
    for clip, n_planned in planned:
        try:
            y = load_audio(clip.path, sr=fe.sr, channel=channel, fmax_hz=fe.fmax_hz, min_duration_s=min_duration_s)
        except AudioError as error:
            log.warning("skipped %s", error)
            skipped.append({"file": clip.file, "reason": str(error)})
            continue
        padded = y.shape[0] < fe.window_samples
        if padded:
            y = pad_to_length(y, fe.window_samples, mode=pad_mode)
        clip_windows = spectrogram_windows(band_spectrogram(y, fe), fe)[:n_planned]
        n = clip_windows.shape[0]
        levels = window_level_db(clip_windows)
        windows[position:position + n] = normalize_windows(clip_windows, method=fe.normalization)
        starts = window_start_s(n, fe)
        rows = {"file": clip.file, "recording": clip.recording, "start_s": starts, "level_db": levels,
                "padded": padded}
        if clip.events is None:
            rows["label"] = clip.label
        else:
            labels, types, overlap = window_labels(starts, window_length_s, clip.events,
                                                   min_event_overlap=min_event_overlap)
            rows.update(label=labels, type=types, event_overlap=overlap)
        frames.append(pd.DataFrame(rows))
        position += n
    if position == 0:
        raise NoUsableAudioError(f"{data_dir}: none of {len(clips)} audio files could be used; "
                                 f"first reason: {skipped[0]['reason'] if skipped else 'none'}")
    index = pd.concat(frames, ignore_index=True)
    columns = ["file", "recording", "label", "start_s", "level_db", "padded"]
    index = index[columns + [c for c in ("type", "event_overlap") if c in index.columns]]
    if cache is None:
        return windows[:position], index, skipped, layout, clips
    if position < total:
        # A file failed only when read (NaN samples, say): keep the filled rows in a smaller file.
        windows.flush()
        trimmed = np.lib.format.open_memmap(cache / ".windows.trimmed.npy", mode="w+", dtype=np.float32,
                                            shape=(position,) + shape[1:])
        for start in range(0, position, 1024):
            trimmed[start:min(start + 1024, position)] = windows[start:min(start + 1024, position)]
        trimmed.flush()
        del windows, trimmed
        os.replace(cache / ".windows.trimmed.npy", partial)
    else:
        windows.flush()
        del windows
    os.replace(partial, cache / WINDOWS_FILE)
    with atomic_path(cache / INDEX_FILE) as temporary:
        index.to_csv(temporary, index=False)
    write_json(cache / DATASET_FILE, {"options": options, "skipped": skipped, "n_windows": position})
    index = read_index(cache / INDEX_FILE)
    return np.load(cache / WINDOWS_FILE, mmap_mode="r"), index, skipped, layout, clips


def clear_stale_caches(cache_dir, *, keep):
    """Remove every cache entry under ``cache_dir`` except ``keep`` (a key), to bound disk use."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return
    for entry in cache_dir.iterdir():
        if entry.is_dir() and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)


def build_window_dataset(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, test_fraction=0.25,
                         seed=0, layout="auto", min_event_overlap=0.5, label_column=None, pad_mode="reflect",
                         recording_pattern=None, cache_dir=None, progress=False):
    """Read every recording of ``data_dir`` into normalised, labelled windows, split by recording.

    The options are those of :func:`extract_windows`, plus ``test_fraction`` (share of the windows,
    by recording, held out) and ``seed`` (the split's random state). A file that cannot be used is
    logged, skipped and listed in ``skipped`` with its reason. In the annotated layouts the result's
    ``events`` lists every annotated event with the split of its recording. When every file is a
    recording of its own (more than a handful of files), ``recording_warning`` says so and the
    warning is logged.

    Raises
    ------
    NoUsableAudioError
        When no file yields a window.
    """
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    windows, index, skipped, layout, clips = _extract(
        data_dir, front_end=front_end, channel=channel, min_duration_s=min_duration_s, layout=layout,
        min_event_overlap=min_event_overlap, label_column=label_column, pad_mode=pad_mode,
        recording_pattern=recording_pattern, cache_dir=cache_dir, progress=progress)
    rule = ("recordings.csv" if (Path(data_dir) / RECORDINGS_FILE).is_file()
            else "recording_pattern" if recording_pattern else "file names")
    warning = one_recording_per_file_warning(index["file"].unique(), index["recording"].unique())
    if warning:
        log.warning("%s: %s", data_dir, warning)
    is_test = split_by_recording(index["recording"], index["label"], test_fraction=test_fraction, seed=seed)
    index["split"] = np.where(is_test, "test", "train")
    return WindowDataset(windows=windows, index=index, front_end=front_end or FrontEnd(), skipped=skipped,
                         layout=layout, events=_event_table(clips, index), recording_rule=rule,
                         recording_warning=warning)


def _event_table(clips, index):
    """Every annotated event of the clips that gave windows, with its recording's split; None for clips."""
    if not clips or clips[0].events is None:
        return None
    split_of = index.drop_duplicates("file").set_index("file")["split"]
    rows = []
    for clip in clips:
        if clip.file not in split_of.index or clip.events is None or clip.events.empty:
            continue
        own = clip.events.copy()
        own["file"] = clip.file
        own["recording"] = clip.recording
        own["split"] = split_of[clip.file]
        rows.append(own)
    columns = ["file", "recording", "start_s", "end_s", "label", "type", "split"]
    if not rows:
        return pd.DataFrame(columns=columns)
    events = pd.concat(rows, ignore_index=True)
    if "type" not in events.columns:
        events["type"] = events["label"]
    events["type"] = events["type"].fillna("").astype(str)
    return events[columns].sort_values(["file", "start_s"], kind="stable").reset_index(drop=True)
