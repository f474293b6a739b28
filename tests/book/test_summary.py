import numpy as np
import pytest

from dolphin_ae.constants import SEED_CONFUSION_MATRIX
from dolphin_ae.train.silence import metrics_from_confusion
from dolphin_ae.book.summary import (
    headline_table,
    lookup,
    peer_line,
    peers_beating_the_network,
    verdict,
    parameter_table,
    reproduce_command,
    skipped_files_table,
    stage_table,
)

MANIFEST = {
    "report": {
        "profile": "ci",
        "parameters": {"run_dir": "/runs/x", "data_dir": "", "seed": 0, "epochs": 3, "conv_filters": [8, 8, 8, 8]},
        "overrides": {"epochs": 3, "conv_filters": [8, 8, 8, 8], "jit_compile": True},
        "stages": {
            "01_data": {"status": "done", "key": "a" * 64, "parameters": {"run_dir": "/runs/x", "seed": 0},
                        "defaults": {"test_fraction": 0.25, "channel": 0}},
            "02_autoencoder": {"status": "done", "key": "b" * 64, "parameters": {"seed": 0, "epochs": 3},
                               "defaults": {"latent_dim": 128, "channel": 1}},
            "03_silence": {"status": "running", "key": "c" * 64, "parameters": {"seed": 0}},
        },
        "notebook_seconds": {"01_data": 10.0, "02_autoencoder": 20.0},
        "last_run": {"executed": ["02_autoencoder"], "skipped": ["01_data"], "failed": None, "finished": False},
    },
    "environment": {"git_commit": "abc123", "packages": {"keras": "3.15.1"}},
    "stages": {"01_data": {"skipped_files": [{"file": "noise/bad.wav", "reason": "holds no samples"}]},
               "02_autoencoder": {}},
}


def test_headline_table_puts_each_number_beside_the_seed_and_a_baseline():
    metrics = {"silence": {"balanced_accuracy": 0.9, "recall_not_silence": 0.8, "recall_silence": 1.0},
               "baseline_energy": {"balanced_accuracy": 0.7, "recall_not_silence": 0.6, "recall_silence": 0.8},
               "reconstruction": {"mse": 0.05, "pca_mse": 0.04}}
    table = headline_table(metrics)
    seed = metrics_from_confusion(SEED_CONFUSION_MATRIX)
    row = table.loc["silence detector: balanced accuracy"]
    assert (row["this run"], row["baseline (this run)"]) == (0.9, 0.7)
    assert row["2019 study"] == pytest.approx(seed["balanced_accuracy"])
    assert table.loc["silence detector: recall of signals", "2019 study"] == pytest.approx(seed["recall_not_silence"])
    assert np.isnan(table.loc["autoencoder: reconstruction MSE (z-units²)", "2019 study"])
    assert table.loc["autoencoder: reconstruction MSE (z-units²)", "baseline (this run)"] == 0.04
    # Stages that did not run leave no row.
    assert not any(label.startswith(("clustering", "discovery", "signal type")) for label in table.index)


def test_lookup_walks_dotted_keys():
    assert lookup({"a": {"b": 2}}, "a.b") == 2
    assert lookup({"a": {"b": 2}}, "a.c") is None and lookup({"a": 1}, "a.b", default=0) == 0


def test_reproduce_command_repeats_profile_overrides_and_commit():
    command = reproduce_command(MANIFEST)
    assert command.splitlines()[0] == "git checkout abc123"
    assert command.splitlines()[1] == ("dolphin-ae report --profile ci --set conv_filters=[8,8,8,8] --set epochs=3 "
                                       "--set jit_compile=true")


def test_tables_of_parameters_stages_and_skipped_files():
    parameters = parameter_table(MANIFEST)
    assert parameters.loc["epochs", "set on the command line"] == "yes"
    assert parameters.loc["seed", "stages"] == "01_data, 02_autoencoder, 03_silence"
    assert parameters.loc["seed", "notebook default"] == ""
    # The parameters no stage was passed, at the defaults of the notebooks' parameters cells.
    assert parameters.loc["latent_dim"].tolist() == ["128", "", "yes", "02_autoencoder"]
    assert parameters.loc["test_fraction", "stages"] == "01_data"
    assert parameters.loc["channel"].to_dict("list") == {"value": ["0", "1"], "set on the command line": ["", ""],
                                                         "notebook default": ["yes", "yes"],
                                                         "stages": ["01_data", "02_autoencoder"]}
    assert list(parameters.index) == sorted(parameters.index)
    stages = stage_table(MANIFEST)
    assert list(stages["in the last run"]) == ["kept from an earlier run", "executed", "executing now"]
    assert stages.loc["02_autoencoder", "seconds"] == 20.0 and np.isnan(stages.loc["03_silence", "seconds"])
    assert stages.loc["01_data", "key"] == "a" * 12
    skipped = skipped_files_table(MANIFEST)
    assert skipped.to_dict("records") == [{"stage": "01_data", "file": "noise/bad.wav", "reason": "holds no samples"}]


