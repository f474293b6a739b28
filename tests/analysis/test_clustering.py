import numpy as np
import pytest

from dolphin_ae.analysis.clustering import (agglomerative_from_distances, cluster_windows, clustering_scores,
                                   code_statistics, percentile_threshold, relabel_by_size, scale_codes,
                                   umap_hdbscan_baseline)
from dolphin_ae.exceptions import ParameterError


def blobs(rng, n_per_class=30, n_classes=3, n_features=16, spread=0.3):
    centres = rng.normal(scale=5.0, size=(n_classes, n_features))
    X = np.concatenate([c + spread * rng.normal(size=(n_per_class, n_features)) for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per_class)


def test_a_perfect_clustering_scores_one_whatever_the_cluster_names():
    truth = np.array(["a", "a", "b", "b", "c", "c"])
    scores = clustering_scores(truth, np.array([7, 7, 3, 3, 1, 1]))
    for key in ("homogeneity", "completeness", "v_measure", "ari"):
        assert scores[key] == pytest.approx(1.0)
    assert scores["n_clusters"] == 3 and scores["n_classes"] == 3


def test_a_shuffled_clustering_scores_near_zero():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 250)
    scores = clustering_scores(truth, rng.permutation(truth))
    assert abs(scores["ari"]) < 0.02
    assert scores["v_measure"] < 0.02


def test_one_big_cluster_is_complete_but_not_homogeneous():
    scores = clustering_scores(np.repeat([0, 1], 10), np.zeros(20, dtype=int))
    assert scores["completeness"] == pytest.approx(1.0)
    assert scores["homogeneity"] == pytest.approx(0.0)
    assert scores["ari"] == pytest.approx(0.0)


def test_unclustered_points_count_as_one_more_cluster():
    truth = np.array([0, 0, 1, 1])
    scores = clustering_scores(truth, np.array([-1, 0, -1, 1]))
    assert scores["unclustered_fraction"] == 0.5
    assert scores["v_measure"] < 1.0


@pytest.mark.parametrize("method", ["kmeans", "agglomerative", "hdbscan"])
def test_window_methods_recover_separated_blobs(method):
    X, truth = blobs(np.random.default_rng(1))
    labels = cluster_windows(X, method=method, n_clusters=3, min_cluster_size=5, scaling="standard")
    assert labels.shape == truth.shape
    assert clustering_scores(truth, labels)["v_measure"] > 0.9


@pytest.mark.slow
def test_umap_methods_and_the_baseline_recover_separated_blobs():
    X, truth = blobs(np.random.default_rng(2), n_per_class=40)
    labels = cluster_windows(X, method="umap_kmeans", n_clusters=3, umap_components=2)
    assert clustering_scores(truth, labels)["v_measure"] > 0.9
    windows = X.reshape(len(X), 4, 4)
    baseline = umap_hdbscan_baseline(windows, n_components=2, min_cluster_size=10)
    assert clustering_scores(truth, baseline)["v_measure"] > 0.8


def test_l2_scaling_gives_unit_length_codes():
    X = np.random.default_rng(3).normal(size=(5, 8)) * 10
    assert np.allclose(np.linalg.norm(scale_codes(X, scaling="l2"), axis=1), 1.0)
    standard = scale_codes(X, scaling="standard")
    assert np.allclose(standard.mean(axis=0), 0) and np.allclose(standard.std(axis=0), 1)
    with pytest.raises(ParameterError, match="scaling"):
        scale_codes(X, scaling="max")


def test_standardising_with_reference_statistics():
    rng = np.random.default_rng(4)
    reference = rng.normal(loc=5.0, scale=[1.0, 2.0, 4.0], size=(500, 3))
    statistics = code_statistics(reference)
    assert np.allclose(statistics[0], 5.0, atol=0.5) and np.allclose(statistics[1], [1, 2, 4], rtol=0.15)
    # One short sequence is scaled by the reference's statistics, not by its own.
    sequence = np.array([[5.0, 5.0, 5.0], [6.0, 5.0, 5.0]])
    scaled = scale_codes(sequence, scaling="standard", statistics=statistics)
    assert np.allclose(scaled, (sequence - statistics[0]) / statistics[1])
    unit = scale_codes(sequence, scaling="standard_l2", statistics=statistics)
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0)
    # A constant feature keeps a spread of 1 instead of dividing by zero.
    assert code_statistics(np.array([[1.0, 2.0], [1.0, 3.0]]))[1][0] == 1.0
    with pytest.raises(ParameterError, match="features"):
        scale_codes(sequence, scaling="standard", statistics=(np.zeros(2), np.ones(2)))


