"""Front end x training objective: every combination trained and scored on one split, beside the peers.

For each front end (a magnitude and a whitening of :class:`dolphin_ae.audio.spectrogram.FrontEnd`)
the run's windows are cut again from its recordings (:func:`dolphin_ae.data.dataset.with_front_end`:
the same windows, the same split, cached like the run's own), and for each training objective
(:mod:`dolphin_ae.train.objective_settings`) the ConvNet v5.1 trains on the training windows and is
scored on the test windows. Every row has the same columns (:data:`ABLATION_COLUMNS`):

- ``silence balanced accuracy``: a silence head on the frozen codes (as chapter 03's), threshold 0.5;
- ``signals V-measure``: KMeans on the codes of the signal windows alone, k = the true signal
  classes (:func:`dolphin_ae.analysis.peers.code_scores_k_true`);
- ``signal-type accuracy``: a four-class head on the frozen codes (as chapter 03's);
- ``5-neighbour agreement``: share of windows whose 5 nearest codes vote for their own class
  (:func:`dolphin_ae.analysis.projection.neighbour_label_agreement`);
- ``test MSE / PCA MSE``: reconstruction against a PCA with as many components as the code;
- ``training windows per s``: a clock reading (:data:`WALL_CLOCK_COLUMNS`), not a measure that repeats.

Beside each front end's network rows stand its peers, fitted on the same training windows and scored
on the same test windows (:func:`peer_rows`): chapter 03's silence and signal-type peers, chapter
05's clustering peers on the signal windows, and the PCA's own codes. A peer has a number only in
the columns it answers; the others are NaN.
"""

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from dolphin_ae.analysis.clustering import clustering_scores, scale_codes
from dolphin_ae.analysis.peers import (PEER_NAMES, avgn_labels, code_scores_k_true, signal_mask, signal_type_peer,
                                       silence_peers, umap_kmeans_labels)
from dolphin_ae.analysis.projection import neighbour_label_agreement, stratified_subset
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import build_model, model_options
from dolphin_ae.train.evaluation import pca_reconstruction_mse, reconstruction_mse
from dolphin_ae.train.heads import split_encoder, on_features
from dolphin_ae.train.objective_settings import as_objective
from dolphin_ae.train.signal_type import (build_signal_type_head, encode_labels, signal_classes, signal_type_metrics,
                                          train_signal_type_head)
from dolphin_ae.train.silence import silence_metrics, train_silence_on_encoder
from dolphin_ae.train.training import predict_windows, train_autoencoder
from dolphin_ae.train.validation import validation_split

MEASURE_COLUMNS = ("silence balanced accuracy", "signals V-measure", "signal-type accuracy", "5-neighbour agreement",
                   "test MSE / PCA MSE")
# Measured with a clock: a chapter records it in the manifest, not among the metrics that repeat.
WALL_CLOCK_COLUMNS = ("training windows per s",)
ABLATION_COLUMNS = MEASURE_COLUMNS + WALL_CLOCK_COLUMNS
# The measures the chooser (bench/ablation.py) averages; the reconstruction ratio breaks ties.
CHOICE_COLUMNS = ("silence balanced accuracy", "signals V-measure", "signal-type accuracy")
N_NEIGHBOURS = 5
PCA_PEER = "pca"
# The window peers the ablation fits (not the search chapter's pooled-spectrogram index), and a PCA.
WINDOW_PEERS = ("energy_global", "energy_per_recording", "band_profile_gbm", "avgn", "umap_kmeans")
ABLATION_PEER_NAMES = {**{peer: PEER_NAMES[peer] for peer in WINDOW_PEERS},
                       PCA_PEER: "PCA with as many components as the code"}
# The repository's committed table (bench/ablation.py), found from this file: src/dolphin_ae/analysis/ -> root.
ABLATION_TABLE = Path(__file__).resolve().parents[3] / "bench" / "tables" / "ablation.csv"


def front_end_label(front_end):
    """``"<magnitude>, <whitening>"``, e.g. ``"log, recording_median"``: how the table names a front end."""
    return f"{front_end.magnitude}, {front_end.whitening}"


def front_end_grid(front_end, magnitudes, whitenings):
    """``front_end`` with each magnitude and whitening (magnitudes outer), the other settings kept; distinct."""
    if not magnitudes or not whitenings:
        raise ParameterError(f"the ablation needs at least one magnitude and one whitening, got {list(magnitudes)} "
                             f"and {list(whitenings)}")
    grid = []
    for magnitude in magnitudes:
        for whitening in whitenings:
            candidate = replace(front_end, magnitude=magnitude, whitening=whitening)
            if candidate not in grid:
                grid.append(candidate)
    return grid


