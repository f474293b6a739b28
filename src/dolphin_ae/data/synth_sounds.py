"""The sounds of the synthetic soundscapes (NumPy only): backgrounds, whistles, click trains, mixing.

Every function draws from the ``rng`` (a ``numpy.random.Generator``) it is given, in a fixed order,
so that :mod:`dolphin_ae.data.synth`, which builds data sets from these pieces, is deterministic
from its seed.

**Sounds.** Four kinds, as in the seed:

- ``whistle``: a frequency-modulated tone whose fundamental follows a contour of one of six
  families (``upsweep``, ``downsweep``, ``convex``, ``concave``, ``sinusoidal``, ``multiloop``:
  a loop repeated two to four times with short gaps), with individual variation (every parameter
  drawn per whistle), two harmonics of varying strength, and an amplitude envelope (soft onset and
  offset, slow tremolo). Contours span 5-20 kHz, durations 0.2-1.2 s.
- ``burst``: a burst pulse, a train of broadband clicks 1.5-8 ms apart whose interval drifts.
- ``click``: an echolocation train, clicks 20-120 ms apart, drifting, sometimes ending in a
  terminal buzz (intervals falling to 4-8 ms), 0.3-1.6 s long.
- ``noise``: background alone, the "silence" class of the seed.

A signature whistle is one fixed :class:`WhistleShape` (:func:`make_motif_bank`), sung again and
again with small per-rendition variation (:func:`vary_whistle_shape`).

**Background.** Each recording session has its own (:class:`Session`, in
:mod:`dolphin_ae.data.synth_background`, re-exported here): coloured ocean noise, snapping shrimp,
sometimes a passing boat, and stationary hum bands and tonal lines of its own in the band.

**SNR.** Each event is mixed in (:func:`mix_event`) at a chosen signal-to-noise ratio measured in
the analysis band (above ``band_fmin_hz``): the event's mean power over its duration against the
background's mean power over the same span, in dB. Other events that overlap it do not count as its
background.
"""

from dataclasses import dataclass, replace

import numpy as np

from dolphin_ae.constants import SIGNAL_LABELS
from dolphin_ae.data.synth_background import (  # noqa: F401  (re-exported: the sounds' one entry point)
    Session,
    _add_at,
    background,
    band_power,
    boat_noise,
    draw_session_bands,
)
from dolphin_ae.exceptions import ParameterError

WHISTLE_CONTOURS = ("upsweep", "downsweep", "convex", "concave", "sinusoidal", "multiloop")
# Natural durations (s) of the events other than whistles, drawn uniformly (at most the room left).
EVENT_DURATION_S = {"burst": (0.1, 0.8), "click": (0.3, 1.6)}


@dataclass(frozen=True)
class WhistleShape:
    """Everything that fixes a whistle's contour and timbre; a signature whistle is one such shape."""

    family: str
    duration_s: float
    low_hz: float
    high_hz: float
    curvature: float  # exponent shaping sweeps and humps (1: straight or sine-shaped)
    rate_hz: float  # frequency modulation rate of sinusoidal contours (Hz)
    phase: float  # starting phase of sinusoidal contours (rad)
    loops: int  # contour repetitions (multiloop: 2-4, else 1)
    loop_gap_s: float  # silence between loops (s)
    loop_family: str  # the shape of each loop of a multiloop whistle
    harmonics: tuple  # relative amplitudes of the 2nd and 3rd harmonics


# ---------------------------------------------------------------------------------------- helpers

def _pulse(sr, *, centre_hz, sigma_s, rng):
    """A short broadband Gabor pulse (a click), unit peak amplitude."""
    half = int(np.ceil(4 * sigma_s * sr))
    t = np.arange(-half, half + 1) / sr
    return np.exp(-0.5 * (t / sigma_s) ** 2) * np.cos(2 * np.pi * centre_hz * t + rng.uniform(0, 2 * np.pi))


