"""Synthetic dolphin data sets with ground truth (NumPy only), deterministic from a seed.

The sounds (whistles, burst pulses, echolocation clicks, each session's background) and how an
event is mixed in at a chosen SNR are :mod:`dolphin_ae.data.synth_sounds`; this module makes clips
and recording sessions of them and writes the data sets.

**Signature whistles.** A data set plants ``n_motifs`` recurring whistles (motifs ``sig01``,
``sig02``, ...): each is one fixed contour, sung again and again with small per-rendition
variation (duration within about 4 %, frequencies within about 2 %, a fresh envelope), the way a
dolphin repeats its signature whistle. A share ``motif_fraction`` of the whistles are renditions;
the rest are one-off whistles with fresh contours. Each session hears a few of the motifs, so
every motif recurs across sessions and across the train/test split.

**Two modes.** ``clips`` writes folder-per-label clips ``OUT/<label>/<session>__<label>_<k>.wav``,
one main event per clip (a share ``overlap_probability`` of signal clips also hold a second,
overlapping event of another class). ``recordings`` writes long recordings
``OUT/<session>__rec<k>.wav`` with events at random times (overlapping each other where they
fall together) and their ``OUT/annotations.csv`` (``file,start_s,end_s,label,type``, the DESIGN
format). Both write ``OUT/truth.csv``, one row per event (clip mode: also one per noise clip):
file, recording, label, type, start_s, end_s, snr_db, motif (``sig01``... for renditions of a
signature whistle, empty otherwise), primary (clip mode: the event the clip's folder is named
after).
"""

from dataclasses import asdict
from pathlib import Path

import numpy as np

from dolphin_ae.constants import (
    ANNOTATIONS_FILE,
    LABELS,
    RECORDING_SEPARATOR,
    SEED_FMIN_HZ,
    SEED_SR,
    SIGNAL_LABELS,
    SILENCE_LABEL,
    TRUTH_FILE,
)
from dolphin_ae.data.synth_sounds import Session, background, draw_event, make_event, make_motif_bank, mix_event
from dolphin_ae.exceptions import ParameterError

MODES = ("clips", "recordings")
TRUTH_COLUMNS = ("file", "recording", "label", "type", "start_s", "end_s", "snr_db", "motif", "primary")
PARAMETERS_FILE = "synth.json"
# Bump when the generator changes, so that a data folder written by an older one is rewritten.
GENERATOR_VERSION = 2
DEFAULT_EVENTS_PER_MINUTE = {"whistle": 16.0, "burst": 5.0, "click": 6.0}


def clip_counts(signal_clips, noise_clips):
    """Clip mode's ``clips_per_label``: ``signal_clips`` of each signal class, ``noise_clips`` of noise.

    The labels come in ``SIGNAL_LABELS`` order, then the silence label: the order clips are drawn in.
    """
    return {**dict.fromkeys(SIGNAL_LABELS, signal_clips), SILENCE_LABEL: noise_clips}


def make_clip(label, session, *, sr, snr_db, duration_s, band_fmin_hz, rng, motif_bank=None, motif_fraction=0.0,
              overlap_probability=0.0, snr_db_range=None):
    """One clip of ``session``'s background holding one event of ``label`` at ``snr_db`` (dB, in band).

    The event keeps its natural length up to ``duration_s`` minus 10 ms margins; with probability
    ``overlap_probability`` a second event of another signal class overlaps it, at an SNR drawn
    from ``snr_db_range``.

    Returns
    -------
    y : np.ndarray, shape (n,)
    truth : dict or list of dict
        For a single event, one dict (start_s, end_s, type, snr_db, motif); with an overlapping
        event, a list of two (the clip's own event first).
    """
    margin = int(0.01 * sr)
    n = int(duration_s * sr)
    clean = background(n, sr, session, rng)
    y = clean.copy()
    if label == SILENCE_LABEL:
        return y, {"start_s": 0.0, "end_s": n / sr, "type": "background", "snr_db": float("nan"), "motif": ""}
    max_event_s = (n - 2 * margin) / sr
    if label == "whistle" and motif_bank is None:
        event, kind = make_event(label, max_event_s, sr, rng)
        motif = ""
    elif label == "whistle":
        event, kind, motif = draw_event(label, sr, rng, motif_bank=motif_bank, session=session,
                                         motif_fraction=motif_fraction, max_duration_s=max_event_s)
    else:
        event, kind = make_event(label, max_event_s, sr, rng)
        motif = ""
    event = event[: n - 2 * margin]
    start = margin + int(rng.integers(0, max(1, n - 2 * margin - event.shape[0] + 1)))
    stop = mix_event(y, clean, event, start, snr_db, sr, band_fmin_hz)
    truth = {"start_s": start / sr, "end_s": stop / sr, "type": kind, "snr_db": float(snr_db), "motif": motif}
    if rng.random() >= overlap_probability:
        return y, truth
    other = [c for c in SIGNAL_LABELS if c != label][rng.integers(len(SIGNAL_LABELS) - 1)]
    second, second_kind, _ = draw_event(other, sr, rng, motif_bank=motif_bank or {}, session=session,
                                         motif_fraction=0.0, max_duration_s=max_event_s, allow_motif=False)
    second = second[: n - 2 * margin]
    second_snr = float(rng.uniform(*(snr_db_range or (snr_db, snr_db))))
    second_start = margin + int(rng.integers(0, max(1, n - 2 * margin - second.shape[0] + 1)))
    second_stop = mix_event(y, clean, second, second_start, second_snr, sr, band_fmin_hz)
    return y, [truth, {"label": other, "start_s": second_start / sr, "end_s": second_stop / sr, "type": second_kind,
                       "snr_db": second_snr, "motif": ""}]


