"""The one way from a recording to spectrogram windows: read, keep a channel, resample, frame, band, normalise.

Every window of the package comes through here: the data set's (:mod:`dolphin_ae.data.windows`, whole
files), the sequence chapters' (:func:`clip_windows`, whole files or spans of them) and the field tool's
(:func:`stream_recording`, recordings of any length read in blocks). A whole file is one block; both go
through the same steps:

1. read float32 samples with libsndfile and keep one channel (``channel``, 0 is the first), refusing NaN
   or infinite samples and files that hold fewer samples than their header says (:func:`iter_audio_blocks`);
2. resample to the front end's rate with one streaming soxr resampler per recording (:class:`Resampler`,
   high quality). Its samples do not depend on how the recording is cut into blocks, and the signal ends
   at ``ceil(n * (sr / native_sr))`` samples (a zero makes up the last one when soxr gives one fewer), as
   the data set's ``librosa.resample(..., res_type="soxr_hq")`` made it;
3. transform frames (:func:`dolphin_ae.audio.spectrogram.band_spectrogram`) into the front end's magnitude
   (PCEN's state carried across blocks) and, with whitening, subtract the recording's band profile (a
   file read in blocks: from a first pass), :mod:`dolphin_ae.audio.gain`;
4. cut the frames into windows (:func:`~dolphin_ae.audio.spectrogram.spectrogram_windows`); streamed,
   frames and windows that straddle a block border are completed from the next block (:func:`stream_windows`);
5. normalise each window on its own (:func:`normalise`).

The windows of a file read whole and read in blocks are therefore the same numbers
(``tests/audio/test_pipeline.py`` checks the data set, :func:`clip_windows` and the field tool against
each other). Window ``j`` of a recording covers samples ``j * step_frames * hop_length`` ..
``+ window_samples`` at the front end's rate.
"""

import dataclasses
from pathlib import Path

import numpy as np
import soundfile

from dolphin_ae.audio.gain import BandProfile, MagnitudeTransform, band_profile, whiten
from dolphin_ae.audio.loading import check_audio_file, pad_to_length
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram, normalize_windows, spectrogram_windows
from dolphin_ae.constants import SEED_SR
from dolphin_ae.exceptions import AudioError, ParameterError

_READ_ERRORS = (RuntimeError, soundfile.LibsndfileError, OSError)


