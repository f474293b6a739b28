"""Clustering of window codes and of code sequences, and its scores against known classes.

Window level: KMeans, Ward-linkage agglomerative clustering and HDBSCAN on the codes, optionally
after a UMAP reduction; the AVGN-style peer (Sainburg, Thielk & Gentner 2020) is UMAP + HDBSCAN on
the raw spectrogram windows. Sequence level: the 2019 study's average-linkage agglomerative
clustering of a DTW distance matrix, cut at a percentile of the distances.

Scores (:func:`clustering_scores`) compare predicted clusters with true classes: homogeneity
(each cluster holds one class), completeness (each class sits in one cluster), their harmonic mean
the V-measure, and the adjusted Rand index (0 for chance, 1 for identical partitions). HDBSCAN's
unclustered points (label -1) are scored as one more cluster, so leaving points out is not free.
"""

import numpy as np

from dolphin_ae.exceptions import ParameterError

WINDOW_METHODS = ("kmeans", "agglomerative", "hdbscan", "umap_hdbscan", "umap_kmeans")
SCALINGS = ("l2", "standard", "standard_l2", "whiten", "whiten_l2", "none")


def _labels(name, values):
    values = np.asarray(values)
    if values.ndim != 1:
        raise ParameterError(f"{name} must be one-dimensional, got shape {values.shape}")
    return values


def clustering_scores(labels_true, labels_pred):
    """Homogeneity, completeness, V-measure and adjusted Rand index of a clustering.

    Parameters
    ----------
    labels_true : array-like, shape (n_items,)
        True class of each item (any hashable values).
    labels_pred : array-like, shape (n_items,)
        Cluster of each item; -1 (unclustered) counts as one more cluster.

    Returns
    -------
    dict
        ``homogeneity``, ``completeness``, ``v_measure``, ``ari`` (each in [0, 1], ARI can dip
        below 0), ``n_clusters`` (including the unclustered group), ``n_classes``,
        ``unclustered_fraction`` and ``n_items``.
    """
    from sklearn import metrics

    labels_true = _labels("labels_true", labels_true)
    labels_pred = _labels("labels_pred", labels_pred)
    if labels_true.shape != labels_pred.shape:
        raise ParameterError(f"labels_true and labels_pred must have one length, got {labels_true.shape[0]} "
                             f"and {labels_pred.shape[0]}")
    if labels_true.size == 0:
        raise ParameterError("no items to score")
    homogeneity, completeness, v_measure = metrics.homogeneity_completeness_v_measure(labels_true, labels_pred)
    return {
        "homogeneity": float(homogeneity),
        "completeness": float(completeness),
        "v_measure": float(v_measure),
        "ari": float(metrics.adjusted_rand_score(labels_true, labels_pred)),
        "n_clusters": int(len(np.unique(labels_pred))),
        "n_classes": int(len(np.unique(labels_true))),
        "unclustered_fraction": float(np.mean(labels_pred.astype(str) == "-1")),
        "n_items": int(labels_true.size),
    }


def _check_features(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] < 2:
        raise ParameterError(f"need at least 2 items to cluster, got {X.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise ParameterError("features hold NaN or infinite values")
    return X


def import_umap():
    """The ``umap`` module, imported without tqdm's "IProgress not found" warning.

    umap imports ``tqdm.auto``, which inside a Jupyter kernel without ipywidgets warns that it
    cannot draw a notebook progress bar and falls back to the text bar. The book's kernels have no
    widgets on purpose (the pages are static), so the warning says nothing to a reader; only that
    warning is silenced, and only during the import.
    """
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        import umap
    return umap


def umap_reduce(X, *, n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean", random_state=0):
    """UMAP coordinates of ``X`` (n_items, n_features) -> (n_items, n_components).

    ``n_neighbors`` is lowered to ``n_items - 1`` for very small sets. With a fixed
    ``random_state`` UMAP runs single-threaded and repeats exactly.
    """
    umap = import_umap()

    X = _check_features(X)
    n_neighbors = int(max(2, min(n_neighbors, X.shape[0] - 1)))
    n_components = int(max(1, min(n_components, X.shape[0] - 2)))
    # The spectral start needs a few more items than dimensions; tiny sets start at random.
    init = "spectral" if X.shape[0] > n_components + 2 else "random"
    reducer = umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric,
                        random_state=random_state, init=init, n_jobs=1)
    return reducer.fit_transform(X)


def hdbscan_labels(X, *, min_cluster_size=5, min_samples=None, metric="euclidean"):
    """HDBSCAN cluster of each row of ``X`` (or of a precomputed distance matrix); -1 is unclustered."""
    from sklearn.cluster import HDBSCAN

    X = np.asarray(X, dtype=np.float64)
    min_cluster_size = int(max(2, min(min_cluster_size, X.shape[0])))
    if min_samples is not None:
        min_samples = int(max(1, min(min_samples, X.shape[0] - 1)))
    return HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, metric=metric,
                   copy=True).fit_predict(X)


