"""What the synthetic data's difficulty does to the peers: the generator with its knobs off and on.

Builds one development set per variant (default seed 101, never 0, the seed every profile
scores) at the ``cpu`` profile's sizes (16 sessions, 4 clips of each signal class and 8 noise clips
per session), synthesised and cut into windows as chapter 01 does (its parameter cell's defaults
with the profile's values over them), split by recording with the set's seed
(:func:`dolphin_ae.data.dataset.split_by_recording`). Two variants:

- ``off``: ``synthesize_dataset(..., **DIFFICULTY_OFF)``, the generator as of version 2;
- ``on``: the defaults (clicks over whistles and bursts, clip levels that say nothing of the
  label, per-session stationary bands, main events over part of a clip, shrimp crackle);
- ``no_clicks``, ``no_levels``, ``no_bands``, ``no_share``, ``no_shrimp`` (with ``--variants``):
  the defaults with that one knob as in ``DIFFICULTY_OFF``, to see what each knob does.

For each it prints and writes the three silence peers of chapter 03 (:func:`silence_peers`: the
global energy threshold, the per-recording energy threshold, the band-profile gradient boosting),
fitted on the training recordings and scored on the test recordings (balanced accuracy), the
signal-type peer with ``--type``, and what the data carry: the ROC AUC of the clip band level
(pooled, and relative to the clip's session median) for signal against noise clips, and at window
level the AUC of the band level (raw and above the recording's median) and of the normalised
window's spread (level leaks through the front end's ``std + 1``); the share of
whistle clips with a click train inside the whistle's span; the share of whistle-clip windows
that hold less than half a window of whistle.

    # the committed table: cpu sizes, seed 101, both variants, with the signal-type peer (about
    # 15 min on 2 heavily shared cores; the silence peers alone take about half of that)
    PYTHONPATH=src python bench/synth_difficulty.py --type
    # a second development set, silence peers only
    PYTHONPATH=src python bench/synth_difficulty.py --seed 102 --out bench/tables/synth_difficulty_seed102.csv
    # quick, smaller
    PYTHONPATH=src python bench/synth_difficulty.py --sessions 8 --out bench/out/sd.csv

Writes ``--out`` (default ``bench/tables/synth_difficulty.csv``, one row per variant) and a
``.json`` beside it (command, date, seed, sizes, machine, the rows).
"""

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from peer_features import chapter_parameters  # noqa: E402  (a sibling script)

TABLE = ROOT / "bench" / "tables" / "synth_difficulty.csv"
# "off" and "on", and "on" with one knob of DIFFICULTY_OFF turned off (the ablation).
KNOBS = {"no_clicks": "click_overlap_probability", "no_levels": "clip_level_db_range",
         "no_bands": "session_band_db_range", "no_share": "event_share_range", "no_shrimp": "shrimp_per_s_range"}
VARIANTS = ("off", "on", *KNOBS)


def variant_knobs(variant, off):
    """The knobs ``synthesize_dataset`` gets for ``variant`` (see :data:`VARIANTS`)."""
    if variant == "off":
        return dict(off)
    return {KNOBS[variant]: off[KNOBS[variant]]} if variant in KNOBS else {}


def development_set(folder, parameters, *, seed, variant):
    """Synthesise one set of ``variant`` in ``folder`` and cut it into windows as chapter 01 does."""
    from dolphin_ae.audio.spectrogram import FrontEnd
    from dolphin_ae.data.dataset import build_window_dataset
    from dolphin_ae.data.synth import DIFFICULTY_OFF, clip_counts, synthesize_dataset
    from dolphin_ae.layout import RunLayout

    p = parameters
    front_end = FrontEnd(sr=p["sr"], n_fft=p["n_fft"], hop_length=p["hop_length"], fmin_hz=p["fmin_hz"],
                         fmax_hz=p["fmax_hz"], n_bins=p["n_bins"], window_frames=p["window_frames"],
                         step_frames=p["step_frames"], magnitude=p["magnitude"], normalization=p["normalization"],
                         whitening=p["whitening"])
    source = RunLayout(folder).data
    truth = synthesize_dataset(
        source, mode="clips", n_sessions=p["synth_sessions"], sr=p["sr"],
        snr_db_range=(p["snr_db_min"], p["snr_db_max"]), band_fmin_hz=p["fmin_hz"], n_motifs=p["synth_motifs"],
        motif_fraction=p["synth_motif_fraction"],
        clips_per_label=clip_counts(p["synth_signal_clips"], p["synth_noise_clips"]), seed=seed,
        **variant_knobs(variant, DIFFICULTY_OFF))
    dataset = build_window_dataset(source, front_end=front_end, channel=p["channel"],
                                   min_duration_s=p["min_duration_s"], test_fraction=p["test_fraction"], seed=seed,
                                   layout="folders", min_event_overlap=p["min_event_overlap"],
                                   pad_mode=p["pad_mode"], cache_dir=RunLayout(folder).cache)
    return source, truth, dataset


