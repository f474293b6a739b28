"""Choose the band-profile peer's feature resolution on development data sets, and write the table.

The gradient-boosting peer of chapter 03 (:class:`dolphin_ae.analysis.peers.BandProfileClassifier`) sees
``band_profile_features`` of each normalised window at a reduced resolution (``BAND_PROFILE_BANDS``
bands, ``BAND_PROFILE_FRAMES`` frame groups, ``max_bins`` in ``GBM_PARAMETERS``): full resolution
costs minutes per fit on 2 cores, and peers.py uses the row this script chose. This script measures what the resolution costs and gains on development data only: synthetic
data sets made with seeds of their own (default 101 and 102, never 0, the seed every profile
scores), synthesised and cut into windows exactly as chapter 01 does (its parameter cell's defaults
with the profile's values over them, default the ``cpu`` profile), split by recording with the
set's seed. At each setting the silence peer (noise vs the rest) and the signal-type peer (the four
classes) are fitted on a set's training recordings and scored on its test recordings, with
``GBM_PARAMETERS`` except ``max_bins``; each fit+predict (features included) is timed.

    # the committed table: cpu-profile sizes, two development sets, the coarse and the fine setting
    PYTHONPATH=src python bench/peer_features.py
    # with full resolution (every bin and frame, max_bins 255): about 3 min per silence fit and
    # several times that per signal-type fit on 2 shared cores at cpu sizes, so not run by default
    PYTHONPATH=src python bench/peer_features.py --settings coarse fine full --out bench/out/pf.csv
    # quick check at small size, settings as bands:frames:max_bins
    PYTHONPATH=src python bench/peer_features.py --sessions 4 --settings coarse 32:16:16 --out bench/out/pf.csv

The rule (:func:`choose`): among the settings whose mean balanced accuracy over the sets is within
``--tolerance`` (0.01) of the best setting's on *both* tasks, the fastest (mean fit+predict seconds
of both peers per set); when no setting is within it on both, the highest mean of the two scores.

Writes ``--out`` (default ``bench/tables/peer_features.csv``: one row per setting, the chosen row
and the setting of ``peers.py`` marked) and a ``.json`` beside it (command, date, seeds, sizes,
machine, the rule, the chosen row and every per-set result), and prints the table.
"""

import argparse
import ast
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "bench" / "tables" / "peer_features.csv"
# name -> (n_bands, n_frames, max_bins); peers.py uses the row the committed table chose ("fine").
SETTINGS = {"coarse": (64, 32, 32), "fine": (128, 64, 64), "full": (256, 128, 255)}
DEFAULT_SETTINGS = ("coarse", "fine")
SCORES = ("silence_balanced_accuracy", "type_balanced_accuracy")


def parse_setting(text):
    """A name of :data:`SETTINGS` or ``bands:frames:max_bins`` -> (name, (bands, frames, max_bins))."""
    if text in SETTINGS:
        return text, SETTINGS[text]
    try:
        values = tuple(int(part) for part in text.split(":"))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1 or not 2 <= values[2] <= 255:
        raise argparse.ArgumentTypeError(f"{text!r}: a name of {list(SETTINGS)} or bands:frames:max_bins "
                                         f"(max_bins 2..255)")
    return text, values


def chapter_parameters(path=ROOT / "notebooks" / "01_data.py"):
    """The defaults of chapter 01's parameter cell, ``{name: value}``."""
    source = Path(path).read_text()
    cell = source.split('# %% tags=["parameters"]', 1)[1].split("\n# %%", 1)[0]
    return {node.target.id: ast.literal_eval(node.value) for node in ast.parse(cell).body
            if isinstance(node, ast.AnnAssign)}


