import numpy as np
import pytest

from dolphin_ae.analysis.dtw import SequenceSet, pairwise_dtw
from dolphin_ae.analysis.dtw_blocks import block_bounds, block_pairs, dtw_engine_settings, pairwise_dtw_blocks
from dolphin_ae.engine import engine_client
from dolphin_ae.exceptions import ParameterError


def random_set(seed, count, *, max_length=20, n_features=6):
    rng = np.random.default_rng(seed)
    return SequenceSet([rng.normal(size=(int(rng.integers(1, max_length)), n_features)) for _ in range(count)])


@pytest.mark.parametrize("n, block_size", [(1, 4), (7, 3), (12, 4), (12, 5), (13, 13), (5, 40), (9, 1)])
def test_blocks_hold_every_pair_once(n, block_size):
    pairs = [pair for bounds in block_bounds(n, block_size) for pair in zip(*block_pairs(bounds))]
    assert sorted(pairs) == [(i, j) for i in range(n) for j in range(i + 1, n)]


def test_without_a_client_it_is_the_serial_matrix():
    sequences = random_set(0, 11)
    np.testing.assert_array_equal(pairwise_dtw_blocks(sequences, block_size=4, gap_penalty=0.5),
                                  pairwise_dtw(sequences, gap_penalty=0.5))


def test_bad_block_size_is_named():
    for block_size in (0, 2.5, True):
        with pytest.raises(ParameterError, match="block_size"):
            pairwise_dtw_blocks(random_set(0, 3), block_size=block_size)


def test_blocks_on_two_workers_give_the_serial_matrix_exactly():
    sequences = random_set(1, 23)
    with engine_client("dask", workers=2) as client:
        for block_size, kwargs in [(5, {}), (7, dict(band=None, gap_penalty=0.3)), (4, dict(band=2, normalize=False)),
                                   (23, {}), (50, {})]:
            expected = pairwise_dtw(sequences, **kwargs)
            np.testing.assert_array_equal(pairwise_dtw_blocks(sequences, client=client, block_size=block_size,
                                                              **kwargs), expected)
        assert len(client.scheduler_info()["workers"]) == 2


def test_chapter_engine_settings_map_to_the_engine_and_name_the_chapter_parameter():
    assert dtw_engine_settings() == dict(engine="local", workers=None, scheduler=None)
    assert dtw_engine_settings("dask", 2) == dict(engine="dask", workers=2, scheduler=None)
    assert dtw_engine_settings("dask", 0, "tcp://h:8786") == dict(engine="dask", workers=None, scheduler="tcp://h:8786")
    for args, name in [(("beam",), "dtw_engine"), (("dask", -2), "dtw_workers"), (("dask", 1.5), "dtw_workers"),
                       (("local", 0, "tcp://h:8786"), "dtw_scheduler"), (("dask", 2, "tcp://h:8786"), "dtw_workers")]:
        with pytest.raises(ParameterError, match=name):
            dtw_engine_settings(*args)
