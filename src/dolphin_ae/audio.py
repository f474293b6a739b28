"""Loading recordings: read, pick a channel, validate, resample to the run's rate."""

from pathlib import Path

import numpy as np
import soundfile

from dolphin_ae.exceptions import AudioError, ParameterError

AUDIO_SUFFIXES = (".wav", ".flac")


def load_audio(path, *, sr=48000, channel=0, fmax_hz=None, min_duration_s=0.0):
    """Read one recording as a float32 mono waveform at ``sr`` Hz.

    Parameters
    ----------
    path : str or Path
        A WAV or FLAC file (16/24/32-bit integer or float samples).
    sr : int
        Sample rate of the result (Hz). Other rates are resampled with an anti-aliasing
        resampler (soxr, high quality).
    channel : int
        Which channel to keep (0 is the first).
    fmax_hz : float or None
        Highest frequency the analysis needs (Hz). A file recorded at less than ``2 * fmax_hz``
        cannot contain it and is refused.
    min_duration_s : float
        Files shorter than this (s) are refused.

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32

    Raises
    ------
    AudioError
        The file cannot be used; the message names it and says why.
    """
    path = Path(path)
    if sr <= 0:
        raise ParameterError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    if channel < 0:
        raise ParameterError(f"channel must be >= 0, got {channel!r}")
    try:
        data, native_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from error
    if data.shape[0] == 0:
        raise AudioError(f"{path}: holds no samples")
    if channel >= data.shape[1]:
        raise AudioError(f"{path}: has {data.shape[1]} channel(s), channel {channel} was asked for")
    y = np.ascontiguousarray(data[:, channel])
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if fmax_hz is not None and native_sr < 2 * fmax_hz:
        raise AudioError(
            f"{path}: sample rate {native_sr} Hz cannot represent the band up to {fmax_hz:g} Hz; "
            f"a rate of at least {2 * fmax_hz:g} Hz is needed"
        )
    duration_s = y.shape[0] / native_sr
    if duration_s < min_duration_s:
        raise AudioError(f"{path}: lasts {duration_s:.3f} s, shorter than the minimum {min_duration_s:g} s")
    if native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq").astype(np.float32)
    return y


def find_audio_files(directory):
    """All WAV and FLAC files under ``directory``, sorted, as ``Path`` objects."""
    directory = Path(directory)
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
