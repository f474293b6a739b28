"""Speed of the compiled DTW against the plain-Python definition, and its growth with N.

Prints, for code sequences of the seed's shape (15-45 codes of 128 numbers; 40 patterns, each
repeated 10 times with noise and a time stretch, so that nearest neighbours are meaningful):
- the time of one pair by the reference and by the compiled kernel, and their ratio;
- the wall time of the all-pairs matrix for growing N and the fitted log-log slope (2 = N²);
- the nearest-neighbour shortcut's DTW pairs against all pairs at the largest N;
- with ``--workers 1 2``, the all-pairs matrix in blocks on a Dask LocalCluster of that many one-thread
  workers (:func:`dolphin_ae.analysis.dtw_blocks.pairwise_dtw_blocks`; the cluster's start is not timed,
  the scattering of the sequences is), checked equal to the in-process matrix, and the speed-up of each
  worker count over the first.

The in-process matrix already runs its pairs in parallel on every core (numba); the cluster's tasks
run one thread each, so on one machine its worth is the same numbers beside other work, and on many
machines the cores it adds.

    PYTHONPATH=src python bench/dtw_speed.py [--workers 1 2] [--sizes 100 200 400] [--block-size 64]
"""

import argparse
import os
import time

import numpy as np

from dolphin_ae.analysis.discovery import approximate_knn, knn_from_distances, neighbour_agreement
from dolphin_ae.analysis.dtw import (SequenceSet, dtw_distance, dtw_distance_reference, measure_pairwise_cost,
                            pairwise_dtw, scaling_exponent)


def engine_costs(sequences, sizes, workers, block_size):
    """Seconds of the blocked matrix for each size on a LocalCluster of each worker count: {workers: [s, ...]}."""
    from dolphin_ae.analysis.dtw_blocks import pairwise_dtw_blocks
    from dolphin_ae.engine import engine_client

    costs = {}
    for count in workers:
        with engine_client("dask", workers=count) as client:
            warm = SequenceSet([sequences[i] for i in range(4)])
            pairwise_dtw_blocks(warm, client=client, block_size=2)  # every worker imports and compiles
            costs[count] = []
            for size in sizes:
                subset = SequenceSet([sequences[i] for i in range(size)])
                start = time.perf_counter()
                D = pairwise_dtw_blocks(subset, client=client, block_size=block_size)
                costs[count].append(time.perf_counter() - start)
                np.testing.assert_array_equal(D, pairwise_dtw(subset))
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="Dask worker counts to time (e.g. 1 2)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400], help="numbers of sequences")
    parser.add_argument("--block-size", type=int, default=64, help="sequences a side of a Dask block")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    patterns = [rng.normal(size=(int(rng.integers(15, 45)), 128)) for _ in range(40)]
    renditions = []
    for k in rng.permutation(400):
        pattern = patterns[k % 40]
        steps = np.linspace(0, len(pattern) - 1, int(len(pattern) * rng.uniform(0.85, 1.15))).round().astype(int)
        renditions.append(pattern[steps] + 0.5 * rng.normal(size=(len(steps), 128)))
    sequences = SequenceSet(renditions)
    a, b = sequences[0], sequences[1]
    dtw_distance(a, b)
    start = time.perf_counter()
    dtw_distance_reference(a, b)
    reference = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(200):
        dtw_distance(a, b)
    compiled = (time.perf_counter() - start) / 200
    print(f"one pair ({len(a)} x {len(b)} codes): reference {reference * 1e3:.1f} ms, compiled "
          f"{compiled * 1e3:.3f} ms, ratio {reference / compiled:.0f}x")
    sizes, seconds = measure_pairwise_cost(sequences, args.sizes)
    for size, value in zip(sizes, seconds):
        print(f"all pairs, N = {size:4d}: {value:.3f} s")
    print(f"log-log slope {scaling_exponent(sizes, seconds):.2f} (2 means the cost grows as N²)")
    if args.workers:
        costs = engine_costs(sequences, sizes, args.workers, args.block_size)
        base = args.workers[0]
        print(f"all pairs in blocks of {args.block_size} on a Dask LocalCluster (s; equal to the in-process matrix):")
        print("     N  in-process  " + "  ".join(f"{count} worker(s)" for count in args.workers) + "  "
              + "  ".join(f"x{count}/{base}" for count in args.workers[1:]))
        for k, size in enumerate(sizes):
            print(f"{size:6d} {seconds[k]:11.3f}  " + "  ".join(f"{costs[count][k]:12.3f}" for count in args.workers)
                  + "  " + "  ".join(f"{costs[base][k] / costs[count][k]:5.2f}" for count in args.workers[1:]))
        for count in args.workers:
            print(f"{count} worker(s): log-log slope {scaling_exponent(sizes, costs[count]):.2f}")
    D = pairwise_dtw(sequences)
    exact, _ = knn_from_distances(D, 5)
    start = time.perf_counter()
    approx, _, n_pairs = approximate_knn(sequences, 5, n_candidates=20)
    print(f"shortcut at N = {len(sequences)}: {n_pairs} DTW pairs of {len(sequences) * (len(sequences) - 1) // 2} "
          f"({time.perf_counter() - start:.2f} s), neighbour agreement with the full matrix "
          f"{neighbour_agreement(approx, exact):.2f}")


if __name__ == "__main__":
    main()
