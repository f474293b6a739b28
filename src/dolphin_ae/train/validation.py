"""The validation windows of a training: recordings of the training split held out to watch for overfitting.

The test recordings are never touched: the validation recordings are drawn from the training
split, by recording (every window of a recording is on one side), with about ``validation_fraction``
of the windows of every class held out (``data.dataset.split_by_recording``). The autoencoder
chapter and the model comparison draw the same split from the same seed.
"""

import numpy as np

from dolphin_ae.data.dataset import split_by_recording


def validation_split(recordings, labels, train_indices, *, validation_fraction, seed=0, max_train_windows=0):
    """Split the training windows into training and validation windows, by recording.

    Parameters
    ----------
    recordings, labels : sequences of str, shape (n_windows,)
        Recording and label of every window of the data set (``WindowDataset.index`` columns).
    train_indices : np.ndarray of int, shape (n_train,)
        Indices of the training split's windows (``WindowDataset.split_indices("train")``).
    validation_fraction : float
        Share of the training windows, by recording and in every class, held out; between 0 and 1.
    seed : int
        Seed of the split and of the draw of at most ``max_train_windows``.
    max_train_windows : int
        Cap on the training windows kept, drawn at random without replacement (0: all). The
        validation windows are never capped.

    Returns
    -------
    train_indices : np.ndarray of int
        Training windows, in the order of ``train_indices`` (sorted when capped).
    validation_indices : np.ndarray of int
        Validation windows, in the order of ``train_indices``.

    Raises
    ------
    ParameterError
        ``validation_fraction`` outside (0, 1), or too few training recordings to split.
    """
    train_all = np.asarray(train_indices)
    is_validation = split_by_recording(np.asarray(recordings)[train_all], np.asarray(labels)[train_all],
                                       test_fraction=validation_fraction, seed=seed)
    train, validation = train_all[~is_validation], train_all[is_validation]
    if max_train_windows and len(train) > max_train_windows:
        train = np.sort(np.random.default_rng(seed).choice(train, max_train_windows, replace=False))
    return train, validation
