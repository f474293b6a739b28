"""Dynamic time warping between sequences of window codes, compiled with numba.

The 2019 study compared whistles as sequences of codes (one code per window, windows every
win/10 frames) with a banded DTW:

- local cost: the Euclidean distance between two codes;
- a diagonal step (both sequences advance) costs the local cost; a step in which only one sequence
  advances costs the local cost plus ``gap_penalty`` (the seed's was 10);
- only cells with ``|i - j| <= band`` are visited, a Sakoe-Chiba band; the seed's width is
  ``max((n + m) / 4, |n - m| + 2)`` for sequences of ``n`` and ``m`` codes, which always
  reaches the last cell;
- the total is divided by ``n + m``, so that long and short pairs compare.

:func:`dtw_distance_reference` states that definition in plain Python, one cell at a time;
:func:`dtw_distance`, :func:`pairwise_dtw` and :func:`dtw_pairs` compute the same numbers with
compiled loops, the all-pairs matrix in parallel over pairs.

Cost. One pair of lengths ``n`` and ``m`` visits about ``n * (2 * band + 1)`` cells of ``d``
numbers each; all pairs of ``N`` sequences repeat that ``N (N - 1) / 2`` times, so the matrix
grows with the square of the number of sequences. :func:`dtw_pairs` computes only the pairs asked
for (for example each sequence against a few candidates found on cheap summaries), which grows
linearly.
"""

import math

import numba
import numpy as np

from dolphin_ae.exceptions import ParameterError

SEED_GAP_PENALTY = 10.0


