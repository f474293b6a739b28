"""detect and embed on synthetic recordings whose events are known.

A tiny detector (``trained_run`` in ``tests/conftest.py``: an 8-filter ConvNet v5 encoder and the
seed's head, trained end to end for a few epochs on a small synthetic data set) is trained once per
session. The test recordings are long background with whistles, burst pulses and click trains at
known times (``synth_long``).

Matching rule for recall and precision (``region_recall_precision``): a region and a true event
match when their overlap covers at least half of each of them.
"""

import numpy as np
import pandas as pd
import pytest
import soundfile

from dolphin_ae.cli import main
from dolphin_ae.exceptions import AudioError, ParameterError
from dolphin_ae.field.evaluation import region_recall_precision
from dolphin_ae.audio.pipeline import normalise, stream_recording
from dolphin_ae.field.regions import DetectionOptions, RegionMerger, detect_file, window_geometry
from dolphin_ae.field.scoring import made_ahead, normalised_batches
from dolphin_ae.field.run import load_detector_run, resolve_run_dir
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.data.synth_long import write_long_recording

from conftest import FIELD_LATENT_DIM as LATENT_DIM

# The tests that use the trained detector are slow (conftest.SLOW_FIXTURES); the backend matrix runs them all.
pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """40 s of background with 12 events; returns (path, truth table)."""
    path = tmp_path_factory.mktemp("recording") / "long.wav"
    truth = write_long_recording(path, duration_s=40.0, seed=3)
    return path, truth


def _events(truth):
    return list(zip(truth["start_s"], truth["end_s"]))


def _spans(regions):
    return [(r.start_s, r.end_s) for r in regions]


def test_detect_finds_the_known_events(trained_run, recording):
    path, truth = recording
    run = load_detector_run(trained_run)
    regions = detect_file(run, path)
    scores = region_recall_precision(_spans(regions), _events(truth))
    assert scores["n_events"] >= 10
    assert scores["recall"] >= 0.9, scores
    assert scores["precision"] >= 0.75, scores
    assert all(0.0 <= r.start_s < r.end_s <= 40.0 for r in regions)
    assert all(1.0 - run.threshold <= r.score <= 1.0 for r in regions if r.n_windows == 1)
    # Regions come out in time order and never overlap (overlapping windows merge).
    assert all(a.end_s + 0.1 <= b.start_s for a, b in zip(regions, regions[1:]))


def test_a_longer_minimum_drops_lone_windows(trained_run, recording):
    path, truth = recording
    run = load_detector_run(trained_run)
    window_s = run.front_end.window_samples / run.front_end.sr
    default = detect_file(run, path)
    stricter = detect_file(run, path, options=DetectionOptions(min_region_s=1.5 * window_s))
    assert [r for r in default if r.duration_s >= 1.5 * window_s] == stricter
    assert len(stricter) <= len(default)
    assert region_recall_precision(_spans(stricter), _events(truth))["precision"] >= \
        region_recall_precision(_spans(default), _events(truth))["precision"]


def _window_scores(run, path, options):
    collected = []
    regions = detect_file(run, path, options=options, with_codes=True,
                          on_windows=lambda start, end, p, signal, codes: collected.append((start, p, codes)))
    start_s = np.concatenate([c[0] for c in collected])
    return regions, start_s, np.concatenate([c[1] for c in collected]), np.concatenate([c[2] for c in collected])


@pytest.mark.parametrize("rate", [48000, 96000])
def test_streaming_equals_whole_file(trained_run, recording, tmp_path, rate):
    path, _ = recording
    if rate != 48000:  # the same recording at another rate: resampled block by block
        y, sr = soundfile.read(str(path), dtype="float32")
        import soxr

        path = tmp_path / "long_96k.flac"
        soundfile.write(str(path), soxr.resample(y, sr, rate), rate, subtype="PCM_24")
    run = load_detector_run(trained_run)
    whole = _window_scores(run, path, DetectionOptions(block_s=1000.0))
    streamed = _window_scores(run, path, DetectionOptions(block_s=0.37, batch_size=7))
    assert len(whole[1]) == len(streamed[1]) == 1 + (int(40.0 * 48000) - run.front_end.window_samples) // (64 * 64)
    np.testing.assert_array_equal(whole[1], streamed[1])
    np.testing.assert_allclose(whole[2], streamed[2], atol=1e-5)
    np.testing.assert_allclose(whole[3], streamed[3], atol=1e-4)
    assert len(whole[0]) == len(streamed[0])
    for a, b in zip(whole[0], streamed[0]):
        assert (a.start_s, a.end_s, a.n_windows) == (b.start_s, b.end_s, b.n_windows)
        assert a.score == pytest.approx(b.score, abs=1e-5)
        np.testing.assert_allclose(a.code, b.code, atol=1e-4)


