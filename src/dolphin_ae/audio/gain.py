"""Gain control of the band spectrogram: PCEN over time, and per-recording band whitening.

Both act on the band magnitudes of :func:`dolphin_ae.audio.spectrogram.band_spectrogram`, shape
(n_frames, n_bins), time first, before the frames are cut into windows.

**PCEN** (``FrontEnd.magnitude="pcen"``): per-channel energy normalisation, ``librosa.pcen``
(Wang et al. 2017; Lostanlen et al. 2019, "Per-channel energy normalization: why and how"),

    P = (S / (eps + M) ** gain + bias) ** power - bias ** power,   M[t] = (1 - b) M[t - 1] + b S[t],

an automatic gain control per frequency band: ``M`` follows the band's background over about
``pcen_time_constant_s``, so stationary noise (ocean noise, a boat's steady cavitation, the
hydrophone's own response) is divided out and onsets stand out. The parameters are librosa's
defaults, which match the original publication, with two things that librosa's documentation asks
for when the spectrogram is not the publication's:

- the time constant is in seconds and librosa turns it into frames with *our* frame rate
  (``sr / hop_length`` = 750 frames/s at 48 kHz, hop 64), so 0.4 s is 300 frames. 0.4 s is kept: it
  is long against the time a whistle's contour dwells in one 77 Hz band (a few ms for a sweep, up to
  ~0.1 s for a flat stretch) and against a click (one frame) or a click train (20-120 ms apart), so
  those are not absorbed into the background, and short against how the background changes (a boat
  passing, surf, a change of depth: seconds);
- ``gain`` 0.98, ``bias`` 2, ``power`` 0.5 and ``eps`` 1e-6 were set for magnitudes of audio in the
  int32 range, not [-1, 1): the magnitudes are scaled by ``PCEN_INPUT_SCALE`` = 2**31 first, as the
  documentation recommends, so that ``eps`` stays negligible and ``M ** gain`` behaves as published
  (PCEN is then nearly independent of the recording's level).

The smoother's state starts at the steady state of the per-band median of the first
``pcen_time_constant_s`` of frames (all frames when there are fewer), not at librosa's default
(the steady state of a constant input of 1, which at this scale would blow up the first second of
every recording). :class:`MagnitudeTransform` carries the filter state (``zi``/``zf``) from one block
of frames to the next, so a recording read in blocks gives exactly the numbers of the whole file.

**Whitening** (``FrontEnd.whitening="recording_median"``): each band's median over a recording's
frames (its *band profile*, :class:`BandProfile`) is subtracted from the (linear, log or PCEN)
magnitudes, removing the recording's spectral colour and equipment response. The median is taken
over every frame up to ``MAX_PROFILE_FRAMES`` frames (44 s at 750 frames/s) and over every k-th frame
of longer recordings (k the smallest power of two that keeps at most that many), so memory stays
bounded. Which frames form "a recording" is the caller's: the data set pools the files of one
recording id (:mod:`dolphin_ae.data.windows`), the field tool takes the one file it reads, in a first
pass over its blocks (:func:`dolphin_ae.audio.pipeline.stream_recording`).
"""

import numpy as np

from dolphin_ae.exceptions import ParameterError

# Magnitudes of float audio in [-1, 1) are brought to the int32 range that librosa's PCEN defaults assume.
PCEN_INPUT_SCALE = 2.0 ** 31
PCEN_EPS = 1e-6  # librosa's default; negligible at the scale above
# PCEN is computed this many frames at a time (float64 temporaries of 8192 x 256 values, 16 MB each).
PCEN_CHUNK_FRAMES = 8192
# The band profile's median is over at most this many frames (32 MB of float32 at 256 bins).
MAX_PROFILE_FRAMES = 2 ** 15


def pcen_smoothing(front_end):
    """The smoother's coefficient ``b`` for the front end's time constant and frame rate (librosa's formula)."""
    t_frames = front_end.pcen_time_constant_s * front_end.sr / float(front_end.hop_length)
    return float((np.sqrt(1 + 4 * t_frames ** 2) - 1) / (2 * t_frames ** 2))


def pcen_init_frames(front_end):
    """Frames whose per-band median sets the smoother's initial state: ``pcen_time_constant_s`` of them."""
    return max(1, int(round(front_end.pcen_time_constant_s * front_end.sr / front_end.hop_length)))


