"""Clips as sequences of codes, and the truth table that says what each clip holds.

The 2019 study compared whole whistles, not single windows: each clip became a sequence of codes
of windows taken every win/10 frames ("I reduced the step size from win/2 to win/10"), and
sequences were compared with DTW (:mod:`dolphin_ae.dtw`). This module recomputes those dense
windows from the audio and encodes them.

The truth table (``truth.csv`` beside synthetic data) has one row per event with columns file,
recording, label, type, start_s, end_s, snr_db and, when the generator plants recurring motifs,
``motif`` (an id such as ``sig01`` for renditions of one signature whistle, empty otherwise).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.audio import load_audio
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.plots_analysis import gallery_layout
from dolphin_ae.runio import read_json
from dolphin_ae.spectrogram import FrontEnd, band_spectrogram, normalize_windows, spectrogram_windows

TRUTH_FILE = "truth.csv"
NO_MOTIF = ""


def find_data_dir(run_dir, data_dir=""):
    """Folder of the run's recordings: ``data_dir`` if given, else what the data stage recorded, else ``run_dir/data``."""
    if data_dir:
        return Path(data_dir)
    manifest = read_json(Path(run_dir) / "manifest.json")
    recorded = manifest.get("stages", {}).get("01_data", {}).get("parameters", {}).get("data_dir")
    if recorded and Path(recorded).is_dir():
        return Path(recorded)
    return Path(run_dir) / "data"


def load_truth(data_dir):
    """One row per file of ``data_dir/truth.csv`` with columns file, label, type, motif; None without a table.

    A file with several events takes the type and motif of its ``primary`` event (the one its folder
    is named after) when the table marks one, else of its first event. When the table has no
    ``type`` the label stands in; when it has no ``motif`` the column is empty, and
    :attr:`DataFrame.attrs` ``["has_motif"]`` is False.
    """
    path = Path(data_dir) / TRUTH_FILE
    if not path.exists():
        return None
    table = pd.read_csv(path, keep_default_na=False)
    missing = {"file", "label"} - set(table.columns)
    if missing:
        raise ParameterError(f"{path}: truth table lacks columns {sorted(missing)}")
    has_motif = "motif" in table.columns
    table["type"] = table["type"].astype(str) if "type" in table.columns else table["label"].astype(str)
    table["motif"] = table["motif"].astype(str).str.strip() if has_motif else NO_MOTIF
    table.loc[table["motif"].isin(["nan", "None"]), "motif"] = NO_MOTIF
    if "primary" in table.columns:
        is_primary = table["primary"].astype(str).str.strip().str.lower().isin(["true", "1"])
        table = pd.concat([table[is_primary], table[~is_primary]])
    per_file = table.groupby("file", sort=False).agg(label=("label", "first"), type=("type", "first"),
                                                    motif=("motif", "first")).reset_index()
    per_file.attrs["has_motif"] = bool(has_motif and (per_file["motif"] != NO_MOTIF).any())
    return per_file


def with_truth(index, truth):
    """``index`` (one row per window or clip, with a ``file`` column) plus ``type`` and ``motif``.

    Without a truth table the label stands in for the type and no item has a motif.
    """
    out = index.copy()
    if truth is None:
        out["type"] = out["label"].astype(str)
        out["motif"] = NO_MOTIF
        return out
    columns = truth.set_index("file")[["type", "motif"]]
    out = out.join(columns, on="file")
    out["type"] = out["type"].fillna(out["label"]).astype(str)
    out["motif"] = out["motif"].fillna(NO_MOTIF).astype(str)
    return out


def sequence_front_end(front_end, step_frames):
    """The run's front end with windows every ``step_frames`` frames (the seed's win/10 is 12)."""
    if not isinstance(step_frames, (int, np.integer)) or step_frames < 1:
        raise ParameterError(f"step_frames must be a positive integer, got {step_frames!r}")
    return FrontEnd(**{**front_end.to_dict(), "step_frames": int(step_frames)})


def clip_windows(path, front_end, *, channel=0):
    """Normalised windows of one clip, shape (n_windows, window_frames, n_bins), float32.

    Raises
    ------
    AudioError
        When the clip cannot be read or is shorter than one window.
    """
    y = load_audio(path, sr=front_end.sr, channel=channel, fmax_hz=front_end.fmax_hz)
    windows = spectrogram_windows(band_spectrogram(y, front_end), front_end)
    if windows.shape[0] == 0:
        raise AudioError(f"{path}: lasts {y.shape[0] / front_end.sr:.3f} s, shorter than one window "
                         f"({front_end.window_samples / front_end.sr:.3f} s)")
    return normalize_windows(windows, method=front_end.normalization)


def encode_clips(encoder, clips, data_dir, front_end, *, step_frames=12, channel=0, batch_size=64):
    """Each clip as a sequence of codes of windows every ``step_frames`` frames.

    Parameters
    ----------
    encoder : keras.Model
        Maps (batch, window_frames, n_bins, 1) windows to (batch, latent_dim) codes.
    clips : pandas.DataFrame
        One row per clip, with a ``file`` column relative to ``data_dir``.
    front_end : FrontEnd
        The run's front end; its ``step_frames`` is replaced by ``step_frames``.

    Returns
    -------
    sequences : list of np.ndarray, each of shape (n_windows_i, latent_dim), float32
        One per kept clip, in the order of ``kept``.
    kept : pandas.DataFrame
        The rows of ``clips`` that gave a sequence, plus ``n_windows``.
    skipped : list of dict
        ``{"file", "reason"}`` for each clip that could not be used.
    """
    fe = sequence_front_end(front_end, step_frames)
    sequences, kept_rows, skipped = [], [], []
    for position, row in enumerate(clips.itertuples(index=False)):
        try:
            windows = clip_windows(Path(data_dir) / row.file, fe, channel=channel)
        except AudioError as error:
            skipped.append({"file": row.file, "reason": str(error)})
            continue
        codes = encoder.predict(windows[..., None], batch_size=batch_size, verbose=0)
        sequences.append(np.asarray(codes, dtype=np.float32))
        kept_rows.append(position)
    kept = clips.iloc[kept_rows].reset_index(drop=True)
    kept["n_windows"] = [s.shape[0] for s in sequences]
    return sequences, kept, skipped


def gallery_spectrograms(groups, paths, front_end, *, title, channel=0, max_groups=4, max_members=5):
    """Spectrograms and titles of a gallery's cells, for ``plot_clip_gallery(..., ncols=max_members)``.

    ``groups`` are lists of item numbers, ``paths[item]`` each item's audio file, and
    ``title(group_number, item)`` a cell's title. Rows are padded with None (an empty cell).
    """
    spectrograms, titles = [], []
    for cell in gallery_layout(groups, max_groups=max_groups, max_members=max_members):
        if cell is None:
            spectrograms.append(None)
            titles.append("")
            continue
        number, item = cell
        spectrograms.append(clip_spectrogram(paths[item], front_end, channel=channel)[0])
        titles.append(title(number, item))
    return spectrograms, titles


def clip_spectrogram(path, front_end, *, channel=0):
    """Linear band magnitude spectrogram of a whole clip for display, shape (n_frames, n_bins), and its waveform."""
    display_front_end = FrontEnd(**{**front_end.to_dict(), "magnitude": "linear"})
    y = load_audio(path, sr=front_end.sr, channel=channel, fmax_hz=front_end.fmax_hz)
    return band_spectrogram(y, display_front_end), y