def _raised_cosine_envelope(n, sr, *, attack_s, release_s):
    envelope = np.ones(n)
    for length, edge in ((int(attack_s * sr), slice(None)), (int(release_s * sr), slice(None, None, -1))):
        length = min(length, n // 2)
        if length > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)
            if edge.step == -1:
                envelope[-length:] *= ramp[::-1]
            else:
                envelope[:length] *= ramp
    return envelope


# --------------------------------------------------------------------------------------- whistles

def draw_whistle_shape(rng, *, family=None, max_duration_s=1.2):
    """A random whistle contour of ``family`` (a random family when None)."""
    family = family or WHISTLE_CONTOURS[rng.integers(len(WHISTLE_CONTOURS))]
    if family not in WHISTLE_CONTOURS:
        raise ParameterError(f"family must be one of {WHISTLE_CONTOURS}, got {family!r}")
    low = rng.uniform(5000, 10000)
    high = min(low + rng.uniform(3000, 10000), 20000.0)
    loops = int(rng.integers(2, 5)) if family == "multiloop" else 1
    loop_family = ("convex", "upsweep", "sinusoidal")[rng.integers(3)] if family == "multiloop" else family
    loop_gap_s = rng.uniform(0.03, 0.1) if loops > 1 else 0.0
    low_duration = 0.2 if loops == 1 else 0.12 * loops + loop_gap_s * (loops - 1)
    duration_s = rng.uniform(low_duration, max(low_duration, max_duration_s))
    if family == "sinusoidal" or loop_family == "sinusoidal":
        centre, depth = rng.uniform(8000, 14000), rng.uniform(1000, 4000)
        low, high = centre - depth, centre + depth
    return WhistleShape(
        family=family, duration_s=float(duration_s), low_hz=float(low), high_hz=float(high),
        curvature=float(rng.uniform(0.6, 1.7)), rate_hz=float(rng.uniform(2.0, 8.0)),
        phase=float(rng.uniform(0, 2 * np.pi)), loops=loops, loop_gap_s=float(loop_gap_s), loop_family=loop_family,
        harmonics=(float(rng.uniform(0.15, 0.6)), float(rng.uniform(0.03, 0.3))),
    )


def vary_whistle_shape(shape, rng, *, amount=1.0):
    """One rendition of ``shape``: duration within about 4 %, frequencies within about 2 %, timbre jittered."""
    scale = 1.0 + 0.02 * amount * rng.standard_normal()
    return replace(
        shape,
        duration_s=float(shape.duration_s * (1.0 + 0.04 * amount * np.clip(rng.standard_normal(), -2, 2))),
        low_hz=float(shape.low_hz * scale),
        high_hz=float(min(shape.high_hz * scale * (1.0 + 0.01 * amount * rng.standard_normal()), 21000.0)),
        curvature=float(shape.curvature * (1.0 + 0.03 * amount * rng.standard_normal())),
        rate_hz=float(shape.rate_hz * (1.0 + 0.03 * amount * rng.standard_normal())),
        phase=float(shape.phase + 0.1 * amount * rng.standard_normal()),
        loop_gap_s=float(shape.loop_gap_s * (1.0 + 0.1 * amount * rng.standard_normal())) if shape.loops > 1 else 0.0,
        harmonics=tuple(float(np.clip(h * (1.0 + 0.15 * amount * rng.standard_normal()), 0.0, 1.0))
                        for h in shape.harmonics),
    )


def _loop_contour(u, t, shape, family):
    low, high, c = shape.low_hz, shape.high_hz, shape.curvature
    if family == "upsweep":
        return low + (high - low) * u ** c
    if family == "downsweep":
        return high - (high - low) * u ** c
    if family == "convex":
        return low + (high - low) * np.sin(np.pi * u) ** c
    if family == "concave":
        return high - (high - low) * np.sin(np.pi * u) ** c
    centre, depth = (high + low) / 2, (high - low) / 2
    return centre + depth * np.sin(2 * np.pi * shape.rate_hz * t + shape.phase)