class MagnitudeTransform:
    """The front end's magnitude (``linear``, ``log``, ``pcen``) of band frames that arrive in blocks.

    :meth:`push` takes the next linear band magnitudes, shape (n, n_bins), float32, and returns the
    transformed frames it can give now; :meth:`finish` returns the rest. Concatenated, they are the
    transform of all the frames at once, whatever the blocks. ``linear`` and ``log`` (``log1p``) act on
    each frame alone. ``pcen`` holds frames back until it has :func:`pcen_init_frames` of them (their
    median starts the smoother), then carries the smoother's state across blocks.

    ``in_place=True`` lets :meth:`push` write its result into the array it is given (when it returns
    those frames at once), for whole-file spectrograms that may be large.
    """

    def __init__(self, front_end, *, in_place=False):
        self.front_end = front_end
        self.in_place = in_place
        self._pending = []
        self._n_pending = 0
        self._zi = None  # the PCEN smoother's state; None until it has started

    def push(self, S):
        S = np.asarray(S, dtype=np.float32)
        magnitude = self.front_end.magnitude
        if magnitude == "linear":
            return S
        if magnitude == "log":
            return np.log1p(S, out=S if self.in_place else None)
        if self._zi is None:
            self._pending.append(S)
            self._n_pending += S.shape[0]
            if self._n_pending < pcen_init_frames(self.front_end):
                return np.zeros((0, S.shape[1]), dtype=np.float32)
            return self._start()
        return self._pcen(S, out=S if self.in_place else None)

    def finish(self):
        """The frames still held back (PCEN of a recording shorter than the initial median's span)."""
        if self.front_end.magnitude == "pcen" and self._zi is None and self._n_pending:
            return self._start()
        return np.zeros((0, self.front_end.n_bins), dtype=np.float32)

    def _start(self):
        own = len(self._pending) > 1  # a concatenation is ours to overwrite
        held = np.concatenate(self._pending) if own else self._pending[0]
        self._pending, self._n_pending = [], 0
        first = held[: pcen_init_frames(self.front_end)].astype(np.float64) * PCEN_INPUT_SCALE
        # lfilter_zi of the smoother [b], [1, b - 1] is 1 - b: the state whose output stays at the median.
        self._zi = (1.0 - pcen_smoothing(self.front_end)) * np.median(first, axis=0, keepdims=True)
        return self._pcen(held, out=held if (own or self.in_place) else None)

    def _pcen(self, S, out=None):
        import librosa

        fe = self.front_end
        out = np.empty(S.shape, dtype=np.float32) if out is None else out
        b = pcen_smoothing(fe)
        for start in range(0, S.shape[0], PCEN_CHUNK_FRAMES):
            stop = min(start + PCEN_CHUNK_FRAMES, S.shape[0])
            P, self._zi = librosa.pcen(S[start:stop].astype(np.float64) * PCEN_INPUT_SCALE, sr=fe.sr,
                                       hop_length=fe.hop_length, gain=fe.pcen_gain, bias=fe.pcen_bias,
                                       power=fe.pcen_power, time_constant=fe.pcen_time_constant_s, eps=PCEN_EPS,
                                       b=b, axis=0, zi=self._zi, return_zf=True)
            out[start:stop] = P
        return out


def transform_magnitudes(S, front_end, *, in_place=False):
    """The front end's magnitude of a whole signal's linear band magnitudes ``S`` (n_frames, n_bins), float32."""
    transform = MagnitudeTransform(front_end, in_place=in_place)
    head, tail = transform.push(S), transform.finish()  # one of them holds every frame
    return tail if head.shape[0] == 0 and tail.shape[0] else head


class BandProfile:
    """The per-band median of a recording's frames, fed in time order in blocks (bounded memory).

    Frames ``0, k, 2k, ...`` of everything fed are kept, ``k`` the smallest power of two for which at
    most ``MAX_PROFILE_FRAMES`` are; ``k`` grows (and the kept frames thin out) as frames arrive, so the
    frames kept, and the median, depend only on the frames fed, not on the blocks.
    """

    def __init__(self, n_bins, *, max_frames=MAX_PROFILE_FRAMES):
        if max_frames < 1:
            raise ParameterError(f"max_frames must be at least 1, got {max_frames}")
        self.n_bins = int(n_bins)
        self.max_frames = int(max_frames)
        self.stride = 1
        self.n_seen = 0
        self._kept = []
        self._n_kept = 0

    def add(self, frames):
        """Feed the next frames, shape (n, n_bins); returns self."""
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != self.n_bins:
            raise ParameterError(f"frames must have shape (n, {self.n_bins}), got {frames.shape}")
        n_total = self.n_seen + frames.shape[0]
        stride = self.stride
        while -(-n_total // stride) > self.max_frames:
            stride *= 2
        if stride != self.stride:  # kept frame j is frame j * old stride: keep every (stride / old)-th
            kept = np.concatenate(self._kept) if self._kept else np.zeros((0, self.n_bins), dtype=np.float32)
            kept = kept[:: stride // self.stride].copy()
            self._kept, self._n_kept, self.stride = [kept], kept.shape[0], stride
        offset = (-self.n_seen) % self.stride
        new = frames[offset :: self.stride].copy()
        self._kept.append(new)
        self._n_kept += new.shape[0]
        self.n_seen = n_total
        return self

    def profile(self):
        """The median of each band over the kept frames, shape (n_bins,), float32 (zeros before any frame)."""
        if self._n_kept == 0:
            return np.zeros(self.n_bins, dtype=np.float32)
        return np.median(np.concatenate(self._kept), axis=0).astype(np.float32)


def band_profile(S, *, max_frames=MAX_PROFILE_FRAMES):
    """:class:`BandProfile` of one spectrogram ``S`` (n_frames, n_bins), shape (n_bins,), float32."""
    S = np.asarray(S)
    return BandProfile(S.shape[1], max_frames=max_frames).add(S).profile()


def whiten(S, profile):
    """``S - profile`` (one value per band), written into ``S`` (float32, shape (n_frames, n_bins))."""
    profile = np.asarray(profile, dtype=np.float32)
    if S.ndim != 2 or profile.shape != (S.shape[1],):
        raise ParameterError(f"profile must have shape ({S.shape[-1]},) for frames of shape {S.shape}, "
                             f"got {profile.shape}")
    S -= profile
    return S
