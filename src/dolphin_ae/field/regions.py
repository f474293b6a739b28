"""Scoring windows and merging them into regions: the heart of ``detect`` and ``embed``.

A recording's windows (:func:`dolphin_ae.audio.pipeline.stream_recording`, read in blocks) are scored
by the run's silence detector. Windows called not silent (probability of silence below the run's
threshold) are merged into regions as the 2019 study did: a window joins the open region when the gap
between the region's end and the window's start is under ``min_gap_s`` (0.1 s); regions shorter than
``min_region_s`` (one window by default) are dropped. A region's score is the mean not-silence
probability of the windows from its first to its last, silent windows bridged by the gap rule included.

Scoring, one model call per batch, is :mod:`dolphin_ae.field.scoring`'s.

Times are in seconds from the start of the recording.
"""

from dataclasses import dataclass, field

import numpy as np

from dolphin_ae.audio.blocks import check_task_s
from dolphin_ae.audio.pipeline import stream_recording, with_step_frames
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field.scoring import BATCHES_AHEAD, check_codes, made_ahead, normalised_batches, score_batch

# Seconds of audio per task when the Dask engine splits a long recording (field/spans.py says why).
DEFAULT_TASK_S = 600.0

@dataclass
class Region:
    """A stretch of a recording called not silent.

    ``start_s``/``end_s`` in seconds from the recording's start; ``score`` the mean not-silence
    probability of its windows; ``code`` their mean code (latent_dim,) or None.
    """

    start_s: float
    end_s: float
    score: float
    n_windows: int
    code: np.ndarray = None

    @property
    def duration_s(self):
        return self.end_s - self.start_s


@dataclass
class RegionMerger:
    """Merge windows, fed in time order, into regions, keeping only running sums (constant memory).

    Parameters
    ----------
    window_s : float
        Duration of one window (s).
    min_gap_s : float
        A not-silent window joins the open region when its start is less than this after the
        region's end (s).
    min_region_s : float
        Regions shorter than this are dropped (s).
    """

    window_s: float
    min_gap_s: float = 0.1
    min_region_s: float = 0.0
    _open: dict = field(default=None, repr=False)
    _pending: dict = field(default=None, repr=False)

    def _sums(self, p_not_silence, code):
        return {"p": float(p_not_silence), "n": 1, "code": None if code is None else code.astype(np.float64)}

    @staticmethod
    def _add(total, part):
        total["p"] += part["p"]
        total["n"] += part["n"]
        if total["code"] is not None:
            total["code"] = total["code"] + part["code"]

    def _close(self):
        region, self._open, self._pending = self._open, None, None
        if region is None or region["end_s"] - region["start_s"] < self.min_region_s:
            return []
        code = None if region["code"] is None else (region["code"] / region["n"]).astype(np.float32)
        return [Region(start_s=region["start_s"], end_s=region["end_s"], score=region["p"] / region["n"],
                       n_windows=region["n"], code=code)]

    def add(self, start_s, p_not_silence, is_signal, code=None):
        """Feed one window; returns the regions this window closed (a list, usually empty)."""
        closed = []
        window = self._sums(p_not_silence, code)
        if is_signal:
            if self._open is not None and start_s - self._open["end_s"] < self.min_gap_s:
                if self._pending is not None:
                    self._add(self._open, self._pending)
                self._add(self._open, window)
                self._open["end_s"] = start_s + self.window_s
                self._pending = None
            else:
                closed = self._close()
                self._open = {"start_s": start_s, "end_s": start_s + self.window_s, **window}
        elif self._open is not None:
            if start_s - self._open["end_s"] >= self.min_gap_s:
                closed = self._close()  # no later window can be within the gap
            elif self._pending is None:
                self._pending = window
            else:
                self._add(self._pending, window)
        return closed

    def finish(self):
        """Close the open region at the end of the recording; returns it in a list (or [])."""
        return self._close()


@dataclass
class DetectionOptions:
    """Every option of ``detect``/``embed``; see ``detect_file``."""

    step_frames: int = None
    min_gap_s: float = 0.1
    min_region_s: float = None
    channel: int = 0
    block_s: float = 10.0
    batch_size: int = 64
    task_s: float = DEFAULT_TASK_S

    def check(self):
        if self.step_frames is not None and (not isinstance(self.step_frames, (int, np.integer)) or self.step_frames < 1):
            raise ParameterError(f"step_frames must be a positive integer, got {self.step_frames!r}")
        if self.min_gap_s < 0:
            raise ParameterError(f"min_gap_s must be >= 0 s, got {self.min_gap_s}")
        if self.min_region_s is not None and self.min_region_s < 0:
            raise ParameterError(f"min_region_s must be >= 0 s, got {self.min_region_s}")
        if self.channel < 0:
            raise ParameterError(f"channel must be >= 0, got {self.channel}")
        if self.block_s <= 0:
            raise ParameterError(f"block_s must be a positive duration in s, got {self.block_s}")
        if self.batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {self.batch_size}")
        check_task_s(self.task_s)
        return self


