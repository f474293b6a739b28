"""Augmented windows for the denoising and contrastive objectives, in NumPy (no Keras).

Every function takes a batch of windows, shape (batch, frames, bins), and a
``numpy.random.Generator`` from which it draws one value per example; the batch generators
(:class:`dolphin_ae.train.objectives.ObjectiveBatches`) seed one generator per batch and epoch, so
the same batch of the same epoch is always augmented alike. What each augmentation does, and the
settings that bound it, are in :mod:`dolphin_ae.train.objective_settings`.
"""

import hashlib

import numpy as np

from dolphin_ae.exceptions import ParameterError


class BackgroundPool:
    """The silence windows of the training recordings, drawn for examples of other recordings.

    Parameters
    ----------
    recordings : array-like of str, shape (n_windows,)
        Each window's recording (``WindowDataset.index["recording"]``).
    is_background : array-like of bool, shape (n_windows,)
        True for the windows that may serve as background (``WindowDataset.is_silence``).
    train_indices : array of window indices
        Only these windows enter the pool, so that held-out recordings never leak into training.

    Raises
    ------
    ParameterError
        The arrays do not have one entry per window, the training windows hold no background
        window, or some training window's recording is the only one with background windows.
    """

    def __init__(self, recordings, is_background, train_indices):
        recordings = np.asarray(recordings).astype(str)
        is_background = np.asarray(is_background, dtype=bool)
        train_indices = np.asarray(train_indices, dtype=np.int64)
        if recordings.ndim != 1 or recordings.shape != is_background.shape:
            raise ParameterError(f"recordings and is_background need one entry per window, got shapes "
                                 f"{recordings.shape} and {is_background.shape}")
        names, self.codes = np.unique(recordings, return_inverse=True)
        pool = np.unique(train_indices[is_background[train_indices]])
        # Sorted by recording, then window: each recording's background windows form one block.
        self.pool = pool[np.lexsort((pool, self.codes[pool]))]
        self.counts = np.bincount(self.codes[self.pool], minlength=len(names))
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.names = names
        if len(self.pool) == 0:
            raise ParameterError("no background (silence) window among the training windows to mix with")
        only = set(names[self.counts == len(self.pool)].tolist())
        lonely = sorted(only & set(names[self.codes[train_indices]].tolist()))
        if lonely:
            raise ParameterError(f"every background window of the training set is from recording {lonely[0]!r}; "
                                 "its windows would have no background from another recording")

    def draw(self, rng, examples):
        """One background window index per example, each from another recording than the example's.

        Uniform over the pool's windows of the other recordings; shape (len(examples),).
        """
        codes = self.codes[np.asarray(examples, dtype=np.int64)]
        others = len(self.pool) - self.counts[codes]
        if np.any(others == 0):
            raise ParameterError("an example's recording holds every background window; none from another recording")
        drawn = rng.integers(0, others)
        # Skip the example's own recording's block of the sorted pool.
        return self.pool[np.where(drawn < self.starts[codes], drawn, drawn + self.counts[codes])]

    def fingerprint(self):
        """Digest of the pool's windows and of their recordings (part of a training key)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(self.pool.tobytes())
        digest.update("\0".join(self.names[self.codes[self.pool]]).encode())
        return digest.hexdigest()


def read_windows(windows, indices):
    """``windows[indices]`` as float32, each distinct window read once and in order (memory maps)."""
    unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    return np.asarray(windows[unique], dtype=np.float32)[inverse]


def mix_background(x, background, gains):
    """``x + gains * background`` per example; ``gains`` shape (batch,)."""
    return (x + np.asarray(gains, dtype=np.float32).reshape(-1, *([1] * (x.ndim - 1))) * background).astype(np.float32)


def shift(x, shifts, axis):
    """Each example moved by ``shifts[i]`` cells along ``axis`` (1: time, 2: frequency), vacated cells 0."""
    moved = np.moveaxis(np.asarray(x, dtype=np.float32), axis, 1)
    result = np.zeros_like(moved)
    n = moved.shape[1]
    for i, s in enumerate(np.asarray(shifts, dtype=np.int64)):
        if s >= n or -s >= n:
            continue
        if s >= 0:
            result[i, s:] = moved[i, : n - s]
        else:
            result[i, : n + s] = moved[i, -s:]
    return np.ascontiguousarray(np.moveaxis(result, 1, axis))


def mask(x, starts, widths, axis):
    """Each example with cells ``starts[i]`` to ``starts[i] + widths[i]`` along ``axis`` set to 0 (a copy)."""
    result = np.array(x, dtype=np.float32, copy=True)
    moved = np.moveaxis(result, axis, 1)
    for i, (start, width) in enumerate(zip(np.asarray(starts, dtype=np.int64), np.asarray(widths, dtype=np.int64))):
        moved[i, start : start + width] = 0.0
    return result


def _draw_mask(rng, batch, n, largest):
    widths = rng.integers(0, min(int(largest), n) + 1, size=batch)
    return rng.integers(0, n - widths + 1), widths


def augment_view(x, rng, objective, background=None):
    """One augmented view of each window of ``x`` (batch, frames, bins), float32, same shape.

    In this order: background mixing (when ``background``, the drawn background windows, is given),
    gain, time shift, frequency shift, time mask, frequency mask; the bounds are ``objective``'s
    (an :class:`~dolphin_ae.train.objective_settings.Objective`).
    """
    x = np.asarray(x, dtype=np.float32)
    batch, frames, bins = x.shape
    if background is not None:
        low, high = objective.augment_background_gain
        x = mix_background(x, background, rng.uniform(low, high, size=batch))
    gain_db = rng.uniform(-objective.augment_gain_db, objective.augment_gain_db, size=batch)
    x = (x * (10.0 ** (gain_db / 20.0)).astype(np.float32)[:, None, None]).astype(np.float32)
    for axis, n, largest in ((1, frames, objective.augment_shift_frames), (2, bins, objective.augment_shift_bins)):
        largest = min(int(largest), n - 1)
        x = shift(x, rng.integers(-largest, largest + 1, size=batch), axis)
    for axis, n, largest in ((1, frames, objective.augment_time_mask), (2, bins, objective.augment_frequency_mask)):
        x = mask(x, *_draw_mask(rng, batch, n, largest), axis)
    return x
