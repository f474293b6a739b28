"""Discovery of recurring patterns among sequences, and its score against planted motifs.

The 2019 study's density rule: for each sequence its ``k`` nearest DTW neighbours; density is one
over the distance to the ``k``-th; a sequence is a *mode* when it is denser than every one of its
neighbours and its density is above a percentile of all densities; each mode and its neighbours
form a discovered group. :func:`density_modes` implements it from a neighbour list, which either
the full DTW matrix (:func:`knn_from_distances`) or the cheaper candidate search
(:func:`approximate_knn`) provides.

:func:`tight_groups` is this project's rule. A motif that recurs is a set of sequences that are
much closer to each other than two sequences usually are. It links each pair of sequences that
are among each other's ``k`` nearest neighbours (mutual neighbours) and closer than a fraction of
the median distance between two sequences (:func:`median_pair_distance`, or
:func:`sampled_median_distance` without the full matrix), and reports the connected groups of at
least ``min_group_size`` sequences. Groups grow to the size of the motif instead of the fixed
``k + 1`` members of a density mode, and dense regions of ordinary, non-recurring calls, which
hold modes of their own, are not reported.

Scores (:func:`discovery_scores`): a discovered group *finds* a motif when more than half of its
members (``min_purity``) are renditions of that motif. Precision is the share of groups that find
a motif; recall is the share of planted motifs (with at least two renditions) found by some group.
They need a motif truth: data without one (no ``motif`` column in its truth table) has no
precision or recall, and ``null`` is what a run reports.
"""

from dataclasses import dataclass, field

import numpy as np

from dolphin_ae.analysis.dtw import SequenceSet, dtw_pairs
from dolphin_ae.exceptions import ParameterError

# The 2019 study's density rule (ORIGINAL_PIPELINE.md): k = 3 neighbours, modes above the 15th
# percentile of density, on the DTW distances of raw codes with gap penalty 10.
SEED_DENSITY_SETTINGS = {"k": 3, "percentile": 15.0, "gap_penalty": 10.0}


@dataclass
class Discovery:
    """Groups of items (sequence indices) found by a discovery rule.

    ``groups`` is a list of integer arrays, the first member of a density group being its mode;
    ``density`` (one per item) is filled by the density rule.
    """

    groups: list
    modes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    density: np.ndarray = None
    threshold: float = None

    @property
    def n_groups(self):
        return len(self.groups)

    def item_group(self, n_items):
        """Group number of each of ``n_items`` items (the first group that holds it), -1 for none."""
        out = np.full(n_items, -1, dtype=int)
        for number, members in enumerate(self.groups):
            free = out[members] == -1
            out[np.asarray(members)[free]] = number
        return out


def _square(D):
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ParameterError(f"D must be a square distance matrix, got shape {D.shape}")
    return D


def knn_from_distances(D, k):
    """The ``k`` nearest neighbours of each item in a full distance matrix, itself excluded.

    Returns
    -------
    indices : np.ndarray of int, shape (n_items, k)
    distances : np.ndarray, shape (n_items, k), ascending along each row
    """
    D = _square(D)
    if not 1 <= k < D.shape[0]:
        raise ParameterError(f"k must lie in 1..{D.shape[0] - 1} (items - 1), got {k}")
    masked = D.copy()
    np.fill_diagonal(masked, np.inf)
    indices = np.argsort(masked, axis=1, kind="stable")[:, :k]
    return indices, np.take_along_axis(masked, indices, axis=1)


def sequence_summaries(sequences, *, n_points=8):
    """Each sequence resampled to ``n_points`` steps by linear interpolation and flattened.

    A fixed-length stand-in for a variable-length sequence, cheap to compare with a Euclidean
    distance; it keeps the order of events that a mean code would lose.

    Returns
    -------
    np.ndarray, shape (n_sequences, n_points * n_features)
    """
    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    if n_points < 1:
        raise ParameterError(f"n_points must be at least 1, got {n_points}")
    out = np.empty((len(sequences), n_points * sequences.flat.shape[1]))
    target = np.linspace(0.0, 1.0, n_points)
    for i in range(len(sequences)):
        s = sequences[i]
        source = np.linspace(0.0, 1.0, s.shape[0]) if s.shape[0] > 1 else np.zeros(1)
        resampled = np.stack([np.interp(target, source, s[:, f]) for f in range(s.shape[1])], axis=1)
        out[i] = resampled.ravel()
    return out


