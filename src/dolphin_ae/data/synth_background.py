"""The backgrounds of the synthetic soundscapes (NumPy only): one :class:`Session` per recording session.

Each session has coloured ocean noise (power falling as ``1/f**alpha``) at its own level;
snapping-shrimp impulses at its own rate (a broadband crackle when the rate is high); in some
sessions a passing boat: engine and propeller tonals (a fundamental of 40-160 Hz and its
harmonics, most energy below the analysis band) plus broadband cavitation noise modulated at the
blade rate, its level rising and falling as the boat passes; and, when a data set asks for it,
stationary components of its own in the analysis band (:func:`draw_session_bands`): hum bands a
few hundred Hz to a few kHz wide (pool pumps and filters) and narrow tonal lines (boat and
machinery lines, echosounders) at frequencies that differ from session to session. Those are
what a front end has to take out per band: they sit under every window of the session, signal or
not.

Every function draws from the ``rng`` it is given, in a fixed order; the stationary components
draw nothing at rendering time (they shape the coloured noise's spectrum), so a session without
them renders exactly as before they existed.
"""

from dataclasses import dataclass

import numpy as np
import scipy.fft

from dolphin_ae.exceptions import ParameterError

# Stationary in-band components per session: hum bands and tonal lines, counts drawn uniformly
# (inclusive), full widths (Hz) drawn uniformly.
HUM_BANDS = (1, 3)
HUM_WIDTH_HZ = (300.0, 3000.0)
TONAL_LINES = (0, 3)
LINE_WIDTH_HZ = (30.0, 80.0)


@dataclass(frozen=True)
class Session:
    """The background of one recording session.

    ``boat_level_db`` is the boat's broadband level at its closest approach relative to the ocean
    noise (dB), or None for a session without a boat. ``bands`` holds the session's stationary
    in-band components, each ``(centre_hz, width_hz, level_db)``: a raised-cosine bump of full
    width ``width_hz`` (Hz) in the noise's power spectrum, ``level_db`` (dB) above the coloured
    noise at ``centre_hz`` at its peak.
    """

    name: str
    noise_alpha: float  # spectral slope of the coloured noise (power ~ 1/f**alpha)
    level_db: float  # RMS level of the coloured noise (dB re full scale)
    shrimp_per_s: float  # mean rate of snapping-shrimp impulses (1/s)
    boat_level_db: float | None = None
    boat_fundamental_hz: float = 80.0  # engine/propeller shaft tonal (Hz)
    boat_blades: int = 3  # propeller blades: the cavitation is modulated at blades x shaft rate
    motifs: tuple = ()  # signature whistles heard in this session (motif ids)
    bands: tuple = ()  # stationary in-band components, (centre_hz, width_hz, level_db) each


