"""A long recording as several Dask tasks: spans of about ``task_s`` seconds scored apart, regions merged whole.

One task per recording leaves workers idle when one recording is most of the work (a 10-hour recording on
2 workers keeps one busy). On the Dask engine a recording longer than ``task_s`` is therefore cut into spans
of whole windows (:func:`dolphin_ae.audio.blocks.plan_spans`); each span is a task that streams only its
samples (:func:`dolphin_ae.audio.blocks.stream_span`, the windows of the whole stream to the bit) and scores
them. A last task takes the spans' scores in time order and writes the recording's one part as before
(:func:`dolphin_ae.field.parts.write_part`): regions are merged over the whole recording, so a region that
crosses a span's edge is one region, as in one task.

``task_s`` defaults to 600 s: a span of 600 s at 48 kHz is about 7000 windows, about 10 minutes of model
time for the full ConvNet v5 on a 2-core machine (it encodes about 12 windows/s there), against a task's
fixed cost: a header read, the run from the worker's cache and, for PCEN front ends, 40 s of warm-up
frames (no model calls); ``bench/engine.py`` times spans against one task (``bench/RESULTS.md``). A
10-hour recording makes 60 tasks, enough for dozens of workers. The scores of a span travel to the last
task: per window 8 + 4 bytes, and ``4 * latent_dim`` more with codes; the audio never does.

With a whitening front end a first task computes the recording's band profile (one pass through the front
end, no model calls; about a tenth of a span's work per span of audio) and every span task waits for it and
subtracts it: the windows are the whole stream's to the bit. Recordings at another rate than the run's stay
one task (:mod:`dolphin_ae.audio.blocks` says why); so does every recording on the local engine.
"""

import functools
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from dolphin_ae.audio.blocks import plan_spans, stream_span
from dolphin_ae.audio.pipeline import recording_profile
from dolphin_ae.exceptions import AudioError
from dolphin_ae.field.engine_run import cached_run
from dolphin_ae.field.parts import recording_stat
from dolphin_ae.field.regions import score_stream, window_geometry


@dataclass(frozen=True)
class SpanPlan:
    """A recording's span tasks, in time order, and the task they wait for, if any.

    ``spans``: picklable callables taking the path as a recording's task does, and the keyword arguments
    that ``prepare`` returned. ``prepare``: None, or a picklable callable taking the path and returning
    those keyword arguments (the band profile of a whitening front end, :func:`span_profile`).
    """

    spans: list
    prepare: Optional[Callable] = None


def span_tasks(spec, options, with_codes, front_end, path):
    """The :class:`SpanPlan` of ``path``, or None to keep it one task: short, at another rate, or not usable
    (the recording's own task then says why)."""
    fe, _ = window_geometry(front_end, options.step_frames)
    try:
        spans = plan_spans(path, fe, channel=options.channel, task_s=options.task_s)
    except AudioError:
        return None
    if spans is None:
        return None
    prepare = functools.partial(span_profile, fe, options) if fe.whitening != "none" else None
    return SpanPlan([functools.partial(score_span, spec, options, with_codes, first, stop) for first, stop in spans],
                    prepare)


def span_profile(front_end, options, path, progress=None):
    """``{"profile": the recording's band profile}`` for its spans to subtract (a whitening front end).

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    return {"profile": recording_profile(path, front_end, channel=options.channel, block_s=options.block_s)}


def score_span(spec, options, with_codes, first_window, stop_window, path, progress=None, profile=None):
    """One span's scores: ``{"stat": recording_stat (taken before reading), "scan": (start_s, p_silence,
    codes)}``, arrays of shapes (n,), (n,) and (n, latent_dim) or None, n = ``stop_window - first_window``.
    ``progress`` is accepted as every task's is and not drawn (spans run on workers). ``profile``: the
    recording's band profile, with a whitening front end (:func:`span_profile`).

    Raises
    ------
    AudioError
        The recording cannot be used.
    """
    stat = recording_stat(path)
    run = cached_run(spec)
    fe, _ = window_geometry(run.front_end, options.step_frames)
    pieces = stream_span(path, fe, first_window, stop_window, channel=options.channel, block_s=options.block_s,
                         profile=profile)
    scans = list(score_stream(run, pieces, options=options, with_codes=with_codes))
    start_s = np.concatenate([s for s, _, _ in scans])
    p_silence = np.concatenate([p for _, p, _ in scans])
    codes = np.concatenate([c for _, _, c in scans]) if with_codes else None
    if start_s.shape[0] != stop_window - first_window:
        raise AudioError(f"{path}: gave {start_s.shape[0]} of the {stop_window - first_window} windows of "
                         f"{first_window}-{stop_window - 1}; it changed while it was read")
    return {"stat": stat, "scan": (start_s, p_silence, codes)}


def spans_scans(path, spans):
    """The spans' scores in time order, and the recording's stat before any was read.

    Raises
    ------
    AudioError
        The recording changed between the spans' reads (size or modification time).
    """
    stats = [span["stat"] for span in spans]
    if any(stat != stats[0] for stat in stats[1:]) or stats[0] is None:
        raise AudioError(f"{path}: changed while its spans were read")
    return [span["scan"] for span in spans], stats[0]