def approximate_knn(sequences, k, *, n_candidates=None, n_points=8, gap_penalty=10.0, band="seed"):
    """``k`` nearest DTW neighbours found among a few candidates per sequence.

    Candidates are the ``n_candidates`` nearest sequences by the Euclidean distance of
    :func:`sequence_summaries`; DTW is computed only for those pairs (each pair once), so the cost
    grows with ``n_sequences * n_candidates`` instead of ``n_sequences ** 2``.

    Returns
    -------
    indices : np.ndarray of int, shape (n_sequences, k)
    distances : np.ndarray, shape (n_sequences, k), ascending DTW distances
    n_pairs : int
        DTW pairs computed.
    """
    from sklearn.neighbors import NearestNeighbors

    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    n = len(sequences)
    if not 1 <= k < n:
        raise ParameterError(f"k must lie in 1..{n - 1} (sequences - 1), got {k}")
    n_candidates = int(min(n - 1, n_candidates or 4 * k))
    if n_candidates < k:
        raise ParameterError(f"n_candidates must be at least k = {k}, got {n_candidates}")
    summaries = sequence_summaries(sequences, n_points=n_points)
    _, neighbours = NearestNeighbors(n_neighbors=n_candidates + 1).fit(summaries).kneighbors(summaries)
    pairs = set()
    for i, row in enumerate(neighbours):
        for j in row:
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    pairs = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    values = dtw_pairs(sequences, pairs[:, 0], pairs[:, 1], gap_penalty=gap_penalty, band=band)
    candidates = [[] for _ in range(n)]
    for (i, j), value in zip(pairs, values):
        candidates[i].append((value, j))
        candidates[j].append((value, i))
    indices = np.empty((n, k), dtype=int)
    distances = np.empty((n, k))
    for i, found in enumerate(candidates):
        found.sort()
        if len(found) < k:  # cannot happen with symmetric candidate lists of n_candidates >= k
            raise ParameterError(f"sequence {i} has only {len(found)} candidates, fewer than k = {k}")
        indices[i] = [j for _, j in found[:k]]
        distances[i] = [value for value, _ in found[:k]]
    return indices, distances, int(len(pairs))


def neighbour_agreement(indices, reference_indices):
    """Mean share of each item's reference neighbours that ``indices`` also lists (1 = identical sets)."""
    indices = np.asarray(indices)
    reference_indices = np.asarray(reference_indices)
    if indices.shape != reference_indices.shape:
        raise ParameterError(f"neighbour lists must have one shape, got {indices.shape} and {reference_indices.shape}")
    shared = [len(set(a) & set(b)) for a, b in zip(indices, reference_indices)]
    return float(np.mean(shared) / indices.shape[1])


def density_modes(indices, distances, *, percentile=15.0):
    """The seed's density rule on a neighbour list.

    Parameters
    ----------
    indices : np.ndarray of int, shape (n_items, k)
        Each item's ``k`` nearest neighbours, nearest first (itself excluded).
    distances : np.ndarray, shape (n_items, k)
        The matching distances, ascending.
    percentile : float
        A mode's density must be at least this percentile of all densities (the seed's was 15).

    Returns
    -------
    Discovery
        One group per mode, ``[mode, *its k neighbours]``, modes by decreasing density;
        ``density`` is ``1 / distance to the k-th neighbour``.
    """
    indices = np.asarray(indices, dtype=int)
    distances = np.asarray(distances, dtype=np.float64)
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise ParameterError(f"indices and distances must be (n_items, k) arrays of one shape, got "
                             f"{indices.shape} and {distances.shape}")
    if not 0 <= percentile <= 100:
        raise ParameterError(f"percentile must lie in 0..100, got {percentile}")
    density = 1.0 / np.maximum(distances[:, -1], 1e-12)
    threshold = float(np.percentile(density, percentile))
    is_mode = np.array([density[i] > density[indices[i]].max() and density[i] >= threshold
                        for i in range(indices.shape[0])], dtype=bool)
    modes = np.flatnonzero(is_mode)
    modes = modes[np.argsort(-density[modes], kind="stable")]
    groups = [np.concatenate([[mode], indices[mode]]) for mode in modes]
    return Discovery(groups=groups, modes=modes, density=density, threshold=threshold)


def median_pair_distance(D):
    """Median of the off-diagonal entries of a full distance matrix: how far apart two calls usually are."""
    D = _square(D)
    upper = D[np.triu_indices(D.shape[0], k=1)]
    if upper.size == 0:
        raise ParameterError("need at least 2 items for a pair distance")
    return float(np.median(upper))


