"""A long recording cut into spans of whole windows that separate tasks can stream, each giving exactly the
windows that the whole-recording stream (:func:`dolphin_ae.audio.pipeline.stream_recording`) gives there.

Window ``j`` of a recording covers samples ``j * step_samples`` .. ``+ window_samples`` (``step_samples =
step_frames * hop_length``), so a span of windows ``first .. stop - 1`` needs only samples
``first * step_samples`` .. ``(stop - 1) * step_samples + window_samples``: frames are taken on the
recording's hop grid and each window is cut from its own frames. What else a window depends on decides
where a span may start:

- ``linear`` and ``log`` magnitudes act on each frame alone: a span reads nothing more.
- ``pcen`` carries a smoother over time (:mod:`dolphin_ae.audio.gain`; time constant 0.4 s). A span
  reads ``PCEN_WARMUP_TIME_CONSTANTS`` time constants (whole window steps) before its first window and
  drops the windows there: the smoother, started from that stretch's own median, has forgotten its start
  by a factor ``exp(-100)``, far under float64's resolution, and its float64 state has then reached the
  whole recording's to the bit (``tests/audio/test_blocks.py`` checks the windows).
- resampling is not split: soxr's streaming resampler, started anywhere but at the recording's start,
  differs from the whole recording's in the last bit of most samples, whatever the margin (measured at
  96 and 44.1 kHz to 48 kHz, margins of 0.05-2 s), so a recording at another rate stays one span.
- whitening subtracts a profile of the whole recording, the per-band median of its frames (a first pass
  over all of it, :func:`dolphin_ae.audio.pipeline.recording_profile`, the whole stream's own). The
  profile is computed once, and each span subtracts it from its own frames: frames are whitened one by
  one, so a span's windows are the whole stream's.

:func:`plan_spans` says how a recording is cut (``None``: not at all); :func:`stream_span` streams one span.
"""

import numpy as np
import soundfile

from dolphin_ae.audio.pipeline import audio_info, stream_windows
from dolphin_ae.exceptions import AudioError, ParameterError

# Time constants of PCEN's smoother read before a span's first window (40 s at the 0.4 s default).
PCEN_WARMUP_TIME_CONSTANTS = 100
_READ_ERRORS = (RuntimeError, soundfile.LibsndfileError, OSError)


def n_windows_of(n_samples, front_end):
    """Windows of a signal of ``n_samples`` samples at ``front_end.sr``, as the stream cuts them."""
    fe = front_end
    if n_samples < fe.n_fft:
        return 0
    n_frames = 1 + (n_samples - fe.n_fft) // fe.hop_length
    return 0 if n_frames < fe.window_frames else 1 + (n_frames - fe.window_frames) // fe.step_frames


def warmup_windows(front_end):
    """Window steps read (and dropped) before a span's first window: PCEN's warm-up, none otherwise."""
    fe = front_end
    if fe.magnitude != "pcen":
        return 0
    step_s = fe.step_frames * fe.hop_length / fe.sr
    return int(np.ceil(PCEN_WARMUP_TIME_CONSTANTS * fe.pcen_time_constant_s / step_s))


def check_task_s(task_s):
    """``task_s`` (s of audio per task) as a float; ``ParameterError`` unless positive and finite."""
    if isinstance(task_s, bool) or not isinstance(task_s, (int, float, np.integer, np.floating)) \
            or not np.isfinite(task_s) or task_s <= 0:
        raise ParameterError(f"task_s (--task-s) must be a positive, finite duration in s, got {task_s!r}")
    return float(task_s)


def plan_spans(path, front_end, *, channel=0, task_s=600.0):
    """How to cut ``path`` into spans of about ``task_s`` seconds of windows, or None to keep it whole.

    Returns
    -------
    spans : list of (first_window, stop_window) or None
        Consecutive, covering every window of the recording; None when it holds no more than one span's
        windows or is at another rate than ``front_end.sr`` (see the module).

    Raises
    ------
    ParameterError
        ``task_s`` is not a positive duration, or shorter than one window step.
    AudioError
        The recording cannot be used (from its header).
    """
    fe = front_end
    task_s = check_task_s(task_s)
    step_samples = fe.step_frames * fe.hop_length
    per_span = int(round(task_s * fe.sr / step_samples))
    if per_span < 1:
        raise ParameterError(f"task_s (--task-s) must be at least one window step ({step_samples / fe.sr:.4f} s), "
                             f"got {task_s}")
    info = audio_info(path, channel=channel, front_end=fe)
    if info.sr != fe.sr:
        return None
    n_windows = n_windows_of(info.frames, fe)
    if n_windows <= per_span:
        return None
    return [(first, min(first + per_span, n_windows)) for first in range(0, n_windows, per_span)]