def _row(**values):
    return {column: float(values[column]) if values.get(column) is not None else np.nan for column in ABLATION_COLUMNS}


def _pca_codes(windows, train_indices, indices, *, n_components, seed):
    """A PCA fitted on the training windows, and the codes it gives ``windows[sort(indices)]``."""
    from sklearn.decomposition import PCA

    train = np.asarray(windows[np.sort(train_indices)], dtype=np.float32).reshape(len(train_indices), -1)
    pca = PCA(n_components=min(n_components, *train.shape), svd_solver="randomized", random_state=seed).fit(train)
    x = np.asarray(windows[np.sort(indices)], dtype=np.float32).reshape(len(indices), -1)
    return pca, pca.transform(x)


def _pca_mse(pca, windows, test_indices):
    x = np.asarray(windows[np.sort(test_indices)], dtype=np.float32).reshape(len(test_indices), -1)
    return float(np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2))


def code_measures(codes, labels, *, scaling="l2", seed=0):
    """``signals V-measure`` and ``5-neighbour agreement`` of ``codes`` (n, dims) with true ``labels`` (n,)."""
    scores = code_scores_k_true(codes, labels, scaling=scaling, random_state=seed)
    return {"signals V-measure": scores["signals"]["v_measure"] if scores["signals"] else None,
            "5-neighbour agreement": neighbour_label_agreement(scale_codes(codes, scaling=scaling), labels,
                                                               n_neighbors=N_NEIGHBOURS)}


def peer_rows(dataset, train_indices, test_indices, cluster_indices, *, latent_dim, scaling="l2",
              umap_components=10, umap_neighbors=15, seed=0):
    """The peers of one front end's windows, ``{peer: row}`` with :data:`ABLATION_COLUMNS` (NaN where none).

    Silence: :func:`~dolphin_ae.analysis.peers.silence_peers`; signal type: the band-profile
    gradient boosting; signal windows of ``cluster_indices`` (test windows): AVGN and UMAP + KMeans
    (k = true signal classes), each clustering those windows afresh; ``pca``: the PCA's codes
    scored as the network's are, its reconstruction ratio 1 by definition.
    """
    windows, labels = dataset.windows, dataset.index["label"].to_numpy()
    silence = silence_peers(windows, dataset.index["level_db"].to_numpy(), dataset.index["recording"].to_numpy(),
                            dataset.is_silence, train_indices, test_indices, random_state=seed)
    class_names = signal_classes(dataset.index["label"])
    kind = signal_type_peer(windows, encode_labels(dataset.index["label"], class_names), train_indices, test_indices,
                            class_names=class_names, random_state=seed)
    rows = {peer: _row(**{"silence balanced accuracy": m["balanced_accuracy"]}) for peer, m in silence.items()}
    rows["band_profile_gbm"]["signal-type accuracy"] = kind["accuracy"]
    cluster_indices = np.sort(cluster_indices)
    signals = cluster_indices[signal_mask(labels[cluster_indices])]
    truth = labels[signals]
    k = int(np.unique(truth).size)
    enough = signals.size >= 3 and k >= 2
    x = np.asarray(windows[signals], dtype=np.float32)
    rows["avgn"] = _row(**{"signals V-measure": clustering_scores(truth, avgn_labels(
        x, magnitude=dataset.front_end.magnitude, n_neighbors=umap_neighbors, random_state=seed))["v_measure"]
        if enough else None})
    rows["umap_kmeans"] = _row(**{"signals V-measure": clustering_scores(truth, umap_kmeans_labels(
        x, k, n_components=umap_components, n_neighbors=umap_neighbors, random_state=seed))["v_measure"]
        if enough else None})
    pca, codes = _pca_codes(windows, train_indices, cluster_indices, n_components=latent_dim, seed=seed)
    rows[PCA_PEER] = _row(**code_measures(codes, labels[cluster_indices], scaling=scaling, seed=seed),
                          **{"test MSE / PCA MSE": 1.0})
    return rows, _pca_mse(pca, windows, test_indices)