def sampled_median_distance(sequences, *, n_pairs=2000, seed=0, gap_penalty=10.0, band="seed"):
    """The median DTW distance estimated from ``n_pairs`` random pairs (all pairs when there are fewer).

    The scale :func:`tight_groups` needs, without the full matrix.
    """
    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    n = len(sequences)
    if n < 2:
        raise ParameterError("need at least 2 sequences for a pair distance")
    first, second = np.triu_indices(n, k=1)
    if first.size > n_pairs:
        chosen = np.random.default_rng(seed).choice(first.size, size=int(n_pairs), replace=False)
        first, second = first[chosen], second[chosen]
    return float(np.median(dtw_pairs(sequences, first, second, gap_penalty=gap_penalty, band=band)))


def tight_groups(indices, distances, *, threshold, min_group_size=3):
    """This project's rule: connected groups of mutual neighbours closer than ``threshold``.

    Parameters
    ----------
    indices, distances : np.ndarray, shape (n_items, k)
        Nearest-neighbour lists as for :func:`density_modes`.
    threshold : float
        Longest link (distance units), e.g. a fraction of :func:`median_pair_distance`.
    min_group_size : int
        Smallest group reported (a recurring pattern needs at least this many renditions).

    Returns
    -------
    Discovery
        Groups by decreasing size; the first member of each is its most central item (smallest
        mean distance to the group's other members among its listed neighbours).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    indices = np.asarray(indices, dtype=int)
    distances = np.asarray(distances, dtype=np.float64)
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise ParameterError(f"indices and distances must be (n_items, k) arrays of one shape, got "
                             f"{indices.shape} and {distances.shape}")
    if min_group_size < 2:
        raise ParameterError(f"min_group_size must be at least 2, got {min_group_size}")
    n = indices.shape[0]
    cut = float(threshold)
    listed = {(i, int(j)): d for i in range(n) for j, d in zip(indices[i], distances[i])}
    rows, cols = [], []
    for (i, j), d in listed.items():
        if (j, i) in listed and d <= cut:
            rows.append(i)
            cols.append(j)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    groups = []
    for number in np.unique(component):
        members = np.flatnonzero(component == number)
        if members.size < min_group_size:
            continue
        inside = set(members.tolist())
        centrality = [np.mean([d for j, d in zip(indices[i], distances[i]) if j in inside] or [np.inf])
                      for i in members]
        groups.append(members[np.argsort(centrality, kind="stable")])
    groups.sort(key=lambda g: (-g.size, g[0]))
    modes = np.array([g[0] for g in groups], dtype=int)
    return Discovery(groups=groups, modes=modes, threshold=cut)


def discovery_scores(groups, motifs, *, min_purity=0.5, no_motif=""):
    """Precision and recall of discovered groups against planted motifs.

    Parameters
    ----------
    groups : list of arrays of item indices
    motifs : array-like of str, shape (n_items,)
        The planted motif of each item, ``no_motif`` for items that are no rendition of one.
    min_purity : float
        A group finds a motif when more than this share of its members are renditions of it.

    Returns
    -------
    dict
        ``precision`` (share of groups that find a motif; None without groups), ``recall`` (share of
        planted motifs with at least two renditions found by a group; None without such motifs),
        ``n_groups``, ``n_planted``, ``n_found``, ``found`` (the motif ids found),
        ``rendition_recall`` (share of renditions of planted motifs inside a group that found their
        motif) and ``per_group`` (majority motif and purity of each group).
    """
    motifs = np.asarray(motifs).astype(str)
    if not 0 <= min_purity < 1:
        raise ParameterError(f"min_purity must lie in [0, 1), got {min_purity}")
    values, counts = np.unique(motifs[motifs != no_motif], return_counts=True)
    planted = set(values[counts >= 2].tolist())
    per_group, found, covered = [], set(), set()
    for members in groups:
        members = np.asarray(members, dtype=int)
        if members.size == 0:
            raise ParameterError("a discovered group is empty")
        labels = motifs[members]
        named = labels[labels != no_motif]
        if named.size:
            names, name_counts = np.unique(named, return_counts=True)
            best = names[np.argmax(name_counts)]
            purity = float(np.max(name_counts) / members.size)
        else:
            best, purity = no_motif, 0.0
        hit = bool(best in planted and purity > min_purity)
        if hit:
            found.add(str(best))
            covered.update(members[labels == best].tolist())
        per_group.append({"motif": str(best), "purity": purity, "size": int(members.size), "finds_motif": hit})
    n_renditions = int(np.isin(motifs, list(planted)).sum())
    return {
        "precision": float(np.mean([g["finds_motif"] for g in per_group])) if per_group else None,
        "recall": len(found) / len(planted) if planted else None,
        "n_groups": len(per_group),
        "n_planted": len(planted),
        "n_found": len(found),
        "found": sorted(found),
        "rendition_recall": len(covered) / n_renditions if n_renditions else None,
        "per_group": per_group,
    }