def code_statistics(X, *, whiten=False):
    """Statistics of reference codes (e.g. the training windows') for :func:`scale_codes`.

    Returns ``(mean, spread)``, per feature, with a spread of 1 for features that never vary; with
    ``whiten``, ``(mean, W)`` instead, where ``(x - mean) @ W`` has the identity covariance on the
    reference codes: W's columns are the principal axes divided by their standard deviations, and
    axes with less than 1e-6 of the largest variance are dropped.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ParameterError(f"reference codes must be an (n_items >= 2, n_features) array, got shape {X.shape}")
    mean = X.mean(axis=0)
    if whiten:
        variances, axes = np.linalg.eigh(np.cov(X - mean, rowvar=False))
        kept = variances > max(variances.max(), 1e-300) * 1e-6
        return mean, axes[:, kept] / np.sqrt(variances[kept])
    spread = X.std(axis=0)
    return mean, np.where(spread > 1e-12, spread, 1.0)


def scale_codes(X, *, scaling="l2", statistics=None):
    """Codes made comparable before clustering.

    Parameters
    ----------
    X : np.ndarray, shape (n_items, n_features)
    scaling : {"l2", "standard", "standard_l2", "whiten", "whiten_l2", "none"}
        ``l2``: each code divided by its Euclidean length, so that distances compare directions
        (a code's length mostly follows how loud and busy the window is); ``standard``: each
        feature to zero mean and unit variance; ``standard_l2``: standardised, then to unit length,
        so that directions are measured from the typical code rather than from the origin (where
        every code of a rectified layer points into one corner); ``whiten``: centred and turned
        onto the principal axes, each to unit variance, so that features that move together count
        once; ``whiten_l2``: whitened, then to unit length; ``none``: unchanged.
    statistics : tuple or None
        For the standardising and whitening scalings: :func:`code_statistics` of reference codes
        (with ``whiten=True`` for the whitening ones). None uses ``X``'s own, which is right for a
        set of windows but not for one short sequence.

    Returns
    -------
    np.ndarray, shape (n_items, n_features), float64
        For the whitening scalings, (n_items, n_axes): one column per principal axis kept.
    """
    if scaling not in SCALINGS:
        raise ParameterError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    X = np.asarray(X, dtype=np.float64)
    whiten = scaling in ("whiten", "whiten_l2")
    if scaling in ("standard", "standard_l2") or whiten:
        mean, transform = statistics if statistics is not None else code_statistics(X, whiten=whiten)
        expected = 2 if whiten else 1
        if np.ndim(transform) != expected:
            raise ParameterError(f"scaling {scaling!r} needs code_statistics(..., whiten={whiten}), got statistics "
                                 f"with a {np.ndim(transform)}-d transform")
        if np.shape(mean) != X.shape[-1:] or np.shape(transform)[0] != X.shape[-1]:
            raise ParameterError(f"statistics are for {np.shape(mean)} features, the codes have {X.shape[-1]}")
        X = (X - mean) @ transform if whiten else (X - mean) / transform
        if scaling in ("standard", "whiten"):
            return X
    if scaling != "none":
        return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-12)
    return X


def cluster_windows(X, *, method="kmeans", n_clusters=8, min_cluster_size=10, scaling="l2", umap_components=10,
                    umap_neighbors=15, random_state=0):
    """Cluster items described by feature vectors (window codes, or flattened windows).

    Parameters
    ----------
    X : np.ndarray, shape (n_items, n_features)
    method : {"kmeans", "agglomerative", "hdbscan", "umap_hdbscan", "umap_kmeans"}
        ``agglomerative`` is Ward linkage; the ``umap_*`` methods first reduce ``X`` to
        ``umap_components`` dimensions with UMAP (min_dist 0, as the AVGN recipe does for clustering).
    n_clusters : int
        Clusters for KMeans and agglomerative (capped at ``n_items``).
    min_cluster_size : int
        Smallest HDBSCAN cluster (items).
    scaling : {"l2", "standard", "none"}
        How the features are scaled first (:func:`scale_codes`).

    Returns
    -------
    labels : np.ndarray of int, shape (n_items,); -1 marks HDBSCAN's unclustered items.
    """
    from sklearn.cluster import AgglomerativeClustering, KMeans

    if method not in WINDOW_METHODS:
        raise ParameterError(f"method must be one of {WINDOW_METHODS}, got {method!r}")
    if n_clusters < 1:
        raise ParameterError(f"n_clusters must be at least 1, got {n_clusters}")
    X = _check_features(X)
    n_clusters = int(min(n_clusters, X.shape[0]))
    X = scale_codes(X, scaling=scaling)
    if method.startswith("umap_"):
        X = umap_reduce(X, n_components=umap_components, n_neighbors=umap_neighbors, min_dist=0.0,
                        random_state=random_state)
    if method in ("kmeans", "umap_kmeans"):
        return KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state).fit_predict(X)
    if method == "agglomerative":
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(X)
    return hdbscan_labels(X, min_cluster_size=min_cluster_size)


def umap_hdbscan_baseline(windows, *, n_components=10, n_neighbors=15, min_cluster_size=10, random_state=0):
    """The AVGN-style peer: UMAP of the raw (flattened) spectrogram windows, then HDBSCAN.

    Parameters
    ----------
    windows : np.ndarray, shape (n_items, frames, bins) or (n_items, n_features)

    Returns
    -------
    labels : np.ndarray of int, shape (n_items,); -1 is unclustered.
    """
    windows = np.asarray(windows, dtype=np.float32)
    flat = windows.reshape(windows.shape[0], -1)
    embedded = umap_reduce(flat, n_components=n_components, n_neighbors=n_neighbors, min_dist=0.0,
                           random_state=random_state)
    return hdbscan_labels(embedded, min_cluster_size=min_cluster_size)


def percentile_threshold(D, percentile):
    """The ``percentile``-th percentile of the off-diagonal entries of a distance matrix ``D``."""
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ParameterError(f"D must be a square distance matrix, got shape {D.shape}")
    if not 0 <= percentile <= 100:
        raise ParameterError(f"percentile must lie in 0..100, got {percentile}")
    upper = D[np.triu_indices(D.shape[0], k=1)]
    if upper.size == 0:
        return 0.0
    return float(np.percentile(upper, percentile))


def agglomerative_from_distances(D, *, percentile=20.0, threshold=None, linkage="average"):
    """The seed's sequence clustering: agglomerative on a precomputed distance matrix, cut at a threshold.

    Parameters
    ----------
    D : np.ndarray, shape (n_items, n_items)
        Symmetric distances (e.g. :func:`dolphin_ae.analysis.dtw.pairwise_dtw`).
    percentile : float
        The cut is this percentile of all pairwise distances (the seed's was 20), unless ``threshold``
        is given.
    threshold : float or None
        An explicit cut (distance units).
    linkage : {"average", "complete", "single"}

    Returns
    -------
    labels : np.ndarray of int, shape (n_items,)
        Clusters numbered by decreasing size (0 is the largest).
    """
    from scipy.cluster.hierarchy import fcluster, linkage as scipy_linkage
    from scipy.spatial.distance import squareform

    if linkage not in ("average", "complete", "single"):
        raise ParameterError(f"linkage must be 'average', 'complete' or 'single', got {linkage!r}")
    D = np.asarray(D, dtype=np.float64)
    cut = percentile_threshold(D, percentile) if threshold is None else float(threshold)
    if D.shape[0] == 1:
        return np.zeros(1, dtype=int)
    tree = scipy_linkage(squareform(D, checks=False), method=linkage)
    raw = fcluster(tree, t=cut, criterion="distance")
    return relabel_by_size(raw)


def relabel_by_size(labels):
    """Renumber clusters 0, 1, ... by decreasing size; -1 (unclustered) stays -1."""
    labels = np.asarray(labels)
    kept = labels[labels != -1]
    values, counts = np.unique(kept, return_counts=True)
    order = values[np.lexsort((values, -counts))]
    mapping = {value: rank for rank, value in enumerate(order)}
    return np.array([mapping.get(label, -1) for label in labels], dtype=int)