def _encoder_then_head(run, path, *, batch_size=64):
    """Window scores as detect made them with two model calls per batch: each 10 s block's windows
    normalised, the encoder and then the head on zero-padded batches of ``batch_size``."""
    def predict(model, x):
        out = []
        for start in range(0, x.shape[0], batch_size):
            batch = x[start:start + batch_size]
            padding = np.zeros((batch_size - batch.shape[0],) + batch.shape[1:], dtype=batch.dtype)
            out.append(np.asarray(model.predict_on_batch(np.concatenate([batch, padding])))[:batch.shape[0]])
        return np.concatenate(out)

    p_silence, codes = [], []
    for _, windows in stream_recording(path, run.front_end, block_s=10.0):
        block_codes = predict(run.encoder, normalise(windows, run.front_end)[..., None])
        codes.append(block_codes)
        p_silence.append(predict(run.head, block_codes).reshape(-1))
    return np.concatenate(p_silence), np.concatenate(codes)


def test_one_model_call_per_batch_scores_as_the_encoder_then_the_head(trained_run, recording):
    """detect calls one compiled model per batch (the detector, or one with the codes as a second output) on
    batches filled across blocks; the scores, codes and regions are those of the two separate calls."""
    import keras

    path, _ = recording
    run = load_detector_run(trained_run)
    assert run.head is not None
    p_silence, codes = _encoder_then_head(run, path)
    regions, _, p_not_silence, window_codes = _window_scores(run, path, DetectionOptions())
    # The same kernels on the same rows: bit-identical on TensorFlow; other backends may fuse differently.
    tolerance = 0.0 if keras.backend.backend() == "tensorflow" else 1e-6
    np.testing.assert_allclose(p_not_silence, 1.0 - p_silence, rtol=0, atol=tolerance)
    np.testing.assert_allclose(window_codes, codes, rtol=0, atol=tolerance * 10)
    _, window_s = window_geometry(run.front_end)
    merger = RegionMerger(window_s=window_s, min_gap_s=0.1, min_region_s=window_s - 1e-9)
    expected = []
    for k, (p, p_not) in enumerate(zip(p_silence, 1.0 - p_silence)):  # float32 differences, as detect takes them
        start_s = k * run.front_end.step_frames * run.front_end.hop_length / run.front_end.sr
        expected += merger.add(start_s, float(p_not), bool(p < run.threshold))
    expected += merger.finish()
    without_codes = detect_file(run, path)  # the detector alone, one call per batch
    assert len(expected) == len(regions) == len(without_codes) > 0
    for a, b, c in zip(expected, regions, without_codes):
        assert (a.start_s, a.end_s, a.n_windows) == (b.start_s, b.end_s, b.n_windows) == (c.start_s, c.end_s, c.n_windows)
        assert a.score == pytest.approx(b.score, abs=tolerance) and b.score == c.score


def test_batches_are_filled_across_blocks():
    front_end = FrontEnd()
    rng = np.random.default_rng(4)
    windows = rng.gamma(2.0, 3.0, size=(23, front_end.window_frames, front_end.n_bins)).astype(np.float32)
    blocks = [(0, windows[:5]), (5, windows[5:6]), (6, windows[6:6]), (6, windows[6:23])]
    batches = list(normalised_batches(blocks, front_end, batch_size=8))
    assert [(first, n) for first, _, n in batches] == [(0, 8), (8, 8), (16, 7)]
    assert all(x.shape == (8, front_end.window_frames, front_end.n_bins, 1) for _, x, _ in batches)
    joined = np.concatenate([x[:n, ..., 0] for _, x, n in batches])
    np.testing.assert_array_equal(joined, normalise(windows, front_end))
    assert np.all(batches[-1][1][7:] == 0.0)  # the last batch padded with zeros
    with pytest.raises(ParameterError, match="consecutive windows: window 5 was next, got 6"):
        list(normalised_batches([(0, windows[:5]), (6, windows[6:9])], front_end, batch_size=8))


def test_made_ahead_keeps_the_items_their_order_and_their_errors():
    assert list(made_ahead(iter(range(50)), depth=2)) == list(range(50))
    closed = []

    def failing():
        try:
            yield 1
            yield 2
            raise AudioError("broken.wav: read failed after 20.0 s")
        finally:
            closed.append(True)

    items = made_ahead(failing())
    assert next(items) == 1 and next(items) == 2
    with pytest.raises(AudioError, match="read failed after 20.0 s"):
        next(items)
    assert closed == [True]


def test_made_ahead_closes_its_source_when_the_caller_stops_early():
    closed = []

    def endless():
        try:
            k = 0
            while True:
                yield k
                k += 1
        finally:
            closed.append(True)

    items = made_ahead(endless())
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the caller gives up (an error downstream, say): the maker stops and closes its source
    assert closed == [True]


