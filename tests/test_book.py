"""The CI build of the report: every notebook at the ``ci`` profile, then the HTML book."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REPORT = [sys.executable, "-m", "dolphin_ae", "report", "--profile", "ci"]


def test_book_has_every_chapter(built_run):
    html = built_run / "book" / "_build" / "html"
    chapters = ("01_data", "02_autoencoder", "03_silence", "04_embedding", "05_clustering", "06_discovery",
                "07_models")
    for page in ("intro",) + chapters:
        assert (html / f"{page}.html").exists(), page
    for page in chapters:
        assert "<img" in (html / f"{page}.html").read_text(), f"{page} shows no figure"
    assert "balanced accuracy of" in (html / "03_silence.html").read_text()
    assert "<audio" in (html / "01_data.html").read_text()


def test_metrics_carry_the_design_keys(built_run):
    metrics = json.loads((built_run / "metrics.json").read_text())
    for section in ("silence", "baseline_energy"):
        values = metrics[section]
        assert set(values) >= {"confusion_matrix", "balanced_accuracy", "recall_not_silence", "recall_silence",
                               "n_test_windows"}
        matrix = values["confusion_matrix"]
        assert sum(map(sum, matrix)) == values["n_test_windows"] > 0
        assert 0.0 <= values["balanced_accuracy"] <= 1.0
    assert metrics["reconstruction"]["mse"] > 0 and metrics["reconstruction"]["pca_mse"] > 0
    for key in ("v_measure", "ari", "baseline_umap_hdbscan_v_measure"):
        assert -1.0 <= metrics["clustering"][key] <= 1.0, key
    # Discovery: the synthetic data plants motifs, so precision and recall are measured, on the whistles of
    # the test recordings only, against exactly the motifs the truth table puts there twice or more.
    from dolphin_ae.sequences import load_truth
    import pandas as pd

    discovery, windows = metrics["discovery"], pd.read_csv(built_run / "windows.csv", keep_default_na=False)
    test_whistles = set(windows.loc[(windows["split"] == "test") & (windows["label"] == "whistle"), "file"])
    sequenced = pd.read_csv(built_run / "sequences" / "clips.csv", keep_default_na=False)
    assert set(sequenced["file"]) == test_whistles and discovery["n_sequences"] == len(sequenced)
    motifs = load_truth(built_run / "data").set_index("file").loc[sorted(test_whistles), "motif"]
    assert discovery["measured"] is True and discovery["truth"] == "motif"
    assert discovery["n_planted"] == int((motifs[motifs != ""].value_counts() >= 2).sum())
    assert (discovery["precision"] is None) == (discovery["n_groups"] == 0)
    assert (discovery["recall"] is None) == (discovery["n_planted"] == 0)
    signal_type = metrics["signal_type"]
    assert 0.0 <= signal_type["accuracy"] <= 1.0
    assert set(signal_type["recall_per_class"]) == {"noise", "click", "burst", "whistle"}
    assert sum(map(sum, signal_type["confusion_matrix"])) == signal_type["n_test_windows"]
    comparison = metrics["model_comparison"]
    compared = comparison["models"]
    assert set(compared) == {"conv_v5", "lstm_v4_1", "lstm_v4_3", "vae_v4_2", "conv_v5 as the seed",
                             "conv_v5 as in chapter 02"}
    assert compared["lstm_v4_1"]["encoder parameters"] != compared["lstm_v4_3"]["encoder parameters"]
    # The seed's ConvNet keeps its two batch normalisations (4 x (128 + 8 x 16 x 8) numbers at the ci sizes).
    assert compared["conv_v5 as the seed"]["autoencoder parameters"] - compared["conv_v5"]["autoencoder parameters"] \
        == 4 * (128 + 8 * 16 * 8)
    # Every row, the autoencoder chapter's settings included, trained here on the same windows for the same
    # epochs (no early stopping at ci) and is measured against the same PCA.
    for row in compared.values():
        assert row["training windows"] == comparison["n_train_windows"] == 128
        assert row["epochs"] == comparison["epochs"] == 2
        assert row["PCA test MSE"] == comparison["pca_mse"]
        assert row["test MSE"] > 0 and 0.0 <= row["silence balanced accuracy"] <= 1.0
        assert row["test MSE / PCA MSE"] == pytest.approx(row["test MSE"] / row["PCA test MSE"])
    # At ci chapter 02 trains conv_v5 with the chapter's default layers and schedule and no patience: the
    # row of its settings is the conv_v5 row's training, not chapter 02's longer one.
    assert compared["conv_v5 as in chapter 02"]["test MSE"] == pytest.approx(compared["conv_v5"]["test MSE"])
    assert compared["conv_v5 as in chapter 02"]["settings"] == "leaky activation, no batch norm, cosine rate"


def test_manifest_records_the_run(built_run):
    manifest = json.loads((built_run / "manifest.json").read_text())
    assert manifest["report"]["profile"] == "ci"
    assert set(manifest["stages"]) >= {"01_data", "02_autoencoder", "03_silence", "04_embedding", "05_clustering",
                                       "06_discovery", "07_models"}
    assert manifest["environment"]["keras_backend"] == "tensorflow"
    assert manifest["stages"]["01_data"]["skipped_files"] == []
    for name in ("encoder.keras", "autoencoder.keras", "silence_detector.keras", "signal_type_classifier.keras"):
        assert (built_run / "models" / name).stat().st_size > 0


def test_a_notebook_error_fails_the_report(tmp_path):
    result = subprocess.run(REPORT + ["--run-dir", str(tmp_path), "--set", "test_fraction=1.5", "--no-build"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "a notebook failed" in result.stderr and "test_fraction" in result.stderr
    assert not (tmp_path / "book" / "_build").exists()
