"""Speed of the compiled DTW against the plain-Python definition, and its growth with N.

Prints, for code sequences of the seed's shape (15-45 codes of 128 numbers; 40 patterns, each
repeated 10 times with noise and a time stretch, so that nearest neighbours are meaningful):
- the time of one pair by the reference and by the compiled kernel, and their ratio;
- the wall time of the all-pairs matrix for growing N and the fitted log-log slope (2 = N²);
- the nearest-neighbour shortcut's DTW pairs against all pairs at the largest N.

    PYTHONPATH=src python bench/dtw_speed.py
"""

import time

import numpy as np

from dolphin_ae.analysis.discovery import approximate_knn, knn_from_distances, neighbour_agreement
from dolphin_ae.analysis.dtw import (SequenceSet, dtw_distance, dtw_distance_reference, measure_pairwise_cost,
                            pairwise_dtw, scaling_exponent)


def main():
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
    sizes, seconds = measure_pairwise_cost(sequences, [50, 100, 200, 400])
    for size, value in zip(sizes, seconds):
        print(f"all pairs, N = {size:4d}: {value:.3f} s")
    print(f"log-log slope {scaling_exponent(sizes, seconds):.2f} (2 means the cost grows as N²)")
    D = pairwise_dtw(sequences)
    exact, _ = knn_from_distances(D, 5)
    start = time.perf_counter()
    approx, _, n_pairs = approximate_knn(sequences, 5, n_candidates=20)
    print(f"shortcut at N = {len(sequences)}: {n_pairs} DTW pairs of {len(sequences) * (len(sequences) - 1) // 2} "
          f"({time.perf_counter() - start:.2f} s), neighbour agreement with the full matrix "
          f"{neighbour_agreement(approx, exact):.2f}")


if __name__ == "__main__":
    main()