def test_region_merger_applies_the_gap_and_length_rules():
    merger = RegionMerger(window_s=0.25, min_gap_s=0.1, min_region_s=0.3)
    # (start_s, p_not_silence), one window every 0.1 s; signal where p > 0.5.
    stream = [(0.0, 0.9), (0.1, 0.8), (0.2, 0.2), (0.3, 0.1), (0.4, 0.1), (0.5, 0.1),
              (0.6, 0.7), (0.7, 0.1), (0.8, 0.1), (0.9, 0.1), (1.0, 0.1),
              (1.1, 0.9), (1.2, 0.3), (1.3, 0.3), (1.4, 0.6), (1.5, 0.1), (1.6, 0.1)]
    regions = []
    for start, p in stream:
        regions += merger.add(start, p, p > 0.5)
    regions += merger.finish()
    # 0.0-0.35 s: two windows. The next signal window starts 0.25 s after that end: a new region of
    # one window (0.25 s, shorter than 0.3 s), dropped. From 1.1 s: window 1.4 starts 0.05 s after
    # the region's end, so the silent windows 1.2 and 1.3 are bridged; the trailing silence is not.
    assert [(round(r.start_s, 6), round(r.end_s, 6), r.n_windows) for r in regions] == [(0.0, 0.35, 2), (1.1, 1.65, 4)]
    assert regions[0].score == pytest.approx((0.9 + 0.8) / 2)
    assert regions[1].score == pytest.approx((0.9 + 0.3 + 0.3 + 0.6) / 4)


def test_recall_and_precision_follow_the_matching_rule():
    events = [(1.0, 2.0), (5.0, 6.0), (9.0, 9.5)]
    regions = [(0.9, 2.1), (5.6, 7.0), (8.0, 12.0), (20.0, 21.0)]
    scores = region_recall_precision(regions, events)
    # (0.9, 2.1) covers event 1 and is mostly it; (5.6, 7.0) covers 40 % of event 2; the long region
    # swallows event 3 but is mostly background; the last region matches nothing.
    assert (scores["found"], scores["correct"]) == (1, 1)
    assert scores["recall"] == pytest.approx(1 / 3) and scores["precision"] == pytest.approx(1 / 4)
    with pytest.raises(ParameterError, match="min_overlap"):
        region_recall_precision(regions, events, min_overlap=0)


def test_model_dir_can_be_the_models_folder(trained_run, tmp_path):
    assert resolve_run_dir(trained_run / "models") == trained_run
    with pytest.raises(ParameterError, match="silence_detector.keras"):
        resolve_run_dir(tmp_path)


def _bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.wav").write_text("not audio at all")
    soundfile.write(str(bad / "low_rate.wav"), np.zeros(16000, dtype=np.float32), 16000)
    soundfile.write(str(bad / "too_short.wav"), np.zeros(2000, dtype=np.float32), 48000)
    with_nan = np.zeros(48000 * 3, dtype=np.float32)
    with_nan[100000] = np.nan
    soundfile.write(str(bad / "nan.wav"), with_nan, 48000, subtype="FLOAT")
    (bad / "empty.wav").write_bytes(b"")
    return bad, {"text.wav": "cannot be read", "low_rate.wav": "at least 48000 Hz", "too_short.wav": "shorter than one window",
                 "nan.wav": "NaN", "empty.wav": "cannot be read", "missing.wav": "no such file"}


def test_detect_skips_bad_files_and_goes_on(trained_run, recording, tmp_path, capsys):
    path, truth = recording
    bad, reasons = _bad_files(tmp_path)
    out = tmp_path / "regions.csv"
    status = main(["detect", str(trained_run), str(bad), str(path), str(tmp_path / "missing.wav"), "--out", str(out),
                   "--no-progress"])
    assert status == 0
    regions = pd.read_csv(out)
    assert list(regions.columns) == ["file", "start_s", "end_s", "score"]
    assert set(regions["file"]) == {str(path)}
    scores = region_recall_precision(list(zip(regions["start_s"], regions["end_s"])), _events(truth))
    assert scores["recall"] >= 0.9
    err = capsys.readouterr().err
    assert f"{len(reasons)} of {len(reasons) + 1} recording(s) could not be used" in err
    for name, reason in reasons.items():
        line = next(line for line in err.splitlines() if line.strip().startswith(str(tmp_path)) and name in line)
        assert reason in line, line


def test_detect_fails_when_no_file_is_usable(trained_run, tmp_path, capsys):
    bad, _ = _bad_files(tmp_path)
    out = tmp_path / "regions.csv"
    assert main(["detect", str(trained_run), str(bad), "--out", str(out), "--no-progress"]) == 1
    assert "no recording could be used" in capsys.readouterr().err
    assert pd.read_csv(out).empty


