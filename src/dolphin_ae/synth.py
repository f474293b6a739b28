"""Synthetic dolphin recordings with ground truth (NumPy only).

Each *recording session* has its own background: coloured ocean noise (power falling as
``1/f**alpha``) at its own level, with snapping-shrimp impulses at its own rate. Clips are cut
from sessions and hold one of four kinds of sound:

- ``whistle``: a frequency-modulated tone (contour families ``upsweep``, ``downsweep``,
  ``convex``, ``concave``, ``sinusoidal``) with two harmonics and soft onset and offset;
- ``burst``: a burst pulse, a fast train of broadband clicks (1-5 ms between clicks);
- ``click``: an echolocation train, slower clicks (15-60 ms between clicks);
- ``noise``: background only, the "silence" class of the seed.

The signal-to-noise ratio is measured in the analysis band (above ``band_fmin_hz``): the mean
power of the event over its duration against the mean power of the background, in dB.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dolphin_ae.exceptions import ParameterError

SIGNAL_LABELS = ("whistle", "burst", "click")
SILENCE_LABEL = "noise"
LABELS = SIGNAL_LABELS + (SILENCE_LABEL,)
WHISTLE_CONTOURS = ("upsweep", "downsweep", "convex", "concave", "sinusoidal")
# "session__clip.wav": the part before the double underscore names the recording session.
RECORDING_SEPARATOR = "__"


@dataclass(frozen=True)
class Session:
    """The background of one recording session."""

    name: str
    noise_alpha: float  # spectral slope of the coloured noise (power ~ 1/f**alpha)
    level_db: float  # RMS level of the coloured noise (dB re full scale)
    shrimp_per_s: float  # mean rate of snapping-shrimp impulses (1/s)


def _band_power(x, sr, fmin_hz):
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    return float(np.sum(np.abs(spectrum[freqs >= fmin_hz]) ** 2) / x.shape[0] ** 2)


def _coloured_noise(n, sr, alpha, rng):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    freqs[0] = freqs[1]
    noise = np.fft.irfft(spectrum / freqs ** (alpha / 2.0), n=n)
    return noise / (np.std(noise) + 1e-12)


def _pulse(sr, *, centre_hz, sigma_s, rng):
    """A short broadband Gabor pulse (a click), unit peak amplitude."""
    half = int(np.ceil(4 * sigma_s * sr))
    t = np.arange(-half, half + 1) / sr
    return np.exp(-0.5 * (t / sigma_s) ** 2) * np.cos(2 * np.pi * centre_hz * t + rng.uniform(0, 2 * np.pi))


def _add_at(y, pulse, start):
    stop = min(start + pulse.shape[0], y.shape[0])
    if 0 <= start < stop:
        y[start:stop] += pulse[: stop - start]


def _shrimp(n, sr, session, rng):
    y = np.zeros(n)
    count = rng.poisson(session.shrimp_per_s * n / sr)
    for start in rng.integers(0, n, size=count):
        decay_s = rng.uniform(5e-5, 2e-4)
        length = int(6 * decay_s * sr) + 1
        impulse = rng.standard_normal(length) * np.exp(-np.arange(length) / (decay_s * sr))
        _add_at(y, impulse * rng.lognormal(np.log(4.0), 0.6), int(start))
    return y


def background(n, sr, session, rng):
    """Background of ``n`` samples for ``session``: coloured noise plus shrimp impulses."""
    noise = _coloured_noise(n, sr, session.noise_alpha, rng) + _shrimp(n, sr, session, rng)
    return noise * 10 ** (session.level_db / 20.0)


def _contour(t, duration_s, family, rng):
    u = t / duration_s
    low, high = rng.uniform(5000, 9000), rng.uniform(12000, 18000)
    if family == "upsweep":
        return low + (high - low) * u
    if family == "downsweep":
        return high - (high - low) * u
    if family == "convex":
        return low + (high - low) * np.sin(np.pi * u)
    if family == "concave":
        return high - (high - low) * np.sin(np.pi * u)
    centre, depth, rate_hz = rng.uniform(9000, 13000), rng.uniform(1500, 3500), rng.uniform(3, 8)
    return centre + depth * np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 2 * np.pi))


def whistle(duration_s, sr, rng, *, family=None):
    """A whistle of ``duration_s`` seconds; returns (waveform, contour family)."""
    family = family or WHISTLE_CONTOURS[rng.integers(len(WHISTLE_CONTOURS))]
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    f0 = _contour(t, duration_s, family, rng)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = np.zeros(n)
    for harmonic, amplitude in ((1, 1.0), (2, 0.35), (3, 0.12)):
        audible = harmonic * f0 < 0.95 * sr / 2
        y += amplitude * audible * np.sin(harmonic * phase)
    ramp = min(int(0.02 * sr), n // 4)
    envelope = np.ones(n)
    if ramp > 0:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        envelope[:ramp], envelope[-ramp:] = edge, edge[::-1]
    return y * envelope, family


def click_train(duration_s, sr, rng, *, ici_s_range, sigma_s_range=(2e-5, 6e-5)):
    """Clicks at inter-click intervals drawn around a drifting mean within ``ici_s_range`` (s)."""
    n = int(duration_s * sr)
    y = np.zeros(n)
    ici = rng.uniform(*ici_s_range)
    drift = rng.uniform(-0.3, 0.3)  # relative change of the interval over the train
    centre_hz, sigma_s = rng.uniform(10000, 20000), rng.uniform(*sigma_s_range)
    time_s = rng.uniform(0, ici)
    while time_s < duration_s:
        amplitude = rng.uniform(0.6, 1.0)
        _add_at(y, amplitude * _pulse(sr, centre_hz=centre_hz, sigma_s=sigma_s, rng=rng), int(time_s * sr))
        time_s += ici * (1 + drift * time_s / duration_s) * rng.uniform(0.9, 1.1)
    return y


def make_event(label, duration_s, sr, rng):
    """One event of class ``label``; returns (waveform, type), type naming its subfamily."""
    if label == "whistle":
        return whistle(duration_s, sr, rng)
    if label == "burst":
        return click_train(duration_s, sr, rng, ici_s_range=(0.001, 0.005)), "burst_pulse"
    if label == "click":
        return click_train(duration_s, sr, rng, ici_s_range=(0.015, 0.06)), "echolocation"
    raise ParameterError(f"label must be one of {SIGNAL_LABELS}, got {label!r}")


def make_clip(label, session, *, sr, snr_db, duration_s, band_fmin_hz, rng):
    """One clip: background of ``session`` with one event of ``label`` at ``snr_db`` (dB, in band).

    Returns (waveform, truth dict with start_s, end_s, type, snr_db).
    """
    margin = int(0.01 * sr)
    n = int(duration_s * sr)
    y = background(n, sr, session, rng)
    if label == SILENCE_LABEL:
        return y, {"start_s": 0.0, "end_s": n / sr, "type": "background", "snr_db": float("nan")}
    event, kind = make_event(label, (n - 2 * margin) / sr, sr, rng)
    gain = np.sqrt(_band_power(y, sr, band_fmin_hz) / max(_band_power(event, sr, band_fmin_hz), 1e-20))
    y[margin : margin + event.shape[0]] += event * gain * 10 ** (snr_db / 20.0)
    truth = {"start_s": margin / sr, "end_s": (margin + event.shape[0]) / sr, "type": kind, "snr_db": float(snr_db)}
    return y, truth


def make_sessions(n_sessions, rng):
    return [
        Session(
            name=f"session{i:03d}",
            noise_alpha=float(rng.uniform(0.5, 1.5)),
            level_db=float(rng.uniform(-40, -25)),
            shrimp_per_s=float(rng.uniform(5, 60)),
        )
        for i in range(n_sessions)
    ]


def synthesize_dataset(out_dir, *, n_sessions=8, clips_per_label=None, sr=48000, snr_db_range=(0.0, 20.0),
                       clip_s_range=(0.25, 1.0), band_fmin_hz=4400.0, seed=0):
    """Write a labelled synthetic data set in the folder-per-label layout and return its truth table.

    Files are ``out_dir/<label>/<session>__<label>_<k>.wav`` (32-bit float WAV); the truth table
    ``out_dir/truth.csv`` has one row per clip: file, recording, label, type, start_s, end_s, snr_db.

    Parameters
    ----------
    clips_per_label : dict or None
        Clips per session for each label; by default 4 of each signal class and 8 of noise.
    snr_db_range : (float, float)
        Event SNRs are drawn uniformly from this range (dB, in the analysis band).
    clip_s_range : (float, float)
        Clip durations are drawn uniformly from this range (s).
    seed : int
        The same seed writes the same files.
    """
    import pandas as pd
    import soundfile

    clips_per_label = clips_per_label or {"whistle": 4, "burst": 4, "click": 4, "noise": 8}
    unknown = set(clips_per_label) - set(LABELS)
    if unknown:
        raise ParameterError(f"clips_per_label has unknown labels {sorted(unknown)}; expected among {LABELS}")
    if n_sessions < 1:
        raise ParameterError(f"n_sessions must be at least 1, got {n_sessions}")
    if not 0 < clip_s_range[0] <= clip_s_range[1]:
        raise ParameterError(f"clip_s_range must be (low, high) with 0 < low <= high, got {clip_s_range}")
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    rows = []
    for session in make_sessions(n_sessions, rng):
        for label, count in clips_per_label.items():
            (out_dir / label).mkdir(parents=True, exist_ok=True)
            for k in range(int(count)):
                snr_db = rng.uniform(*snr_db_range)
                duration_s = rng.uniform(*clip_s_range)
                y, truth = make_clip(label, session, sr=sr, snr_db=snr_db, duration_s=duration_s,
                                     band_fmin_hz=band_fmin_hz, rng=rng)
                relative = Path(label) / f"{session.name}{RECORDING_SEPARATOR}{label}_{k:03d}.wav"
                soundfile.write(str(out_dir / relative), y.astype(np.float32), sr, subtype="FLOAT")
                rows.append({"file": relative.as_posix(), "recording": session.name, "label": label, **truth})
    truth_table = pd.DataFrame(rows)
    truth_table.to_csv(out_dir / "truth.csv", index=False)
    return truth_table
