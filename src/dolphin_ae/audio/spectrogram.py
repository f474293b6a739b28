"""The spectrogram front end: STFT, band selection, fixed-size windows, per-window normalisation.

The seed's front end, made explicit. Frames of ``n_fft`` samples with a Hann window step by
``hop_length`` samples; each frame is zero-padded to ``fft_length`` samples so that ``n_bins``
FFT bins span the band ``fmin_hz``..``fmax_hz`` (at 48 kHz: 624-point FFT, 76.9 Hz per bin,
4385-24000 Hz). Windows are ``window_frames`` consecutive frames (128 frames = 8192 samples,
0.17 s at 48 kHz) taken every ``step_frames`` frames; a window array has shape
(n_windows, window_frames, n_bins), time first, lowest frequency first.

Per frame, the band magnitudes are ``linear`` (the seed's), ``log`` (``log1p``) or ``pcen``
(per-channel energy normalisation over time); whitening may then subtract the recording's median band
profile. Both are in :mod:`dolphin_ae.audio.gain`.
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from dolphin_ae.audio.gain import transform_magnitudes
from dolphin_ae.constants import SEED_FMIN_HZ, SEED_N_BINS, SEED_SR, SEED_WINDOW_FRAMES
from dolphin_ae.exceptions import ParameterError

NORMALIZATIONS = ("seed", "none")
MAGNITUDES = ("linear", "log", "pcen")
WHITENINGS = ("none", "recording_median")
# Frames are transformed in blocks of this many, each thread reusing one zero-padded buffer: a block's
# padded frames and their spectra (624 x 4 B + 313 x 8 B per frame, about 1.3 MB) stay in a core's
# cache, and long recordings need bounded memory. bench/frontend.py measured 128-512 alike.
FRAMES_PER_BLOCK = 256
# Windows normalised together: 8 windows of 128 x 256 float32 and their squares, 2 MB.
NORMALIZE_CHUNK = 8


@dataclass(frozen=True)
class FrontEnd:
    """Every parameter of the front end, checked once, with the derived FFT geometry.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    n_fft : int
        Frame length (samples) of the Hann window.
    hop_length : int
        Frame step (samples).
    fmin_hz, fmax_hz : float
        Lowest and highest frequency of the band (Hz).
    n_bins : int
        Frequency bins kept across the band.
    window_frames : int
        Frames per window.
    step_frames : int
        Frames between the starts of consecutive windows.
    magnitude : {"linear", "log", "pcen"}
        ``linear`` is the seed's magnitude; ``log`` is ``log1p`` of it (compresses loud clicks);
        ``pcen`` is per-channel energy normalisation over time (:mod:`dolphin_ae.audio.gain`).
    normalization : {"seed", "none"}
        ``seed``: each window becomes ``(x - mean) / (std + 1)``, one mean and std per window.
    whitening : {"none", "recording_median"}
        ``recording_median``: each band's median over the recording's frames is subtracted from the
        magnitudes before windowing (:mod:`dolphin_ae.audio.gain`; the data set pools the files of one
        recording id, the field tool takes the file).
    pcen_time_constant_s, pcen_gain, pcen_bias, pcen_power : float
        PCEN's smoother time constant (s), gain, bias and power (``librosa.pcen``'s defaults; used only
        with ``magnitude="pcen"``).
    """

    sr: int = SEED_SR
    n_fft: int = 512
    hop_length: int = 64
    fmin_hz: float = SEED_FMIN_HZ
    fmax_hz: float = 24000.0
    n_bins: int = SEED_N_BINS
    window_frames: int = SEED_WINDOW_FRAMES
    step_frames: int = 64
    magnitude: str = "linear"
    normalization: str = "seed"
    whitening: str = "none"
    pcen_time_constant_s: float = 0.4
    pcen_gain: float = 0.98
    pcen_bias: float = 2.0
    pcen_power: float = 0.5

    def __post_init__(self):
        for name in ("sr", "n_fft", "hop_length", "n_bins", "window_frames", "step_frames"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sr / 2:
            raise ParameterError(
                f"need 0 <= fmin_hz < fmax_hz <= sr/2, got fmin_hz={self.fmin_hz}, fmax_hz={self.fmax_hz}, sr={self.sr}"
            )
        if self.n_bins < 2:
            raise ParameterError(f"n_bins must be at least 2, got {self.n_bins}")
        if self.magnitude not in MAGNITUDES:
            raise ParameterError(f"magnitude must be one of {MAGNITUDES}, got {self.magnitude!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ParameterError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.whitening not in WHITENINGS:
            raise ParameterError(f"whitening must be one of {WHITENINGS}, got {self.whitening!r}")
        for name, positive in (("pcen_time_constant_s", True), ("pcen_gain", False), ("pcen_bias", False),
                               ("pcen_power", False)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
                    or not np.isfinite(value) or value < 0 or (positive and value == 0)):
                raise ParameterError(f"{name} must be a {'positive' if positive else 'non-negative'} number, "
                                     f"got {value!r}")
        if self.fft_length < self.n_fft:
            raise ParameterError(
                f"{self.n_bins} bins over {self.fmin_hz:g}-{self.fmax_hz:g} Hz need a {self.fft_length}-point FFT, "
                f"shorter than the {self.n_fft}-sample frame; ask for more bins or a narrower band"
            )

    @property
    def fft_length(self):
        """FFT size (samples) whose bin spacing puts ``n_bins`` bins across the band."""
        return int(round(self.sr * (self.n_bins - 1) / (self.fmax_hz - self.fmin_hz)))

    @property
    def first_bin(self):
        """Index of the band's lowest bin in the ``fft_length``-point real FFT."""
        first = int(round(self.fmin_hz * self.fft_length / self.sr))
        return min(first, self.fft_length // 2 + 1 - self.n_bins)

    @property
    def window_samples(self):
        """Samples spanned by one window's frames."""
        return (self.window_frames - 1) * self.hop_length + self.n_fft

    @property
    def window_s(self):
        """Duration of one window (s), counted in hops as the seed did (128 x 64 samples)."""
        return self.window_frames * self.hop_length / self.sr

    @property
    def step_s(self):
        """Time between the starts of consecutive windows (s)."""
        return self.step_frames * self.hop_length / self.sr

    def frequencies_hz(self):
        """Centre frequency (Hz) of each kept bin, shape (n_bins,), ascending."""
        return (self.first_bin + np.arange(self.n_bins)) * self.sr / self.fft_length

    def to_dict(self):
        return asdict(self)


def _default_workers():
    return max(1, min(4, os.cpu_count() or 1))


@functools.lru_cache(maxsize=8)
def _hann(n_fft):
    """The periodic Hann window of ``n_fft`` samples (librosa's ``get_window("hann", n_fft)``), float32, read-only."""
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    window.flags.writeable = False
    return window


def _transform_frames(frames, window, S, first, fft_length):
    """Band magnitudes of ``frames`` (n, n_fft) into ``S`` (n, n_bins), ``FRAMES_PER_BLOCK`` frames at a time.

    Each block is windowed straight into the first ``n_fft`` columns of one ``fft_length``-wide buffer
    whose other columns stay zero, so the FFT neither pads nor copies its input, and no block allocates
    more than its spectrum.
    """
    n_frames, n_fft = frames.shape
    buffer = np.zeros((min(FRAMES_PER_BLOCK, n_frames), fft_length), dtype=np.float32)
    last = first + S.shape[1]
    for start in range(0, n_frames, FRAMES_PER_BLOCK):
        stop = min(start + FRAMES_PER_BLOCK, n_frames)
        block = buffer[: stop - start]
        np.multiply(frames[start:stop], window, out=block[:, :n_fft])
        spectrum = scipy.fft.rfft(block, axis=1)
        np.abs(spectrum[:, first:last], out=S[start:stop])


def band_spectrogram(y, front_end=None, *, workers=None, out=None, linear=False):
    """Magnitude spectrogram of ``y`` in the front end's band.

    The frames are a strided view of ``y`` (no copy); each block of ``FRAMES_PER_BLOCK`` frames is
    multiplied by the window into a reused float32 buffer zero-padded to ``fft_length``, transformed
    by a float32 real FFT (``scipy.fft.rfft``), and only the band's bins are kept, as float32
    magnitudes written straight into the result. The frames are split into ``workers`` runs of
    consecutive blocks, one thread each (NumPy and pocketfft release the GIL).

    Why an FFT of every bin though the band keeps 256 of 313: 57 dropped bins leave little for a
    pruned transform to save, and the band's DFT as a matrix product (512 x 512 float32, BLAS)
    measured about six times slower than the whole FFT.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Waveform at ``front_end.sr``.
    front_end : FrontEnd or None
        Parameters; the seed's defaults when None.
    workers : int or None
        Threads; None uses up to 4 of the machine's cores. The result does not depend on it.
    out : np.ndarray or None
        Optional float32 array of shape (n_frames, n_bins) to write into (e.g. a memory map).
    linear : bool
        True: the linear magnitudes, whatever ``front_end.magnitude`` (a streaming caller applies the
        magnitude itself, :class:`dolphin_ae.audio.gain.MagnitudeTransform`). False: the front end's
        magnitude, PCEN over the whole of ``y`` as one signal. Whitening is never applied here.

    Returns
    -------
    S : np.ndarray, shape (n_frames, n_bins), float32
        Frame ``i`` starts at sample ``i * hop_length``; no centring and no padding, so
        ``n_frames = 1 + (n_samples - n_fft) // hop_length`` (0 if the signal is shorter than a frame).
    """
    fe = front_end or FrontEnd()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be one-dimensional (mono), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"y must hold floating-point samples, got dtype {y.dtype}")
    workers = _default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ParameterError(f"workers must be a positive number of threads or None, got {workers!r}")
    y = y.astype(np.float32, copy=False)
    n_frames = n_frames_of(y.shape[0], fe)
    if out is None:
        S = np.empty((n_frames, fe.n_bins), dtype=np.float32)
    else:
        if out.shape != (n_frames, fe.n_bins) or out.dtype != np.float32:
            raise ParameterError(f"out must be a float32 array of shape {(n_frames, fe.n_bins)}, "
                                 f"got {out.dtype} {out.shape}")
        S = out
    if n_frames == 0:
        return S
    # A strided view: no frame is copied until the window multiplies it, block by block.
    frames = sliding_window_view(y, fe.n_fft)[:: fe.hop_length]
    window = _hann(fe.n_fft)
    n_blocks = -(-n_frames // FRAMES_PER_BLOCK)
    n_runs = min(int(workers), n_blocks // 2)  # a thread pays for itself only over a few blocks
    if n_runs <= 1:
        _transform_frames(frames, window, S, fe.first_bin, fe.fft_length)
    else:
        bounds = [FRAMES_PER_BLOCK * (n_blocks * k // n_runs) for k in range(n_runs)] + [n_frames]
        with ThreadPoolExecutor(n_runs) as pool:
            list(pool.map(lambda k: _transform_frames(frames[bounds[k]:bounds[k + 1]], window,
                                                      S[bounds[k]:bounds[k + 1]], fe.first_bin, fe.fft_length),
                          range(n_runs)))
    if linear or fe.magnitude == "linear":
        return S
    return transform_magnitudes(S, fe, in_place=True)


def n_frames_of(n_samples, front_end=None):
    """Frames ``band_spectrogram`` makes from ``n_samples`` samples."""
    fe = front_end or FrontEnd()
    return 0 if n_samples < fe.n_fft else 1 + (n_samples - fe.n_fft) // fe.hop_length


def n_windows_of(n_samples, front_end=None):
    """Windows ``spectrogram_windows`` makes from ``n_samples`` samples (0 when shorter than a window)."""
    fe = front_end or FrontEnd()
    n_frames = n_frames_of(n_samples, fe)
    return 0 if n_frames < fe.window_frames else 1 + (n_frames - fe.window_frames) // fe.step_frames


def spectrogram_windows(S, front_end=None):
    """Fixed-size windows of a spectrogram, as a read-only strided view.

    Parameters
    ----------
    S : np.ndarray, shape (n_frames, n_bins)

    Returns
    -------
    windows : np.ndarray, shape (n_windows, window_frames, n_bins)
        Window ``j`` holds frames ``j * step_frames`` .. ``j * step_frames + window_frames - 1``.
    """
    fe = front_end or FrontEnd()
    S = np.asarray(S)
    if S.ndim != 2 or S.shape[1] != fe.n_bins:
        raise ParameterError(f"S must have shape (n_frames, {fe.n_bins}), got {S.shape}")
    if S.shape[0] < fe.window_frames:
        return np.zeros((0, fe.window_frames, fe.n_bins), dtype=S.dtype)
    view = sliding_window_view(S, fe.window_frames, axis=0)[:: fe.step_frames]
    return view.transpose(0, 2, 1)


def normalize_windows(windows, *, method="seed", out=None):
    """Normalise each window on its own.

    ``seed``: ``(x - mean) / (std + 1)`` with one mean and one std per window (the seed's rule; the
    ``+ 1`` keeps near-silent windows from being blown up). ``none``: a float32 copy.

    Windows are normalised ``NORMALIZE_CHUNK`` at a time, each chunk copied, centred in place and
    scaled while it is in cache. The arithmetic is ``np.mean`` and ``np.std``'s own (float32 sums over
    each window, the squares of the centred values), so the numbers are theirs to the bit, at about
    half the memory traffic (``np.std`` recomputes the mean and allocates the centred copy again).

    Parameters
    ----------
    windows : np.ndarray, shape (n_windows, ...)
    out : np.ndarray or None
        A C-contiguous float32 array of ``windows``' shape to write into (a model's input batch, say);
        the numbers are the same as those of a new array.

    Returns
    -------
    np.ndarray, same shape as ``windows``, float32 (``out`` when given)
    """
    if method not in NORMALIZATIONS:
        raise ParameterError(f"method must be one of {NORMALIZATIONS}, got {method!r}")
    windows = np.asarray(windows)
    if out is None:
        x = np.empty(windows.shape, dtype=np.float32)
    elif out.shape != windows.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ParameterError(f"out must be a C-contiguous float32 array of shape {windows.shape}, "
                             f"got {out.dtype} {out.shape}")
    else:
        x = out
    np.copyto(x, windows, casting="unsafe")
    if method == "none" or x.size == 0:
        return x
    if x.ndim < 2:  # no window axis: each number is a window of its own
        x -= x
        return x
    axes = tuple(range(1, x.ndim))
    count = np.float32(np.prod(x.shape[1:]))
    squares = np.empty((min(NORMALIZE_CHUNK, x.shape[0]),) + x.shape[1:], dtype=np.float32)
    for start in range(0, x.shape[0], NORMALIZE_CHUNK):
        part = x[start:start + NORMALIZE_CHUNK]
        part -= np.add.reduce(part, axis=axes, keepdims=True) / count
        square = np.multiply(part, part, out=squares[: part.shape[0]])
        part /= np.sqrt(np.add.reduce(square, axis=axes, keepdims=True) / count) + np.float32(1.0)
    return x


def window_level_db(windows):
    """Mean band power of each window (dB re 1), shape (n_windows,); the energy baseline's feature."""
    windows = np.asarray(windows, dtype=np.float32)
    power = np.mean(np.square(windows), axis=tuple(range(1, windows.ndim)))
    return 10.0 * np.log10(power + 1e-12)


def window_start_s(n_windows, front_end=None):
    """Start time (s) of each of ``n_windows`` windows in its recording, shape (n_windows,)."""
    fe = front_end or FrontEnd()
    return np.arange(n_windows) * fe.step_s
