"""Choose the book's default front end and training objective on development data sets; write the table.

Chapter 09 crosses front ends (magnitude x whitening) with training objectives on the scored run's
split; the book's default row (chapter 01's ``magnitude`` and ``whitening``, chapter 02's
``objective``) must not be picked from that table, which is scored on the test recordings. This
script runs the same grid, through the same code (:func:`dolphin_ae.analysis.ablation.run_ablation`),
on synthetic development sets of seeds of their own (default 101 and 102, never 0, the seed every
profile scores), synthesised and cut into windows as chapter 01 does (its parameter cell's defaults
with the profile's values over them), and chooses one row by a stated rule
(:func:`dolphin_ae.analysis.ablation.choose_row`): the highest mean over the sets of the mean of
silence balanced accuracy, signals-only V-measure and signal-type accuracy; ties broken by the lower
test MSE / PCA MSE. The peers are not fitted here (``--peers`` adds them to the per-set results):
the choice is among the network's rows.

    # the committed table: cpu-profile model sizes on smaller sets (about 20 minutes on 2 shared cores)
    PYTHONPATH=src nice -n 5 python bench/ablation.py
    # a quick look at a smaller grid
    PYTHONPATH=src python bench/ablation.py --sessions 4 --epochs 1 --magnitudes linear log \\
        --whitenings none --objectives mse denoising --out bench/out/ablation.csv

    # new rows beside the committed ones: only supervised_mse is trained, the committed table's other
    # per-set rows are taken as they are (refused unless it was run with the same sets and budget)
    PYTHONPATH=src nice -n 5 python bench/ablation.py --seeds 101 102 103 104 --objectives supervised_mse \
        --merge bench/tables/ablation.json --out bench/out/ablation.csv

Writes ``--out`` (default ``bench/tables/ablation.csv``: one row per front end and objective, means
over the sets, best first, the chosen row and the book's current defaults marked) and a ``.json``
beside it (command, date, seeds, sizes, the rule, the chosen row, every per-set row), and prints the
table.
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "bench" / "tables" / "ablation.csv"
RULE = ("the highest mean over the development sets of the mean of silence balanced accuracy, signals-only "
        "V-measure and signal-type accuracy; ties broken by the lower test MSE / PCA MSE")

_spec = importlib.util.spec_from_file_location("bench_peer_features", ROOT / "bench" / "peer_features.py")
_peer_features = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_peer_features)
chapter_parameters = _peer_features.chapter_parameters


def development_set(folder, p, *, seed):
    """Synthesise one development set in ``folder`` and cut it into windows with chapter 01's front end."""
    from dolphin_ae.audio.spectrogram import FrontEnd
    from dolphin_ae.data.dataset import build_window_dataset
    from dolphin_ae.data.synth import DIFFICULTY_OFF, clip_counts, synthesize_dataset
    from dolphin_ae.layout import RunLayout

    layout = RunLayout(folder)
    front_end = FrontEnd(sr=p["sr"], n_fft=p["n_fft"], hop_length=p["hop_length"], fmin_hz=p["fmin_hz"],
                         fmax_hz=p["fmax_hz"], n_bins=p["n_bins"], window_frames=p["window_frames"],
                         step_frames=p["step_frames"], magnitude=p["magnitude"], normalization=p["normalization"],
                         whitening=p["whitening"])
    if not (layout.data / "truth.csv").is_file():
        synthesize_dataset(
            layout.data, mode=p["synth_mode"], n_sessions=p["synth_sessions"], sr=p["sr"],
            snr_db_range=(p["snr_db_min"], p["snr_db_max"]), band_fmin_hz=p["fmin_hz"], n_motifs=p["synth_motifs"],
            motif_fraction=p["synth_motif_fraction"],
            clips_per_label=clip_counts(p["synth_signal_clips"], p["synth_noise_clips"]),
            recordings_per_session=p["synth_recordings"], recording_s=p["synth_recording_s"], seed=seed,
            **({} if p["synth_difficulty"] else DIFFICULTY_OFF))
    options = dict(channel=p["channel"], min_duration_s=p["min_duration_s"], min_event_overlap=p["min_event_overlap"],
                   label_column=p["label_column"] or None, pad_mode=p["pad_mode"],
                   recording_pattern=p["recording_pattern"] or None, test_fraction=p["test_fraction"])
    dataset = build_window_dataset(layout.data, front_end=front_end, seed=seed, layout=p["data_layout"],
                                   cache_dir=layout.cache, **options)
    return dataset, layout, options


