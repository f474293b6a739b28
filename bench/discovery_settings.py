"""Choose chapter 6's discovery settings on development data sets, and write the table the chapter cites.

Each development set is a synthetic data set (clips with planted signature whistles) made with a
seed of its own (default 101..106), never the seed of a scored run (0 in every profile). Its
whistle clips are encoded by the encoder of a finished run, as sequences of codes every win/10
frames; the codes are scaled with the statistics of that run's *training* windows, as chapter 6
does; the tight-group rule runs at every setting of the grid (code scaling, neighbours, link
ratio, gap penalty) and is scored against the planted motifs. The mean over the sets picks the
setting (:func:`dolphin_ae.analysis.discovery_settings.summarise_settings`).

    # the table the book cites: a cpu-profile encoder, six development sets of 16 sessions
    PYTHONPATH=src python bench/discovery_settings.py runs/cpu
    # quick check at small size (writes elsewhere unless --out names the committed table)
    PYTHONPATH=src python bench/discovery_settings.py runs/ci --seeds 101 102 --sessions 6 --out bench/out/d.csv

Writes ``--out`` (default ``bench/tables/discovery_settings.csv``: one row per setting, best first,
the chosen row marked) and ``discovery_settings.json`` beside it (encoder, sets, grid, command).
"""

import argparse
import hashlib
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from dolphin_ae.analysis.clustering import code_statistics
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.layout import RunLayout
from dolphin_ae.analysis.discovery_settings import (DEFAULT_GRID, DEVELOPMENT_TABLE, evaluate_settings, summarise_settings,
                                           write_settings_table)
from dolphin_ae.analysis.sequences import encode_clips, load_truth
from dolphin_ae.data.synth import synthesize_dataset
from dolphin_ae.train.training import predict_windows


def development_sequences(encoder, front_end, folder, *, seed, sessions, whistles, n_motifs, motif_fraction):
    """Synthesise one development set in ``folder`` and encode its whistle clips; (sequences, motifs)."""
    synthesize_dataset(folder, mode="clips", n_sessions=sessions, sr=front_end.sr, band_fmin_hz=front_end.fmin_hz,
                       clips_per_label={"whistle": whistles, "burst": 0, "click": 0, "noise": 0},
                       n_motifs=n_motifs, motif_fraction=motif_fraction, seed=seed)
    truth = load_truth(folder)
    whistle_clips = truth[truth["label"] == "whistle"].reset_index(drop=True)
    sequences, kept, _ = encode_clips(encoder, whistle_clips, folder, front_end, step_frames=12)
    return sequences, kept["motif"].to_numpy()


def main(argv=None):
    import keras

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished run (its models/encoder.keras and training windows are used)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105, 106],
                        help="one development set per seed (never a scored run's seed)")
    parser.add_argument("--sessions", type=int, default=16, help="recording sessions per development set")
    parser.add_argument("--whistles", type=int, default=4, help="whistle clips per session")
    parser.add_argument("--motifs", type=int, default=4, help="signature whistles planted per set")
    parser.add_argument("--motif-fraction", type=float, default=0.5)
    parser.add_argument("--group-k", type=int, nargs="+", default=list(DEFAULT_GRID["group_k"]))
    parser.add_argument("--link-ratio", type=float, nargs="+", default=list(DEFAULT_GRID["link_ratio"]))
    parser.add_argument("--gap", type=float, nargs="+", default=list(DEFAULT_GRID["unit_gap_penalty"]))
    parser.add_argument("--scalings", nargs="+", default=list(DEFAULT_GRID["discovery_code_scaling"]))
    parser.add_argument("--max-train-windows", type=int, default=4000,
                        help="training windows whose codes give the scaling statistics (a random subset)")
    parser.add_argument("--out", default=str(DEVELOPMENT_TABLE))
    args = parser.parse_args(argv)
    if 0 in args.seeds:
        parser.error("seed 0 is the scored runs' seed; choose development seeds other than 0")

    started = time.perf_counter()
    run_dir = Path(args.run_dir)
    encoder_path = RunLayout(run_dir).encoder
    encoder = keras.models.load_model(encoder_path, compile=False)
    dataset = WindowDataset.load(run_dir)
    train = dataset.split_indices("train")
    rng = np.random.default_rng(0)
    if train.size > args.max_train_windows:
        train = np.sort(rng.choice(train, size=args.max_train_windows, replace=False))
    train_codes = predict_windows(encoder, dataset.windows, train)
    statistics = {"whiten_l2": code_statistics(train_codes, whiten=True),
                  "standard_l2": code_statistics(train_codes, whiten=False)}
    grid = {"discovery_code_scaling": args.scalings, "group_k": args.group_k, "link_ratio": args.link_ratio,
            "unit_gap_penalty": args.gap}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            sequences, motifs = development_sequences(
                encoder, dataset.front_end, Path(folder) / f"dev{seed}", seed=seed, sessions=args.sessions,
                whistles=args.whistles, n_motifs=args.motifs, motif_fraction=args.motif_fraction)
            rows = evaluate_settings(sequences, motifs, grid=grid, statistics=statistics)
            rows.insert(0, "set", f"seed {seed}")
            results.append(rows)
            print(f"development set seed {seed}: {len(sequences)} whistles, "
                  f"{int(rows['n_planted'].iloc[0])} planted motifs", flush=True)
    per_set = pd.concat(results, ignore_index=True)
    summary = summarise_settings(per_set)
    out = Path(args.out)
    provenance = {
        "script": "bench/discovery_settings.py",
        "command": "PYTHONPATH=src python " + " ".join(["bench/discovery_settings.py", *(argv or sys.argv[1:])]),
        "date": date.today().isoformat(),
        "encoder": str(encoder_path),
        "encoder_sha256": hashlib.sha256(encoder_path.read_bytes()).hexdigest()[:16],
        "encoder_profile": _profile(run_dir),
        "development_seeds": args.seeds, "sessions": args.sessions, "whistles_per_session": args.whistles,
        "motifs": args.motifs, "motif_fraction": args.motif_fraction,
        "grid": grid, "rule": "highest mean of precision and recall over the sets (no group: precision 0)",
        "seconds": round(time.perf_counter() - started, 1), "machine": platform.machine(),
    }
    write_settings_table(summary, provenance, out)
    per_set.to_csv(out.with_name(out.stem + "_per_set.csv"), index=False, float_format="%.4f")
    print(summary.head(10).to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')}")


def _profile(run_dir):
    from dolphin_ae.runio import read_json

    return read_json(RunLayout(run_dir).manifest).get("report", {}).get("profile", "")


if __name__ == "__main__":
    main()
