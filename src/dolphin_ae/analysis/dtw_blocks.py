"""All-pairs DTW in blocks, as tasks on a Dask cluster: the same matrix as :func:`pairwise_dtw`.

The 2019 study ran its all-pairs DTW as a distributed job. Here the upper triangle of the ``N x N``
matrix is cut into square blocks of ``block_size`` sequences a side (the last row and column of
blocks may be smaller; a block on the diagonal holds only its pairs ``i < j``). Each block is one
task: a worker computes its pairs with the compiled kernel of :mod:`dolphin_ae.analysis.dtw`, in the
task's own thread, and returns the values; the caller mirrors them into the matrix. The sequences
go to every worker once (``Client.scatter``), not with every task.

Every pair is computed by the same compiled function whatever the block, the worker or the order,
so the matrix is the serial one to the bit (on workers whose CPUs compile numba's code alike; a
cluster of mixed CPU generations may differ in the last bits). Without a client the serial path,
:func:`dolphin_ae.analysis.dtw.pairwise_dtw`, computes it in this process.

A client comes from :func:`dolphin_ae.engine.engine_client` (``engine="dask"``: a LocalCluster of
``workers`` one-thread processes, or a running scheduler).
"""

import numpy as np

from dolphin_ae.analysis.dtw import (SEED_GAP_PENALTY, SequenceSet, _pairs_kernel_serial, _width_code,
                                     pairwise_dtw)
from dolphin_ae.engine import check_engine
from dolphin_ae.exceptions import ParameterError

# Sequences a side of a block: 64 x 64 pairs of seed-sized sequences (15-45 codes) take a few tenths
# of a second, long enough that a task's overhead (milliseconds) is lost in it, and N = 1000 makes
# 136 tasks, enough to keep a few dozen workers busy.
DEFAULT_BLOCK_SIZE = 64


def dtw_engine_settings(dtw_engine="local", dtw_workers=0, dtw_scheduler=""):
    """A chapter's ``dtw_engine``, ``dtw_workers`` (0: one per core) and ``dtw_scheduler`` (empty: start a
    local cluster) as :func:`dolphin_ae.engine.engine_client`'s keywords, checked.

    Raises
    ------
    ParameterError
        Naming the chapter's parameter (``dtw_engine``, ``dtw_workers`` or ``dtw_scheduler``).
    """
    if isinstance(dtw_workers, bool) or not isinstance(dtw_workers, (int, np.integer)) or dtw_workers < 0:
        raise ParameterError(f"dtw_workers must be a whole number >= 0 (0: one per core), got {dtw_workers!r}")
    if not isinstance(dtw_scheduler, str):
        raise ParameterError(f"dtw_scheduler must be an address such as tcp://host:8786 or empty, got {dtw_scheduler!r}")
    settings = dict(engine=dtw_engine, workers=int(dtw_workers) or None, scheduler=dtw_scheduler.strip() or None)
    try:
        check_engine(**settings)
    except ParameterError as error:
        raise ParameterError(f"dtw_{error}") from None
    return settings


def block_bounds(n_sequences, block_size=DEFAULT_BLOCK_SIZE):
    """The blocks of the upper triangle: ``(row_start, row_stop, column_start, column_stop)``, rows first.

    Together their pairs ``i < j`` (row ``i``, column ``j``) are every pair of ``n_sequences`` once.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ParameterError(f"block_size must be a whole number of sequences >= 1, got {block_size!r}")
    edges = list(range(0, int(n_sequences), int(block_size))) + [int(n_sequences)]
    return [(edges[r], edges[r + 1], edges[c], edges[c + 1])
            for r in range(len(edges) - 1) for c in range(r, len(edges) - 1)]


def block_pairs(bounds):
    """The pairs ``(first, second)`` with ``first < second`` of one block, row by row, as int64 arrays."""
    row_start, row_stop, column_start, column_stop = bounds
    first, second = np.meshgrid(np.arange(row_start, row_stop, dtype=np.int64),
                                np.arange(column_start, column_stop, dtype=np.int64), indexing="ij")
    keep = first < second
    return first[keep], second[keep]


def dtw_block(flat, offsets, bounds, gap_penalty, width_code, normalize):
    """One task: the DTW distances of the pairs of block ``bounds``, in the pairs' order (:func:`block_pairs`).

    ``flat`` and ``offsets`` are a :class:`SequenceSet`'s; ``width_code`` is ``dtw._width_code(band)``.
    Runs in the calling thread alone: on a cluster the tasks are the parallelism.
    """
    first, second = block_pairs(bounds)
    return _pairs_kernel_serial(flat, offsets, first, second, gap_penalty, width_code, normalize)


def pairwise_dtw_blocks(sequences, *, client=None, block_size=DEFAULT_BLOCK_SIZE, gap_penalty=SEED_GAP_PENALTY,
                        band="seed", normalize=True):
    """All-pairs DTW distance matrix, block by block on ``client``'s cluster; :func:`pairwise_dtw` without one.

    Parameters
    ----------
    sequences : SequenceSet or list of np.ndarray, each of shape (n_i, d)
    client : distributed.Client or None
        Where the blocks run (:func:`dolphin_ae.engine.engine_client`); None computes the matrix in this
        process with :func:`dolphin_ae.analysis.dtw.pairwise_dtw`.
    block_size : int
        Sequences a side of a block (one task); need not divide the number of sequences.
    gap_penalty, band, normalize
        As :func:`dolphin_ae.analysis.dtw.pairwise_dtw`.

    Returns
    -------
    D : np.ndarray, shape (n_sequences, n_sequences), float64
        Symmetric, zero diagonal; equal to ``pairwise_dtw(sequences, ...)``.
    """
    if not isinstance(sequences, SequenceSet):
        sequences = SequenceSet(sequences)
    blocks = block_bounds(len(sequences), block_size)
    width_code = _width_code(band)
    if gap_penalty < 0:
        raise ParameterError(f"gap_penalty must be >= 0, got {gap_penalty}")
    if client is None:
        return pairwise_dtw(sequences, gap_penalty=gap_penalty, band=band, normalize=normalize)
    flat, offsets = client.scatter([sequences.flat, sequences.offsets], broadcast=True, hash=False)
    # The largest blocks first, so that no big one starts last.
    blocks = sorted(blocks, key=lambda b: (b[1] - b[0]) * (b[3] - b[2]), reverse=True)
    futures = [client.submit(dtw_block, flat, offsets, bounds, float(gap_penalty), width_code, bool(normalize),
                             pure=False)
               for bounds in blocks]
    D = np.zeros((len(sequences), len(sequences)))
    for bounds, values in zip(blocks, client.gather(futures)):
        first, second = block_pairs(bounds)
        D[first, second] = values
        D[second, first] = values
    return D