def test_discovery_without_motif_truth_says_not_measured():
    from dolphin_ae.book.summary import discovery_note

    note = discovery_note({"discovery": {"precision": None, "recall": None, "measured": False, "n_groups": 2}})
    assert "not measured" in note and "no motif truth" in note
    assert "0." not in note and "1.0" not in note
    assert discovery_note({}) == ""
    measured = discovery_note({"discovery": {"precision": 0.75, "recall": 0.5, "measured": True, "n_planted": 4,
                                             "seed_rule": "the seed's density rule at the seed's settings",
                                             "seed_precision": None, "seed_recall": 0.25}})
    assert "precision 0.75 and recall 0.50 against 4 planted motifs" in measured
    assert "the seed's density rule at the seed's settings reaches precision none (no group)" in measured
    # No discovery row in the headline table when precision and recall are null.
    from dolphin_ae.book.summary import headline_table

    table = headline_table({"discovery": {"precision": None, "recall": None}})
    assert not any(label.startswith("discovery") for label in table.index)


PEERED = {
    "silence": {"balanced_accuracy": 0.88, "recall_not_silence": 0.8, "recall_silence": 0.96},
    "baseline_energy": {"balanced_accuracy": 0.70},
    "silence_peers": {"energy_global": {"balanced_accuracy": 0.70},
                      "energy_per_recording": {"balanced_accuracy": 0.85},
                      "band_profile_gbm": {"balanced_accuracy": 0.96}},
    "clustering": {"v_measure": 0.30, "ari": 0.2, "v_measure_k_true": 0.25, "signals": {"v_measure": 0.5}},
    "clustering_peers": {"avgn": {"v_measure": 0.38, "ari": 0.1, "signals_v_measure": 0.35},
                         "umap_kmeans": {"v_measure": 0.31, "ari": 0.3, "signals_v_measure": None}},
    "signal_type": {"accuracy": 0.70, "balanced_accuracy": 0.65},
    "signal_type_peers": {"band_profile_gbm": {"accuracy": 0.90, "balanced_accuracy": 0.88}},
}


def test_headline_table_puts_each_peer_beside_the_network():
    table = headline_table(PEERED)
    row = table.loc["silence detector: balanced accuracy, peer: gradient boosting on the band profile"]
    assert (row["this run"], row["baseline (this run)"]) == (0.88, 0.96)
    assert table.loc["clustering: V-measure, peer: AVGN: 2-D UMAP + HDBSCAN of log spectrograms",
                     "baseline (this run)"] == 0.38
    assert table.loc["clustering: V-measure, KMeans with k = true classes", "this run"] == 0.25
    assert table.loc["clustering: V-measure, signal windows only", "this run"] == 0.5
    # A peer with no measurement (null) has no row.
    assert not any(label.startswith("clustering: V-measure, signal windows only, peer: 10-D") for label in table.index)
    labels = list(table.index)
    # Each peer's row follows its measurement's.
    assert labels.index("silence detector: balanced accuracy") + 1 == labels.index(
        "silence detector: balanced accuracy, peer: band-level threshold")


def test_the_peers_that_beat_the_network_are_named_from_the_numbers():
    beating = peers_beating_the_network(PEERED)
    assert set(zip(beating["measure"], beating["peer"])) == {
        ("silence detector: balanced accuracy", "gradient boosting on the band profile"),
        ("clustering: V-measure", "AVGN: 2-D UMAP + HDBSCAN of log spectrograms"),
        ("clustering: V-measure", "10-D UMAP + KMeans (k true) of raw windows"),
        ("clustering: adjusted Rand index", "10-D UMAP + KMeans (k true) of raw windows"),
        ("signal type: accuracy (4 classes)", "gradient boosting on the band profile"),
        ("signal type: balanced accuracy", "gradient boosting on the band profile"),
    }
    line = peer_line(PEERED)
    assert "gradient boosting on the band profile on silence detector: balanced accuracy (0.960" in line
    network_wins = {**PEERED, "silence_peers": {"band_profile_gbm": {"balanced_accuracy": 0.5}},
                    "clustering_peers": {}, "signal_type_peers": {}}
    assert peer_line(network_wins) == "No peer beats the network on any measurement of this run."
    assert peer_line({"silence": {"balanced_accuracy": 0.9}}) == "No peer was measured in this run."


def test_the_verdict_says_who_wins_from_the_numbers():
    peers = {"band_profile_gbm": 0.96, "energy_global": 0.70, "energy_per_recording": None}
    text = verdict("the network", 0.88, peers, measure="balanced accuracy")
    assert text == "On balanced accuracy, gradient boosting on the band profile (0.960) beats the network (0.880)."
    text = verdict("the network", 0.97, peers, measure="balanced accuracy")
    assert text.startswith("No peer beats the network") and "best peer reaches 0.960" in text
    assert verdict("the network", 0.5, peers, measure="balanced accuracy") == (
        "On balanced accuracy, gradient boosting on the band profile (0.960) and band-level threshold (0.700) "
        "beat the network (0.500).")
    assert "not measured" in verdict("the network", None, peers, measure="V-measure")