def development_set(folder, parameters, *, seed):
    """Synthesise one development set in ``folder`` and cut it into windows as chapter 01 does."""
    from dolphin_ae.data.dataset import build_window_dataset
    from dolphin_ae.layout import RunLayout
    from dolphin_ae.audio.spectrogram import FrontEnd
    from dolphin_ae.data.synth import clip_counts, synthesize_dataset

    p = parameters
    front_end = FrontEnd(sr=p["sr"], n_fft=p["n_fft"], hop_length=p["hop_length"], fmin_hz=p["fmin_hz"],
                         fmax_hz=p["fmax_hz"], n_bins=p["n_bins"], window_frames=p["window_frames"],
                         step_frames=p["step_frames"], magnitude=p["magnitude"], normalization=p["normalization"])
    source = RunLayout(folder).data
    synthesize_dataset(
        source, mode=p["synth_mode"], n_sessions=p["synth_sessions"], sr=p["sr"],
        snr_db_range=(p["snr_db_min"], p["snr_db_max"]), band_fmin_hz=p["fmin_hz"], n_motifs=p["synth_motifs"],
        motif_fraction=p["synth_motif_fraction"],
        clips_per_label=clip_counts(p["synth_signal_clips"], p["synth_noise_clips"]),
        recordings_per_session=p["synth_recordings"], recording_s=p["synth_recording_s"], seed=seed)
    return build_window_dataset(source, front_end=front_end, channel=p["channel"],
                                min_duration_s=p["min_duration_s"], test_fraction=p["test_fraction"], seed=seed,
                                layout=p["data_layout"], min_event_overlap=p["min_event_overlap"],
                                label_column=p["label_column"] or None, pad_mode=p["pad_mode"],
                                recording_pattern=p["recording_pattern"] or None, cache_dir=RunLayout(folder).cache)


def fit_predict(windows, classes, train, test, setting, *, random_state=0):
    """:class:`BandProfileClassifier`'s fit and predict at ``setting``; (predicted test classes, seconds)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from dolphin_ae.analysis.peers import GBM_PARAMETERS, band_profile_features

    n_bands, n_frames, max_bins = setting
    started = time.perf_counter()
    model = HistGradientBoostingClassifier(**{**GBM_PARAMETERS, "max_bins": max_bins}, random_state=random_state)
    model.fit(band_profile_features(windows[train], n_bands=n_bands, n_frames=n_frames), classes[train])
    predicted = model.predict(band_profile_features(windows[test], n_bands=n_bands, n_frames=n_frames))
    return predicted, time.perf_counter() - started


def evaluate(dataset, settings, *, random_state=0):
    """One row per setting for one development set: both peers' scores on its test recordings and seconds."""
    from dolphin_ae.train.silence import silence_metrics
    from dolphin_ae.train.signal_type import encode_labels, signal_classes, signal_type_metrics

    train, test = dataset.split_indices("train"), dataset.split_indices("test")
    is_silence = dataset.is_silence
    class_names = signal_classes(dataset.index["label"])
    classes = encode_labels(dataset.index["label"], class_names)
    rows = []
    for name, setting in settings:
        silence, silence_s = fit_predict(dataset.windows, is_silence, train, test, setting, random_state=random_state)
        kinds, type_s = fit_predict(dataset.windows, classes, train, test, setting, random_state=random_state)
        s = silence_metrics(is_silence[test], silence)
        t = signal_type_metrics(classes[test], kinds, class_names)
        rows.append({"setting": name, "n_bands": setting[0], "n_frames": setting[1], "max_bins": setting[2],
                     "silence_balanced_accuracy": s["balanced_accuracy"],
                     "silence_accuracy": float(np.mean(silence == is_silence[test])),
                     "silence_seconds": silence_s,
                     "type_balanced_accuracy": t["balanced_accuracy"], "type_accuracy": t["accuracy"],
                     "type_seconds": type_s, "n_train_windows": len(train), "n_test_windows": len(test)})
        print(f"  {name}: silence {s['balanced_accuracy']:.3f} ({silence_s:.1f} s), "
              f"type {t['balanced_accuracy']:.3f} ({type_s:.1f} s)", flush=True)
    return pd.DataFrame(rows)


