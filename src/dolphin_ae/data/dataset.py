"""The window data set of a run: labelled windows split by recording, saved in the run directory.

The windows come from :mod:`dolphin_ae.data.windows` (the clips of :mod:`dolphin_ae.data.clips`,
windowed by :mod:`dolphin_ae.audio.pipeline`). Train and test never share a recording
(:mod:`dolphin_ae.data.recordings` decides which recording a file belongs to), so no background,
animal or session is seen in both.
"""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.data.recordings import RECORDINGS_FILE, one_recording_per_file_warning
from dolphin_ae.data.windows import extract, read_index, read_profiles, write_profiles
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.layout import BAND_PROFILES_FILE, DATASET_FILE, EVENTS_FILE, INDEX_FILE, WINDOWS_FILE
from dolphin_ae.runio import atomic_path, read_json, write_json
from dolphin_ae.constants import SILENCE_LABEL

log = logging.getLogger(__name__)


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
    ``index`` columns: file, recording, label, start_s, level_db (mean band power of the front end's
    magnitudes, after whitening and before normalisation, dB), padded (the clip was shorter than a window), split ("train" or "test");
    for annotated recordings also type and event_overlap (share of the window covered by events).
    ``events`` (annotated layouts only, else None): one row per annotated event of a recording that
    gave windows, columns file, recording, start_s, end_s (s), label, type, split.
    ``recording_rule`` names the rule that assigned recordings (:mod:`dolphin_ae.data.recordings`) and
    ``recording_warning`` is its warning when every file is a recording of its own (else None).
    ``profiles``: with a whitening front end, ``{recording: band profile (n_bins,) float32}``, the
    profile subtracted from each recording's magnitudes (:mod:`dolphin_ae.data.windows`); else None.
    """

    windows: np.ndarray
    index: pd.DataFrame
    front_end: FrontEnd
    skipped: list = field(default_factory=list)
    layout: str = "folders"
    events: pd.DataFrame | None = None
    recording_rule: str = "file names"
    recording_warning: str | None = None
    profiles: dict | None = None

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
        if self.profiles is not None:
            write_profiles(directory / BAND_PROFILES_FILE, self.profiles)
        else:
            (directory / BAND_PROFILES_FILE).unlink(missing_ok=True)
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
        front_end = FrontEnd(**meta["front_end"])
        profiles = None
        if front_end.whitening != "none":
            if not (directory / BAND_PROFILES_FILE).is_file():
                raise FileNotFoundError(f"{directory / BAND_PROFILES_FILE}: missing; the front end whitens "
                                        f"({front_end.whitening}) and the recordings' band profiles are needed")
            profiles = read_profiles(directory / BAND_PROFILES_FILE)
        return cls(windows=windows, index=index, front_end=front_end, skipped=meta["skipped"],
                   layout=meta.get("layout", "folders"), events=events,
                   recording_rule=meta.get("recording_rule", "file names"),
                   recording_warning=meta.get("recording_warning"), profiles=profiles)


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


def build_window_dataset(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, test_fraction=0.25,
                         seed=0, layout="auto", min_event_overlap=0.5, label_column=None, pad_mode="reflect",
                         recording_pattern=None, cache_dir=None, progress=False):
    """Read every recording of ``data_dir`` into normalised, labelled windows, split by recording.

    The options are those of :func:`dolphin_ae.data.windows.extract_windows`, plus ``test_fraction`` (share of the windows,
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
    windows, index, skipped, layout, clips, profiles = extract(
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
                         recording_warning=warning, profiles=profiles)


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


def with_front_end(dataset, data_dir, front_end, *, cache_dir=None, **options):
    """The windows of ``dataset`` cut again from ``data_dir`` by another ``front_end``, in ``dataset``'s split.

    Through :func:`build_window_dataset` (so cached in ``cache_dir`` like the run's own windows), in
    the layout ``dataset`` was read in; ``options`` are the other keywords of that function
    (``channel``, ``min_duration_s``, ``min_event_overlap``, ...), which must be those that made
    ``dataset``. The front end changes the numbers in a window, never which windows there are, so
    every window keeps its row and its split: a comparison of front ends is scored on the same
    training and test windows. Returns ``dataset`` itself when ``front_end`` is its own.

    Raises
    ------
    ParameterError
        The windows cut now are not those of ``dataset`` (other files, or other window starts):
        ``options`` or ``data_dir`` differ from what made it.
    """
    if front_end == dataset.front_end:
        return dataset
    other = build_window_dataset(data_dir, front_end=front_end, layout=dataset.layout, cache_dir=cache_dir, **options)
    same = ["file", "start_s"]
    if (len(other.index) != len(dataset.index)
            or not other.index[same].reset_index(drop=True).equals(dataset.index[same].reset_index(drop=True))):
        raise ParameterError(f"{data_dir}: the front end {front_end.magnitude}/{front_end.whitening} cut "
                             f"{len(other.index)} windows that are not the data set's {len(dataset.index)}; the "
                             "options must be those the data set was made with")
    other.index["split"] = dataset.index["split"].to_numpy()
    return other
