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
from dolphin_ae.data.synth_clips import CLICK_ACCOMPANIED, make_clip, make_sessions  # noqa: F401  (re-exported)
from dolphin_ae.data.synth_sounds import accompanying_clicks, background, draw_event, make_motif_bank, mix_event
from dolphin_ae.exceptions import ParameterError

MODES = ("clips", "recordings")
TRUTH_COLUMNS = ("file", "recording", "label", "type", "start_s", "end_s", "snr_db", "motif", "primary")
PARAMETERS_FILE = "synth.json"
# Bump when the generator changes, so that a data folder written by an older one is rewritten.
# 3: the difficulty knobs (clicks over whistles, clip levels, session bands, event shares, shrimp rates).
GENERATOR_VERSION = 3
DEFAULT_EVENTS_PER_MINUTE = {"whistle": 16.0, "burst": 5.0, "click": 6.0}


# The difficulty knobs turned off: with these, the same seed writes what version 2 wrote.
DIFFICULTY_OFF = {"click_overlap_probability": 0.0, "clip_level_db_range": None, "session_band_db_range": None,
                  "event_share_range": (1.0, 1.0), "shrimp_per_s_range": (5.0, 80.0)}


def clip_counts(signal_clips, noise_clips):
    """Clip mode's ``clips_per_label``: ``signal_clips`` of each signal class, ``noise_clips`` of noise.

    The labels come in ``SIGNAL_LABELS`` order, then the silence label: the order clips are drawn in.
    """
    return {**dict.fromkeys(SIGNAL_LABELS, signal_clips), SILENCE_LABEL: noise_clips}


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


def _range(name, value, *, low=-np.inf, high=np.inf, unit="", allow_none=False):
    """``value`` as a ``[low, high]`` list after checking it is two finite numbers in order within bounds."""
    if value is None and allow_none:
        return None
    try:
        pair = [float(v) for v in value]
    except (TypeError, ValueError):
        pair = []
    if len(pair) != 2 or not np.all(np.isfinite(pair)) or not low <= pair[0] <= pair[1] <= high:
        bounds = f" within [{low}, {high}]" if np.isfinite(low) or np.isfinite(high) else ""
        none = " or None" if allow_none else ""
        raise ParameterError(f"{name} must be (low, high){unit} with low <= high{bounds}{none}, got {value!r}")
    return pair