def network_row(dataset, objective, *, train_indices, validation_indices, test_indices, cluster_indices, sizes,
                pca_mse, epochs, batch_size=10, learning_rate=1e-3, lr_schedule="cosine", head_epochs=32,
                head_batch_size=10, scaling="l2", checkpoint_dir=None, seed=0):
    """Train the ConvNet v5.1 with ``sizes`` (``model_options`` keywords) on ``objective``; score it.

    ``objective`` is an :class:`~dolphin_ae.train.objective_settings.Objective` or a name. The
    training is resumable and keyed as any other (``train_autoencoder``): a changed objective, front
    end or setting trains afresh, an unchanged one loads its finished checkpoint. Returns a row of
    :data:`ABLATION_COLUMNS`.
    """
    windows, labels, is_silence = dataset.windows, dataset.index["label"].to_numpy(), dataset.is_silence
    keras.utils.set_random_seed(seed)
    options = model_options("conv_v5", input_shape=tuple(windows.shape[1:]) + (1,), **sizes, seed=seed)
    autoencoder = build_model("conv_v5", **options)
    class_names = signal_classes(dataset.index["label"])
    classes = encode_labels(dataset.index["label"], class_names)
    # The supervised objectives read the training and validation windows' classes, as the heads do.
    history = train_autoencoder(autoencoder, windows, train_indices, validation_indices=validation_indices,
                                epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                lr_schedule=lr_schedule, checkpoint_dir=checkpoint_dir, seed=seed, verbose=0,
                                objective=as_objective(objective), recordings=dataset.index["recording"].to_numpy(),
                                is_background=is_silence, labels=classes)
    encoder = autoencoder.get_layer("encoder")
    silence_head = train_silence_on_encoder(encoder, windows, is_silence, train_indices, test_indices,
                                            epochs=head_epochs, batch_size=head_batch_size, seed=seed)
    type_tail = None if silence_head.tail is None else split_encoder(encoder)[1]
    type_head = on_features(build_signal_type_head(latent_dim=encoder.output_shape[-1], n_classes=len(class_names)),
                            type_tail)
    train_signal_type_head(type_head, silence_head.train_features, classes[train_indices], epochs=head_epochs,
                           batch_size=head_batch_size, seed=seed)
    predicted = np.argmax(type_head.predict(silence_head.test_features, verbose=0), axis=1)
    codes = predict_windows(encoder, windows, np.sort(cluster_indices))
    # Loaded from a finished checkpoint, the epochs' times are those of the run that trained them.
    seconds = float(np.median(history["epoch_seconds"][1:] or history["epoch_seconds"]))
    return _row(**{
        "silence balanced accuracy": silence_metrics(is_silence[test_indices],
                                                     silence_head.probability >= 0.5)["balanced_accuracy"],
        **code_measures(codes, labels[np.sort(cluster_indices)], scaling=scaling, seed=seed),
        "signal-type accuracy": signal_type_metrics(classes[test_indices], predicted, class_names)["accuracy"],
        "test MSE / PCA MSE": reconstruction_mse(autoencoder, windows, test_indices) / pca_mse,
        "training windows per s": len(train_indices) / seconds,
    })


