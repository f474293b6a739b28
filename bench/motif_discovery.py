"""Quality check of sequence clustering and motif discovery on planted signature whistles.

Writes a small set of whistle clips in which a few contours recur (each motif re-sung with its
duration stretched by up to 10 % and its pitch shifted by up to 3 %, over a different session's
background at a different SNR) among one-off whistles, encodes them with a trained encoder,
and prints the discovery scores of the seed's density rule and of the mutual-neighbour rule, and
the seed's sequence clustering against the contour families.

    PYTHONPATH=src python bench/motif_discovery.py runs/cpu/models/encoder.keras
    PYTHONPATH=src python bench/motif_discovery.py runs/cpu/models/encoder.keras --data runs/cpu/data

With ``--data`` the whistle clips of an existing folder with a ``truth.csv`` (motif column) are
used instead.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from dolphin_ae.constants import SEED_FMIN_HZ, SEED_SR
from dolphin_ae.data import synth, synth_sounds
from dolphin_ae.analysis.clustering import agglomerative_from_distances, clustering_scores, scale_codes
from dolphin_ae.analysis.discovery import (density_modes, discovery_scores, knn_from_distances, median_pair_distance,
                                  tight_groups)
from dolphin_ae.analysis.dtw import pairwise_dtw
from dolphin_ae.analysis.sequences import encode_clips, load_truth
from dolphin_ae.audio.spectrogram import FrontEnd


def band_power(x, sr, fmin_hz):
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    return float(np.sum(np.abs(spectrum[freqs >= fmin_hz]) ** 2) / x.shape[0] ** 2)


def write_motif_clips(out_dir, *, n_motifs=5, renditions=6, n_other=40, n_sessions=8, sr=SEED_SR, seed=0):
    rng = np.random.default_rng(seed)
    sessions = synth.make_sessions(n_sessions, rng)
    events = []
    for m in range(n_motifs):
        family = synth_sounds.WHISTLE_CONTOURS[m % len(synth_sounds.WHISTLE_CONTOURS)]
        base_s, motif_seed = rng.uniform(0.4, 0.9), int(rng.integers(1 << 30))
        for _ in range(renditions):
            # Re-seeding draws the same contour; the duration stretches it, the rate shift moves its pitch.
            pitch = rng.uniform(0.97, 1.03)
            y, _ = synth_sounds.whistle(base_s * rng.uniform(0.9, 1.1), int(sr * pitch),
                                        np.random.default_rng(motif_seed), family=family)
            events.append((y, family, f"sig{m + 1:02d}"))
    for _ in range(n_other):
        y, family = synth_sounds.whistle(rng.uniform(0.25, 1.0), sr, rng)
        events.append((y, family, ""))
    rows = []
    (Path(out_dir) / "whistle").mkdir(parents=True, exist_ok=True)
    for k, (event, family, motif) in enumerate(events):
        session = sessions[rng.integers(len(sessions))]
        margin = int(0.01 * sr)
        y = synth_sounds.background(event.shape[0] + 2 * margin, sr, session, rng)
        gain = np.sqrt(band_power(y, sr, SEED_FMIN_HZ) / band_power(event, sr, SEED_FMIN_HZ))
        y[margin:margin + event.shape[0]] += event * gain * 10 ** (rng.uniform(0, 20) / 20)
        file = f"whistle/{session.name}__whistle_{k:03d}.wav"
        soundfile.write(str(Path(out_dir) / file), y.astype(np.float32), sr, subtype="FLOAT")
        rows.append({"file": file, "recording": session.name, "label": "whistle", "type": family, "motif": motif})
    pd.DataFrame(rows).to_csv(Path(out_dir) / "truth.csv", index=False)


def main():
    import keras

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoder", help="a trained encoder .keras file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="", help="an existing data folder with truth.csv (default: write one)")
    parser.add_argument("--link-ratio", type=float, default=0.35)
    args = parser.parse_args()
    encoder = keras.models.load_model(args.encoder)
    with tempfile.TemporaryDirectory() as folder:
        if args.data:
            folder = args.data
        else:
            write_motif_clips(folder, seed=args.seed)
        truth = load_truth(folder)
        truth = truth[truth["label"] == "whistle"].reset_index(drop=True)
        sequences, kept, _ = encode_clips(encoder, truth, folder, FrontEnd(), step_frames=12)
    motifs = kept["motif"].to_numpy()
    D_seed = pairwise_dtw(sequences, gap_penalty=10.0)
    D_unit = pairwise_dtw([scale_codes(s) for s in sequences], gap_penalty=0.3)
    rules = {
        "seed density rule, raw codes": density_modes(*knn_from_distances(D_seed, 3)),
        "seed density rule, unit codes": density_modes(*knn_from_distances(D_unit, 3)),
        "mutual-neighbour groups, unit codes": tight_groups(
            *knn_from_distances(D_unit, 5), threshold=args.link_ratio * median_pair_distance(D_unit)),
    }
    for name, found in rules.items():
        scores = discovery_scores(found.groups, motifs)
        print(f"{name:36s} groups {scores['n_groups']:3d}  precision {scores['precision']}  recall {scores['recall']}"
              f"  renditions found {scores['rendition_recall']}")
    for name, D in (("raw codes, gap 10", D_seed), ("unit codes, gap 0.3", D_unit)):
        scores = clustering_scores(kept["type"], agglomerative_from_distances(D, percentile=20))
        print(f"seed sequence clustering ({name}) vs contour family: V {scores['v_measure']:.3f} "
              f"ARI {scores['ari']:.3f}")


if __name__ == "__main__":
    main()
