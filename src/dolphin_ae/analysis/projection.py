"""Two-dimensional maps of window codes: t-SNE (the 2019 study's), UMAP and PCA.

Each map is judged by how well it keeps the classes apart: the share of items whose
``n_neighbors`` nearest neighbours on the map mostly share their true class
(:func:`neighbour_label_agreement`), computed the same way in the codes themselves.
"""

import numpy as np

from dolphin_ae.exceptions import ParameterError

PROJECTIONS = ("tsne", "umap", "pca")
PROJECTION_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}


def project(X, *, method="tsne", perplexity=30.0, n_neighbors=15, min_dist=0.1, random_state=0):
    """A 2-D map of the rows of ``X``.

    Parameters
    ----------
    X : np.ndarray, shape (n_items, n_features)
    method : {"tsne", "umap", "pca"}
    perplexity : float
        t-SNE's effective number of neighbours (lowered to ``(n_items - 1) / 3`` for small sets).
    n_neighbors, min_dist : int, float
        UMAP's neighbourhood size and how tightly it packs points.

    Returns
    -------
    np.ndarray, shape (n_items, 2)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ParameterError(f"X must have shape (n_items >= 3, n_features), got {X.shape}")
    if method not in PROJECTIONS:
        raise ParameterError(f"method must be one of {PROJECTIONS}, got {method!r}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(X)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(perplexity, max(1.0, (X.shape[0] - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(X)
    from dolphin_ae.analysis.clustering import umap_reduce

    return umap_reduce(X, n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state)


def neighbour_label_agreement(Y, labels, *, n_neighbors=5):
    """Leave-one-out accuracy of a ``n_neighbors``-nearest-neighbour vote for the true label.

    Parameters
    ----------
    Y : np.ndarray, shape (n_items, n_dims)
        Map or code coordinates.
    labels : array-like, shape (n_items,)

    Returns
    -------
    float in [0, 1]; 1 when every item's neighbours vote for its own class.
    """
    from sklearn.neighbors import NearestNeighbors

    Y = np.asarray(Y, dtype=np.float64)
    labels = np.asarray(labels)
    if Y.shape[0] != labels.shape[0]:
        raise ParameterError(f"Y and labels must have one length, got {Y.shape[0]} and {labels.shape[0]}")
    n_neighbors = int(min(n_neighbors, Y.shape[0] - 1))
    if n_neighbors < 1:
        raise ParameterError("need at least 2 items")
    _, neighbours = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(Y).kneighbors(Y)
    correct = 0
    for i, row in enumerate(neighbours):
        votes = labels[[j for j in row if j != i][:n_neighbors]]
        values, counts = np.unique(votes, return_counts=True)
        correct += values[np.argmax(counts)] == labels[i]
    return float(correct / Y.shape[0])


def spread_subset(Y, n_items, *, grid=None):
    """Indices of up to ``n_items`` points spread over a 2-D map, at most one per grid cell.

    The map's bounding box is cut into a ``grid`` x ``grid`` lattice (by default about
    ``sqrt(2 * n_items)`` cells a side); in each occupied cell the point nearest the cell's centre
    is kept, the most crowded cells first. Thumbnails drawn at these points do not pile up.

    Returns
    -------
    np.ndarray of int, sorted
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != 2:
        raise ParameterError(f"Y must have shape (n_items, 2), got {Y.shape}")
    if n_items < 1:
        raise ParameterError(f"n_items must be at least 1, got {n_items}")
    grid = int(grid or max(2, np.ceil(np.sqrt(2 * n_items))))
    low, high = Y.min(axis=0), Y.max(axis=0)
    size = np.maximum(high - low, 1e-12) / grid
    cells = np.minimum(((Y - low) / size).astype(int), grid - 1)
    cell_id = cells[:, 0] * grid + cells[:, 1]
    centres = low + (cells + 0.5) * size
    distance = np.linalg.norm((Y - centres) / size, axis=1)
    chosen = []
    ids, counts = np.unique(cell_id, return_counts=True)
    for cell in ids[np.argsort(-counts, kind="stable")][:n_items]:
        members = np.flatnonzero(cell_id == cell)
        chosen.append(members[np.argmin(distance[members])])
    return np.sort(np.array(chosen, dtype=int))


def stratified_subset(labels, n_items, *, seed=0):
    """Indices of at most ``n_items`` items, each label keeping its share (at least one each). Sorted."""
    labels = np.asarray(labels)
    if n_items <= 0 or n_items >= labels.shape[0]:
        return np.arange(labels.shape[0])
    rng = np.random.default_rng(seed)
    chosen = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        take = max(1, int(round(n_items * members.size / labels.shape[0])))
        chosen.append(rng.choice(members, size=min(take, members.size), replace=False))
    return np.sort(np.concatenate(chosen))
