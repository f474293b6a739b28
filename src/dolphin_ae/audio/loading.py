"""Audio files before their samples are read: find them, check their headers, pad short clips.

Reading, resampling and windowing are :mod:`dolphin_ae.audio.pipeline`'s.
"""

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from dolphin_ae.exceptions import AudioError, ParameterError

AUDIO_SUFFIXES = (".wav", ".flac")
PAD_MODES = ("reflect", "zeros")


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, checked: sample rate (Hz), frames (samples per channel), channels."""

    path: Path
    sr: int
    frames: int
    channels: int

    @property
    def duration_s(self):
        return self.frames / self.sr


def _wav_declared_frames(path):
    """Frames that a WAV file's ``data`` chunk header promises, or None when it cannot say.

    libsndfile quietly reads what is there when a WAV file was cut short (a copy or a recorder that
    stopped mid-write); comparing with the header's promise is how a truncated file is caught.
    Streaming writers put 0 or 0xFFFFFFFF in the size field; those files promise nothing.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = handle.read(size + (size & 1))
                if len(fmt) >= 14:
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                continue
            if chunk_id == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            handle.seek(size + (size & 1), 1)


def check_audio_file(path, *, channel=0, fmax_hz=None, min_duration_s=0.0):
    """Check a file from its header alone (no samples are read), as the first pass over a data set.

    Parameters
    ----------
    path : str or Path
    channel : int
        The channel the analysis will use (0 is the first).
    fmax_hz : float or None
        Highest frequency the analysis needs (Hz); the file's rate must be at least twice it.
    min_duration_s : float
        Shortest usable duration (s).

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        Not audio, empty, truncated, too few channels, a rate too low for the band, or too short;
        the message names the file and the reason.
    """
    path = Path(path)
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from error
    if info.frames <= 0:
        raise AudioError(f"{path}: holds no samples")
    if path.suffix.lower() == ".wav":
        declared = _wav_declared_frames(path)
        if declared is not None and info.frames < declared:
            raise AudioError(f"{path}: is truncated: its header promises {declared} samples, the file holds {info.frames}")
    if channel >= info.channels:
        raise AudioError(f"{path}: has {info.channels} channel(s), channel {channel} was asked for")
    if fmax_hz is not None and info.samplerate < 2 * fmax_hz:
        raise AudioError(
            f"{path}: sample rate {info.samplerate} Hz cannot represent the band up to {fmax_hz:g} Hz; "
            f"a rate of at least {2 * fmax_hz:g} Hz is needed"
        )
    if info.frames / info.samplerate < min_duration_s:
        raise AudioError(f"{path}: lasts {info.frames / info.samplerate:.3f} s, shorter than the minimum "
                         f"{min_duration_s:g} s")
    return AudioInfo(path=path, sr=int(info.samplerate), frames=int(info.frames), channels=int(info.channels))


def resampled_length(n_samples, *, orig_sr, target_sr):
    """Samples after resampling ``n_samples`` from ``orig_sr`` to ``target_sr``, as the data set plans its
    windows from the headers (see :meth:`dolphin_ae.audio.pipeline.Resampler.output_length`)."""
    if orig_sr == target_sr:
        return int(n_samples)
    return int(np.ceil(n_samples * target_sr / orig_sr))


def pad_to_length(y, n_samples, *, mode="reflect"):
    """Centre ``y`` in ``n_samples`` samples, filling both sides; longer inputs come back unchanged.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    n_samples : int
        Length of the result (samples).
    mode : {"reflect", "zeros"}
        ``reflect`` mirrors the clip's own samples at each edge (repeatedly, for very short clips):
        the padding carries the clip's own background level and spectrum, with no step at the
        joins, so a padded window does not announce itself by a stretch of digital silence that the
        models could learn to associate with short (catalogue) clips. ``zeros`` pads with silence.

    Returns
    -------
    np.ndarray, shape (max(n, n_samples),), same dtype
    """
    if mode not in PAD_MODES:
        raise ParameterError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ParameterError(f"y must be a non-empty one-dimensional waveform, got shape {y.shape}")
    missing = int(n_samples) - y.shape[0]
    if missing <= 0:
        return y
    before = missing // 2
    widths = (before, missing - before)
    if mode == "zeros":
        return np.pad(y, widths, mode="constant")
    if y.shape[0] == 1:
        return np.pad(y, widths, mode="edge")
    return np.pad(y, widths, mode="reflect")


def find_audio_files(directory):
    """All WAV and FLAC files under ``directory``, sorted, as ``Path`` objects."""
    directory = Path(directory)
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