def _check_difficulty(*, click_overlap_probability, clip_level_db_range, session_band_db_range, event_share_range,
                      shrimp_per_s_range):
    """The difficulty knobs as JSON-ready values, after checking them (see :func:`synthesize_dataset`)."""
    if not 0 <= click_overlap_probability <= 1:
        raise ParameterError(f"click_overlap_probability must be a probability in [0, 1], got "
                             f"{click_overlap_probability}")
    share = _range("event_share_range", event_share_range, low=0.0, high=1.0)
    if share[0] <= 0:
        raise ParameterError(f"event_share_range must be (low, high) with 0 < low <= high <= 1, got "
                             f"{event_share_range!r}")
    return {"click_overlap_probability": float(click_overlap_probability),
            "clip_level_db_range": _range("clip_level_db_range", clip_level_db_range, unit=" in dB",
                                          allow_none=True),
            "session_band_db_range": _range("session_band_db_range", session_band_db_range, unit=" in dB",
                                            allow_none=True),
            "event_share_range": share,
            "shrimp_per_s_range": _range("shrimp_per_s_range", shrimp_per_s_range, low=0.0, unit=" per second")}


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
                       recording_s=30.0, events_per_minute=None, click_overlap_probability=0.5,
                       clip_level_db_range=(-10.0, 10.0), session_band_db_range=(3.0, 15.0),
                       event_share_range=(0.4, 1.0), shrimp_per_s_range=(5.0, 300.0), seed=0):
    """Write a synthetic data set with its ground truth and return the truth table.

    ``mode="clips"`` writes the folder-per-label layout ``out_dir/<label>/<session>__<label>_<k>.wav``;
    ``mode="recordings"`` writes long recordings ``out_dir/<session>__rec<k>.wav`` and
    ``out_dir/annotations.csv``. Both write ``out_dir/truth.csv`` (columns ``TRUTH_COLUMNS``, one row
    per event) and ``out_dir/synth.json`` (the parameters). Files are 32-bit float WAV at ``sr``.
    Calling again with the same parameters reuses the files already there; other parameters
    replace them (the files ``synth.json`` lists are removed first).

    The five knobs from ``click_overlap_probability`` on give the data what clip-labelled field
    recordings carry; their defaults turn that difficulty on, and ``**DIFFICULTY_OFF`` turns it off
    (the generator of version 2: the same seed then writes the same files as it did).

    Parameters
    ----------
    clips_per_label : dict or None
        Clip mode: clips per session for each label; by default 4 of each signal class and 8 of noise.
    snr_db_range : (float, float)
        Event SNRs are drawn uniformly from this range (dB, in the analysis band, against the local
        background).
    clip_s_range : (float, float)
        Clip mode: clip durations are drawn uniformly from this range (s), for every label alike.
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
    click_overlap_probability : float
        Share of whistle and burst events that an echolocation train accompanies over part of
        their span (pods echolocate while they whistle): 0.5-1.5 times the event long, covering a
        point of it, often running on before or after it. Each train is a ``click`` row of the
        truth table (not primary in clip mode); 0 for none.
    clip_level_db_range : (float, float) or None
        Clip mode: every clip, of any label, is scaled so that its band power (above
        ``band_fmin_hz``) is its background's plus an offset drawn uniformly from this range (dB).
        Noise clips then come out both quieter and louder than signal clips, and a clip's level says
        nothing of its label. None: clips keep their natural level (a signal clip is louder than the
        noise clips of its session by its event).
    session_band_db_range : (float, float) or None
        Each session's stationary background in the band: 1-3 hum bands (0.3-3 kHz wide) and 0-3
        tonal lines (30-80 Hz wide) at frequencies of its own between ``band_fmin_hz`` and the
        Nyquist frequency, each this many dB (drawn uniformly) above the coloured noise at its
        frequency; they lie under every window of the session. None: no such components.
    event_share_range : (float, float)
        Clip mode: a signal clip's main event lasts at most this share of the clip (drawn
        uniformly per clip, ``0 < low <= high <= 1``; signature whistles keep their length up to
        the whole clip); the rest is background or accompanying clicks. The clip keeps its folder
        label, so labels are noisy at window level as in clip-labelled data (a whistle clip has
        windows with no whistle); ``truth.csv`` keeps the true events. ``(1.0, 1.0)``: events as
        long as the clip allows.
    shrimp_per_s_range : (float, float)
        Sessions' snapping-shrimp rates are drawn uniformly from this range (impulses per second);
        at hundreds per second the shrimp are a broadband crackle. Version 2 drew from (5, 80).
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
    difficulty = _check_difficulty(click_overlap_probability=click_overlap_probability,
                                   clip_level_db_range=clip_level_db_range,
                                   session_band_db_range=session_band_db_range, event_share_range=event_share_range,
                                   shrimp_per_s_range=shrimp_per_s_range)
    if not 0 < clip_s_range[0] <= clip_s_range[1]:
        raise ParameterError(f"clip_s_range must be (low, high) with 0 < low <= high, got {clip_s_range}")
    if recording_s < 2.0 or recordings_per_session < 1:
        raise ParameterError(f"need recording_s >= 2 s and recordings_per_session >= 1, got {recording_s} and "
                             f"{recordings_per_session}")
    # Every knob is recorded, off or on, so that a folder is reused only for exactly its parameters.
    parameters = {"version": GENERATOR_VERSION, "mode": mode, "n_sessions": n_sessions, "sr": sr,
                  "snr_db_range": list(snr_db_range), "band_fmin_hz": band_fmin_hz, "n_motifs": n_motifs,
                  "motif_fraction": motif_fraction, "boat_probability": boat_probability, "seed": seed,
                  "click_overlap_probability": difficulty["click_overlap_probability"],
                  "session_band_db_range": difficulty["session_band_db_range"],
                  "shrimp_per_s_range": difficulty["shrimp_per_s_range"]}
    if mode == "clips":
        parameters.update(clips_per_label=clips_per_label, clip_s_range=list(clip_s_range),
                          overlap_probability=overlap_probability,
                          clip_level_db_range=difficulty["clip_level_db_range"],
                          event_share_range=difficulty["event_share_range"])
    else:
        parameters.update(recordings_per_session=recordings_per_session, recording_s=recording_s,
                          events_per_minute=events_per_minute)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reused = _reuse_or_clear(out_dir, parameters)
    if reused is not None:
        return reused
    # The third stream feeds only the difficulty knobs, so that with them off the first two draw
    # exactly what they drew before the knobs existed.
    bank_seed, session_seed, extra_seed = np.random.SeedSequence(seed).spawn(3)
    motif_bank = make_motif_bank(n_motifs, np.random.default_rng(bank_seed))
    rng, extra_rng = np.random.default_rng(session_seed), np.random.default_rng(extra_seed)
    sessions = make_sessions(n_sessions, rng, motif_ids=tuple(motif_bank), boat_probability=boat_probability,
                             shrimp_per_s_range=shrimp_per_s_range, band_db_range=session_band_db_range,
                             band_rng=extra_rng, band_hz=(band_fmin_hz, sr / 2))
    common = dict(sr=sr, snr_db_range=snr_db_range, band_fmin_hz=band_fmin_hz, motif_bank=motif_bank,
                  motif_fraction=motif_fraction, rng=rng, extra_rng=extra_rng,
                  click_overlap_probability=click_overlap_probability)
    if mode == "clips":
        rows, files = _write_clips(out_dir, sessions, clips_per_label=clips_per_label, clip_s_range=clip_s_range,
                                   overlap_probability=overlap_probability, clip_level_db_range=clip_level_db_range,
                                   event_share_range=event_share_range, **common)
    else:
        rows, files = _write_recordings(out_dir, sessions, recordings_per_session=recordings_per_session,
                                        recording_s=recording_s, events_per_minute=events_per_minute, **common)
    return _finish(out_dir, rows, files, parameters)


def _write_clips(out_dir, sessions, *, clips_per_label, clip_s_range, overlap_probability, clip_level_db_range,
                 event_share_range, sr, snr_db_range, band_fmin_hz, motif_bank, motif_fraction, rng, extra_rng,
                 click_overlap_probability):
    rows, files = [], []
    for session in sessions:
        for label, count in clips_per_label.items():
            (out_dir / label).mkdir(parents=True, exist_ok=True)
            for k in range(int(count)):
                snr_db = rng.uniform(*snr_db_range)
                duration_s = rng.uniform(*clip_s_range)
                event_share = 1.0 if tuple(event_share_range) == (1.0, 1.0) else extra_rng.uniform(*event_share_range)
                offset_db = None if clip_level_db_range is None else float(extra_rng.uniform(*clip_level_db_range))
                y, truth = make_clip(label, session, sr=sr, snr_db=snr_db, duration_s=duration_s,
                                     band_fmin_hz=band_fmin_hz, rng=rng, motif_bank=motif_bank,
                                     motif_fraction=motif_fraction, overlap_probability=overlap_probability,
                                     snr_db_range=snr_db_range, click_overlap_probability=click_overlap_probability,
                                     event_share=event_share, level_offset_db=offset_db, extra_rng=extra_rng)
                relative = Path(label) / f"{session.name}{RECORDING_SEPARATOR}{label}_{k:03d}.wav"
                _write_wav(out_dir / relative, y, sr)
                files.append(relative.as_posix())
                events = truth if isinstance(truth, list) else [truth]
                for position, event in enumerate(events):
                    rows.append({"file": relative.as_posix(), "recording": session.name, "label": label,
                                 **event, "primary": position == 0})
    return rows, files


def _write_recordings(out_dir, sessions, *, recordings_per_session, recording_s, events_per_minute, sr,
                      snr_db_range, band_fmin_hz, motif_bank, motif_fraction, rng, extra_rng,
                      click_overlap_probability):
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
                if (label in CLICK_ACCOMPANIED and click_overlap_probability > 0
                        and extra_rng.random() < click_overlap_probability):
                    clicks, click_kind, click_start = accompanying_clicks(start, stop, n, sr, extra_rng)
                    click_snr = float(extra_rng.uniform(*snr_db_range))
                    click_stop = mix_event(y, clean, clicks, click_start, click_snr, sr, band_fmin_hz)
                    rows.append({"file": relative, "recording": session.name, "label": "click", "type": click_kind,
                                 "start_s": click_start / sr, "end_s": click_stop / sr, "snr_db": click_snr,
                                 "motif": "", "primary": True})
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