def make_sessions(n_sessions, rng, *, motif_ids=(), boat_probability=0.4):
    """``n_sessions`` backgrounds; each hears about 60 % of the motifs (at least one)."""
    sessions = []
    for i in range(n_sessions):
        heard = ()
        if motif_ids:
            size = max(1, int(round(0.6 * len(motif_ids))))
            heard = tuple(sorted(rng.choice(list(motif_ids), size=size, replace=False)))
        has_boat = rng.random() < boat_probability
        sessions.append(Session(
            name=f"session{i:03d}",
            noise_alpha=float(rng.uniform(0.5, 1.5)),
            level_db=float(rng.uniform(-40, -25)),
            shrimp_per_s=float(rng.uniform(5, 80)),
            boat_level_db=float(rng.uniform(0.0, 12.0)) if has_boat else None,
            boat_fundamental_hz=float(rng.uniform(40.0, 160.0)),
            boat_blades=int(rng.integers(3, 6)),
            motifs=heard,
        ))
    return sessions


# ------------------------------------------------------------------------------------ data sets

def _check_common(n_sessions, snr_db_range, n_motifs, motif_fraction, overlap_probability, boat_probability):
    if n_sessions < 1:
        raise ParameterError(f"n_sessions must be at least 1, got {n_sessions}")
    if len(snr_db_range) != 2 or snr_db_range[0] > snr_db_range[1]:
        raise ParameterError(f"snr_db_range must be (low, high) in dB with low <= high, got {snr_db_range}")
    if n_motifs < 0:
        raise ParameterError(f"n_motifs must be >= 0, got {n_motifs}")
    for name, value in (("motif_fraction", motif_fraction), ("overlap_probability", overlap_probability),
                        ("boat_probability", boat_probability)):
        if not 0 <= value <= 1:
            raise ParameterError(f"{name} must be a probability in [0, 1], got {value}")


def _reuse_or_clear(out_dir, parameters):
    """The truth table when ``out_dir`` already holds exactly this data set; else remove what an
    earlier, different call wrote there (its files, tables and parameters) and return None."""
    import pandas as pd

    from dolphin_ae.runio import read_json

    previous = read_json(out_dir / PARAMETERS_FILE, default=None)
    truth_path = out_dir / TRUTH_FILE
    if previous and truth_path.exists():
        files = previous.get("files", [])
        if previous.get("parameters") == parameters and all((out_dir / f).exists() for f in files):
            return pd.read_csv(truth_path, keep_default_na=False, na_values={"snr_db": [""]})
        for file in files:
            (out_dir / file).unlink(missing_ok=True)
    for name in (TRUTH_FILE, PARAMETERS_FILE, ANNOTATIONS_FILE):
        (out_dir / name).unlink(missing_ok=True)
    return None


def _finish(out_dir, rows, files, parameters):
    import pandas as pd

    from dolphin_ae.runio import atomic_path, write_json

    truth = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    with atomic_path(out_dir / TRUTH_FILE) as temporary:
        truth.to_csv(temporary, index=False)
    # Written last: says the data set is complete, and lists its audio files for a later rewrite.
    write_json(out_dir / PARAMETERS_FILE, {"parameters": parameters, "files": files})
    return pd.read_csv(out_dir / TRUTH_FILE, keep_default_na=False, na_values={"snr_db": [""]})