def _read_span(path, start, stop, *, channel, block_s):
    """Samples ``start .. stop`` of one channel of ``path`` (at its own rate), ``block_s`` seconds at a time."""
    try:
        handle = soundfile.SoundFile(str(path))
    except _READ_ERRORS as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from error
    with handle:
        sr = handle.samplerate
        block_frames = max(1, int(round(block_s * sr)))
        position = start
        try:
            handle.seek(start)
        except _READ_ERRORS as error:
            raise AudioError(f"{path}: cannot seek to {start / sr:.1f} s ({error})") from error
        while position < stop:
            try:
                data = handle.read(min(block_frames, stop - position), dtype="float32", always_2d=True)
            except _READ_ERRORS as error:
                raise AudioError(f"{path}: read failed after {position / sr:.1f} s ({error})") from error
            if data.shape[0] == 0:
                raise AudioError(f"{path}: is truncated: it ends at {position / sr:.1f} s, before its header says")
            y = np.ascontiguousarray(data[:, channel])
            if not np.all(np.isfinite(y)):
                raise AudioError(f"{path}: contains NaN or infinite samples (in {position / sr:.1f}-"
                                 f"{(position + data.shape[0]) / sr:.1f} s)")
            position += data.shape[0]
            yield y


def stream_span(path, front_end, first_window, stop_window, *, channel=0, block_s=10.0, profile=None):
    """Un-normalised windows ``first_window .. stop_window - 1`` of a recording, read from the file's span.

    Parameters
    ----------
    path : str or Path
        A recording at ``front_end.sr`` (a span of :func:`plan_spans`).
    first_window, stop_window : int
        Window indices in the whole recording.
    block_s : float
        Seconds read at a time.
    profile : np.ndarray, shape (n_bins,), or None
        With a whitening front end, the whole recording's band profile
        (:func:`dolphin_ae.audio.pipeline.recording_profile`);
        needed then, refused otherwise.

    Yields
    ------
    first : int
        Index (in the whole recording) of the first window of this batch.
    windows : np.ndarray, shape (n, window_frames, n_bins), float32
        The values of :func:`dolphin_ae.audio.pipeline.stream_recording`'s windows ``first .. first + n - 1``.

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    fe = front_end
    if not 0 <= first_window < stop_window:
        raise ParameterError(f"need 0 <= first_window < stop_window, got {first_window}, {stop_window}")
    info = audio_info(path, channel=channel, front_end=fe)
    if info.sr != fe.sr:
        raise ParameterError(f"{path}: a span can be streamed only at the front end's rate ({fe.sr} Hz, the file "
                             f"has {info.sr} Hz)")
    if (fe.whitening != "none") != (profile is not None):
        raise ParameterError(f"{path}: whitening={fe.whitening!r}: a span needs the recording's band profile "
                             "(recording_profile) exactly when the front end whitens")
    step_samples = fe.step_frames * fe.hop_length
    lead = min(first_window, warmup_windows(fe))  # window steps read before the span, then dropped
    start = (first_window - lead) * step_samples
    stop = (stop_window - 1) * step_samples + fe.window_samples
    if stop > info.frames:
        raise ParameterError(f"{path}: window {stop_window - 1} ends at sample {stop}, after the recording's "
                             f"{info.frames} samples")
    offset = first_window - lead
    blocks = _read_span(path, start, stop, channel=channel, block_s=block_s)
    for first, windows in stream_windows(blocks, fe, profile=profile):
        first += offset
        keep_from = max(0, first_window - first)
        keep_to = min(windows.shape[0], stop_window - first)
        if keep_to > keep_from:
            yield first + keep_from, windows[keep_from:keep_to]