class Resampler:
    """Resample one signal, block by block, from ``orig_sr`` to ``target_sr`` Hz (soxr, high quality).

    The samples are those of resampling the whole signal at once (soxr's streaming and one-shot
    resamplers agree sample for sample, whatever the blocks); :meth:`finish` ends the signal at
    :meth:`output_length` samples. At equal rates blocks pass through unchanged.
    """

    def __init__(self, orig_sr, target_sr):
        self.orig_sr, self.target_sr = int(orig_sr), int(target_sr)
        self.n_in = self.n_out = 0
        self._stream = None
        if self.orig_sr != self.target_sr:
            import soxr

            self._stream = soxr.ResampleStream(self.orig_sr, self.target_sr, 1, dtype="float32", quality="HQ")

    def output_length(self, n_in):
        """Samples of the resampled signal of ``n_in`` input samples: ``ceil(n_in * (target_sr / orig_sr))``.

        This is ``librosa.resample``'s length (the ratio rounded first), which the data set's windows were
        computed with. :func:`dolphin_ae.audio.loading.resampled_length`, which plans the data set from the
        headers, rounds ``n_in * target_sr / orig_sr`` instead; at some rates (88.2 kHz, for one) the two
        differ by one trailing zero when that quotient is a whole number, which never reaches a planned window.
        """
        if self._stream is None:
            return int(n_in)
        return int(np.ceil(n_in * (float(self.target_sr) / self.orig_sr)))

    def push(self, y):
        """The resampled samples that ``y`` (shape (n,), float32, the next input samples) completes."""
        self.n_in += y.shape[0]
        out = y if self._stream is None else self._stream.resample_chunk(y, last=False)
        self.n_out += out.shape[0]
        return out

    def finish(self):
        """The signal's last samples: what the resampler still holds, then zeros up to :meth:`output_length`."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        missing = self.output_length(self.n_in) - self.n_out - len(tail)
        tail = np.concatenate([tail, np.zeros(missing, dtype=np.float32)]) if missing > 0 else \
            tail[: max(0, len(tail) + missing)]
        self.n_out += tail.shape[0]
        return tail


def _resampled_blocks(path, *, sr, channel, block_s):
    """Blocks of one channel of ``path`` at ``sr`` Hz, ``block_s`` seconds of the file at a time (None: one block).

    Reading whole, the messages are those of :func:`load_audio`; streamed, they say where in the file.
    """
    if sr <= 0:
        raise ParameterError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    if channel < 0:
        raise ParameterError(f"channel must be >= 0, got {channel!r}")
    whole = block_s is None
    try:
        handle = soundfile.SoundFile(str(path))
    except _READ_ERRORS as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from error
    with handle:
        native_sr, expected = handle.samplerate, handle.frames
        block_frames = -1 if whole else max(1, int(round(block_s * native_sr)))
        resampler = Resampler(native_sr, sr)
        position = 0
        while True:
            try:
                data = handle.read(block_frames, dtype="float32", always_2d=True)
            except _READ_ERRORS as error:
                if whole:
                    raise AudioError(f"{path}: cannot be read as audio ({error})") from error
                raise AudioError(f"{path}: read failed after {position / native_sr:.1f} s ({error})") from error
            if whole and data.shape[0] == 0:
                raise AudioError(f"{path}: holds no samples")
            if whole and data.shape[0] < expected:
                raise AudioError(f"{path}: is truncated: {data.shape[0]} of {expected} samples could be read")
            if data.shape[0] == 0:
                break
            y = np.ascontiguousarray(data[:, channel])
            if not np.all(np.isfinite(y)):
                where = "" if whole else (f" (in {position / native_sr:.1f}-"
                                          f"{(position + data.shape[0]) / native_sr:.1f} s)")
                raise AudioError(f"{path}: contains NaN or infinite samples{where}")
            position += data.shape[0]
            block = resampler.push(y)
            if block.shape[0]:
                yield block
            if whole:
                break
    if position < expected:
        raise AudioError(f"{path}: is truncated: {position} of {expected} samples could be read")
    tail = resampler.finish()
    if tail.shape[0]:
        yield tail


def iter_audio_blocks(path, *, sr, channel=0, block_s=10.0):
    """Mono float32 blocks of ``path`` at ``sr`` Hz, read ``block_s`` seconds (of the file's rate) at a time.

    Yields arrays of shape (n,), n varying; concatenated they are :func:`load_audio`'s waveform, whatever
    ``block_s``. The header is not checked here (see :func:`audio_info`).

    Raises
    ------
    AudioError
        The file cannot be read, a block holds NaN or infinite samples, or the file ends before its
        header says.
    """
    if block_s <= 0:
        raise ParameterError(f"block_s must be a positive duration in s, got {block_s!r}")
    yield from _resampled_blocks(Path(path), sr=sr, channel=channel, block_s=block_s)


def load_audio(path, *, sr=SEED_SR, channel=0, fmax_hz=None, min_duration_s=0.0):
    """Read one recording as a float32 mono waveform at ``sr`` Hz (the whole file as one block).

    Parameters
    ----------
    path : str or Path
        A WAV or FLAC file (16/24/32-bit integer or float samples).
    sr : int
        Sample rate of the result (Hz). Other rates are resampled by :class:`Resampler`.
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
        The file cannot be used (unreadable, empty, truncated, NaN or infinite samples, missing
        channel, rate too low, too short); the message names it and says why.
    """
    path = Path(path)
    if sr <= 0:
        raise ParameterError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    if channel < 0:
        raise ParameterError(f"channel must be >= 0, got {channel!r}")
    check_audio_file(path, channel=channel, fmax_hz=fmax_hz, min_duration_s=min_duration_s)
    pieces = list(_resampled_blocks(path, sr=sr, channel=channel, block_s=None))
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def audio_info(path, *, channel=0, front_end=None):
    """Check from its header that ``path`` can be analysed and is at least one window long.

    Returns
    -------
    dolphin_ae.audio.loading.AudioInfo

    Raises
    ------
    AudioError
        Missing, unreadable, empty, truncated, missing the channel, recorded at a rate too low for
        the band, or shorter than one window.
    """
    fe = front_end or FrontEnd()
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    info = check_audio_file(path, channel=channel, fmax_hz=fe.fmax_hz)
    if info.frames / info.sr * fe.sr < fe.window_samples:
        raise AudioError(f"{path}: lasts {info.frames / info.sr:.3f} s, shorter than one window "
                         f"({fe.window_samples / fe.sr:.3f} s)")
    return info


def with_step_frames(front_end, step_frames=None):
    """``front_end`` with windows every ``step_frames`` frames (None: its own step)."""
    if step_frames is None:
        return front_end
    if not isinstance(step_frames, (int, np.integer)) or step_frames < 1:
        raise ParameterError(f"step_frames must be a positive integer, got {step_frames!r}")
    return dataclasses.replace(front_end, step_frames=int(step_frames))


def segment(y, sr, start_s=None, end_s=None):
    """``y[start_s:end_s]`` (s, rounded to samples at ``sr``); the whole of ``y`` when ``start_s`` is None or NaN."""
    if start_s is None or not np.isfinite(start_s):
        return y
    start = max(0, int(round(float(start_s) * sr)))
    stop = y.shape[0] if end_s is None or not np.isfinite(end_s) else min(y.shape[0], int(round(float(end_s) * sr)))
    return y[start:stop]


def waveform_frames(y, front_end, *, pad_mode=None):
    """The front end's band magnitudes (n_frames, n_bins), float32, of a whole waveform (not whitened), and
    whether it was padded: a non-empty waveform shorter than one window is centred in one window, padded
    by ``pad_mode`` ("reflect" or "zeros", :func:`dolphin_ae.audio.loading.pad_to_length`); None leaves it."""
    padded = pad_mode is not None and 0 < y.shape[0] < front_end.window_samples
    if padded:
        y = pad_to_length(y, front_end.window_samples, mode=pad_mode)
    return band_spectrogram(y, front_end), padded


def waveform_windows(y, front_end, *, pad_mode=None, profile=None):
    """Un-normalised windows of a whole waveform at ``front_end.sr``, padded as :func:`waveform_frames` pads.

    With whitening, ``profile`` (n_bins,) is subtracted (None: the profile of ``y`` itself).

    Returns
    -------
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32
        A read-only view; window ``j`` starts at sample ``j * step_frames * hop_length``.
    padded : bool
    """
    S, padded = waveform_frames(y, front_end, pad_mode=pad_mode)
    if front_end.whitening != "none":  # S is ours: whitened in place
        whiten(S, band_profile(S) if profile is None else profile)
    return spectrogram_windows(S, front_end), padded


def file_profile(y, front_end, *, pad_mode=None):
    """The band profile (n_bins,) of a whole file's waveform ``y``, as the data set computes it for a file
    that is a recording of its own (padded as the data set pads it)."""
    return band_profile(waveform_frames(y, front_end, pad_mode=pad_mode)[0])


def normalise(windows, front_end, *, out=None):
    """Each window normalised on its own by the front end's rule, as a float32 copy of the same shape
    (written into ``out`` when given, :func:`~dolphin_ae.audio.spectrogram.normalize_windows`)."""
    return normalize_windows(windows, method=front_end.normalization, out=out)


def clip_windows(path, front_end, *, channel=0, start_s=None, end_s=None, y=None, pad_mode=None, profile=None):
    """Normalised windows of one clip (or of its span ``start_s``..``end_s``, s), shape
    (n_windows, window_frames, n_bins), float32.

    ``y`` is the file's waveform when already read (:func:`load_audio` at ``front_end.sr``).
    ``pad_mode`` (``"reflect"`` or ``"zeros"``) pads a span shorter than one window to one window, as
    the data set does; None refuses it. With whitening, ``profile`` (n_bins,) is subtracted; None takes
    the whole file's (:func:`file_profile`), also for a span. A span's PCEN starts afresh at the span.

    Raises
    ------
    AudioError
        When the clip cannot be read or is shorter than one window (and ``pad_mode`` is None).
    """
    if y is None:
        y = load_audio(path, sr=front_end.sr, channel=channel, fmax_hz=front_end.fmax_hz)
    if front_end.whitening != "none" and profile is None:
        profile = file_profile(y, front_end, pad_mode=pad_mode)
    y = segment(y, front_end.sr, start_s, end_s)
    windows, _ = waveform_windows(y, front_end, pad_mode=pad_mode, profile=profile)
    if windows.shape[0] == 0:
        raise AudioError(f"{path}: lasts {y.shape[0] / front_end.sr:.3f} s, shorter than one window "
                         f"({front_end.window_samples / front_end.sr:.3f} s)")
    return normalise(windows, front_end)


def _stream_frames(blocks, fe):
    """The front end's band magnitudes (not whitened) of a waveform that arrives in blocks, in pieces of
    shape (n, n_bins), float32; concatenated, ``band_spectrogram`` of the whole waveform."""
    samples = np.zeros(0, dtype=np.float32)
    magnitudes = MagnitudeTransform(fe)
    for block in blocks:
        samples = np.concatenate([samples, np.asarray(block, dtype=np.float32)])
        if samples.shape[0] < fe.n_fft:
            continue
        n_new = 1 + (samples.shape[0] - fe.n_fft) // fe.hop_length
        new_frames = band_spectrogram(samples[: (n_new - 1) * fe.hop_length + fe.n_fft], fe, linear=True)
        samples = samples[n_new * fe.hop_length :].copy()
        yield magnitudes.push(new_frames)
    yield magnitudes.finish()


def stream_profile(blocks, front_end):
    """The band profile (n_bins,), float32, of a waveform that arrives in blocks (memory bounded by the
    block and ``MAX_PROFILE_FRAMES``); equal to ``band_profile(band_spectrogram(y))`` of the whole."""
    profile = BandProfile(front_end.n_bins)
    for frames in _stream_frames(blocks, front_end):
        profile.add(frames)
    return profile.profile()


def stream_windows(blocks, front_end=None, *, profile=None):
    """Spectrogram windows of a waveform that arrives in blocks, identical to whole-signal processing.

    Parameters
    ----------
    blocks : iterable of np.ndarray, each shape (n,), float
        Consecutive pieces of one waveform at ``front_end.sr``.
    profile : np.ndarray, shape (n_bins,), or None
        The band profile to subtract; needed (and used) only when the front end whitens
        (:func:`stream_profile` of the same blocks).

    Yields
    ------
    first_window : int
        Index (in the whole recording) of the first window of this batch.
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32
        Un-normalised magnitude windows; the same values as
        ``waveform_windows(y, profile=profile)[0][first_window:first_window + n_windows]``.
    """
    fe = front_end or FrontEnd()
    if fe.whitening != "none" and profile is None:
        raise ParameterError(f"whitening={fe.whitening!r} needs the recording's band profile; "
                             "pass profile=stream_profile(blocks, front_end) from a first pass")
    frames = np.zeros((0, fe.n_bins), dtype=np.float32)
    skip_frames = 0  # frames still to drop before the next window starts (step longer than a window)
    next_window = 0
    for new_frames in _stream_frames(blocks, fe):
        if new_frames.shape[0] == 0:
            continue
        if fe.whitening != "none":  # the frames are a new array each time
            whiten(new_frames, profile)
        if skip_frames:
            dropped = min(skip_frames, new_frames.shape[0])
            new_frames, skip_frames = new_frames[dropped:], skip_frames - dropped
        frames = np.concatenate([frames, new_frames])
        windows = spectrogram_windows(frames, fe)
        if windows.shape[0] == 0:
            continue
        yield next_window, windows
        next_window += windows.shape[0]
        consumed = windows.shape[0] * fe.step_frames
        skip_frames = max(0, consumed - frames.shape[0])
        frames = frames[consumed:].copy()


def recording_profile(path, front_end, *, channel=0, block_s=10.0):
    """The band profile (n_bins,), float32, that a whitening front end subtracts from ``path``'s frames: the
    first pass of :func:`stream_recording`, and what each span of the recording subtracts
    (:func:`dolphin_ae.audio.blocks.stream_span`). The header is checked first (:func:`audio_info`).

    Raises
    ------
    ParameterError
        The front end does not whiten.
    AudioError
        The recording cannot be used.
    """
    fe = front_end
    if fe.whitening == "none":
        raise ParameterError("a band profile is subtracted only by a whitening front end (whitening='none' here)")
    audio_info(path, channel=channel, front_end=fe)
    return stream_profile(iter_audio_blocks(path, sr=fe.sr, channel=channel, block_s=block_s), fe)


def stream_recording(path, front_end, *, channel=0, block_s=10.0):
    """Un-normalised windows of a recording of any length, ``block_s`` seconds read at a time.

    The header is checked first (:func:`audio_info`); then :func:`stream_windows` over
    :func:`iter_audio_blocks`. With whitening, a first pass over the blocks computes the file's band
    profile (:func:`stream_profile`), so the file is read twice. Memory depends on ``block_s``, not on
    the recording's length.

    Yields
    ------
    first_window : int
    windows : np.ndarray, shape (n_windows, window_frames, n_bins), float32

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    profile = None
    if front_end.whitening != "none":  # checks the header before its pass
        profile = recording_profile(path, front_end, channel=channel, block_s=block_s)
    else:
        audio_info(path, channel=channel, front_end=front_end)
    blocks = iter_audio_blocks(path, sr=front_end.sr, channel=channel, block_s=block_s)
    yield from stream_windows(blocks, front_end, profile=profile)
