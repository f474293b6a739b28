"""Labelled windows from a folder of recordings, split by recording, cached in the run directory.

Input layout (DESIGN.md): ``DIR/<label>/*.wav|flac``. Every window of a clip takes the clip's
folder label; ``noise`` is silence. A file named ``<recording>__<anything>.wav`` belongs to
recording ``<recording>``; any other file is a recording of its own. Train and test never share
a recording, so no background, animal or session is seen in both.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.audio import find_audio_files, load_audio
from dolphin_ae.exceptions import AudioError, NoUsableAudioError, ParameterError
from dolphin_ae.runio import atomic_path, read_json, write_json
from dolphin_ae.spectrogram import (
    FrontEnd,
    band_spectrogram,
    normalize_windows,
    spectrogram_windows,
    window_level_db,
    window_start_s,
)
from dolphin_ae.synth import RECORDING_SEPARATOR, SILENCE_LABEL

log = logging.getLogger(__name__)

WINDOWS_FILE = "windows.npy"
INDEX_FILE = "windows.csv"
DATASET_FILE = "dataset.json"


@dataclass(frozen=True)
class Clip:
    """One audio file of a folder-per-label data set."""

    path: Path
    file: str  # path relative to the data folder, with forward slashes
    label: str
    recording: str


def recording_of(relative_path):
    """Recording a file belongs to: the name before ``__``, else the file itself (without suffix)."""
    relative_path = Path(relative_path)
    stem = relative_path.stem
    if RECORDING_SEPARATOR in stem:
        return stem.split(RECORDING_SEPARATOR, 1)[0]
    return relative_path.with_suffix("").as_posix()


def scan_labelled_folder(data_dir):
    """Every audio clip of ``data_dir/<label>/``, labelled by its folder.

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
            clips.append(Clip(path=path, file=relative.as_posix(), label=label_dir.name, recording=recording_of(relative)))
    if not clips:
        raise NoUsableAudioError(f"{data_dir}: no .wav or .flac files in label subfolders (DIR/<label>/*.wav)")
    return clips


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
    normalisation, dB), split ("train" or "test").
    """

    windows: np.ndarray
    index: pd.DataFrame
    front_end: FrontEnd
    skipped: list = field(default_factory=list)

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
            out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=self.windows.shape)
            out[:] = self.windows
            out.flush()
            del out
        with atomic_path(directory / INDEX_FILE) as temporary:
            self.index.to_csv(temporary, index=False)
        # Written last: its presence says the two files above are complete.
        write_json(directory / DATASET_FILE, {
            "front_end": self.front_end.to_dict(),
            "skipped": self.skipped,
            "n_windows": int(self.windows.shape[0]),
            "window_shape": list(self.windows.shape[1:]),
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
        index = pd.read_csv(directory / INDEX_FILE)
        return cls(windows=windows, index=index, front_end=FrontEnd(**meta["front_end"]), skipped=meta["skipped"])


def build_window_dataset(data_dir, *, front_end=None, channel=0, min_duration_s=0.0, test_fraction=0.25,
                         seed=0, progress=False):
    """Read every clip of a folder-per-label data set into normalised, split windows.

    A file that cannot be used is logged, skipped and listed in ``skipped`` with its reason.

    Raises
    ------
    NoUsableAudioError
        When no file yields a window.
    """
    fe = front_end or FrontEnd()
    clips = scan_labelled_folder(data_dir)
    if progress:
        from tqdm import tqdm

        clips_iter = tqdm(clips, desc="reading clips", unit="file", mininterval=5)
    else:
        clips_iter = clips
    blocks, levels, rows, skipped = [], [], [], []
    for clip in clips_iter:
        try:
            y = load_audio(clip.path, sr=fe.sr, channel=channel, fmax_hz=fe.fmax_hz, min_duration_s=min_duration_s)
            windows = spectrogram_windows(band_spectrogram(y, fe), fe)
            if windows.shape[0] == 0:
                raise AudioError(f"{clip.path}: lasts {y.shape[0] / fe.sr:.3f} s, shorter than one window "
                                 f"({fe.window_samples / fe.sr:.3f} s)")
        except AudioError as error:
            log.warning("skipped %s", error)
            skipped.append({"file": clip.file, "reason": str(error)})
            continue
        levels.append(window_level_db(windows))
        blocks.append(normalize_windows(windows, method=fe.normalization))
        for start_s in window_start_s(windows.shape[0], fe):
            rows.append({"file": clip.file, "recording": clip.recording, "label": clip.label, "start_s": start_s})
    if not blocks:
        raise NoUsableAudioError(f"{data_dir}: none of {len(clips)} audio files could be used; "
                                 f"first reason: {skipped[0]['reason'] if skipped else 'none'}")
    index = pd.DataFrame(rows)
    index["level_db"] = np.concatenate(levels)
    is_test = split_by_recording(index["recording"], index["label"], test_fraction=test_fraction, seed=seed)
    index["split"] = np.where(is_test, "test", "train")
    return WindowDataset(windows=np.concatenate(blocks), index=index, front_end=fe, skipped=skipped)