def choose(per_set, *, tolerance=0.01, current=None):
    """Per-set rows -> one row per setting (means over the sets), the chosen one marked.

    ``per_set`` holds ``set``, ``setting``, ``n_bands``, ``n_frames``, ``max_bins``, the scores of
    :data:`SCORES` (and the plain accuracies), ``silence_seconds`` and ``type_seconds``. Chosen: the
    fastest setting within ``tolerance`` of the best mean on both scores of :data:`SCORES`; when none
    is, the highest mean of the two. ``current`` (bands, frames, max_bins) marks the setting in use.
    """
    keys = ["setting", "n_bands", "n_frames", "max_bins"]
    scores = [c for c in ("silence_balanced_accuracy", "silence_accuracy", "type_balanced_accuracy",
                          "type_accuracy") if c in per_set]
    per_set = per_set.assign(seconds=per_set["silence_seconds"] + per_set["type_seconds"])
    summary = per_set.groupby(keys, sort=False).agg(
        **{f"mean_{c}": (c, "mean") for c in scores}, **{f"min_{c}": (c, "min") for c in SCORES},
        mean_seconds=("seconds", "mean"), n_sets=("set", "nunique")).reset_index()
    summary.insert(4, "n_features", 3 * summary["n_bands"] + 2 * summary["n_frames"])
    means = summary[[f"mean_{c}" for c in SCORES]]
    summary["within_tolerance"] = (means >= means.max() - tolerance - 1e-12).all(axis=1)
    if summary["within_tolerance"].any():
        chosen = summary.loc[summary["within_tolerance"], "mean_seconds"].idxmin()
    else:
        chosen = means.mean(axis=1).idxmax()
    summary["chosen"] = summary.index == chosen
    if current is not None:
        summary["current"] = [tuple(r) == tuple(current) for r in summary[["n_bands", "n_frames", "max_bins"]].values]
    return summary


def write_table(summary, provenance, path=TABLE):
    """Write the table (CSV) and ``<name>.json`` beside it: ``provenance`` plus the chosen row."""
    from dolphin_ae.runio import write_chosen_table

    return write_chosen_table(summary, provenance, path)


def main(argv=None):
    from dolphin_ae.analysis.peers import BAND_PROFILE_BANDS, BAND_PROFILE_FRAMES, GBM_PARAMETERS
    from dolphin_ae.book.report import load_profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102],
                        help="one development set per seed (never 0, the scored runs' seed)")
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml gives the data sizes")
    parser.add_argument("--sessions", type=int, help="recording sessions per set (default: the profile's)")
    parser.add_argument("--settings", type=parse_setting, nargs="+",
                        default=[parse_setting(s) for s in DEFAULT_SETTINGS],
                        help=f"names of {list(SETTINGS)} or bands:frames:max_bins (default: coarse fine; "
                             f"full is slow: minutes per fit on 2 cores)")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "peer_features"),
                        help="folder for the synthetic sets and their windows (reused when unchanged)")
    parser.add_argument("--out", default=str(TABLE))
    args = parser.parse_args(argv)
    if 0 in args.seeds:
        parser.error("seed 0 is the scored runs' seed; choose development seeds other than 0")

    started = time.perf_counter()
    profile = load_profile(args.profile, ROOT)
    parameters = {**chapter_parameters(), **profile}
    if args.sessions is not None:
        parameters["synth_sessions"] = args.sessions
    results = []
    for seed in args.seeds:
        dataset = development_set(Path(args.work) / f"dev{seed}", parameters, seed=seed)
        print(f"development set seed {seed}: {len(dataset.index)} windows "
              f"({(dataset.index['split'] == 'test').sum()} test)", flush=True)
        rows = evaluate(dataset, args.settings, random_state=seed)
        rows.insert(0, "set", f"seed {seed}")
        results.append(rows)
    per_set = pd.concat(results, ignore_index=True)
    current = (BAND_PROFILE_BANDS, BAND_PROFILE_FRAMES, GBM_PARAMETERS["max_bins"])
    summary = choose(per_set, tolerance=args.tolerance, current=current)
    provenance = {
        "script": "bench/peer_features.py",
        "command": "PYTHONPATH=src python " + " ".join(["bench/peer_features.py", *(argv or sys.argv[1:])]),
        "date": date.today().isoformat(), "development_seeds": args.seeds, "profile": args.profile,
        "sessions": parameters["synth_sessions"], "signal_clips": parameters["synth_signal_clips"],
        "noise_clips": parameters["synth_noise_clips"],
        "settings": {name: list(setting) for name, setting in args.settings},
        "gbm_parameters": {k: v for k, v in GBM_PARAMETERS.items() if k != "max_bins"},
        "current": list(current),
        "rule": f"fastest setting (mean fit+predict seconds of both peers per set) whose mean balanced accuracy "
                f"is within {args.tolerance} of the best on both silence and signal type; else the highest mean "
                f"of the two",
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.machine()},
        "per_set": json.loads(per_set.round(4).to_json(orient="records")),
    }
    out = write_table(summary, provenance, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(summary.round(4).to_string(index=False))
    print(f"wrote {out} and {out.with_suffix('.json')} in {provenance['seconds']} s")


if __name__ == "__main__":
    main()
