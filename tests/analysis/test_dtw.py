import numpy as np
import pytest

from dolphin_ae.analysis.dtw import (SequenceSet, dtw_distance, dtw_distance_reference, dtw_pairs, pairwise_dtw,
                            scaling_exponent, seed_band)
from dolphin_ae.exceptions import ParameterError


def random_sequences(rng, count, *, max_length=15, n_features=4):
    return [rng.normal(size=(int(rng.integers(1, max_length)), n_features)) for _ in range(count)]


@pytest.mark.parametrize("band", ["seed", None, 0, 3])
@pytest.mark.parametrize("gap_penalty", [0.0, 0.7, 10.0])
def test_compiled_dtw_matches_the_reference_on_random_inputs(band, gap_penalty):
    rng = np.random.default_rng(1)
    for a, b in zip(random_sequences(rng, 8), random_sequences(rng, 8)):
        expected = dtw_distance_reference(a, b, gap_penalty=gap_penalty, band=band)
        assert dtw_distance(a, b, gap_penalty=gap_penalty, band=band) == pytest.approx(expected, rel=1e-9)


def test_all_pairs_matrix_matches_the_reference_and_is_symmetric():
    rng = np.random.default_rng(2)
    sequences = random_sequences(rng, 7)
    D = pairwise_dtw(sequences, gap_penalty=10.0)
    assert D.shape == (7, 7)
    assert np.allclose(D, D.T) and np.all(np.diag(D) == 0)
    for i in range(7):
        for j in range(i + 1, 7):
            assert D[i, j] == pytest.approx(dtw_distance_reference(sequences[i], sequences[j]), rel=1e-9)


def test_chosen_pairs_match_the_full_matrix():
    rng = np.random.default_rng(3)
    sequences = SequenceSet(random_sequences(rng, 6))
    D = pairwise_dtw(sequences)
    first, second = np.array([0, 5, 2]), np.array([3, 1, 2])
    assert np.allclose(dtw_pairs(sequences, first, second), D[first, second])


def test_seed_band_reaches_the_last_cell():
    assert seed_band(10, 10) == 5
    assert seed_band(4, 20) == 18  # |n - m| + 2 wins for unequal lengths
    a, b = np.zeros((4, 2)), np.ones((20, 2))
    assert np.isfinite(dtw_distance(a, b))


def test_identical_sequences_are_at_distance_zero_and_a_time_shift_costs_gaps():
    a = np.arange(10.0)[:, None]
    assert dtw_distance(a, a) == 0.0
    stretched = np.repeat(a, 2, axis=0)  # every step said twice: the path needs 10 one-sided steps
    assert dtw_distance(a, stretched, gap_penalty=0.0) == 0.0
    assert dtw_distance(a, stretched, gap_penalty=1.0, normalize=False) == pytest.approx(10.0)
    assert dtw_distance(a, stretched, gap_penalty=1.0) == pytest.approx(10.0 / 30.0)


def test_a_narrow_band_forbids_warping_and_costs_more():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(12, 3))
    shifted = np.concatenate([rng.normal(size=(3, 3)), a[:-3]])  # the same pattern three steps later
    wide = dtw_distance(a, shifted, gap_penalty=0.1, band=None)
    narrow = dtw_distance(a, shifted, gap_penalty=0.1, band=0)
    euclidean = np.linalg.norm(a - shifted, axis=1).sum() / 24
    assert narrow == pytest.approx(euclidean)
    assert wide < narrow


def test_gap_penalty_raises_the_distance_of_warped_pairs_only():
    a = np.sin(np.linspace(0, 3, 10))[:, None]
    b = np.sin(np.linspace(0, 3, 16))[:, None]
    distances = [dtw_distance(a, b, gap_penalty=g) for g in (0.0, 0.5, 5.0)]
    assert distances[0] < distances[1] < distances[2]
    same_length = [dtw_distance(a, a[::-1], gap_penalty=g) for g in (0.0, 100.0)]
    assert same_length[1] <= np.abs(a - a[::-1]).sum() / 20 + 1e-12  # the diagonal path needs no gap


def test_bad_inputs_are_refused_with_their_name():
    with pytest.raises(ParameterError, match="same number of features"):
        dtw_distance(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ParameterError, match="NaN"):
        dtw_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ParameterError, match="band"):
        dtw_distance(np.zeros((3, 2)), np.zeros((3, 2)), band="wide")
    with pytest.raises(ParameterError, match="pair indices"):
        dtw_pairs([np.zeros((3, 2))] * 2, [0], [2])


def test_scaling_exponent_of_a_square_law_is_two():
    sizes = np.array([10, 20, 40, 80])
    assert scaling_exponent(sizes, 3e-4 * sizes ** 2.0) == pytest.approx(2.0)