def _write_wav(path, y, sr):
    import soundfile

    from dolphin_ae.runio import atomic_path

    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:  # a rare loud pile-up: scale the file down rather than clip it
        y = y / peak
    with atomic_path(path) as temporary:
        soundfile.write(str(temporary), y.astype(np.float32), sr, subtype="FLOAT", format="WAV")


def synthesize_dataset(out_dir, *, mode="clips", n_sessions=8, clips_per_label=None, sr=SEED_SR,
                       snr_db_range=(-3.0, 15.0), clip_s_range=(0.25, 1.0), band_fmin_hz=SEED_FMIN_HZ, n_motifs=4,
                       motif_fraction=0.5, overlap_probability=0.15, boat_probability=0.4, recordings_per_session=2,
                       recording_s=30.0, events_per_minute=None, seed=0):
    """Write a synthetic data set with its ground truth and return the truth table.

    ``mode="clips"`` writes the folder-per-label layout ``out_dir/<label>/<session>__<label>_<k>.wav``;
    ``mode="recordings"`` writes long recordings ``out_dir/<session>__rec<k>.wav`` and
    ``out_dir/annotations.csv``. Both write ``out_dir/truth.csv`` (columns ``TRUTH_COLUMNS``, one row
    per event) and ``out_dir/synth.json`` (the parameters). Files are 32-bit float WAV at ``sr``.
    Calling again with the same parameters reuses the files already there; other parameters
    replace them (the files ``synth.json`` lists are removed first).

    Parameters
    ----------
    clips_per_label : dict or None
        Clip mode: clips per session for each label; by default 4 of each signal class and 8 of noise.
    snr_db_range : (float, float)
        Event SNRs are drawn uniformly from this range (dB, in the analysis band, against the local
        background).
    clip_s_range : (float, float)
        Clip mode: clip durations are drawn uniformly from this range (s); events keep their natural
        length up to the clip's.
    n_motifs : int
        Signature whistles planted (ids ``sig01``...); 0 for none.
    motif_fraction : float
        Share of the whistles that are renditions of a signature whistle.
    overlap_probability : float
        Clip mode: share of signal clips holding a second, overlapping event of another class.
    boat_probability : float
        Share of sessions with a passing boat.
    recordings_per_session : int
        Recording mode: recordings per session.
    recording_s : float
        Recording mode: duration of each recording (s).
    events_per_minute : dict or None
        Recording mode: mean events per minute of each signal class (Poisson); by default
        ``DEFAULT_EVENTS_PER_MINUTE``.
    seed : int
        The same seed (and parameters) writes the same files.
    """
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")
    clips_per_label = dict(clips_per_label or clip_counts(4, 8))
    events_per_minute = dict(events_per_minute or DEFAULT_EVENTS_PER_MINUTE)
    unknown = set(clips_per_label) - set(LABELS)
    if unknown:
        raise ParameterError(f"clips_per_label has unknown labels {sorted(unknown)}; expected among {LABELS}")
    unknown = set(events_per_minute) - set(SIGNAL_LABELS)
    if unknown:
        raise ParameterError(f"events_per_minute has unknown labels {sorted(unknown)}; expected among {SIGNAL_LABELS}")
    _check_common(n_sessions, snr_db_range, n_motifs, motif_fraction, overlap_probability, boat_probability)
    if not 0 < clip_s_range[0] <= clip_s_range[1]:
        raise ParameterError(f"clip_s_range must be (low, high) with 0 < low <= high, got {clip_s_range}")
    if recording_s < 2.0 or recordings_per_session < 1:
        raise ParameterError(f"need recording_s >= 2 s and recordings_per_session >= 1, got {recording_s} and "
                             f"{recordings_per_session}")
    parameters = {"version": GENERATOR_VERSION, "mode": mode, "n_sessions": n_sessions, "sr": sr,
                  "snr_db_range": list(snr_db_range), "band_fmin_hz": band_fmin_hz, "n_motifs": n_motifs,
                  "motif_fraction": motif_fraction, "boat_probability": boat_probability, "seed": seed}
    if mode == "clips":
        parameters.update(clips_per_label=clips_per_label, clip_s_range=list(clip_s_range),
                          overlap_probability=overlap_probability)
    else:
        parameters.update(recordings_per_session=recordings_per_session, recording_s=recording_s,
                          events_per_minute=events_per_minute)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reused = _reuse_or_clear(out_dir, parameters)
    if reused is not None:
        return reused
    bank_seed, session_seed = np.random.SeedSequence(seed).spawn(2)
    motif_bank = make_motif_bank(n_motifs, np.random.default_rng(bank_seed))
    rng = np.random.default_rng(session_seed)
    sessions = make_sessions(n_sessions, rng, motif_ids=tuple(motif_bank), boat_probability=boat_probability)
    common = dict(sr=sr, snr_db_range=snr_db_range, band_fmin_hz=band_fmin_hz, motif_bank=motif_bank,
                  motif_fraction=motif_fraction, rng=rng)
    if mode == "clips":
        rows, files = _write_clips(out_dir, sessions, clips_per_label=clips_per_label, clip_s_range=clip_s_range,
                            overlap_probability=overlap_probability, **common)
    else:
        rows, files = _write_recordings(out_dir, sessions, recordings_per_session=recordings_per_session,
                                 recording_s=recording_s, events_per_minute=events_per_minute, **common)
    return _finish(out_dir, rows, files, parameters)


