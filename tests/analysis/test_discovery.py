import numpy as np
import pytest

from dolphin_ae.analysis.discovery import (approximate_knn, density_modes, discovery_scores, knn_from_distances,
                                  median_pair_distance, neighbour_agreement, sampled_median_distance,
                                  sequence_summaries, tight_groups)
from dolphin_ae.analysis.dtw import pairwise_dtw
from dolphin_ae.exceptions import ParameterError


def planted_sequences(seed=0, n_motifs=3, renditions=5, n_other=20):
    """Sequences where a few random patterns recur with small noise and time stretch, among one-offs."""
    rng = np.random.default_rng(seed)
    sequences, motifs = [], []
    for m in range(n_motifs):
        pattern = rng.normal(size=(int(rng.integers(8, 14)), 6))
        for _ in range(renditions):
            length = int(round(len(pattern) * rng.uniform(0.85, 1.15)))
            steps = np.linspace(0, len(pattern) - 1, length).round().astype(int)
            sequences.append(pattern[steps] + 0.1 * rng.normal(size=(length, 6)))
            motifs.append(f"sig{m + 1:02d}")
    for _ in range(n_other):
        sequences.append(rng.normal(size=(int(rng.integers(8, 14)), 6)))
        motifs.append("")
    return sequences, np.array(motifs)


def test_scores_on_constructed_groups():
    motifs = np.array(["a", "a", "a", "b", "b", "", "", ""])
    perfect = discovery_scores([[0, 1, 2], [3, 4]], motifs)
    assert perfect["precision"] == 1.0 and perfect["recall"] == 1.0 and perfect["rendition_recall"] == 1.0
    half = discovery_scores([[0, 1, 5], [5, 6, 7]], motifs)
    assert half["precision"] == 0.5 and half["recall"] == 0.5 and half["found"] == ["a"]
    # A group split evenly between a motif and distractors finds nothing (more than half is needed).
    assert discovery_scores([[0, 1, 5, 6]], motifs)["precision"] == 0.0
    empty = discovery_scores([], motifs)
    assert empty["precision"] is None and empty["recall"] == 0.0


def test_a_motif_heard_once_is_not_planted():
    scores = discovery_scores([[0, 1]], np.array(["a", "a", "b"]))
    assert scores["n_planted"] == 1 and scores["recall"] == 1.0


def test_knn_excludes_itself_and_sorts():
    points = np.array([0.0, 1.0, 3.0, 7.0])
    D = np.abs(points[:, None] - points[None, :])
    indices, distances = knn_from_distances(D, 2)
    assert indices.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    assert distances.tolist() == [[1, 3], [1, 2], [2, 3], [4, 6]]
    with pytest.raises(ParameterError, match="k must"):
        knn_from_distances(D, 4)


def test_density_rule_follows_the_seed():
    # Dense pair at 0, 0.1; sparse points further out. k = 1: density = 1 / nearest distance.
    points = np.array([0.0, 0.1, 5.0, 9.0, 14.0])
    D = np.abs(points[:, None] - points[None, :])
    found = density_modes(*knn_from_distances(D, 1), percentile=0)
    assert np.allclose(found.density, 1 / np.array([0.1, 0.1, 4.0, 4.0, 5.0]))
    # A mode must be strictly denser than its neighbours: the tied pairs (0, 0.1) and (5, 9) are not,
    # and 14's neighbour 9 is denser, so this set has no mode.
    assert found.n_groups == 0
    points = np.array([0.0, 0.1, 0.3, 5.0, 5.5, 7.0])
    D = np.abs(points[:, None] - points[None, :])
    found = density_modes(*knn_from_distances(D, 2), percentile=0)
    assert found.modes.tolist() == [1, 4]  # the centre of each clump: nearest two at 0.2 and 1.5
    assert [g.tolist() for g in found.groups] == [[1, 0, 2], [4, 3, 5]]
    high = density_modes(*knn_from_distances(D, 2), percentile=90)
    assert all(high.density[m] >= high.threshold for m in high.modes)


def test_both_rules_find_planted_motifs_and_ours_is_more_precise():
    sequences, motifs = planted_sequences()
    D = pairwise_dtw(sequences, gap_penalty=0.5)
    indices, distances = knn_from_distances(D, 5)
    ours = tight_groups(indices, distances, threshold=0.5 * median_pair_distance(D))
    ours_scores = discovery_scores(ours.groups, motifs)
    assert ours_scores["recall"] == 1.0 and ours_scores["precision"] == 1.0
    assert ours_scores["rendition_recall"] > 0.8
    seed_scores = discovery_scores(density_modes(*knn_from_distances(D, 3)).groups, motifs)
    assert seed_scores["precision"] <= ours_scores["precision"]


def test_shortcut_neighbours_agree_with_the_full_matrix():
    sequences, motifs = planted_sequences(seed=1)
    D = pairwise_dtw(sequences, gap_penalty=0.5)
    exact, _ = knn_from_distances(D, 4)
    approx, approx_distances, n_pairs = approximate_knn(sequences, 4, n_candidates=12, gap_penalty=0.5)
    assert n_pairs < len(sequences) * (len(sequences) - 1) // 2
    # Renditions of a motif have clear nearest neighbours and the shortcut finds them; the
    # one-off distractors have no clear neighbours, so there it may pick others of similar distance.
    renditions = motifs != ""
    assert neighbour_agreement(approx[renditions], exact[renditions]) > 0.95
    assert neighbour_agreement(approx, exact) > 0.8
    assert np.all(np.diff(approx_distances, axis=1) >= 0)
    median = sampled_median_distance(sequences, n_pairs=10_000, gap_penalty=0.5)
    assert median == pytest.approx(median_pair_distance(D))


def test_summaries_have_a_fixed_length():
    summaries = sequence_summaries([np.ones((3, 2)), np.zeros((9, 2)), np.ones((1, 2))], n_points=5)
    assert summaries.shape == (3, 10)
    assert np.allclose(summaries[0], 1) and np.allclose(summaries[2], 1)
