"""The pieces of a synthetic data set (NumPy only): recording sessions, and one clip of a session.

:func:`make_sessions` draws each session's background (:class:`~dolphin_ae.data.synth_background.Session`);
:func:`make_clip` mixes one event of a class into a stretch of a session's background, with what
clip-labelled recordings carry beside it when asked: a second, overlapping event; an echolocation
train over part of a whistle or burst; a level that says nothing of the clip's class; a main event
that fills only part of the clip. :mod:`dolphin_ae.data.synth` builds data sets of them.
"""

import numpy as np

from dolphin_ae.constants import SEED_FMIN_HZ, SEED_SR, SIGNAL_LABELS, SILENCE_LABEL
from dolphin_ae.data.synth_sounds import (
    Session,
    accompanying_clicks,
    background,
    band_power,
    draw_event,
    draw_session_bands,
    make_event,
    mix_event,
)

# Signal classes whose clips may carry an echolocation train over part of their event.
CLICK_ACCOMPANIED = ("whistle", "burst")


def make_clip(label, session, *, sr, snr_db, duration_s, band_fmin_hz, rng, motif_bank=None, motif_fraction=0.0,
              overlap_probability=0.0, snr_db_range=None, click_overlap_probability=0.0, event_share=1.0,
              level_offset_db=None, extra_rng=None):
    """One clip of ``session``'s background holding one event of ``label`` at ``snr_db`` (dB, in band).

    The event keeps its natural length up to ``event_share`` of the clip's ``duration_s`` minus
    10 ms margins (a signature whistle up to the whole clip); with probability
    ``overlap_probability`` a second event of another signal class overlaps it, at an SNR drawn
    from ``snr_db_range``. A whistle or burst clip carries, with probability
    ``click_overlap_probability``, an echolocation train over part of its event
    (:func:`~dolphin_ae.data.synth_sounds.accompanying_clicks`, SNR from ``snr_db_range``). With
    ``level_offset_db`` (dB) the whole clip is scaled so that its power above ``band_fmin_hz`` is
    its background's plus that offset, whatever it holds. The additions draw from ``extra_rng``
    (default ``rng``), so that with them off the clip is drawn as before they existed.

    Returns
    -------
    y : np.ndarray, shape (n,)
    truth : dict or list of dict
        For a single event, one dict (start_s, end_s, type, snr_db, motif); with more events, a list
        (the clip's own event first; the others carry their ``label``).
    """
    extra_rng = rng if extra_rng is None else extra_rng
    margin = int(0.01 * sr)
    n = int(duration_s * sr)
    clean = background(n, sr, session, rng)
    y = clean.copy()
    if label == SILENCE_LABEL:
        return _set_level(y, clean, level_offset_db, sr, band_fmin_hz), {
            "start_s": 0.0, "end_s": n / sr, "type": "background", "snr_db": float("nan"), "motif": ""}
    max_event_s = (n - 2 * margin) / sr
    if label == "whistle" and motif_bank is None:
        event, kind = make_event(label, max_event_s * event_share, sr, rng)
        motif = ""
    elif label == "whistle":
        event, kind, motif = draw_event(label, sr, rng, motif_bank=motif_bank, session=session,
                                         motif_fraction=motif_fraction, max_duration_s=max_event_s * event_share)
    else:
        event, kind = make_event(label, max_event_s * event_share, sr, rng)
        motif = ""
    event = event[: n - 2 * margin]
    start = margin + int(rng.integers(0, max(1, n - 2 * margin - event.shape[0] + 1)))
    stop = mix_event(y, clean, event, start, snr_db, sr, band_fmin_hz)
    events = [{"start_s": start / sr, "end_s": stop / sr, "type": kind, "snr_db": float(snr_db), "motif": motif}]
    snr_low, snr_high = snr_db_range or (snr_db, snr_db)
    if rng.random() < overlap_probability:
        other = [c for c in SIGNAL_LABELS if c != label][rng.integers(len(SIGNAL_LABELS) - 1)]
        second, second_kind, _ = draw_event(other, sr, rng, motif_bank=motif_bank or {}, session=session,
                                             motif_fraction=0.0, max_duration_s=max_event_s, allow_motif=False)
        second = second[: n - 2 * margin]
        second_snr = float(rng.uniform(snr_low, snr_high))
        second_start = margin + int(rng.integers(0, max(1, n - 2 * margin - second.shape[0] + 1)))
        second_stop = mix_event(y, clean, second, second_start, second_snr, sr, band_fmin_hz)
        events.append({"label": other, "start_s": second_start / sr, "end_s": second_stop / sr,
                       "type": second_kind, "snr_db": second_snr, "motif": ""})
    if label in CLICK_ACCOMPANIED and click_overlap_probability > 0 and extra_rng.random() < click_overlap_probability:
        clicks, click_kind, click_start = accompanying_clicks(start, stop, n, sr, extra_rng, margin=margin)
        click_snr = float(extra_rng.uniform(snr_low, snr_high))
        click_stop = mix_event(y, clean, clicks, click_start, click_snr, sr, band_fmin_hz)
        events.append({"label": "click", "start_s": click_start / sr, "end_s": click_stop / sr, "type": click_kind,
                       "snr_db": click_snr, "motif": ""})
    y = _set_level(y, clean, level_offset_db, sr, band_fmin_hz)
    return y, events[0] if len(events) == 1 else events


def _set_level(y, clean, level_offset_db, sr, band_fmin_hz):
    """``y`` scaled so that its band power is ``clean``'s plus ``level_offset_db`` (dB); None: as it is."""
    if level_offset_db is None:
        return y
    target = band_power(clean, sr, band_fmin_hz) * 10 ** (level_offset_db / 10.0)
    return y * np.sqrt(target / max(band_power(y, sr, band_fmin_hz), 1e-30))


def make_sessions(n_sessions, rng, *, motif_ids=(), boat_probability=0.4, shrimp_per_s_range=(5.0, 80.0),
                  band_db_range=None, band_rng=None, band_hz=(SEED_FMIN_HZ, SEED_SR / 2)):
    """``n_sessions`` backgrounds; each hears about 60 % of the motifs (at least one).

    Shrimp rates are drawn from ``shrimp_per_s_range`` (1/s). With ``band_db_range`` (dB), each
    session also gets stationary hum bands and tonal lines of its own within ``band_hz`` (Hz),
    drawn from ``band_rng`` (:func:`~dolphin_ae.data.synth_background.draw_session_bands`), so that
    the other draws stay as they were without them.
    """
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
            shrimp_per_s=float(rng.uniform(*shrimp_per_s_range)),
            boat_level_db=float(rng.uniform(0.0, 12.0)) if has_boat else None,
            boat_fundamental_hz=float(rng.uniform(40.0, 160.0)),
            boat_blades=int(rng.integers(3, 6)),
            motifs=heard,
            bands=() if band_db_range is None else draw_session_bands(
                band_rng if band_rng is not None else rng, level_db_range=band_db_range, fmin_hz=band_hz[0],
                fmax_hz=band_hz[1]),
        ))
    return sessions
