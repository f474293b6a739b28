"""Clustering peers of the codes: the AVGN recipe and UMAP + KMeans on the raw windows.

- ``avgn``: the recipe of Sainburg, Thielk & Gentner (2020): log-magnitude spectrogram windows
  scaled to 0..1, a 2-D UMAP, then HDBSCAN with ``min_cluster_size`` about 1 % of the windows and
  ``min_samples=1`` (:func:`avgn_labels`).
- ``umap_kmeans``: a 10-D UMAP of the raw (normalised) windows, then KMeans with k = the number of
  true classes (:func:`umap_kmeans_labels`).

Each is also run on the signal windows alone (noise left out), which asks whether whistles, burst
pulses and clicks separate (:func:`clustering_peers`); :func:`code_scores_k_true` asks the same of
the codes. :mod:`dolphin_ae.analysis.peers` re-exports everything here.
"""

import numpy as np

from dolphin_ae.audio.spectrogram import MAGNITUDES
from dolphin_ae.constants import SILENCE_LABEL
from dolphin_ae.exceptions import ParameterError

CLUSTERING_PEERS = ("avgn", "umap_kmeans")


def _windows(windows, name="windows"):
    shape = np.shape(windows)
    if len(shape) != 3 or shape[0] == 0 or shape[1] < 2 or shape[2] < 1:
        raise ParameterError(f"{name} must be a non-empty (n_windows, frames, bins) array, got shape {shape}")
    return windows


def signal_mask(true_class):
    """True for the windows of a signal class (every label but the silence label), shape (n,)."""
    return np.asarray(true_class) != SILENCE_LABEL


def _n_classes(labels):
    return int(np.unique(labels).size)


def log_magnitude_windows(windows, *, magnitude="linear", dynamic_range_db=80.0):
    """Windows as AVGN clusters them: log magnitude, floored ``dynamic_range_db`` below the window's peak, 0..1.

    The windows are the front end's normalised ones. A per-window normalisation ``(S - m) / (s + 1)``
    keeps the order of the magnitudes, so ``x - min(x)`` is ``(S - min S) / (s + 1)``: the
    magnitude up to a per-window factor (``min S`` of a band spectrogram is close to 0). Its
    logarithm is the log magnitude up to a per-window shift, which the scaling to 0..1 removes.
    With ``magnitude="log"`` or ``"pcen"`` the front end already compressed the magnitudes
    (``log1p``, PCEN's root), and the windows are only scaled to 0..1.

    Returns
    -------
    np.ndarray, shape (n_windows, frames * bins), float32, each row in 0..1
    """
    if magnitude not in MAGNITUDES:
        raise ParameterError(f"magnitude must be one of {MAGNITUDES}, got {magnitude!r}")
    windows = _windows(windows)
    x = np.asarray(windows, dtype=np.float32).reshape(np.shape(windows)[0], -1)
    x = x - x.min(axis=1, keepdims=True)
    if magnitude == "linear":
        peak = np.maximum(x.max(axis=1, keepdims=True), 1e-12)
        x = 20.0 * np.log10(np.maximum(x, peak * 10.0 ** (-dynamic_range_db / 20.0)))
        x = x - x.min(axis=1, keepdims=True)
    return x / np.maximum(x.max(axis=1, keepdims=True), 1e-12)


def avgn_embedding(windows, *, magnitude="linear", n_neighbors=15, random_state=0):
    """AVGN's 2-D UMAP (min_dist 0) of the log-magnitude windows, shape (n_windows, 2)."""
    from dolphin_ae.analysis.clustering import umap_reduce

    return umap_reduce(log_magnitude_windows(windows, magnitude=magnitude), n_components=2, n_neighbors=n_neighbors,
                       min_dist=0.0, random_state=random_state)


def avgn_labels(windows, *, magnitude="linear", min_cluster_fraction=0.01, n_neighbors=15, random_state=0,
                embedded=None):
    """AVGN clusters of windows: 2-D UMAP of log-magnitude windows, HDBSCAN (min_samples 1).

    ``min_cluster_size`` is ``min_cluster_fraction`` of the windows (at least 2). ``embedded``, if
    given, is :func:`avgn_embedding` of the windows, computed before. Returns labels (n_windows,),
    -1 unclustered.
    """
    from dolphin_ae.analysis.clustering import hdbscan_labels

    if embedded is None:
        embedded = avgn_embedding(windows, magnitude=magnitude, n_neighbors=n_neighbors, random_state=random_state)
    min_cluster_size = max(2, int(round(min_cluster_fraction * embedded.shape[0])))
    return hdbscan_labels(embedded, min_cluster_size=min_cluster_size, min_samples=1)


def raw_umap_embedding(windows, *, n_components=10, n_neighbors=15, random_state=0):
    """UMAP (min_dist 0) of the raw windows, flattened, shape (n_windows, n_components)."""
    from dolphin_ae.analysis.clustering import umap_reduce

    windows = _windows(windows)
    flat = np.asarray(windows, dtype=np.float32).reshape(np.shape(windows)[0], -1)
    return umap_reduce(flat, n_components=n_components, n_neighbors=n_neighbors, min_dist=0.0,
                       random_state=random_state)