def evaluate(dataset, layout, options, p, *, magnitudes, whitenings, objectives, peers, seed):
    """The grid's rows on one development set (``run_ablation``), as a DataFrame."""
    from dolphin_ae.analysis.ablation import ablation_indices, front_end_grid, run_ablation
    from dolphin_ae.data.dataset import with_front_end

    front_ends = front_end_grid(dataset.front_end, magnitudes, whitenings)
    datasets = [with_front_end(dataset, layout.data, front_end, cache_dir=layout.cache, **options)
                for front_end in front_ends]
    train, validation, test, cluster = ablation_indices(
        dataset, validation_fraction=p["validation_fraction"], max_train_windows=p["ablation_max_train_windows"],
        max_cluster_windows=p["ablation_max_cluster_windows"], seed=seed)
    sizes = {key: p[key] for key in ("conv_filters", "kernel_size", "latent_dim", "output_activation",
                                     "conv_activation", "conv_batch_norm")}
    rows = run_ablation(datasets, objectives, train_indices=train, validation_indices=validation, test_indices=test,
                        cluster_indices=cluster, sizes=sizes, epochs=p["ablation_epochs"], batch_size=p["batch_size"],
                        learning_rate=p["learning_rate"], lr_schedule=p["lr_schedule"],
                        head_epochs=p["ablation_head_epochs"], head_batch_size=p["silence_batch_size"],
                        scaling=p["code_scaling"], umap_components=p["umap_components"],
                        umap_neighbors=p["umap_neighbors"], checkpoint_dir=layout.checkpoints, seed=seed,
                        peers=peers, progress=lambda line: print("  " + line, flush=True))
    return pd.DataFrame(rows), {"n_train_windows": len(train), "n_test_windows": len(test),
                                "n_windows": len(dataset.index)}


# The settings a merged table must share with this run, as its JSON names them.
MERGE_SETTINGS = ("development_seeds", "profile", "sessions", "signal_clips", "noise_clips", "epochs",
                  "max_train_windows", "head_epochs", "conv_filters")
ROW_KEY = ["set", "front end", "method"]


def check_mergeable(old, new, path):
    """Raise SystemExit naming every setting of ``MERGE_SETTINGS`` (and ``windows``) that differs."""
    differ = [f"{name}: {old.get(name)!r} there, {new.get(name)!r} here" for name in (*MERGE_SETTINGS, "windows")
              if name in new and old.get(name) != new[name]]
    if differ:
        raise SystemExit(f"--merge {path}: that table was run with other settings, its rows do not compare with "
                         "this run's; " + "; ".join(differ))


def merged_rows(per_set, old):
    """``per_set`` plus the rows of ``old["per_set"]`` whose (set, front end, method) this run did not make.

    Adds a boolean ``merged`` column: True for the rows taken from ``old``.
    """
    previous = pd.DataFrame(old.get("per_set", []))
    if previous.empty:
        return per_set.assign(merged=False)
    made = set(per_set[ROW_KEY].itertuples(index=False, name=None))
    keep = [key not in made for key in previous[ROW_KEY].itertuples(index=False, name=None)]
    previous = previous[keep].drop(columns=["merged"], errors="ignore")
    return pd.concat([previous.assign(merged=True), per_set.assign(merged=False)], ignore_index=True)