def band_power(x, sr, fmin_hz):
    """Mean power of ``x`` above ``fmin_hz`` (full-scale units squared).

    The FFT is zero-padded to a fast length (Parseval holds up to the padding's smoothing, the
    same for every signal compared).
    """
    n = x.shape[0]
    n_fft = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(x, n=n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return float(np.sum(np.abs(spectrum[freqs >= fmin_hz]) ** 2) / (n * n_fft))


def band_gain(freqs_hz, bands):
    """Power gain of the stationary components at ``freqs_hz`` (Hz): ``1 + sum of the bumps``, same shape."""
    gain = np.ones_like(freqs_hz, dtype=float)
    for centre_hz, width_hz, level_db in bands:
        offset = np.abs(freqs_hz - centre_hz) / (width_hz / 2.0)
        bump = np.where(offset < 1.0, 0.5 + 0.5 * np.cos(np.pi * np.minimum(offset, 1.0)), 0.0)
        gain += 10 ** (level_db / 10.0) * bump
    return gain


def _coloured_noise(n, sr, alpha, rng, bands=()):
    """Unit-RMS ``1/f**alpha`` noise, then the ``bands`` added on top (the noise part keeps unit RMS)."""
    n_fft = scipy.fft.next_fast_len(n, real=True)  # a fast length, cropped to n
    spectrum = scipy.fft.rfft(rng.standard_normal(n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    freqs[0] = freqs[1]
    coloured = spectrum / freqs ** (alpha / 2.0)
    noise = scipy.fft.irfft(coloured, n=n_fft)[:n]
    scale = np.std(noise) + 1e-12
    if bands:
        noise = scipy.fft.irfft(coloured * np.sqrt(band_gain(freqs, bands)), n=n_fft)[:n]
    return noise / scale


def _lowpass(x, sr, cutoff_hz):
    n_fft = scipy.fft.next_fast_len(x.shape[0], real=True)
    spectrum = scipy.fft.rfft(x, n=n_fft)
    spectrum[np.fft.rfftfreq(n_fft, 1.0 / sr) > cutoff_hz] = 0.0
    return scipy.fft.irfft(spectrum, n=n_fft)[: x.shape[0]]


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


def boat_noise(n, sr, session, rng):
    """A passing boat, unit RMS at its closest approach: tonals plus blade-rate cavitation.

    The shaft rate wanders by about half a percent; the tonals' harmonics fall as ``1/h`` (a
    sawtooth of the shaft phase) and stop at 6 kHz; the cavitation is white-ish noise (``1/f**0.5``)
    whose amplitude swings at the blade rate; the whole passes with a power envelope
    ``1 / (1 + ((t - t0)/tau)**2)``.
    """
    t = np.arange(n) / sr
    shaft_hz = session.boat_fundamental_hz * (1 + 0.005 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t
                                                                 + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(shaft_hz) / sr
    # sum_h sin(h phase) / h is a sawtooth; low-passing it keeps the harmonics below 6 kHz.
    sawtooth = (np.pi - np.mod(phase + rng.uniform(0, 2 * np.pi), 2 * np.pi)) / 2
    tonal = _lowpass(sawtooth, sr, min(6000.0, 0.45 * sr))
    tonal /= np.std(tonal) + 1e-12
    blade = 1.0 + 0.6 * np.cos(session.boat_blades * phase)
    cavitation = _coloured_noise(n, sr, 0.5, rng) * blade
    cavitation /= np.std(cavitation) + 1e-12
    duration_s = n / sr
    closest_s, tau_s = rng.uniform(0, duration_s), rng.uniform(5.0, 30.0)
    envelope = 1.0 / np.sqrt(1.0 + ((t - closest_s) / tau_s) ** 2)
    return (0.5 * tonal + cavitation) * envelope


def background(n, sr, session, rng):
    """Background of ``n`` samples for ``session``, shape (n,): coloured noise with the session's
    stationary bands, shrimp, and a boat if it has one, scaled to the session's level."""
    noise = _coloured_noise(n, sr, session.noise_alpha, rng, session.bands) + _shrimp(n, sr, session, rng)
    if session.boat_level_db is not None:
        noise = noise + boat_noise(n, sr, session, rng) * 10 ** (session.boat_level_db / 20.0)
    return noise * 10 ** (session.level_db / 20.0)


def draw_session_bands(rng, *, level_db_range, fmin_hz, fmax_hz):
    """A session's stationary in-band components (``Session.bands``), between ``fmin_hz`` and ``fmax_hz`` (Hz).

    ``HUM_BANDS`` hum bands of ``HUM_WIDTH_HZ`` and ``TONAL_LINES`` lines of ``LINE_WIDTH_HZ``
    (counts and widths drawn uniformly), centres uniform in the band, each ``level_db_range`` (dB,
    drawn uniformly) above the coloured noise at its centre.

    Returns
    -------
    tuple of (centre_hz, width_hz, level_db)
    """
    low_db, high_db = level_db_range
    if not fmin_hz < fmax_hz:
        raise ParameterError(f"need fmin_hz < fmax_hz for the session bands, got {fmin_hz} and {fmax_hz} Hz")
    bands = []
    for count, (low_hz, high_hz) in ((HUM_BANDS, HUM_WIDTH_HZ), (TONAL_LINES, LINE_WIDTH_HZ)):
        for _ in range(int(rng.integers(count[0], count[1] + 1))):
            width_hz = float(rng.uniform(low_hz, high_hz))
            centre_hz = float(rng.uniform(fmin_hz + width_hz / 2, max(fmin_hz + width_hz / 2, fmax_hz - width_hz / 2)))
            bands.append((centre_hz, width_hz, float(rng.uniform(low_db, high_db))))
    return tuple(bands)
