"""Examples for readers: which events to show, and their audio with a little context.

The book shows one example of each class, contour family and signature whistle. An example is
the event whose SNR is nearest the ``quantile`` of its group's SNRs (by default the upper
quartile: clear enough to see the shape, not the single loudest one).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.audio.pipeline import load_audio
from dolphin_ae.constants import SEED_SR
from dolphin_ae.exceptions import ParameterError


def example_events(truth, *, by="label", quantile=0.75, per_group=1, recordings=None):
    """One (or ``per_group``) event of each group of ``truth``.

    Parameters
    ----------
    truth : pd.DataFrame
        An event table with at least file, start_s, end_s, snr_db and the ``by`` column.
    by : str
        Column to group by (``label``, ``type``, ``motif``).
    quantile : float
        Events are ranked by how close their SNR lies to this quantile of the group's SNRs.
    per_group : int
        Events per group.
    recordings : collection of str or None
        Keep only events of these recordings (e.g. the training recordings).

    Returns
    -------
    pd.DataFrame, the chosen rows, grouped in sorted order of ``by``.
    """
    if by not in truth.columns:
        raise ParameterError(f"by must be a column of the truth table, got {by!r}; it has {list(truth.columns)}")
    if not 0 <= quantile <= 1:
        raise ParameterError(f"quantile must be in [0, 1], got {quantile}")
    table = truth if recordings is None else truth[truth["recording"].isin(set(recordings))]
    chosen = []
    for _, group in table.groupby(by, sort=True):
        snr = group["snr_db"].to_numpy(dtype=float)
        if np.isfinite(snr).any():
            target = np.nanquantile(snr, quantile)
            order = np.argsort(np.where(np.isfinite(snr), np.abs(snr - target), np.inf), kind="stable")
        else:
            order = np.arange(len(group))
        chosen.append(group.iloc[order[:per_group]])
    return pd.concat(chosen) if chosen else table.iloc[0:0]


def event_audio(data_dir, event, *, sr=SEED_SR, channel=0, context_s=0.1):
    """The waveform of one event with ``context_s`` seconds of its recording on each side.

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32
    start_s : float, where ``y`` starts in the recording (s)
    """
    y = load_audio(Path(data_dir) / event["file"], sr=sr, channel=channel)
    start = max(0, int((float(event["start_s"]) - context_s) * sr))
    stop = min(y.shape[0], int((float(event["end_s"]) + context_s) * sr))
    return y[start:stop], start / sr