def main(argv=None):
    from dolphin_ae.analysis.ablation import ABLATION_COLUMNS, choose_row, front_end_label
    from dolphin_ae.audio.spectrogram import MAGNITUDES, WHITENINGS
    from dolphin_ae.book.report import load_profile
    from dolphin_ae.runio import write_chosen_table
    from dolphin_ae.train.objective_settings import OBJECTIVES, as_objective

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102],
                        help="one development set per seed (never 0, the scored runs' seed)")
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml gives the sizes and the budget")
    parser.add_argument("--sessions", type=int, default=8, help="recording sessions per set")
    parser.add_argument("--signal-clips", type=int, default=3, help="clips per session of each signal class")
    parser.add_argument("--noise-clips", type=int, default=6, help="background clips per session")
    parser.add_argument("--epochs", type=int, help="training epochs per row (default: the profile's ablation_epochs)")
    parser.add_argument("--max-train-windows", type=int, help="default: the profile's ablation_max_train_windows")
    parser.add_argument("--head-epochs", type=int, help="default: the profile's ablation_head_epochs")
    parser.add_argument("--magnitudes", nargs="+", choices=MAGNITUDES, default=list(MAGNITUDES))
    parser.add_argument("--whitenings", nargs="+", choices=WHITENINGS, default=list(WHITENINGS))
    parser.add_argument("--objectives", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES))
    parser.add_argument("--peers", action="store_true", help="fit the peers too (per-set results only)")
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "ablation"),
                        help="folder for the synthetic sets, their windows and checkpoints (reused when unchanged)")
    parser.add_argument("--out", default=str(TABLE))
    parser.add_argument("--merge", help="a table's .json (e.g. bench/tables/ablation.json): its per-set rows of every "
                                        "(set, front end, method) not run now join this run's before the choice")
    args = parser.parse_args(argv)
    if 0 in args.seeds:
        parser.error("seed 0 is the scored runs' seed; choose development seeds other than 0")

    started = time.perf_counter()
    notebooks = ROOT / "notebooks"
    p = {**chapter_parameters(notebooks / "09_ablation.py"), **chapter_parameters(notebooks / "02_autoencoder.py"),
         **chapter_parameters(notebooks / "01_data.py"), **load_profile(args.profile, ROOT)}
    p.update(synth_sessions=args.sessions, synth_signal_clips=args.signal_clips, synth_noise_clips=args.noise_clips)
    for option, key in (("epochs", "ablation_epochs"), ("max_train_windows", "ablation_max_train_windows"),
                        ("head_epochs", "ablation_head_epochs")):
        if getattr(args, option) is not None:
            p[key] = getattr(args, option)
    settings = {name: p[name] for name in ("denoise_gain", "contrastive_temperature", "contrastive_weight",
                                           "projection_dim", "augment_shift_frames", "augment_shift_bins",
                                           "augment_gain_db", "augment_background_gain", "augment_time_mask",
                                           "augment_frequency_mask")}
    objectives = [as_objective(name, **settings) for name in args.objectives]
    budget = {"development_seeds": args.seeds, "profile": args.profile, "sessions": args.sessions,
              "signal_clips": args.signal_clips, "noise_clips": args.noise_clips, "epochs": p["ablation_epochs"],
              "max_train_windows": p["ablation_max_train_windows"], "head_epochs": p["ablation_head_epochs"],
              "conv_filters": p["conv_filters"]}
    merge = None
    if args.merge:
        merge = json.loads(Path(args.merge).read_text())
        check_mergeable(merge, budget, args.merge)
    results, sizes = [], {}
    for seed in args.seeds:
        folder = Path(args.work) / f"dev{seed}-{args.sessions}x{args.signal_clips}x{args.noise_clips}"
        dataset, layout, options = development_set(folder, p, seed=seed)
        print(f"development set seed {seed}: {len(dataset.index)} windows "
              f"({(dataset.index['split'] == 'test').sum()} test)", flush=True)
        rows, sizes[seed] = evaluate(dataset, layout, options, p, magnitudes=args.magnitudes,
                                     whitenings=args.whitenings, objectives=objectives, peers=args.peers, seed=seed)
        rows.insert(0, "set", f"seed {seed}")
        results.append(rows)
    per_set = pd.concat(results, ignore_index=True)
    windows = {f"seed {seed}": value for seed, value in sizes.items()}
    if merge is not None:
        check_mergeable(merge, {"windows": json.loads(json.dumps(windows))}, args.merge)
        per_set = merged_rows(per_set, merge)
    summary = choose_row(per_set.drop(columns=["merged"], errors="ignore"))
    from dolphin_ae.audio.spectrogram import FrontEnd

    current = (front_end_label(FrontEnd(magnitude=p["magnitude"], whitening=p["whitening"])), p["objective"])
    summary["current"] = [(front, method) == current for front, method in zip(summary["front end"],
                                                                              summary["method"])]
    provenance = {
        "script": "bench/ablation.py",
        "command": "PYTHONPATH=src python " + " ".join(["bench/ablation.py", *(argv or sys.argv[1:])]),
        "date": date.today().isoformat(), **budget, "windows": windows,
        "current_default": {"front_end": current[0], "objective": current[1]},
        "rule": RULE, "columns": list(ABLATION_COLUMNS),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine()},
        "per_set": json.loads(per_set.round(4).to_json(orient="records")),
    }
    if merge is not None:
        # Which rows were trained by this command and which were read from the merged table.
        taken = per_set[per_set["merged"]]
        provenance["merged_from"] = {
            "table": args.merge, "command": merge.get("command"), "date": merge.get("date"),
            "seconds": merge.get("seconds"), "n_per_set_rows": int(len(taken)),
            "rows": [[front, method] for front, method in taken[["front end", "method"]].drop_duplicates()
                     .itertuples(index=False, name=None)],
            "rows_run_now": [[front, method] for front, method in per_set.loc[~per_set["merged"], ["front end", "method"]]
                             .drop_duplicates().itertuples(index=False, name=None)]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out = write_chosen_table(summary, provenance, args.out)
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(summary.round(3).to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')} in {provenance['seconds']} s")


if __name__ == "__main__":
    main()