def whistle_contour(shape, sr):
    """Fundamental frequency (Hz) and on/off mask per sample of a whistle, shape (n,) each."""
    n = max(int(shape.duration_s * sr), 1)
    t = np.arange(n) / sr
    if shape.loops == 1:
        return _loop_contour(t / shape.duration_s, t, shape, shape.family), np.ones(n, dtype=bool)
    loop_s = (shape.duration_s - shape.loop_gap_s * (shape.loops - 1)) / shape.loops
    period_s = loop_s + shape.loop_gap_s
    position = t % period_s
    sounding = (position < loop_s) & (t < shape.loops * period_s)
    f0 = _loop_contour(np.clip(position / loop_s, 0, 1), position, shape, shape.loop_family)
    return f0, sounding


def render_whistle(shape, sr, rng):
    """The waveform of one whistle of ``shape``, peak about 1, shape (n,).

    Harmonics above 0.95 of the Nyquist frequency are left out (no aliasing). Each loop gets a
    raised-cosine onset and offset (10-40 ms) and the whole a slow tremolo (depth up to 30 %).
    """
    f0, sounding = whistle_contour(shape, sr)
    n = f0.shape[0]
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = np.zeros(n)
    for harmonic, amplitude in ((1, 1.0), (2, shape.harmonics[0]), (3, shape.harmonics[1])):
        audible = harmonic * f0 < 0.95 * sr / 2
        y += amplitude * audible * np.sin(harmonic * phase + rng.uniform(0, 2 * np.pi))
    envelope = np.zeros(n)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], sounding.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2]):
        envelope[start:stop] = _raised_cosine_envelope(stop - start, sr, attack_s=rng.uniform(0.01, 0.04),
                                                       release_s=rng.uniform(0.01, 0.04))
    t = np.arange(n) / sr
    tremolo = 1.0 - rng.uniform(0.0, 0.3) * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 15) * t
                                                                 + rng.uniform(0, 2 * np.pi)))
    return y * envelope * tremolo


def whistle(duration_s, sr, rng, *, family=None):
    """A one-off whistle of about ``duration_s`` seconds; returns (waveform, contour family)."""
    shape = draw_whistle_shape(rng, family=family, max_duration_s=duration_s)
    shape = replace(shape, duration_s=float(duration_s))
    return render_whistle(shape, sr, rng), shape.family


# ------------------------------------------------------------------------------------ click trains

def click_train(duration_s, sr, rng, *, ici_s_range, sigma_s_range=(2e-5, 6e-5), buzz_probability=0.0):
    """Clicks at inter-click intervals (ICI) drawn within ``ici_s_range`` (s), drifting over the train.

    With probability ``buzz_probability`` the last quarter of the train is a terminal buzz: the
    interval falls to 4-8 ms, as when an echolocating dolphin closes on a target.
    """
    n = int(duration_s * sr)
    y = np.zeros(n)
    ici = rng.uniform(*ici_s_range)
    drift = rng.uniform(-0.4, 0.3)  # relative change of the interval over the train
    centre_hz, sigma_s = rng.uniform(10000, 20000), rng.uniform(*sigma_s_range)
    buzz_from_s = 0.75 * duration_s if rng.random() < buzz_probability else np.inf
    buzz_ici = rng.uniform(0.004, 0.008)
    time_s = rng.uniform(0, min(ici, 0.3 * duration_s))
    while time_s < duration_s:
        amplitude = rng.uniform(0.6, 1.0)
        _add_at(y, amplitude * _pulse(sr, centre_hz=centre_hz, sigma_s=sigma_s, rng=rng), int(time_s * sr))
        interval = ici * (1 + drift * time_s / duration_s) * rng.uniform(0.9, 1.1)
        if time_s >= buzz_from_s:
            interval = buzz_ici * rng.uniform(0.9, 1.1)
        time_s += interval
    return y


def make_event(label, duration_s, sr, rng):
    """One event of class ``label`` lasting ``duration_s``; returns (waveform, type naming its subfamily)."""
    if label == "whistle":
        return whistle(duration_s, sr, rng)
    if label == "burst":
        return click_train(duration_s, sr, rng, ici_s_range=(0.0015, 0.008)), "burst_pulse"
    if label == "click":
        buzz = rng.random() < 0.25
        y = click_train(duration_s, sr, rng, ici_s_range=(0.02, 0.12), buzz_probability=1.0 if buzz else 0.0)
        return y, "echolocation_buzz" if buzz else "echolocation"
    raise ParameterError(f"label must be one of {SIGNAL_LABELS}, got {label!r}")