def window_geometry(front_end, step_frames=None):
    """The front end stepping by ``step_frames`` (default: its own), and window duration (s)."""
    fe = with_step_frames(front_end, step_frames)
    return fe, fe.window_samples / fe.sr


def scan_recording(run, path, *, options=None, with_codes=False, progress=None):
    """Score every window of one recording, block by block.

    Yields
    ------
    start_s : np.ndarray, shape (n,)
        Window starts (s).
    p_silence : np.ndarray, shape (n,)
    codes : np.ndarray, shape (n, latent_dim), or None
    """
    options = (options or DetectionOptions()).check()
    if with_codes:
        check_codes(run)
    fe, _ = window_geometry(run.front_end, options.step_frames)
    yield from score_stream(run, stream_recording(path, fe, channel=options.channel, block_s=options.block_s),
                            options=options, with_codes=with_codes, progress=progress)


def score_stream(run, pieces, *, options, with_codes=False, progress=None):
    """:func:`scan_recording`'s batches of the streamed windows ``pieces`` (``(first_window, windows)`` pairs
    of a front end stepping by ``options.step_frames``): window starts (s), probability of silence, codes."""
    fe, _ = window_geometry(run.front_end, options.step_frames)
    step_samples = fe.step_frames * fe.hop_length
    batches = normalised_batches(pieces, fe, batch_size=options.batch_size)
    if BATCHES_AHEAD:
        batches = made_ahead(batches, depth=BATCHES_AHEAD)
    for first, x, n in batches:
        p_silence, codes = score_batch(run, x, with_codes=with_codes)
        start_s = (first + np.arange(n)) * step_samples / fe.sr
        if progress is not None:
            progress.update(n * step_samples / fe.sr)
        yield start_s, p_silence[:n], (None if codes is None else codes[:n])


def detect_file(run, path, *, options=None, with_codes=False, progress=None, on_windows=None, scans=None):
    """Non-silent regions of one recording.

    Parameters
    ----------
    run : DetectorRun
    path : str or Path
        A recording of any length (WAV, FLAC; any rate at least twice the band's top; any channels).
    options : DetectionOptions
        ``step_frames`` (frames between window starts; the run's by default), ``min_gap_s`` (s),
        ``min_region_s`` (s; one window by default), ``channel``, ``block_s`` (s read at a time),
        ``batch_size`` (windows per model call), ``task_s`` (s of audio per task when the Dask engine
        splits a long recording; not used here).
    with_codes : bool
        Also average the windows' codes into each region's ``code``.
    on_windows : callable or None
        Called as ``on_windows(start_s, end_s, p_not_silence, is_signal, codes)`` for every batch
        of windows, in time order (for per-window output).
    scans : iterable or None
        The recording's windows already scored, in time order, as :func:`scan_recording` yields them
        (from the spans that tasks scored, :mod:`dolphin_ae.field.spans`); None: read and score ``path``.

    Returns
    -------
    regions : list of Region, in time order

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    options = (options or DetectionOptions()).check()
    _, window_s = window_geometry(run.front_end, options.step_frames)
    min_region_s = window_s if options.min_region_s is None else options.min_region_s
    # Window lengths are sums of float seconds; a hair of tolerance keeps one-window regions.
    merger = RegionMerger(window_s=window_s, min_gap_s=options.min_gap_s, min_region_s=min_region_s - 1e-9)
    regions = []
    if scans is None:
        scans = scan_recording(run, path, options=options, with_codes=with_codes, progress=progress)
    for start_s, p_silence, codes in scans:
        p_not_silence = 1.0 - p_silence
        is_signal = p_silence < run.threshold
        if on_windows is not None:
            on_windows(start_s, start_s + window_s, p_not_silence, is_signal, codes)
        for k in range(start_s.shape[0]):
            regions += merger.add(float(start_s[k]), float(p_not_silence[k]), bool(is_signal[k]),
                                  None if codes is None else codes[k])
    return regions + merger.finish()