def umap_kmeans_labels(windows, n_clusters, *, n_components=10, n_neighbors=15, random_state=0, embedded=None):
    """KMeans (``n_clusters``) on a ``n_components``-D UMAP of the raw windows. Labels (n_windows,).

    ``embedded``, if given, is :func:`raw_umap_embedding` of the windows, computed before.
    """
    from sklearn.cluster import KMeans

    if embedded is None:
        embedded = raw_umap_embedding(windows, n_components=n_components, n_neighbors=n_neighbors,
                                      random_state=random_state)
    if not 1 <= n_clusters <= embedded.shape[0]:
        raise ParameterError(f"n_clusters must lie in 1..{embedded.shape[0]} (the windows), got {n_clusters}")
    return KMeans(n_clusters=int(n_clusters), n_init=10, random_state=random_state).fit_predict(embedded)


def clustering_peers(windows, true_class, *, magnitude="linear", umap_components=10, n_neighbors=15, random_state=0):
    """Run both clustering peers on all windows and on the signal windows alone, and score them.

    Parameters
    ----------
    windows : np.ndarray, shape (n_windows, frames, bins)
        The windows the codes are scored on (the same subset).
    true_class : array-like, shape (n_windows,)
        True class of each window; :data:`dolphin_ae.constants.SILENCE_LABEL` marks the noise left out
        of the signal-only runs.
    magnitude : {"linear", "log", "pcen"}
        The front end's magnitude (:func:`log_magnitude_windows`).

    Returns
    -------
    scores : dict
        ``{peer: {"v_measure", "ari", "signals_v_measure", "signals_ari", "n_clusters",
        "unclustered_fraction"}}``; the signal-only scores are None (no truth to score against)
        when fewer than three signal windows or two signal classes are present.
    labels : dict
        ``{peer: labels of all windows}``.
    embeddings : dict
        ``{peer: UMAP coordinates of all windows}``: (n_windows, 2) for ``avgn``, (n_windows,
        umap_components) for ``umap_kmeans`` (the raw windows' UMAP, reusable for other clusterings).
    """
    from dolphin_ae.analysis.clustering import clustering_scores

    windows = _windows(windows)
    true_class = np.asarray(true_class)
    if true_class.shape != (np.shape(windows)[0],):
        raise ParameterError(f"true_class must hold one label per window, got {true_class.shape} for "
                             f"{np.shape(windows)[0]} windows")
    signals = np.flatnonzero(signal_mask(true_class))
    embed = {
        "avgn": lambda w: avgn_embedding(w, magnitude=magnitude, n_neighbors=n_neighbors, random_state=random_state),
        "umap_kmeans": lambda w: raw_umap_embedding(w, n_components=umap_components, n_neighbors=n_neighbors,
                                                    random_state=random_state),
    }
    cluster = {
        "avgn": lambda e, truth: avgn_labels(None, embedded=e),
        "umap_kmeans": lambda e, truth: umap_kmeans_labels(None, _n_classes(truth), embedded=e,
                                                           random_state=random_state),
    }
    scores, labels, embeddings = {}, {}, {}
    for peer in CLUSTERING_PEERS:
        embeddings[peer] = embed[peer](windows)
        labels[peer] = cluster[peer](embeddings[peer], true_class)
        everything = clustering_scores(true_class, labels[peer])
        signal_scores = None
        if signals.size >= 3 and _n_classes(true_class[signals]) >= 2:
            truth = true_class[signals]
            signal_scores = clustering_scores(truth, cluster[peer](embed[peer](windows[signals]), truth))
        scores[peer] = {"v_measure": everything["v_measure"], "ari": everything["ari"],
                        "signals_v_measure": None if signal_scores is None else signal_scores["v_measure"],
                        "signals_ari": None if signal_scores is None else signal_scores["ari"],
                        "n_clusters": everything["n_clusters"],
                        "unclustered_fraction": everything["unclustered_fraction"]}
    return scores, labels, embeddings


def code_scores_k_true(codes, true_class, *, scaling="l2", random_state=0):
    """KMeans on the codes with k = the number of true classes, on all windows and on the signal windows.

    Returns
    -------
    dict
        ``v_measure_k_true``, ``ari_k_true``, ``k_true`` and ``signals``: ``{"v_measure", "ari",
        "k", "n_windows"}`` for the signal windows alone (noise left out; k = true signal classes),
        or None when fewer than two signal classes are present.
    """
    from dolphin_ae.analysis.clustering import cluster_windows, clustering_scores

    codes = np.asarray(codes)
    true_class = np.asarray(true_class)
    if codes.ndim != 2 or codes.shape[0] != true_class.shape[0]:
        raise ParameterError(f"codes must be (n_windows, n_features) with one true class each, got {codes.shape} "
                             f"and {true_class.shape}")
    k_true = _n_classes(true_class)
    everything = clustering_scores(true_class, cluster_windows(codes, method="kmeans", n_clusters=k_true,
                                                               scaling=scaling, random_state=random_state))
    signals = signal_mask(true_class)
    result = {"v_measure_k_true": everything["v_measure"], "ari_k_true": everything["ari"], "k_true": k_true,
              "signals": None}
    if signals.sum() >= 3 and _n_classes(true_class[signals]) >= 2:
        k = _n_classes(true_class[signals])
        scores = clustering_scores(true_class[signals], cluster_windows(
            codes[signals], method="kmeans", n_clusters=k, scaling=scaling, random_state=random_state))
        result["signals"] = {"v_measure": scores["v_measure"], "ari": scores["ari"], "k": k,
                             "n_windows": int(signals.sum())}
    return result
