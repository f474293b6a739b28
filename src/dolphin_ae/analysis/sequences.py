"""Calls as sequences of codes, and the truth table that says what each call holds.

The 2019 study compared whole whistles, not single windows: each clip became a sequence of codes
of windows taken every win/10 frames ("I reduced the step size from win/2 to win/10"), and
sequences were compared with DTW (:mod:`dolphin_ae.analysis.dtw`). This module recomputes those dense
windows from the audio (:func:`dolphin_ae.audio.pipeline.clip_windows`) and encodes them.

Which calls become sequences (:func:`sequence_items`): only those of the **test recordings** (the
encoder never trained on them). In the folder layout each clip is one call, with its folder's
label; in the annotated layouts each annotated event is one call, cut from its recording between
the event's start and end, with the event's label and type.

The truth table (``truth.csv`` beside synthetic data) has one row per event with columns file,
recording, label, type, start_s, end_s, snr_db and, when the generator plants recurring motifs,
``motif`` (an id such as ``sig01`` for renditions of one signature whistle, empty otherwise).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.audio.pipeline import clip_windows, file_profile, load_audio, with_step_frames
from dolphin_ae.constants import TRUTH_FILE
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import read_json

NO_MOTIF = ""
# The 2019 study's sequence clustering (ORIGINAL_PIPELINE.md): windows every win/10 = 12 frames, DTW
# with gap penalty 10 on the raw codes, average linkage cut at the 20th percentile of the distances.
SEED_SEQUENCE_SETTINGS = {"step_frames": 12, "gap_penalty": 10.0, "percentile": 20.0}
ITEM_COLUMNS = ["file", "recording", "label", "split", "type", "motif", "start_s", "end_s"]
# Two starts closer than this (s) name one event (annotations.csv rounds times to the microsecond).
_SAME_EVENT_S = 1e-3


def find_data_dir(run_dir, data_dir=""):
    """Folder of the run's recordings: ``data_dir`` if given, else what the data stage recorded, else ``run_dir/data``."""
    if data_dir:
        return Path(data_dir)
    layout = RunLayout(run_dir)
    manifest = read_json(layout.manifest)
    recorded = manifest.get("stages", {}).get("01_data", {}).get("data_source")
    if recorded and Path(recorded).is_dir():
        return Path(recorded)
    return layout.data


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

    Without a truth table the label stands in for the type and no item has a motif. A ``type``
    column ``index`` already has (annotated recordings: the type of the event under the window)
    is kept; an empty one takes the label.
    """
    out = index.copy()
    own_type = "type" in out.columns
    if own_type:
        out["type"] = out["type"].astype(str).where(out["type"].astype(str) != "", out["label"].astype(str))
    if truth is None:
        if not own_type:
            out["type"] = out["label"].astype(str)
        out["motif"] = NO_MOTIF
        return out
    columns = truth.set_index("file")[["motif"] if own_type else ["type", "motif"]]
    out = out.drop(columns=[c for c in ("motif",) if c in out.columns]).join(columns, on="file")
    out["type"] = out["type"].fillna(out["label"]).astype(str)
    out["motif"] = out["motif"].fillna(NO_MOTIF).astype(str)
    return out


def load_event_truth(data_dir):
    """Every row of ``data_dir/truth.csv`` (one per event) with file, label, start_s, type, motif;
    None without a table, or when the table has no ``start_s``."""
    path = Path(data_dir) / TRUTH_FILE
    if not path.exists():
        return None
    table = pd.read_csv(path, keep_default_na=False, na_values={"start_s": [""], "end_s": [""]})
    if not {"file", "label", "start_s"} <= set(table.columns):
        return None
    table["type"] = table["type"].astype(str) if "type" in table.columns else table["label"].astype(str)
    table["motif"] = table["motif"].astype(str).str.strip() if "motif" in table.columns else NO_MOTIF
    table.loc[table["motif"].isin(["nan", "None"]), "motif"] = NO_MOTIF
    return table


def sequence_items(dataset, labels, *, truth=None, event_truth=None):
    """The calls of the test recordings whose code sequences chapters 5 and 6 compare.

    Parameters
    ----------
    dataset : WindowDataset
        The run's data set (its ``index``, ``layout`` and, for annotated layouts, ``events``).
    labels : sequence of str
        Classes whose calls become sequences (e.g. ``["whistle"]``).
    truth : pandas.DataFrame or None
        :func:`load_truth`'s per-file table (folder layout: type and motif of each clip).
    event_truth : pandas.DataFrame or None
        :func:`load_event_truth`'s per-event table (annotated layouts: the motif of each event,
        matched by file, label and start time).

    Returns
    -------
    pandas.DataFrame
        One row per call, columns ``ITEM_COLUMNS``: file, recording, label, split (always
        ``"test"``), type (the label when unknown), motif (empty when none), start_s and end_s (the
        event's span in its recording, s; NaN for a whole clip). Never a call of a training
        recording.
    """
    labels = [str(label) for label in labels]
    if dataset.events is None:
        index = dataset.index
        clips = index[(index["split"] == "test") & index["label"].isin(labels)].drop_duplicates("file")
        clips = with_truth(clips[["file", "recording", "label", "split"]], truth)
        clips["start_s"] = np.nan
        clips["end_s"] = np.nan
        return clips[ITEM_COLUMNS].reset_index(drop=True)
    events = dataset.events
    items = events[(events["split"] == "test") & events["label"].isin(labels)].copy()
    items["type"] = items["type"].astype(str).where(items["type"].astype(str) != "", items["label"])
    items["motif"] = NO_MOTIF
    if event_truth is not None and len(items):
        for position, row in zip(items.index, items.itertuples(index=False)):
            same = event_truth[(event_truth["file"] == row.file) & (event_truth["label"] == row.label)]
            close = same[np.abs(same["start_s"].to_numpy(dtype=float) - float(row.start_s)) <= _SAME_EVENT_S]
            if len(close):
                items.loc[position, "motif"] = str(close["motif"].iloc[0])
    return items[ITEM_COLUMNS].reset_index(drop=True)


def has_motif_truth(data_dir):
    """Whether ``data_dir/truth.csv`` plants motifs: a ``motif`` column with at least one id."""
    path = Path(data_dir) / TRUTH_FILE
    if not path.exists():
        return False
    table = pd.read_csv(path, keep_default_na=False, nrows=None)
    if "motif" not in table.columns:
        return False
    motifs = table["motif"].astype(str).str.strip()
    return bool((~motifs.isin(["", "nan", "None"])).any())


def seed_settings_label(what, settings, seed_settings):
    """``"the seed's <what> at the seed's settings"``, or, when ``settings`` differ from
    ``seed_settings`` (dicts of name: value), the label names the changed values."""
    changed = {name: value for name, value in settings.items()
               if name in seed_settings and float(value) != float(seed_settings[name])}
    if not changed:
        return f"the seed's {what} at the seed's settings"
    listed = ", ".join(f"{name} {value:g} (seed: {float(seed_settings[name]):g})" for name, value in changed.items())
    return f"the seed's {what} at changed settings: {listed}"


def discovery_truth(clips, *, motif_truth):
    """What discovered groups can be scored against, for chapter 6.

    Parameters
    ----------
    clips : pandas.DataFrame
        The sequenced calls (:func:`sequence_items` plus encoding), with label, type and motif.
    motif_truth : bool
        Whether the data's truth table plants motifs (:func:`has_motif_truth`).

    Returns
    -------
    targets : np.ndarray of str or None
        The motif of each call when there is a motif truth; else the contour family when at least
        two families other than the label are known (a stand-in, never reported as discovery
        precision or recall); else None: nothing to score against.
    kind : {"motif", "contour family", None}
    """
    if motif_truth:
        return clips["motif"].astype(str).to_numpy(), "motif"
    families = clips["type"].astype(str)
    if families[families != clips["label"].astype(str)].nunique() >= 2:
        return families.to_numpy(), "contour family"
    return None, None


def encode_clips(encoder, clips, data_dir, front_end, *, step_frames=12, channel=0, batch_size=64, pad_mode=None,
                 profiles=None):
    """Each clip (or event) as a sequence of codes of windows every ``step_frames`` frames.

    Parameters
    ----------
    encoder : keras.Model
        Maps (batch, window_frames, n_bins, 1) windows to (batch, latent_dim) codes.
    clips : pandas.DataFrame
        One row per clip, with a ``file`` column relative to ``data_dir``; with ``start_s`` and
        ``end_s`` columns (s, as :func:`sequence_items` gives them) a row is the span of its file
        between them (NaN: the whole file). Each file is read once.
    front_end : FrontEnd
        The run's front end; its ``step_frames`` is replaced by ``step_frames``.
    pad_mode : {"reflect", "zeros"} or None
        Pads spans shorter than one window (None: they are skipped).
    profiles : dict or None
        With a whitening front end, ``{recording: band profile (n_bins,)}`` (the data set's
        ``profiles``): a row whose ``recording`` is there is whitened by it, as its windows were in the
        data set; any other row by its whole file's profile (:func:`dolphin_ae.audio.pipeline.file_profile`).

    Returns
    -------
    sequences : list of np.ndarray, each of shape (n_windows_i, latent_dim), float32
        One per kept clip, in the order of ``kept``.
    kept : pandas.DataFrame
        The rows of ``clips`` that gave a sequence, plus ``n_windows``.
    skipped : list of dict
        ``{"file", "reason"}`` for each clip that could not be used.
    """
    fe = with_step_frames(front_end, step_frames)
    sequences, kept_rows, skipped = [], [], []
    has_span = {"start_s", "end_s"} <= set(clips.columns)
    loaded_file, loaded, own_profile = None, None, None
    for position, row in enumerate(clips.itertuples(index=False)):
        start_s = float(row.start_s) if has_span else None
        end_s = float(row.end_s) if has_span else None
        try:
            if row.file != loaded_file:
                loaded_file, loaded = row.file, None
                loaded = load_audio(Path(data_dir) / row.file, sr=fe.sr, channel=channel, fmax_hz=fe.fmax_hz)
                own_profile = None
            if loaded is None:
                raise AudioError(f"{Path(data_dir) / row.file}: could not be read")
            profile = None
            if fe.whitening != "none":
                recording = getattr(row, "recording", None)
                if profiles is not None and recording in profiles:
                    profile = profiles[recording]
                else:  # the whole file's, computed once per file
                    if own_profile is None:
                        own_profile = file_profile(loaded, fe, pad_mode=pad_mode)
                    profile = own_profile
            windows = clip_windows(Path(data_dir) / row.file, fe, channel=channel, start_s=start_s, end_s=end_s,
                                   y=loaded, pad_mode=pad_mode, profile=profile)
        except AudioError as error:
            where = "" if start_s is None or not np.isfinite(start_s) else f" ({start_s:.3f}-{end_s:.3f} s)"
            skipped.append({"file": row.file + where, "reason": str(error)})
            continue
        codes = encoder.predict(windows[..., None], batch_size=batch_size, verbose=0)
        sequences.append(np.asarray(codes, dtype=np.float32))
        kept_rows.append(position)
    kept = clips.iloc[kept_rows].reset_index(drop=True)
    kept["n_windows"] = [s.shape[0] for s in sequences]
    return sequences, kept, skipped


def clip_sources(clips, data_dir):
    """Each row's audio for :func:`dolphin_ae.viz.analysis.clip_spectrogram`: its path, or
    ``(path, start_s, end_s)`` for an event."""
    sources = []
    for row in clips.itertuples(index=False):
        path = Path(data_dir) / row.file
        start_s = getattr(row, "start_s", np.nan)
        sources.append(path if start_s is None or not np.isfinite(float(start_s))
                       else (path, float(start_s), float(row.end_s)))
    return sources