def data_measures(source, truth, dataset, *, fmin_hz):
    """What the data carry: clip-level AUCs of the band level, clicks over whistles, whistle-free windows."""
    import soundfile
    from sklearn.metrics import roc_auc_score

    from dolphin_ae.data.synth_sounds import band_power

    primary = truth[truth["primary"]].reset_index(drop=True)
    levels = []
    for file in primary["file"]:
        y, sr = soundfile.read(str(source / file), dtype="float64")
        levels.append(10 * np.log10(band_power(y, sr, fmin_hz) + 1e-30))
    levels = np.array(levels)
    is_signal = (primary["label"] != "noise").to_numpy()
    relative = levels - primary.assign(level=levels).groupby("recording")["level"].transform("median").to_numpy()
    whistles = primary[primary["label"] == "whistle"]
    clicks = truth[truth["file"].isin(whistles["file"]) & ~truth["primary"] & truth["label"].eq("click")]
    spans = whistles.set_index("file")[["start_s", "end_s"]]
    with_clicks = {r.file for r in clicks.itertuples()
                   if r.start_s < spans.loc[r.file, "end_s"] and r.end_s > spans.loc[r.file, "start_s"]}
    fe = dataset.front_end
    index = dataset.index[dataset.index["label"] == "whistle"]
    covered = []
    for row in index.itertuples():
        start, stop = row.start_s, row.start_s + ((fe.window_frames - 1) * fe.hop_length + fe.n_fft) / fe.sr
        span = spans.loc[row.file]
        covered.append(max(0.0, min(stop, span["end_s"]) - max(start, span["start_s"])) / (stop - start))
    # The same at window level: the window's band level (raw, and above its recording's median) and
    # the spread of the normalised window, through which level leaks past the (x - mean) / (std + 1).
    from dolphin_ae.analysis.peers import recording_relative_level

    window_signal = ~dataset.is_silence
    window_level = dataset.index["level_db"].to_numpy()
    spread = np.array([np.std(window) for window in dataset.windows])
    return {"clip_level_auc": float(roc_auc_score(is_signal, levels)),
            "window_level_auc": float(roc_auc_score(window_signal, window_level)),
            "window_relative_level_auc": float(roc_auc_score(window_signal, recording_relative_level(
                window_level, dataset.index["recording"].to_numpy()))),
            "normalised_window_std_auc": float(roc_auc_score(window_signal, spread)),
            "clip_relative_level_auc": float(roc_auc_score(is_signal, relative)),
            "whistle_clips_with_clicks": len(with_clicks) / max(1, len(whistles)),
            "whistle_windows_without_whistle": float(np.mean(np.array(covered) < 0.5)) if covered else float("nan")}


def evaluate(dataset, *, seed, signal_type):
    """The silence peers (and the signal-type peer) on the set's split: balanced accuracies and seconds."""
    from dolphin_ae.analysis.peers import signal_type_peer, silence_peers
    from dolphin_ae.train.signal_type import encode_labels, signal_classes

    train, test = dataset.split_indices("train"), dataset.split_indices("test")
    started = time.perf_counter()
    peers = silence_peers(dataset.windows, dataset.index["level_db"].to_numpy(),
                          dataset.index["recording"].to_numpy(), dataset.is_silence, train, test, random_state=seed)
    row = {f"silence_{name}": values["balanced_accuracy"] for name, values in peers.items()}
    row["silence_peer_seconds"] = time.perf_counter() - started
    if signal_type:
        class_names = signal_classes(dataset.index["label"])
        classes = encode_labels(dataset.index["label"], class_names)
        started = time.perf_counter()
        peer = signal_type_peer(dataset.windows, classes, train, test, class_names=class_names, random_state=seed)
        row.update(type_band_profile_gbm_accuracy=peer["accuracy"],
                   type_band_profile_gbm_balanced_accuracy=peer["balanced_accuracy"],
                   type_peer_seconds=time.perf_counter() - started)
    return {**row, "n_train_windows": len(train), "n_test_windows": len(test)}


def main(argv=None):
    from dolphin_ae.book.report import load_profile
    from dolphin_ae.runio import atomic_path, write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=101, help="the development set's seed (never 0)")
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml gives the data sizes")
    parser.add_argument("--sessions", type=int, help="recording sessions (default: the profile's)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["off", "on"],
                        help="off, on, or on with one knob off (no_clicks, no_levels, no_bands, no_share, "
                             "no_shrimp); default: off on")
    parser.add_argument("--type", action="store_true", help="also the signal-type peer (several times slower)")
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "synth_difficulty"),
                        help="folder for the synthetic sets and their windows (reused when unchanged)")
    parser.add_argument("--out", default=str(TABLE))
    args = parser.parse_args(argv)
    if args.seed == 0:
        parser.error("seed 0 is the scored runs' seed; choose a development seed other than 0")
    started = time.perf_counter()
    parameters = {**chapter_parameters(), **load_profile(args.profile, ROOT)}
    if args.sessions is not None:
        parameters["synth_sessions"] = args.sessions
    rows = []
    for variant in args.variants:
        source, truth, dataset = development_set(Path(args.work) / f"{variant}{args.seed}", parameters,
                                                 seed=args.seed, variant=variant)
        row = {"variant": variant, **data_measures(source, truth, dataset, fmin_hz=parameters["fmin_hz"]),
               **evaluate(dataset, seed=args.seed, signal_type=args.type)}
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary:
        table.to_csv(temporary, index=False, float_format="%.4f")
    write_json(out.with_suffix(".json"), {
        "script": "bench/synth_difficulty.py",
        "command": "PYTHONPATH=src python " + " ".join(["bench/synth_difficulty.py", *(argv or sys.argv[1:])]),
        "date": date.today().isoformat(), "seed": args.seed, "profile": args.profile,
        "sessions": parameters["synth_sessions"], "signal_clips": parameters["synth_signal_clips"],
        "noise_clips": parameters["synth_noise_clips"], "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine()},
        "rows": rows})
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.round(3).to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