def run_ablation(datasets, objectives, *, train_indices, validation_indices, test_indices, cluster_indices, sizes,
                 epochs, peers=True, progress=None, **options):
    """Every front end of ``datasets`` with every objective of ``objectives``, and the peers of each.

    Parameters
    ----------
    datasets : list of WindowDataset
        One per front end, all with the same windows and split (``with_front_end``).
    objectives : sequence of str or Objective
    train_indices, validation_indices, test_indices, cluster_indices : arrays of window indices
        Shared by every row; ``cluster_indices`` (test windows) are those the codes are clustered and
        voted on.
    sizes : dict
        ``model_options`` keywords of the ConvNet (``conv_filters``, ``kernel_size``, ``latent_dim``,
        ...); ``latent_dim`` is also the PCA's number of components.
    peers : bool
        Add each front end's :func:`peer_rows`; without them only the PCA's test MSE is computed.
    progress : callable or None
        Called with one line after each row.
    options
        ``network_row``'s training settings (``batch_size``, ``learning_rate``, ``head_epochs``, ...;
        ``scaling``, ``umap_components`` and ``umap_neighbors`` reach the peers as well).

    Returns
    -------
    list of dict
        One row per (front end, objective), then (with ``peers``) per (front end, peer): ``front end``,
        ``method`` (the objective's name, or ``"peer: <name>"``), ``kind`` ("network" or "peer") and
        the :data:`ABLATION_COLUMNS`.
    """
    objectives = [as_objective(objective) for objective in objectives]
    names = [objective.name for objective in objectives]
    if not objectives or len(set(names)) != len(names):
        raise ParameterError(f"the ablation needs distinct objectives, got {names}")
    if len({dataset.front_end for dataset in datasets}) != len(datasets):
        raise ParameterError("the ablation needs distinct front ends")
    peer_options = {key: options.pop(key) for key in ("umap_components", "umap_neighbors") if key in options}
    latent_dim = int(sizes.get("latent_dim", 128))
    rows = []
    for dataset in datasets:
        label = front_end_label(dataset.front_end)
        if peers:
            found, pca_mse = peer_rows(dataset, train_indices, test_indices, cluster_indices, latent_dim=latent_dim,
                                       scaling=options.get("scaling", "l2"), seed=options.get("seed", 0),
                                       **peer_options)
        else:
            pca_mse = pca_reconstruction_mse(dataset.windows, train_indices, test_indices, n_components=latent_dim,
                                             seed=options.get("seed", 0))
        for objective in objectives:
            row = network_row(dataset, objective, train_indices=train_indices, validation_indices=validation_indices,
                              test_indices=test_indices, cluster_indices=cluster_indices, sizes=sizes,
                              pca_mse=pca_mse, epochs=epochs, **options)
            rows.append({"front end": label, "method": objective.name, "kind": "network", **row})
            if progress is not None:
                progress(f"{label} x {objective.name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
        if peers:
            rows.extend({"front end": label, "method": f"peer: {ABLATION_PEER_NAMES[peer]}", "kind": "peer", **row}
                        for peer, row in found.items())
    return rows


def ablation_indices(dataset, *, validation_fraction=0.2, max_train_windows=0, max_cluster_windows=0, seed=0):
    """``(train, validation, test, cluster)`` window indices of ``dataset``'s split, shared by every row.

    Training and validation windows as chapter 02 draws them (``validation_split``, at most
    ``max_train_windows`` training windows); every test window; ``cluster``: at most
    ``max_cluster_windows`` test windows keeping each class's share (``stratified_subset``; 0: all).
    """
    train, validation = validation_split(dataset.index["recording"], dataset.index["label"],
                                         dataset.split_indices("train"), validation_fraction=validation_fraction,
                                         seed=seed, max_train_windows=max_train_windows)
    test = dataset.split_indices("test")
    cluster = test[stratified_subset(dataset.index["label"].to_numpy()[test], max_cluster_windows, seed=seed)]
    return train, validation, test, cluster


def choose_row(per_set):
    """Network rows of one or more sets -> one row per (front end, method), means over the sets, one chosen.

    ``per_set`` holds ``set``, ``front end``, ``method``, ``kind`` and the :data:`ABLATION_COLUMNS`;
    peer rows are left out. The rule: the highest mean over the sets of the mean of
    :data:`CHOICE_COLUMNS` (silence balanced accuracy, signals V-measure, signal-type accuracy);
    among rows of the same score (to 9 decimals), the lowest mean ``test MSE / PCA MSE``. Returns a DataFrame,
    best first, with ``score``, ``n_sets``, the mean of every measure and a boolean ``chosen``.
    """
    network = per_set[per_set["kind"] == "network"]
    if network.empty:
        raise ParameterError("no network rows to choose among")
    summary = network.groupby(["front end", "method"], sort=False).agg(
        **{column: (column, "mean") for column in ABLATION_COLUMNS}, n_sets=("set", "nunique")).reset_index()
    # Rounded, so that scores equal but for the order of a sum tie.
    summary.insert(2, "score", summary[list(CHOICE_COLUMNS)].mean(axis=1).round(9))
    summary = summary.sort_values(["score", "test MSE / PCA MSE"], ascending=[False, True], kind="stable")
    summary["chosen"] = np.arange(len(summary)) == 0
    return summary.reset_index(drop=True)


def read_chosen_table(path=ABLATION_TABLE):
    """The chooser's committed table and its JSON (``(table, meta)``), or ``(None, None)`` when absent."""
    from dolphin_ae.runio import read_json

    path = Path(path)
    if not path.is_file():
        return None, None
    table = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in ABLATION_COLUMNS})
    table["chosen"] = table["chosen"].astype(str).str.lower().isin(["true", "1"])
    return table, read_json(path.with_suffix(".json"), default={})
