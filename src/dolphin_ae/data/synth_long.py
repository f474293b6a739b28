"""Long synthetic recordings with known events, written to disk piece by piece.

A field recording is mostly background with events now and then. This module writes one: a
session's background for a random gap, then a clip with one event (``synth.make_clip``), then
background again, until the requested duration. Each piece is generated and written on its own, so
a recording of hours needs the memory of one piece. The truth table gives every event's start
and end (s) in the recording.
"""

from pathlib import Path

import numpy as np

from dolphin_ae.constants import SEED_FMIN_HZ, SEED_SR, SIGNAL_LABELS, SILENCE_LABEL
from dolphin_ae.data.synth import make_clip
from dolphin_ae.data.synth_sounds import Session
from dolphin_ae.exceptions import ParameterError


def write_long_recording(path, *, duration_s, sr=SEED_SR, event_s_range=(0.5, 1.0), gap_s_range=(1.0, 3.0),
                         snr_db_range=(10.0, 20.0), labels=SIGNAL_LABELS, session=None, band_fmin_hz=SEED_FMIN_HZ,
                         subtype="FLOAT", seed=0):
    """Write a recording of ``duration_s`` seconds of background with events at known times.

    Parameters
    ----------
    path : str or Path
        Output file (WAV or FLAC, by suffix).
    duration_s : float
        Length of the recording (s).
    sr : int
        Sample rate (Hz).
    event_s_range, gap_s_range : (float, float)
        Event clip durations and background gaps before each event, drawn uniformly (s).
    snr_db_range : (float, float)
        Event signal-to-noise ratios in the band, drawn uniformly (dB).
    labels : sequence of str
        Event classes drawn from, uniformly (``whistle``, ``burst``, ``click``).
    session : synth_sounds.Session or None
        The background; a moderate one by default.
    subtype : str
        Sample format of the file (``FLOAT``, ``PCM_16``, ``PCM_24``).
    seed : int
        The same seed writes the same recording.

    Returns
    -------
    truth : pandas.DataFrame
        One row per event: ``start_s``, ``end_s`` (s, in the recording), ``label``, ``type``, ``snr_db``.
    """
    import pandas as pd
    import soundfile

    if duration_s <= 0:
        raise ParameterError(f"duration_s must be positive, got {duration_s}")
    for name, (low, high) in (("event_s_range", event_s_range), ("gap_s_range", gap_s_range)):
        if not 0 < low <= high:
            raise ParameterError(f"{name} must be (low, high) with 0 < low <= high (s), got {(low, high)}")
    unknown = set(labels) - set(SIGNAL_LABELS)
    if unknown or not labels:
        raise ParameterError(f"labels must be a non-empty subset of {SIGNAL_LABELS}, got {list(labels)}")
    rng = np.random.default_rng(seed)
    session = session or Session(name="long", noise_alpha=1.0, level_db=-32.0, shrimp_per_s=20.0)
    n_total = int(round(duration_s * sr))
    written, rows = 0, []
    with soundfile.SoundFile(str(Path(path)), mode="w", samplerate=sr, channels=1, subtype=subtype) as handle:
        while written < n_total:
            gap_s = rng.uniform(*gap_s_range)
            gap, _ = make_clip(SILENCE_LABEL, session, sr=sr, snr_db=0.0, duration_s=gap_s,
                               band_fmin_hz=band_fmin_hz, rng=rng)
            gap = gap[: n_total - written]
            handle.write(gap.astype(np.float32))
            written += gap.shape[0]
            event_s = rng.uniform(*event_s_range)
            if written + int(event_s * sr) > n_total:
                continue  # no room for a whole event: the rest is background
            label = labels[rng.integers(len(labels))]
            clip, truth = make_clip(label, session, sr=sr, snr_db=rng.uniform(*snr_db_range), duration_s=event_s,
                                    band_fmin_hz=band_fmin_hz, rng=rng)
            offset_s = written / sr
            rows.append({"start_s": offset_s + truth["start_s"], "end_s": offset_s + truth["end_s"], "label": label,
                         "type": truth["type"], "snr_db": truth["snr_db"]})
            handle.write(clip.astype(np.float32))
            written += clip.shape[0]
    return pd.DataFrame(rows, columns=["start_s", "end_s", "label", "type", "snr_db"])
