"""bench/peer_features.py: the rule that picks the band-profile peer's resolution, on a fake table."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "peer_features.py"
spec = importlib.util.spec_from_file_location("bench_peer_features", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def fake_per_set(scores):
    """``{name: (setting, silence, type, seconds)}`` -> per-set rows for two sets (scores +-0.002)."""
    rows = []
    for k, set_name in enumerate(("seed 101", "seed 102")):
        for name, (setting, silence, kind, seconds) in scores.items():
            shift = 0.002 if k else -0.002
            rows.append({"set": set_name, "setting": name, "n_bands": setting[0], "n_frames": setting[1],
                         "max_bins": setting[2], "silence_balanced_accuracy": silence + shift,
                         "silence_accuracy": silence, "type_balanced_accuracy": kind + shift,
                         "type_accuracy": kind, "silence_seconds": seconds / 4, "type_seconds": 3 * seconds / 4})
    return pd.DataFrame(rows)


def test_the_fastest_setting_within_tolerance_on_both_scores_is_chosen(tmp_path):
    per_set = fake_per_set({"coarse": ((64, 32, 32), 0.90, 0.80, 10.0), "fine": ((128, 64, 64), 0.905, 0.805, 20.0),
                            "full": ((256, 128, 255), 0.91, 0.85, 300.0)})
    summary = bench.choose(per_set, tolerance=0.01, current=(64, 32, 32))
    assert summary["setting"].tolist() == ["coarse", "fine", "full"]
    # full is best on signal type by 0.045: only full is within 0.01 of the best on both scores.
    assert summary["chosen"].tolist() == [False, False, True]
    assert summary["current"].tolist() == [True, False, False]
    assert summary.loc[0, "n_features"] == 3 * 64 + 2 * 32 and (summary["n_sets"] == 2).all()
    np.testing.assert_allclose(summary["mean_seconds"], [10.0, 20.0, 300.0])
    np.testing.assert_allclose(summary["min_silence_balanced_accuracy"], [0.898, 0.903, 0.908])
    # Without full, coarse and fine are within 0.01 of each other on both: the faster, coarse, wins.
    assert bench.choose(per_set[per_set["setting"] != "full"])["chosen"].tolist() == [True, False]

    out = bench.write_table(summary, {"seeds": [101, 102]}, tmp_path / "t.csv")
    assert pd.read_csv(out)["chosen"].tolist() == [False, False, True]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["seeds"] == [101, 102] and meta["chosen"]["setting"] == "full"


def test_when_no_setting_is_within_tolerance_on_both_the_best_mean_wins():
    per_set = fake_per_set({"a": ((64, 32, 32), 0.95, 0.80, 10.0), "b": ((128, 64, 64), 0.90, 0.86, 20.0)})
    assert bench.choose(per_set)["chosen"].tolist() == [False, True]  # means 0.875 and 0.88


def test_settings_parse_and_chapter_01_defaults_are_read():
    assert bench.parse_setting("coarse") == ("coarse", (64, 32, 32))
    assert bench.parse_setting("32:16:8") == ("32:16:8", (32, 16, 8))
    defaults = bench.chapter_parameters()
    assert defaults["n_bins"] == 256 and defaults["synth_mode"] == "clips" and defaults["test_fraction"] == 0.25


def test_the_chosen_setting_is_the_peer_of_peers_py():
    from dolphin_ae.analysis.peers import BAND_PROFILE_BANDS, BAND_PROFILE_FRAMES, GBM_PARAMETERS, BandProfileClassifier

    # peers.py uses the row the committed development table chose.
    chosen = pd.read_csv(REPO / "bench" / "tables" / "peer_features.csv").query("chosen")
    assert len(chosen) == 1
    setting = bench.SETTINGS[chosen["setting"].item()]
    assert setting == (BAND_PROFILE_BANDS, BAND_PROFILE_FRAMES, GBM_PARAMETERS["max_bins"])
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(60, 8, 70)).astype(np.float32)
    classes = np.arange(60) % 2
    windows[classes == 1, :, :10] += 1.0
    train, test = np.arange(40), np.arange(40, 60)
    predicted, seconds = bench.fit_predict(windows, classes, train, test, setting)
    expected = BandProfileClassifier().fit(windows[train], classes[train]).predict(windows[test])
    assert np.array_equal(predicted, expected) and seconds > 0