def draw_event(label, sr, rng, *, motif_bank, session, motif_fraction, max_duration_s, allow_motif=True):
    """An event of ``label`` with its natural duration (at most ``max_duration_s``).

    A whistle is, with probability ``motif_fraction`` (and when ``allow_motif`` and ``session``
    hears motifs), a rendition of one of ``session.motifs`` from ``motif_bank``; otherwise a one-off.

    Returns
    -------
    y : np.ndarray, shape (n,)
        The waveform, peak about 1.
    kind : str
        Its type (contour family, ``burst_pulse``, ``echolocation`` or ``echolocation_buzz``).
    motif : str
        The motif id of a rendition, else ``""``.
    """
    if label == "whistle":
        if allow_motif and session.motifs and rng.random() < motif_fraction:
            motif = session.motifs[rng.integers(len(session.motifs))]
            shape = vary_whistle_shape(motif_bank[motif], rng)
            return render_whistle(shape, sr, rng), shape.family, motif
        shape = draw_whistle_shape(rng, max_duration_s=min(1.2, max_duration_s))
        return render_whistle(shape, sr, rng), shape.family, ""
    low, high = EVENT_DURATION_S[label]
    duration_s = rng.uniform(low, max(low, min(high, max_duration_s)))
    y, kind = make_event(label, duration_s, sr, rng)
    return y, kind, ""


def mix_event(y, clean_background, event, start, snr_db, sr, band_fmin_hz):
    """Add ``event`` into ``y`` (in place) at sample ``start``, scaled to ``snr_db`` (dB, above
    ``band_fmin_hz``) against ``clean_background`` over the same span; returns the stop sample (the
    event is cut at the end of ``y``)."""
    stop = min(start + event.shape[0], y.shape[0])
    event = event[: stop - start]
    noise_power = band_power(clean_background[start:stop], sr, band_fmin_hz)
    gain = np.sqrt(noise_power / max(band_power(event, sr, band_fmin_hz), 1e-20)) * 10 ** (snr_db / 20.0)
    y[start:stop] += event * gain
    return stop


def accompanying_clicks(event_start, event_stop, n, sr, rng, *, margin=0):
    """An echolocation train over part of an event, as pods echolocate while they whistle.

    The event lies at samples ``event_start:event_stop`` of a signal of ``n`` samples. The train
    lasts 0.5-1.5 times the event (at least 0.1 s, at most the ``n - 2 * margin`` samples between
    the margins) and covers a point drawn uniformly within the event, so it always overlaps the
    event and often runs on before or after it: some windows then hold clicks and no whistle.

    Returns
    -------
    y : np.ndarray, shape (length,)
        The train (:func:`make_event` of ``click``), peak about 1.
    kind : str
        ``echolocation`` or ``echolocation_buzz``.
    start : int
        The sample where it starts.
    """
    room = max(1, n - 2 * margin)
    length = int(min(max(rng.uniform(0.5, 1.5) * (event_stop - event_start), 0.1 * sr), room))
    point = int(rng.integers(event_start, max(event_start + 1, event_stop)))
    start = int(np.clip(point - int(rng.uniform(0, length)), margin, max(margin, n - margin - length)))
    y, kind = make_event("click", length / sr, sr, rng)
    return y[:length], kind, start


def make_motif_bank(n_motifs, rng):
    """``n_motifs`` signature whistle shapes, ids ``sig01``, ``sig02``, ...; families cycle so that
    the bank holds different contour families."""
    families = list(WHISTLE_CONTOURS)
    rng.shuffle(families)
    return {f"sig{k + 1:02d}": draw_whistle_shape(rng, family=families[k % len(families)], max_duration_s=1.0)
            for k in range(n_motifs)}
