"""The peers of the network: each on synthetic data whose truth guarantees what it must reach."""

import numpy as np
import pytest

from dolphin_ae.analysis.clustering import clustering_scores
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.analysis.peers import (
    SILENCE_PEERS,
    BandProfileClassifier,
    PerRecordingEnergyDetector,
    avgn_labels,
    band_profile_features,
    clustering_peers,
    code_scores_k_true,
    log_magnitude_windows,
    recording_relative_level,
    signal_type_peer,
    silence_peers,
    umap_kmeans_labels,
)
from dolphin_ae.train.silence import EnergyThresholdDetector, silence_metrics
from dolphin_ae.audio.spectrogram import normalize_windows, window_level_db

FRAMES, BINS = 16, 24


def shaped_windows(rng, kinds, *, gains_db=None):
    """Linear-magnitude windows (n, FRAMES, BINS): background, or a tone in a band by kind, normalised.

    kind 0: background only; 1: a steady tone in the upper bins; 2: a click (one loud frame, all
    bins); 3: a tone in the lower bins. ``gains_db`` scales each window before normalisation.
    Returns the normalised windows and their levels (dB) before normalisation.
    """
    kinds = np.asarray(kinds)
    raw = rng.rayleigh(0.2, size=(len(kinds), FRAMES, BINS)).astype(np.float32)
    raw[kinds == 1, :, 18:21] += 1.0
    raw[kinds == 2, FRAMES // 2, :] += 3.0
    raw[kinds == 3, :, 3:6] += 1.0
    if gains_db is not None:
        raw *= (10.0 ** (np.asarray(gains_db) / 20.0))[:, None, None].astype(np.float32)
    return normalize_windows(raw), window_level_db(raw)


def test_band_profile_features_are_the_documented_statistics():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(5, FRAMES, BINS)).astype(np.float32)
    features = band_profile_features(windows, n_bands=BINS, n_frames=FRAMES)
    assert features.shape == (5, 3 * BINS + 2 * FRAMES)
    np.testing.assert_allclose(features[:, :BINS], windows.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[:, BINS:2 * BINS], windows.std(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[:, 2 * BINS:3 * BINS], windows.max(axis=1), rtol=1e-5)
    np.testing.assert_allclose(features[:, 3 * BINS:3 * BINS + FRAMES], windows.mean(axis=2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[:, -FRAMES:], windows.std(axis=2), rtol=1e-5, atol=1e-6)
    # Coarser bands are means of adjacent bins: 24 bins in 6 bands of 4.
    coarse = band_profile_features(windows, n_bands=6, n_frames=4)
    assert coarse.shape == (5, 3 * 6 + 2 * 4)
    pooled = windows.reshape(5, FRAMES, 6, 4).mean(axis=3)
    np.testing.assert_allclose(coarse[:, :6], pooled.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(coarse[:, -4:], windows.std(axis=2).reshape(5, 4, 4).mean(axis=2), rtol=1e-5)
    # The features of a normalised window do not change with the recording's gain (here well above
    # the "+ 1" of the seed's rule).
    raw = rng.rayleigh(100.0, size=(3, FRAMES, BINS)).astype(np.float32) + 10.0
    np.testing.assert_allclose(band_profile_features(normalize_windows(raw)),
                               band_profile_features(normalize_windows(raw * 10.0)), rtol=0.02, atol=0.02)
    with pytest.raises(ParameterError, match="windows"):
        band_profile_features(np.zeros((4, 8)))
    with pytest.raises(ParameterError, match="NaN"):
        band_profile_features(np.full((2, 4, 4), np.nan))


def test_per_recording_energy_beats_global_energy_when_recordings_differ_in_gain():
    # Six recordings whose gains span 40 dB; in each, signals sit 10 dB above its own background.
    rng = np.random.default_rng(1)
    recordings = np.repeat(np.arange(6), 40)
    gain_db = np.array([-20.0, -12.0, -4.0, 4.0, 12.0, 20.0])[recordings]
    is_silence = np.tile(np.arange(40) < 25, 6)
    level = gain_db + np.where(is_silence, 0.0, 10.0) + rng.normal(scale=1.0, size=recordings.size)
    np.testing.assert_allclose(np.median(recording_relative_level(level, recordings)[recordings == 2]), 0.0,
                               atol=1e-9)
    train, test = recordings % 2 == 0, recordings % 2 == 1
    relative = PerRecordingEnergyDetector().fit(level[train], recordings[train], is_silence[train])
    energy = EnergyThresholdDetector().fit(level[train], is_silence[train])
    relative_score = silence_metrics(is_silence[test], relative.predict(level[test], recordings[test]))
    global_score = silence_metrics(is_silence[test], energy.predict(level[test]))
    # The 10 dB step is 10 noise widths: relative to the median, a threshold separates almost all.
    assert relative_score["balanced_accuracy"] > 0.97
    # Across gains the classes overlap, so no single threshold reaches that.
    assert global_score["balanced_accuracy"] < 0.85
    with pytest.raises(ParameterError, match="fitted"):
        PerRecordingEnergyDetector().predict(level, recordings)
    with pytest.raises(ParameterError, match="one length"):
        recording_relative_level(level, recordings[:-1])


def test_silence_peers_score_the_given_test_windows_and_the_gbm_learns_shapes():
    # Silence is background alone; signals are tones or clicks. Gains span 30 dB across recordings,
    # so level alone is a poor guide, but the band profile of the normalised window separates the
    # classes by construction.
    rng = np.random.default_rng(2)
    n_recordings, per_recording = 8, 40
    recordings = np.repeat([f"r{k}" for k in range(n_recordings)], per_recording)
    kinds = rng.choice([0, 0, 1, 2, 3], size=recordings.size)
    gains = rng.uniform(-15, 15, size=n_recordings).repeat(per_recording)
    windows, level = shaped_windows(rng, kinds, gains_db=gains)
    is_silence = kinds == 0
    train = np.flatnonzero(np.isin(recordings, ["r0", "r1", "r2", "r3", "r4"]))
    test = np.flatnonzero(~np.isin(recordings, ["r0", "r1", "r2", "r3", "r4"]))[::-1]  # any order
    peers = silence_peers(windows, level, recordings, is_silence, train, test, random_state=0)
    assert set(peers) == set(SILENCE_PEERS)
    for name, metrics in peers.items():
        assert metrics["n_test_windows"] == test.size == sum(map(sum, metrics["confusion_matrix"])), name
        # Rows are the truth: the row sums are the test windows of each class, whatever the prediction.
        assert [sum(row) for row in metrics["confusion_matrix"]] == [int((~is_silence[test]).sum()),
                                                                     int(is_silence[test].sum())], name
    assert peers["band_profile_gbm"]["balanced_accuracy"] > 0.95
    # The global threshold is the seed-style detector, fitted on the training windows alone.
    energy = EnergyThresholdDetector().fit(level[train], is_silence[train])
    assert peers["energy_global"]["threshold_db"] == energy.threshold_db_
    assert peers["energy_global"]["confusion_matrix"] == silence_metrics(
        is_silence[test], energy.predict(level[test]))["confusion_matrix"]
    with pytest.raises(ParameterError, match="test_indices"):
        silence_peers(windows, level, recordings, is_silence, train, np.array([recordings.size]))
    with pytest.raises(ParameterError, match="level_db"):
        silence_peers(windows, level[:-1], recordings, is_silence, train, test)


@pytest.mark.slow
def test_band_profile_classifier_names_four_signal_types():
    rng = np.random.default_rng(3)
    kinds = np.tile(np.arange(4), 60)
    windows, _ = shaped_windows(rng, kinds, gains_db=rng.uniform(-10, 10, kinds.size))
    train, test = np.arange(160), np.arange(160, 240)
    metrics = signal_type_peer(windows, kinds, train, test, class_names=("noise", "whistle", "click", "low"),
                               random_state=0)
    assert metrics["n_test_windows"] == 80 and metrics["accuracy"] > 0.95
    assert metrics["class_names"] == ["noise", "whistle", "click", "low"]
    # One seed, one answer.
    first = BandProfileClassifier(random_state=4).fit(windows[train], kinds[train]).predict(windows[test])
    again = BandProfileClassifier(random_state=4).fit(windows[train], kinds[train]).predict(windows[test])
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ParameterError, match="one class"):
        BandProfileClassifier().fit(windows[:10], np.zeros(10))
    with pytest.raises(ParameterError, match="fitted"):
        BandProfileClassifier().predict(windows)


def test_log_magnitude_windows_undo_the_normalisation_up_to_scale():
    rng = np.random.default_rng(5)
    magnitude = rng.rayleigh(1.0, size=(3, FRAMES, BINS)).astype(np.float32) + 1e-3
    logged = log_magnitude_windows(normalize_windows(magnitude), dynamic_range_db=200.0)
    assert logged.shape == (3, FRAMES * BINS)
    assert np.allclose(logged.min(axis=1), 0.0) and np.allclose(logged.max(axis=1), 1.0)
    # Monotone in the magnitude, and linear in its logarithm (up to the tiny min(S) offset).
    flat = magnitude.reshape(3, -1)
    for row in range(3):
        order = np.argsort(flat[row])
        assert np.all(np.diff(logged[row][order]) >= -1e-6)
    strong = flat[0] > 0.5
    slope = np.polyfit(np.log(flat[0][strong]), logged[0][strong], 1)[0]
    residual = logged[0][strong] - np.polyval(np.polyfit(np.log(flat[0][strong]), logged[0][strong], 1),
                                              np.log(flat[0][strong]))
    assert slope > 0 and np.abs(residual).max() < 0.02
    with pytest.raises(ParameterError, match="magnitude"):
        log_magnitude_windows(magnitude, magnitude="power")


def blob_windows(rng, n_per_class=60, n_classes=4):
    """Windows (n, 8, 8) whose classes are well-separated blobs of positive magnitudes."""
    centres = rng.uniform(0.5, 5.0, size=(n_classes, 64))
    X = np.concatenate([c + 0.05 * rng.normal(size=(n_per_class, 64)) for c in centres])
    return np.abs(X).reshape(-1, 8, 8).astype(np.float32), np.repeat(np.arange(n_classes), n_per_class)


@pytest.mark.slow  # UMAP twice (~25 s)
def test_avgn_never_mixes_separated_blobs_and_umap_kmeans_recovers_them():
    windows, truth = blob_windows(np.random.default_rng(6))
    avgn = avgn_labels(windows, random_state=0)
    assert avgn.shape == truth.shape
    # HDBSCAN with min_samples 1 and a smallest cluster of 1 % of the windows cuts each blob into
    # several clusters (on 240 windows: clusters of 2 or more), but no cluster holds two blobs.
    clustered = avgn != -1
    assert clustered.mean() > 0.8
    assert clustering_scores(truth[clustered], avgn[clustered])["homogeneity"] == pytest.approx(1.0)
    assert np.bincount(avgn[clustered]).min() >= 2
    kmeans = umap_kmeans_labels(windows, 4, n_components=3, random_state=0)
    assert len(np.unique(kmeans)) == 4
    assert clustering_scores(truth, kmeans)["v_measure"] > 0.95
    with pytest.raises(ParameterError, match="n_clusters"):
        umap_kmeans_labels(windows, 0)


@pytest.mark.slow  # UMAP six times
def test_clustering_peers_score_all_windows_and_the_signals_alone():
    windows, truth = blob_windows(np.random.default_rng(7))
    classes = np.array(["noise", "whistle", "burst", "click"])[truth]
    scores, labels, embeddings = clustering_peers(windows, classes, umap_components=3, random_state=0)
    assert set(scores) == set(labels) == {"avgn", "umap_kmeans"}
    assert embeddings["avgn"].shape == (240, 2) and embeddings["umap_kmeans"].shape == (240, 3)
    for peer, s in scores.items():
        assert s["v_measure"] == pytest.approx(clustering_scores(classes, labels[peer])["v_measure"])
        assert 0.0 < s["signals_v_measure"] and s["signals_ari"] is not None, peer
    assert scores["umap_kmeans"]["n_clusters"] == 4
    assert scores["umap_kmeans"]["v_measure"] > 0.95 and scores["umap_kmeans"]["signals_v_measure"] > 0.95
    # Without two signal classes there is no truth for the signal-only score: null, not a default.
    only_noise = np.where(truth < 2, "noise", "whistle")
    scores, _, _ = clustering_peers(windows, only_noise, umap_components=3, random_state=0)
    assert scores["avgn"]["signals_v_measure"] is None and scores["umap_kmeans"]["signals_ari"] is None
    with pytest.raises(ParameterError, match="one label per window"):
        clustering_peers(windows, classes[:-1])


def test_code_scores_with_k_true_leave_noise_out_for_the_signals():
    rng = np.random.default_rng(8)
    # Noise codes are spread widely; the three signal classes are tight blobs of their own.
    centres = 5.0 * rng.normal(size=(3, 6))
    signals = np.concatenate([c + 0.1 * rng.normal(size=(30, 6)) for c in centres])
    noise = 3.0 * rng.normal(size=(60, 6))
    codes = np.concatenate([noise, signals])
    classes = np.array(["noise"] * 60 + ["whistle"] * 30 + ["burst"] * 30 + ["click"] * 30)
    result = code_scores_k_true(codes, classes, scaling="none", random_state=0)
    assert result["k_true"] == 4
    assert result["signals"]["k"] == 3 and result["signals"]["n_windows"] == 90
    assert result["signals"]["v_measure"] > 0.99
    assert result["v_measure_k_true"] < result["signals"]["v_measure"]
    assert code_scores_k_true(codes[:90], classes[:90], scaling="none")["signals"] is None
    with pytest.raises(ParameterError, match="codes"):
        code_scores_k_true(codes[:, 0], classes)
