"""Spans of a long recording streamed on their own give the whole recording's windows to the bit."""

import numpy as np
import pytest
import soundfile

from dolphin_ae.audio.blocks import n_windows_of, plan_spans, stream_span, warmup_windows
from dolphin_ae.audio.pipeline import recording_profile, stream_recording
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.exceptions import ParameterError


def _recording(path, duration_s, sr=48000, seed=0):
    rng = np.random.default_rng(seed)
    y = 0.02 * rng.standard_normal(int(duration_s * sr))
    t = np.arange(int(0.6 * sr)) / sr
    for start_s in np.arange(1.0, duration_s - 1.0, 7.3):  # whistles every 7.3 s, so some straddle a span's edge
        at = int(start_s * sr)
        y[at : at + t.size] += 0.3 * np.sin(2 * np.pi * (8000 + 6000 * t) * t)
    soundfile.write(str(path), y.astype(np.float32), sr, subtype="FLOAT")
    return path


def _windows(pieces):
    firsts, arrays = zip(*[(first, np.array(w)) for first, w in pieces])
    return firsts[0], np.concatenate(arrays)


@pytest.mark.parametrize("magnitude, whitening, duration_s, task_s", [
    ("linear", "none", 20.0, 4.3), ("log", "none", 20.0, 6.0), ("pcen", "none", 75.0, 21.0),
    ("log", "recording_median", 20.0, 6.0), ("pcen", "recording_median", 75.0, 21.0)])
def test_spans_give_the_windows_of_the_whole_recording(tmp_path, magnitude, whitening, duration_s, task_s):
    fe = FrontEnd(magnitude=magnitude, whitening=whitening)
    path = _recording(tmp_path / "long.wav", duration_s)
    first, whole = _windows(stream_recording(path, fe, block_s=3.0))
    assert first == 0 and whole.shape[0] == n_windows_of(int(duration_s * 48000), fe)
    spans = plan_spans(path, fe, task_s=task_s)
    assert len(spans) >= 3 and spans[0][0] == 0 and spans[-1][1] == whole.shape[0]
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    if magnitude == "pcen":  # later spans start after a warm-up that they read and drop
        assert spans[-1][0] > warmup_windows(fe) > 0
    # A whitening front end: every span subtracts the whole recording's profile, computed once.
    profile = recording_profile(path, fe, block_s=4.0) if whitening != "none" else None
    for span_first, span_stop in spans:
        first, windows = _windows(stream_span(path, fe, span_first, span_stop, block_s=2.5, profile=profile))
        assert first == span_first and windows.shape[0] == span_stop - span_first
        np.testing.assert_array_equal(windows, whole[span_first:span_stop])


def test_plan_spans_keeps_short_and_resampled_recordings_whole(tmp_path):
    path = _recording(tmp_path / "long.wav", 12.0)
    assert plan_spans(path, FrontEnd(), task_s=30.0) is None
    assert len(plan_spans(path, FrontEnd(whitening="recording_median"), task_s=3.0)) == 4
    y, sr = soundfile.read(str(path), dtype="float32")
    soundfile.write(str(tmp_path / "96k.wav"), np.repeat(y, 2), 2 * sr, subtype="FLOAT")
    assert plan_spans(tmp_path / "96k.wav", FrontEnd(), task_s=3.0) is None


@pytest.mark.parametrize("task_s", [0, -5.0, float("nan"), float("inf"), "ten", 1e-4])
def test_a_bad_task_length_is_refused_naming_it(tmp_path, task_s):
    path = _recording(tmp_path / "long.wav", 3.0)
    with pytest.raises(ParameterError, match="task_s"):
        plan_spans(path, FrontEnd(), task_s=task_s)


def test_a_span_needs_the_profile_exactly_when_the_front_end_whitens(tmp_path):
    path = _recording(tmp_path / "long.wav", 8.0)
    whitened = FrontEnd(whitening="recording_median")
    with pytest.raises(ParameterError, match="band profile"):
        list(stream_span(path, whitened, 0, 10))
    with pytest.raises(ParameterError, match="band profile"):
        list(stream_span(path, FrontEnd(), 0, 10, profile=recording_profile(path, whitened)))
    with pytest.raises(ParameterError, match="whitening"):
        recording_profile(path, FrontEnd())