def seed_band(n, m):
    """The seed's Sakoe-Chiba half-width for sequences of ``n`` and ``m`` codes: ``max((n+m)//4, |n-m|+2)``."""
    return max((int(n) + int(m)) // 4, abs(int(n) - int(m)) + 2)


def _band_for(n, m, band):
    if band is None:
        return max(int(n), int(m))  # no band: every cell
    if band == "seed":
        return seed_band(n, m)
    if isinstance(band, (int, np.integer)) and band >= 0:
        # Narrower than |n - m|, no path would reach the last cell.
        return max(int(band), abs(int(n) - int(m)))
    raise ParameterError(f"band must be 'seed', None or a non-negative integer, got {band!r}")


def _check_sequence(name, x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ParameterError(f"{name} must have shape (n_steps >= 1, n_features), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"{name} holds NaN or infinite values")
    return x


def dtw_distance_reference(a, b, *, gap_penalty=SEED_GAP_PENALTY, band="seed", normalize=True):
    """Banded DTW in plain Python, one cell at a time: the definition the compiled code must match.

    Slow (seconds for sequences of a few dozen codes); for tests and benchmarks.
    """
    a, b = _check_sequence("a", a), _check_sequence("b", b)
    n, m = a.shape[0], b.shape[0]
    width = _band_for(n, m, band)
    cost = [[math.inf] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if abs(i - j) > width:
                continue
            local = math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a[i - 1], b[j - 1])))
            cost[i][j] = local + min(cost[i - 1][j - 1], cost[i - 1][j] + gap_penalty, cost[i][j - 1] + gap_penalty)
    total = cost[n][m]
    return total / (n + m) if normalize else total


@numba.njit(cache=True, nogil=True)
def _dtw_kernel(a, b, gap_penalty, width, normalize):
    n, m, d = a.shape[0], b.shape[0], a.shape[1]
    # Two rows of the cost table; cells outside the band stay infinite.
    previous = np.full(m + 1, np.inf)
    current = np.full(m + 1, np.inf)
    previous[0] = 0.0
    for i in range(1, n + 1):
        current[:] = np.inf
        low = max(1, i - width)
        high = min(m, i + width)
        for j in range(low, high + 1):
            total = 0.0
            for k in range(d):
                diff = a[i - 1, k] - b[j - 1, k]
                total += diff * diff
            best = previous[j - 1]
            up = previous[j] + gap_penalty
            if up < best:
                best = up
            left = current[j - 1] + gap_penalty
            if left < best:
                best = left
            current[j] = math.sqrt(total) + best
        previous, current = current, previous
    if normalize:
        return previous[m] / (n + m)
    return previous[m]


@numba.njit(cache=True, nogil=True)
def _seed_width(n, m):
    return max((n + m) // 4, abs(n - m) + 2)


@numba.njit(cache=True, nogil=True)
def _pair_distance(flat, offsets, i, j, gap_penalty, fixed_width, normalize):
    """DTW of sequences ``i`` and ``j`` of a set stored end to end; ``fixed_width`` as :func:`_width_code`."""
    a = flat[offsets[i]:offsets[i + 1]]
    b = flat[offsets[j]:offsets[j + 1]]
    n, m = a.shape[0], b.shape[0]
    if fixed_width == -1:
        width = _seed_width(n, m)
    elif fixed_width == -2:
        width = max(n, m)
    else:
        width = max(fixed_width, abs(n - m))
    return _dtw_kernel(a, b, gap_penalty, width, normalize)


@numba.njit(cache=True, parallel=True)
def _pairs_kernel(flat, offsets, first, second, gap_penalty, fixed_width, normalize):
    out = np.empty(first.shape[0])
    for p in numba.prange(first.shape[0]):
        out[p] = _pair_distance(flat, offsets, first[p], second[p], gap_penalty, fixed_width, normalize)
    return out


@numba.njit(cache=True, nogil=True)
def _pairs_kernel_serial(flat, offsets, first, second, gap_penalty, fixed_width, normalize):
    """:func:`_pairs_kernel` in the calling thread alone (a cluster task's: the task is the unit of parallelism)."""
    out = np.empty(first.shape[0])
    for p in range(first.shape[0]):
        out[p] = _pair_distance(flat, offsets, first[p], second[p], gap_penalty, fixed_width, normalize)
    return out


def dtw_distance(a, b, *, gap_penalty=SEED_GAP_PENALTY, band="seed", normalize=True):
    """Banded DTW distance between two sequences of codes (compiled).

    Parameters
    ----------
    a : np.ndarray, shape (n, d)
    b : np.ndarray, shape (m, d)
        Sequences of ``d``-number codes, time first.
    gap_penalty : float
        Added to each step in which only one sequence advances (code units).
    band : "seed", int or None
        Half-width of the Sakoe-Chiba band in steps: the seed's rule, a fixed width (at least
        ``|n - m|``, else widened to it so that a path exists), or None for no band.
    normalize : bool
        Divide the total by ``n + m`` (the seed's normalisation).

    Returns
    -------
    float
        The distance (code units; per step when normalised).
    """
    a, b = _check_sequence("a", a), _check_sequence("b", b)
    if a.shape[1] != b.shape[1]:
        raise ParameterError(f"a and b must have the same number of features, got {a.shape[1]} and {b.shape[1]}")
    if gap_penalty < 0:
        raise ParameterError(f"gap_penalty must be >= 0, got {gap_penalty}")
    width = _band_for(a.shape[0], b.shape[0], band)
    return float(_dtw_kernel(a, b, float(gap_penalty), width, bool(normalize)))


class SequenceSet:
    """Variable-length sequences of ``d``-number codes stored end to end.

    Parameters
    ----------
    sequences : list of np.ndarray, each of shape (n_i, d)

    Attributes
    ----------
    flat : np.ndarray, shape (sum n_i, d), float64
    offsets : np.ndarray, shape (n_sequences + 1,), int64
        Sequence ``i`` is ``flat[offsets[i]:offsets[i + 1]]``.
    """

    def __init__(self, sequences):
        sequences = [_check_sequence(f"sequences[{i}]", s) for i, s in enumerate(sequences)]
        if not sequences:
            raise ParameterError("sequences must hold at least one sequence")
        widths = {s.shape[1] for s in sequences}
        if len(widths) != 1:
            raise ParameterError(f"every sequence must have the same number of features, got {sorted(widths)}")
        self.flat = np.ascontiguousarray(np.concatenate(sequences))
        self.offsets = np.concatenate([[0], np.cumsum([s.shape[0] for s in sequences])]).astype(np.int64)

    @classmethod
    def from_flat(cls, flat, offsets):
        """Rebuild from the stored ``flat`` codes and ``offsets`` (as saved in a run directory)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        return cls([np.asarray(flat)[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)])

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.flat[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self):
        """Codes per sequence, shape (n_sequences,)."""
        return np.diff(self.offsets)


def _width_code(band):
    if band is None:
        return -2
    if band == "seed":
        return -1
    if isinstance(band, (int, np.integer)) and band >= 0:
        return int(band)
    raise ParameterError(f"band must be 'seed', None or a non-negative integer, got {band!r}")


def dtw_pairs(sequences, first, second, *, gap_penalty=SEED_GAP_PENALTY, band="seed", normalize=True):
    """DTW distances for chosen pairs ``(first[p], second[p])`` of a :class:`SequenceSet`, in parallel.

    A fixed integer ``band`` is widened to ``|n - m|`` for pairs that need it.

    Returns
    -------
    np.ndarray, shape (n_pairs,), float64
    """
    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    first = np.asarray(first, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    if first.shape != second.shape or first.ndim != 1:
        raise ParameterError(f"first and second must be 1-d and of one length, got {first.shape} and {second.shape}")
    if first.size and (min(first.min(), second.min()) < 0 or max(first.max(), second.max()) >= len(sequences)):
        raise ParameterError(f"pair indices must lie in 0..{len(sequences) - 1}")
    if gap_penalty < 0:
        raise ParameterError(f"gap_penalty must be >= 0, got {gap_penalty}")
    return _pairs_kernel(sequences.flat, sequences.offsets, first, second, float(gap_penalty), _width_code(band),
                         bool(normalize))


def pairwise_dtw(sequences, *, gap_penalty=SEED_GAP_PENALTY, band="seed", normalize=True):
    """All-pairs DTW distance matrix, each pair computed once and mirrored.

    Parameters
    ----------
    sequences : SequenceSet or list of np.ndarray, each of shape (n_i, d)

    Returns
    -------
    D : np.ndarray, shape (n_sequences, n_sequences), float64
        Symmetric, zero diagonal.
    """
    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    first, second = np.triu_indices(len(sequences), k=1)
    values = dtw_pairs(sequences, first, second, gap_penalty=gap_penalty, band=band, normalize=normalize)
    D = np.zeros((len(sequences), len(sequences)))
    D[first, second] = values
    D[second, first] = values
    return D


def measure_pairwise_cost(sequences, sizes, *, gap_penalty=SEED_GAP_PENALTY, band="seed"):
    """Wall time (s) of :func:`pairwise_dtw` on the first ``size`` sequences, for each size.

    The compiled code is warmed up first, so compilation is not counted.

    Returns
    -------
    sizes : np.ndarray of int, the sizes measured (those no larger than the set, at least 2)
    seconds : np.ndarray, wall time of each
    """
    import time

    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    sizes = np.array(sorted({int(s) for s in sizes if 2 <= int(s) <= len(sequences)}), dtype=int)
    if sizes.size == 0:
        raise ParameterError(f"sizes must hold values in 2..{len(sequences)}")
    dtw_pairs(sequences, np.array([0]), np.array([1]), gap_penalty=gap_penalty, band=band)
    seconds = []
    for size in sizes:
        subset = SequenceSet([sequences[i] for i in range(size)])
        start = time.perf_counter()
        pairwise_dtw(subset, gap_penalty=gap_penalty, band=band)
        seconds.append(time.perf_counter() - start)
    return sizes, np.array(seconds)


def scaling_exponent(sizes, seconds):
    """Slope of log(seconds) against log(sizes): 2 when the cost grows with the square of the size."""
    sizes = np.asarray(sizes, dtype=float)
    seconds = np.asarray(seconds, dtype=float)
    keep = seconds > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes[keep]), np.log(seconds[keep]), 1)[0])
