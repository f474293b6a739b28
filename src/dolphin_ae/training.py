"""Training loops fed from (memory-mapped) NumPy windows; no TensorFlow-only input pipeline."""

import math
import time

import keras
import numpy as np

from dolphin_ae.exceptions import ParameterError


class WindowBatches(keras.utils.PyDataset):
    """Batches of windows ``windows[indices]`` with a trailing channel axis, as (x, x) or (x, y).

    Reads from a memory-mapped array batch by batch, so the data set never needs to fit in memory.
    With ``shuffle`` the order changes every epoch, drawn from ``seed``.
    """

    def __init__(self, windows, indices, *, batch_size=32, targets=None, shuffle=False, seed=0):
        super().__init__()
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.windows = windows
        self.indices = np.asarray(indices)
        self.batch_size = int(batch_size)
        self.targets = targets
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self.indices.copy()
        if shuffle:
            self._rng.shuffle(self._order)

    def __len__(self):
        return math.ceil(len(self._order) / self.batch_size)

    def __getitem__(self, batch):
        chosen = self._order[batch * self.batch_size : (batch + 1) * self.batch_size]
        # Sorted reads are sequential on disk; the batch's order inside does not matter to the loss.
        chosen = np.sort(chosen)
        x = np.asarray(self.windows[chosen], dtype=np.float32)[..., None]
        if self.targets is None:
            return x, x
        return x, np.asarray(self.targets[chosen])

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self._order)


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time (s) in the history as ``epoch_seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def train_autoencoder(model, windows, train_indices, *, validation_indices=None, epochs=10, batch_size=10,
                      learning_rate=1e-3, jit_compile=False, seed=0, verbose=2):
    """Fit ``model`` to reproduce its input windows (MSE, Adam), as the seed did.

    Parameters
    ----------
    windows : np.ndarray, shape (n_windows, frames, bins)
    train_indices, validation_indices : arrays of window indices

    Returns
    -------
    history : dict of per-epoch lists (``loss``, ``val_loss``, ``epoch_seconds``)
    """
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    if len(train_indices) == 0:
        raise ParameterError("no training windows")
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", jit_compile=jit_compile)
    train = WindowBatches(windows, train_indices, batch_size=batch_size, shuffle=True, seed=seed)
    validation = None
    if validation_indices is not None and len(validation_indices):
        validation = WindowBatches(windows, validation_indices, batch_size=max(batch_size, 64))
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=verbose, callbacks=[EpochTimer()])
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def predict_windows(model, windows, indices, *, batch_size=64):
    """``model`` applied to ``windows[indices]`` batch by batch, as one NumPy array."""
    if len(indices) == 0:
        return np.zeros((0,) + tuple(model.output_shape[1:]), dtype=np.float32)
    return np.asarray(model.predict(WindowBatches(windows, indices, batch_size=batch_size), verbose=0))


def reconstruction_mse(model, windows, indices, *, batch_size=64):
    """Mean squared error of the autoencoder's reconstructions of ``windows[indices]``."""
    total, count = 0.0, 0
    for start in range(0, len(indices), batch_size * 8):
        chunk = np.asarray(indices[start : start + batch_size * 8])
        x = np.asarray(windows[chunk], dtype=np.float32)[..., None]
        reconstruction = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
        total += float(np.sum((reconstruction - x) ** 2))
        count += x.size
    return total / count


def pca_reconstruction_mse(windows, train_indices, test_indices, *, n_components=128, seed=0):
    """MSE of a PCA with ``n_components`` fitted on the train windows, on the test windows.

    The linear baseline an autoencoder with a ``n_components``-number code has to beat.
    """
    from sklearn.decomposition import PCA

    train = np.asarray(windows[np.sort(train_indices)], dtype=np.float32).reshape(len(train_indices), -1)
    n_components = min(n_components, train.shape[0], train.shape[1])
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(train)
    del train
    total, count = 0.0, 0
    for start in range(0, len(test_indices), 512):
        x = np.asarray(windows[np.sort(test_indices[start : start + 512])], dtype=np.float32).reshape(-1, pca.n_features_in_)
        total += float(np.sum((pca.inverse_transform(pca.transform(x)) - x) ** 2))
        count += x.size
    return total / count