def test_region_audio_holds_the_regions_with_gaps(trained_run, recording, tmp_path):
    path, _ = recording
    out, wav = tmp_path / "regions.csv", tmp_path / "regions.wav"
    assert main(["detect", str(trained_run), str(path), "--out", str(out), "--wav", str(wav), "--no-progress",
                 "--block-s", "0.7"]) == 0
    regions = pd.read_csv(out)
    y, sr = soundfile.read(str(wav), dtype="float32")
    original, _ = soundfile.read(str(path), dtype="float32")
    spans = [(int(round(s * sr)), int(round(e * sr))) for s, e in zip(regions["start_s"], regions["end_s"])]
    assert sr == 48000
    # Rounding the CSV's times to 0.1 ms moves each edge by at most 5 samples.
    assert abs(y.shape[0] - (sum(e - s for s, e in spans) + int(0.1 * sr) * (len(spans) - 1))) <= 10 * len(spans)
    first_start, first_end = spans[0]
    np.testing.assert_allclose(y[: first_end - first_start - 10], original[first_start: first_end - 10], atol=1e-3)
    gap = y[first_end - first_start + 10: first_end - first_start + int(0.1 * sr) - 10]
    assert np.all(gap == 0.0)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_embed_per_region_is_the_mean_of_the_window_codes(trained_run, recording, tmp_path, suffix):
    path, _ = recording
    by_region, by_window = tmp_path / f"regions.{suffix}", tmp_path / f"windows.{suffix}"
    assert main(["embed", str(trained_run), str(path), "--out", str(by_region), "--no-progress"]) == 0
    assert main(["embed", str(trained_run), str(path), "--out", str(by_window), "--per", "window", "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([by_region.name, by_window.name])  # no leftovers
    read = pd.read_parquet if suffix == "parquet" else pd.read_csv
    regions, windows = read(by_region), read(by_window)
    code_columns = [f"code_{k:03d}" for k in range(LATENT_DIM)]
    assert list(regions.columns) == ["file", "start_s", "end_s", "score", "n_windows"] + code_columns
    assert list(windows.columns) == ["file", "start_s", "end_s", "p_not_silence", "is_signal"] + code_columns
    assert len(windows) == 1 + (int(40.0 * 48000) - FrontEnd().window_samples) // (64 * 64)
    assert np.all(np.diff(windows["start_s"]) > 0)
    detected = detect_file(load_detector_run(trained_run), path)
    assert len(regions) == len(detected) > 0
    for _, region in regions.iterrows():
        inside = windows[(windows["start_s"] >= region["start_s"] - 1e-6) &
                         (windows["start_s"] + FrontEnd().window_samples / 48000 <= region["end_s"] + 1e-6)]
        assert len(inside) == region["n_windows"]
        np.testing.assert_allclose(inside[code_columns].mean().to_numpy(), region[code_columns].to_numpy(dtype=float),
                                   rtol=1e-4, atol=1e-4)
        assert inside["p_not_silence"].mean() == pytest.approx(region["score"], abs=1e-4)


def test_embed_signal_only_keeps_the_signal_windows(trained_run, recording, tmp_path):
    path, _ = recording
    all_windows, signal = tmp_path / "all.parquet", tmp_path / "signal.parquet"
    main(["embed", str(trained_run), str(path), "--out", str(all_windows), "--per", "window", "--no-progress"])
    main(["embed", str(trained_run), str(path), "--out", str(signal), "--per", "window", "--signal-only",
          "--no-progress"])
    everything, kept = pd.read_parquet(all_windows), pd.read_parquet(signal)
    assert kept["is_signal"].all() and len(kept) == everything["is_signal"].sum() > 0
    # One window per batch: the silent ones are batches that keep no row, which must write nothing.
    one_by_one = tmp_path / "one_by_one.parquet"
    assert main(["embed", str(trained_run), str(path), "--out", str(one_by_one), "--per", "window", "--signal-only",
                 "--batch-size", "1", "--no-progress"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(one_by_one), kept, check_exact=False, atol=1e-5)


def test_embed_refuses_an_unknown_format(trained_run, recording, tmp_path, capsys):
    path, _ = recording
    assert main(["embed", str(trained_run), str(path), "--out", str(tmp_path / "x.json")]) == 2
    assert ".parquet or .csv" in capsys.readouterr().err


def test_help_explains_every_option(capsys):
    for command in ("detect", "embed"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for option in ("MODEL_DIR", "AUDIO_OR_DIR", "--threshold", "--step-frames", "--min-gap-s", "--min-region-s",
                       "--channel", "--block-s", "--batch-size", "--no-progress", "--out"):
            assert option in text, (command, option)