def test_whitening_with_reference_statistics():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(800, 2)) * [3.0, 0.5]
    # Four features: two independent ones, a copy of the first, and a constant.
    reference = np.column_stack([base[:, 0], base[:, 1], base[:, 0], np.full(800, 7.0)]) + 2.0
    mean, W = code_statistics(reference, whiten=True)
    assert W.shape == (4, 2)  # the copy and the constant add no axis of their own
    white = scale_codes(reference, scaling="whiten", statistics=(mean, W))
    assert np.allclose(white.mean(axis=0), 0, atol=1e-9)
    assert np.allclose(np.cov(white, rowvar=False), np.eye(2), atol=1e-9)
    # Distances are Mahalanobis distances of the two independent features: the copy counts once.
    step = np.array([1.5, -0.4])
    moved = scale_codes(mean + [step[0], step[1], step[0], 0.0], scaling="whiten", statistics=(mean, W))
    mahalanobis = np.sqrt(step @ np.linalg.inv(np.cov(base, rowvar=False)) @ step)
    assert np.linalg.norm(moved) == pytest.approx(mahalanobis, rel=1e-6)
    unit = scale_codes(reference[:3], scaling="whiten_l2", statistics=(mean, W))
    assert unit.shape == (3, 2) and np.allclose(np.linalg.norm(unit, axis=1), 1.0)
    with pytest.raises(ParameterError, match="whiten=True"):
        scale_codes(reference, scaling="whiten_l2", statistics=code_statistics(reference))
    with pytest.raises(ParameterError, match="whiten=False"):
        scale_codes(reference, scaling="standard_l2", statistics=(mean, W))
    with pytest.raises(ParameterError, match="features"):
        scale_codes(reference[:, :3], scaling="whiten", statistics=(mean, W))


def test_seed_sequence_clustering_cuts_at_a_percentile_of_the_distances():
    # Two tight groups far apart; 9 of the 21 pairs lie inside a group, so the 40th percentile is the
    # largest within-group distance (0.3) and the groups come out whole.
    points = np.array([0.0, 0.1, 0.2, 10.0, 10.1, 10.2, 10.3])
    D = np.abs(points[:, None] - points[None, :])
    assert percentile_threshold(D, 40) == pytest.approx(0.3)
    labels = agglomerative_from_distances(D, percentile=40)
    assert clustering_scores([0, 0, 0, 1, 1, 1, 1], labels)["v_measure"] == pytest.approx(1.0)
    assert labels[3] == 0  # the larger cluster is numbered 0
    assert percentile_threshold(D, 0) == pytest.approx(0.1)
    assert len(np.unique(agglomerative_from_distances(D, threshold=0.01))) == 7


def test_relabel_by_size_keeps_unclustered():
    assert list(relabel_by_size(np.array([5, 5, -1, 2, 5, 2, 9]))) == [0, 0, -1, 1, 0, 1, 2]


def test_bad_arguments_are_named():
    with pytest.raises(ParameterError, match="method"):
        cluster_windows(np.zeros((4, 2)), method="dbscan")
    with pytest.raises(ParameterError, match="one length"):
        clustering_scores([0, 1], [0])
    with pytest.raises(ParameterError, match="square"):
        agglomerative_from_distances(np.zeros((2, 3)))


@pytest.mark.slow
def test_umap_imports_quietly_in_a_kernel_without_ipywidgets():
    # tqdm.auto, which umap imports, warns "IProgress not found" inside a Jupyter kernel
    # (ipykernel.zmqshell loaded) when ipywidgets is missing; chapter 04's page showed that warning.
    import subprocess
    import sys

    def iprogress_warnings(statement):
        script = ("import warnings, ipykernel.zmqshell\n"
                  "with warnings.catch_warnings(record=True) as caught:\n"
                  "    warnings.simplefilter('always')\n"
                  f"    {statement}\n"
                  "print('WARNINGS:', sum('IProgress' in str(w.message) for w in caught))\n")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().rsplit("WARNINGS: ", 1)[-1]

    assert iprogress_warnings("import umap") == "1", "the kernel-without-widgets setting no longer shows the wart"
    assert iprogress_warnings("from dolphin_ae.analysis.clustering import import_umap; import_umap()") == "0"
