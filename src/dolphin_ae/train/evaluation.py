"""How well a trained autoencoder reconstructs windows: its mean squared error and a PCA baseline's."""

import numpy as np


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
