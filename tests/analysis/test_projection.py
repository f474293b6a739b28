import numpy as np
import pytest

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.analysis.projection import neighbour_label_agreement, project, spread_subset, stratified_subset


def two_blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(n, 10)), rng.normal(loc=6.0, size=(n, 10))])
    return X, np.repeat(["a", "b"], n)


@pytest.mark.parametrize("method", [pytest.param("tsne", marks=pytest.mark.slow), "umap", "pca"])
def test_maps_are_two_dimensional_and_keep_separated_classes_apart(method):
    X, labels = two_blobs()
    Y = project(X, method=method, perplexity=10, n_neighbors=10)
    assert Y.shape == (80, 2)
    assert neighbour_label_agreement(Y, labels) == 1.0


def test_neighbour_agreement_is_near_chance_for_random_labels():
    X, _ = two_blobs()
    labels = np.random.default_rng(1).permutation(np.repeat(["a", "b"], 40))
    assert neighbour_label_agreement(X, labels) < 0.7


def test_spread_subset_takes_at_most_one_point_per_cell():
    rng = np.random.default_rng(2)
    Y = np.concatenate([rng.normal(scale=0.01, size=(500, 2)), rng.uniform(-10, 10, size=(50, 2))])
    chosen = spread_subset(Y, 20, grid=6)
    assert len(chosen) <= 20 and len(set(chosen)) == len(chosen)
    cells = {tuple(((Y[i] - Y.min(axis=0)) / (np.ptp(Y, axis=0) / 6)).astype(int).clip(0, 5)) for i in chosen}
    assert len(cells) == len(chosen)
    assert np.sum(chosen < 500) <= 2  # the crowded clump gives one thumbnail, not hundreds


def test_stratified_subset_keeps_every_class():
    labels = np.array(["a"] * 95 + ["b"] * 5)
    chosen = stratified_subset(labels, 20)
    assert set(labels[chosen]) == {"a", "b"} and len(chosen) <= 21
    assert len(stratified_subset(labels, 0)) == 100


def test_unknown_projection_is_refused():
    with pytest.raises(ParameterError, match="method"):
        project(np.zeros((5, 3)), method="mds")