def _write_clips(out_dir, sessions, *, clips_per_label, clip_s_range, overlap_probability, sr, snr_db_range,
                 band_fmin_hz, motif_bank, motif_fraction, rng):
    rows, files = [], []
    for session in sessions:
        for label, count in clips_per_label.items():
            (out_dir / label).mkdir(parents=True, exist_ok=True)
            for k in range(int(count)):
                snr_db = rng.uniform(*snr_db_range)
                duration_s = rng.uniform(*clip_s_range)
                y, truth = make_clip(label, session, sr=sr, snr_db=snr_db, duration_s=duration_s,
                                     band_fmin_hz=band_fmin_hz, rng=rng, motif_bank=motif_bank,
                                     motif_fraction=motif_fraction, overlap_probability=overlap_probability,
                                     snr_db_range=snr_db_range)
                relative = Path(label) / f"{session.name}{RECORDING_SEPARATOR}{label}_{k:03d}.wav"
                _write_wav(out_dir / relative, y, sr)
                files.append(relative.as_posix())
                events = truth if isinstance(truth, list) else [truth]
                for position, event in enumerate(events):
                    rows.append({"file": relative.as_posix(), "recording": session.name, "label": label,
                                 **event, "primary": position == 0})
    return rows, files


def _write_recordings(out_dir, sessions, *, recordings_per_session, recording_s, events_per_minute, sr,
                      snr_db_range, band_fmin_hz, motif_bank, motif_fraction, rng):
    import pandas as pd

    rows, files = [], []
    n = int(recording_s * sr)
    for session in sessions:
        for k in range(recordings_per_session):
            relative = f"{session.name}{RECORDING_SEPARATOR}rec{k:02d}.wav"
            clean = background(n, sr, session, rng)
            y = clean.copy()
            planned = []
            for label in SIGNAL_LABELS:
                count = rng.poisson(events_per_minute.get(label, 0.0) * recording_s / 60.0)
                planned += [(float(rng.uniform(0.05, recording_s - 0.3)), label) for _ in range(count)]
            for start_s, label in sorted(planned):
                event, kind, motif = draw_event(label, sr, rng, motif_bank=motif_bank, session=session,
                                                 motif_fraction=motif_fraction, max_duration_s=recording_s - start_s)
                snr_db = float(rng.uniform(*snr_db_range))
                start = int(start_s * sr)
                stop = mix_event(y, clean, event, start, snr_db, sr, band_fmin_hz)
                rows.append({"file": relative, "recording": session.name, "label": label, "type": kind,
                             "start_s": start / sr, "end_s": stop / sr, "snr_db": snr_db, "motif": motif,
                             "primary": True})
            _write_wav(out_dir / relative, y, sr)
            files.append(relative)
    table = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    from dolphin_ae.runio import atomic_path

    with atomic_path(out_dir / ANNOTATIONS_FILE) as temporary:
        table[["file", "start_s", "end_s", "label", "type"]].round({"start_s": 6, "end_s": 6}).to_csv(
            temporary, index=False)
    return rows, files


def synthesized_files(out_dir):
    """The audio files (relative paths) of the synthetic data set in ``out_dir``."""
    from dolphin_ae.runio import read_json

    return list(read_json(Path(out_dir) / PARAMETERS_FILE).get("files", []))


def describe_motifs(n_motifs=4, *, seed=0):
    """The signature whistle shapes a data set made with ``seed`` plants, as a table (one row per motif)."""
    import pandas as pd

    bank_seed, _ = np.random.SeedSequence(seed).spawn(2)
    bank = make_motif_bank(n_motifs, np.random.default_rng(bank_seed))
    return pd.DataFrame([{"motif": motif, **asdict(shape)} for motif, shape in bank.items()])
