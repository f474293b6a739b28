"""How well a trained autoencoder reconstructs windows: its mean squared error, a PCA baseline's and the mean window's."""

import numpy as np

from dolphin_ae.exceptions import ParameterError


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


def mean_window_mse(windows, train_indices, test_indices):
    """MSE on the test windows of the predictor that outputs the mean training window, whatever its input.

    The floor every autoencoder must pass: a model at this error has learnt the mean window and
    nothing about the window in front of it (a collapse).
    """
    train_indices, test_indices = np.sort(train_indices), np.sort(test_indices)
    total = np.zeros(np.shape(windows)[1:], dtype=np.float64)
    for start in range(0, len(train_indices), 512):
        total += np.sum(np.asarray(windows[train_indices[start : start + 512]], dtype=np.float64), axis=0)
    mean = total / len(train_indices)
    squared, count = 0.0, 0
    for start in range(0, len(test_indices), 512):
        x = np.asarray(windows[test_indices[start : start + 512]], dtype=np.float64)
        squared += float(np.sum((x - mean) ** 2))
        count += x.size
    return squared / count


def code_reach(decoder, codes, *, n_parts=4):
    """How far into the window a decoder's output depends on its code, per part of the frames.

    Parameters
    ----------
    decoder : keras.Model
        Code (latent_dim,) -> window (frames, bins, 1).
    codes : np.ndarray, shape (n_codes, latent_dim)
        At least two codes, e.g. the encoder's codes of different windows.
    n_parts : int
        Parts of the frame axis, in time order.

    Returns
    -------
    np.ndarray, shape (n_parts,)
        The mean absolute difference between the decoding of each code and that of the first, over
        the windows, the bins and the frames of each part. A part near 0 is decoded alike whatever
        the code: the decoder can only reproduce a mean there.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2 or len(codes) < 2:
        raise ParameterError(f"codes must be at least two code vectors (n_codes, latent_dim), got shape {codes.shape}")
    if int(n_parts) < 1:
        raise ParameterError(f"n_parts must be a positive integer, got {n_parts!r}")
    decoded = np.asarray(decoder.predict(codes, verbose=0), dtype=np.float64)
    change = np.mean(np.abs(decoded[1:] - decoded[:1]), axis=tuple(i for i in range(decoded.ndim) if i != 1))
    return np.array([float(part.mean()) for part in np.array_split(change, int(n_parts))])
