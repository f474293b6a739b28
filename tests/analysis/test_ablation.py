"""The ablation: every front end with every objective on one split, the peers beside them."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dolphin_ae.analysis.ablation import (ABLATION_COLUMNS, ABLATION_PEER_NAMES, front_end_grid, front_end_label,
                                          run_ablation)
from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.exceptions import ParameterError

SIZES = {"conv_filters": (4, 4), "kernel_size": 3, "latent_dim": 6, "output_activation": "linear"}
LABELS = ("noise", "whistle", "burst", "click")


def _dataset(front_end, *, n=96, seed=0, transform=None):
    # Four classes of 16 x 32 windows: faint noise, a horizontal line, vertical stripes, one loud column;
    # eight recordings, the last two the test recordings.
    rng = np.random.default_rng(seed)
    labels = np.array([LABELS[i % 4] for i in range(n)])
    windows = 0.3 * rng.standard_normal((n, 16, 32)).astype(np.float32)
    windows[labels == "whistle", :, 10] += 3.0
    windows[labels == "burst", ::3, :] += 2.0
    windows[labels == "click", 8, :] += 4.0
    if transform is not None:
        windows = transform(windows)
    recordings = np.array([f"rec{i % 8}" for i in range(n)])
    index = pd.DataFrame({"file": [f"{r}__{i}.wav" for i, r in enumerate(recordings)], "recording": recordings,
                          "label": labels, "start_s": 0.0, "level_db": rng.normal(-40, 3, n),
                          "split": np.where(np.isin(recordings, ["rec6", "rec7"]), "test", "train")})
    return WindowDataset(windows=windows, index=index, front_end=front_end)


def test_front_end_grid_keeps_the_other_settings_and_names_each_front_end():
    base = FrontEnd(step_frames=32)
    grid = front_end_grid(base, ["linear", "log"], ["none", "recording_median"])
    assert [front_end_label(f) for f in grid] == ["linear, none", "linear, recording_median", "log, none",
                                                 "log, recording_median"]
    assert all(f.step_frames == 32 for f in grid)
    assert front_end_grid(base, ["linear", "linear"], ["none"]) == [base]
    with pytest.raises(ParameterError, match="at least one magnitude"):
        front_end_grid(base, [], ["none"])


@pytest.mark.slow
def test_one_row_per_front_end_and_objective_with_the_peers_beside(tmp_path):
    linear = FrontEnd()
    datasets = [_dataset(linear), _dataset(replace(linear, magnitude="log"),
                                           transform=lambda w: np.log1p(w - w.min()).astype(np.float32))]
    split = datasets[0]
    train, test = split.split_indices("train"), split.split_indices("test")
    validation, train = train[:12], train[12:]
    lines = []
    rows = run_ablation(datasets, ["mse", "denoising"], train_indices=train, validation_indices=validation,
                        test_indices=test, cluster_indices=test, sizes=SIZES, epochs=1, batch_size=8,
                        head_epochs=2, head_batch_size=8, umap_neighbors=5, checkpoint_dir=tmp_path, seed=0,
                        progress=lines.append)
    table = pd.DataFrame(rows)
    assert list(table.columns) == ["front end", "method", "kind", *ABLATION_COLUMNS]
    network = table[table["kind"] == "network"]
    assert list(zip(network["front end"], network["method"])) == [
        ("linear, none", "mse"), ("linear, none", "denoising"), ("log, none", "mse"), ("log, none", "denoising")]
    assert len(lines) == 4
    # Every measure of a network row is measured; the reconstruction against the front end's own PCA.
    assert network[list(ABLATION_COLUMNS)].notna().all().all()
    assert (network["training windows per s"] > 0).all()
    peers = table[table["kind"] == "peer"]
    for front_end in ("linear, none", "log, none"):
        names = set(peers.loc[peers["front end"] == front_end, "method"])
        assert names == {f"peer: {name}" for name in ABLATION_PEER_NAMES.values()}
    gbm = peers[peers["method"] == f"peer: {ABLATION_PEER_NAMES['band_profile_gbm']}"]
    assert gbm[["silence balanced accuracy", "signal-type accuracy"]].notna().all().all()
    assert gbm[["signals V-measure", "training windows per s"]].isna().all().all()
    pca = peers[peers["method"] == f"peer: {ABLATION_PEER_NAMES['pca']}"]
    assert (pca["test MSE / PCA MSE"] == 1.0).all() and pca["5-neighbour agreement"].notna().all()
    # Four trainings, each in a checkpoint folder of its own: the objective and the front end are in the key.
    assert len(list(tmp_path.iterdir())) == 4
    # A second run loads the finished trainings and measures the same numbers.
    again = pd.DataFrame(run_ablation(datasets[:1], ["mse"], train_indices=train, validation_indices=validation,
                                      test_indices=test, cluster_indices=test, sizes=SIZES, epochs=1, batch_size=8,
                                      head_epochs=2, head_batch_size=8, umap_neighbors=5, checkpoint_dir=tmp_path,
                                      seed=0, peers=False))
    assert len(again) == 1 and len(list(tmp_path.iterdir())) == 4
    assert again.loc[0, "test MSE / PCA MSE"] == pytest.approx(network.iloc[0]["test MSE / PCA MSE"], rel=1e-5)


def test_the_ablation_needs_distinct_objectives_and_front_ends():
    dataset = _dataset(FrontEnd(), n=16)
    options = dict(train_indices=np.arange(8), validation_indices=np.arange(8, 10), test_indices=np.arange(10, 16),
                   cluster_indices=np.arange(10, 16), sizes=SIZES, epochs=1)
    with pytest.raises(ParameterError, match="distinct objectives"):
        run_ablation([dataset], ["mse", "mse"], **options)
    with pytest.raises(ParameterError, match="objective must be one of"):
        run_ablation([dataset], ["mse", "denoise"], **options)
    with pytest.raises(ParameterError, match="distinct front ends"):
        run_ablation([dataset, dataset], ["mse"], **options)


def _per_set(scores):
    """``{(front end, method): (silence, signals V, type, MSE ratio)}`` -> network rows of two sets, and a peer."""
    rows = []
    for k, name in enumerate(("seed 101", "seed 102")):
        shift = 0.01 if k else -0.01
        for (front, method), (silence, signals, kind, ratio) in scores.items():
            rows.append({"set": name, "front end": front, "method": method, "kind": "network",
                         "silence balanced accuracy": silence + shift, "signals V-measure": signals,
                         "signal-type accuracy": kind - shift, "5-neighbour agreement": 0.5,
                         "test MSE / PCA MSE": ratio, "training windows per s": 10.0 + k})
        rows.append({"set": name, "front end": "linear, none", "method": "peer: PCA", "kind": "peer",
                     **{column: 1.0 for column in ABLATION_COLUMNS}})
    return pd.DataFrame(rows)


def test_the_chooser_takes_the_best_mean_score_and_breaks_ties_by_reconstruction():
    from dolphin_ae.analysis.ablation import choose_row

    summary = choose_row(_per_set({("linear, none", "mse"): (0.8, 0.3, 0.7, 0.9),
                                   ("log, none", "mse"): (0.9, 0.4, 0.8, 1.1),
                                   ("log, none", "denoising"): (0.8, 0.5, 0.8, 0.8)}))
    # Peers never compete; means over the sets; best first.
    assert list(zip(summary["front end"], summary["method"])) == [("log, none", "denoising"), ("log, none", "mse"),
                                                                  ("linear, none", "mse")]
    assert summary["score"].iloc[0] == pytest.approx((0.8 + 0.5 + 0.8) / 3)
    assert summary["n_sets"].tolist() == [2, 2, 2] and summary["training windows per s"].iloc[0] == 10.5
    # (0.9 + 0.4 + 0.8) / 3 == (0.8 + 0.5 + 0.8) / 3: the tie goes to the lower reconstruction ratio.
    assert summary["chosen"].tolist() == [True, False, False]
    tied = choose_row(_per_set({("log, none", "mse"): (0.9, 0.4, 0.8, 0.7),
                                ("log, none", "denoising"): (0.8, 0.5, 0.8, 0.8)}))
    assert tied.loc[tied["chosen"], "method"].tolist() == ["mse"]
    with pytest.raises(ParameterError, match="no network rows"):
        choose_row(_per_set({})[lambda t: t["kind"] == "peer"])
