"""The validation windows: recordings of the training split, held out by recording."""

import numpy as np
import pytest

from dolphin_ae.data.dataset import split_by_recording
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.validation import validation_split


def _index(n=120, n_recordings=15):
    windows = np.arange(n)
    recordings = np.array([f"rec{k % n_recordings:02d}" for k in windows])
    labels = np.array(["noise", "whistle", "click"])[windows % 3]
    train = np.flatnonzero(~np.isin(windows % n_recordings, [0, 7, 11]))
    return recordings, labels, train


def test_validation_recordings_come_from_the_training_split_whole():
    recordings, labels, train_all = _index()
    train, validation = validation_split(recordings, labels, train_all, validation_fraction=0.2, seed=0)
    assert len(train) + len(validation) == len(train_all)
    assert set(train) | set(validation) == set(train_all)
    assert set(recordings[train]).isdisjoint(recordings[validation])
    # The chapters' split, written out: the same windows in the same order.
    is_validation = split_by_recording(recordings[train_all], labels[train_all], test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(train, train_all[~is_validation])
    np.testing.assert_array_equal(validation, train_all[is_validation])


def test_the_cap_draws_training_windows_only_and_repeats_with_its_seed():
    recordings, labels, train_all = _index()
    full, validation = validation_split(recordings, labels, train_all, validation_fraction=0.2, seed=1)
    capped, capped_validation = validation_split(recordings, labels, train_all, validation_fraction=0.2, seed=1,
                                                 max_train_windows=20)
    np.testing.assert_array_equal(capped_validation, validation)
    assert len(capped) == 20 and set(capped) <= set(full) and np.all(np.diff(capped) > 0)
    np.testing.assert_array_equal(capped, np.sort(np.random.default_rng(1).choice(full, 20, replace=False)))
    again, _ = validation_split(recordings, labels, train_all, validation_fraction=0.2, seed=1, max_train_windows=20)
    np.testing.assert_array_equal(again, capped)
    # A cap at or above the number of training windows keeps them all, in their order.
    uncapped, _ = validation_split(recordings, labels, train_all, validation_fraction=0.2, seed=1,
                                   max_train_windows=len(full))
    np.testing.assert_array_equal(uncapped, full)


def test_a_bad_fraction_or_too_few_recordings_is_refused():
    recordings, labels, train_all = _index()
    with pytest.raises(ParameterError, match="between 0 and 1"):
        validation_split(recordings, labels, train_all, validation_fraction=0.0)
    with pytest.raises(ParameterError, match="recordings"):
        validation_split(recordings, labels, train_all[:6], validation_fraction=0.1)
