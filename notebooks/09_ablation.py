# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Front end and objective: the ablation
#
# Two choices shape what a 128-number code keeps before any model is trained: how the front end turns
# a recording into windows (the magnitude scale, and whether each recording's stationary background
# is subtracted: {doc}`the data chapter <01_data>`), and what the autoencoder is trained to do (its
# objective: {doc}`the autoencoder chapter <02_autoencoder>`). This chapter crosses them. For each
# front end the run's recordings are cut into the very same windows again, in the same split; for
# each objective the ConvNet v5.1 of the autoencoder chapter, at its sizes, trains on the same
# training windows for the same epochs. Every row is scored on the same test windows as the peers of
# that front end, fitted on the same training windows: the silence and signal-type peers of the
# {doc}`silence chapter <03_silence>`, the clustering peers of the {doc}`clustering chapter
# <05_clustering>`, and a PCA with as many numbers per window as the code.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the data chapter
data_dir: str = ""  # the data chapter's recordings (empty: what it recorded, else the run's synthetic data)
seed: int = 0  # random seed for weights, batch order, heads and clusterings
# The data chapter's options, so that every front end cuts the same windows (its defaults).
channel: int = 0  # channel of multi-channel recordings to analyse
min_duration_s: float = 0.05  # recordings shorter than this are skipped (s)
min_event_overlap: float = 0.5  # share of a window an annotated event must cover to label it
label_column: str = ""  # Raven tables: column holding the labels
recording_pattern: str = ""  # regex whose first group names a file's recording
pad_mode: str = "reflect"  # padding of clips shorter than a window
test_fraction: float = 0.25  # share of the windows, by recording, held out for testing
use_cache: bool = True  # reuse the windows cached in the run directory
# The grid. The data chapter's front end and the autoencoder chapter's objective are always in it.
ablation_magnitudes: list = ["linear", "log", "pcen"]  # magnitudes of the front ends compared
ablation_whitenings: list = ["none", "recording_median"]  # whitenings of the front ends compared
ablation_objectives: list = ["mse", "denoising", "contrastive", "contrastive_mse", "supervised", "supervised_mse"]  # objectives compared
ablation_epochs: int = 4  # training epochs of each row
ablation_max_train_windows: int = 0  # cap on training windows per row, drawn at random (0: all)
ablation_head_epochs: int = 32  # training epochs of each row's silence and signal-type heads
ablation_max_cluster_windows: int = 3000  # test windows clustered and voted on at most, keeping class shares
# The autoencoder chapter's model, training and objective settings.
objective: str = "contrastive_mse"  # the autoencoder chapter's objective: its row is the book's default
conv_filters: list = [128, 64, 32, 16]  # conv_v5: filters of the four encoder convolutions
kernel_size: int = 8  # convolution kernel size (frames x bins)
latent_dim: int = 128  # numbers per window code (and the PCA's components)
output_activation: str = "linear"  # decoder output activation
conv_activation: str = "leaky"  # conv_v5: "leaky" or "seed"
conv_batch_norm: bool = False  # conv_v5: batch-normalise the code and the decoder's first layer
batch_size: int = 10  # windows per training step
learning_rate: float = 0.001  # Adam learning rate (the starting rate under a schedule)
lr_schedule: str = "cosine"  # "cosine" or "constant"
validation_fraction: float = 0.2  # share of the training recordings held out for the validation loss
silence_batch_size: int = 10  # windows per training step of the heads
denoise_gain: list = [0.25, 1.0]  # denoising: range of the gain of the background window added to the input
contrastive_temperature: float = 0.2  # contrastive: NT-Xent temperature
contrastive_weight: float = 1.0  # contrastive_mse, supervised_mse: weight of the reconstruction loss beside NT-Xent or SupCon
projection_dim: int = 64  # contrastive: numbers out of the projection head
augment_shift_frames: int = 8  # contrastive views: largest time shift (frames)
augment_shift_bins: int = 4  # contrastive views: largest frequency shift (bins)
augment_gain_db: float = 3.0  # contrastive views: largest gain either way (dB)
augment_background_gain: list = [0.0, 0.5]  # contrastive views: range of the gain of an added background window
augment_time_mask: int = 16  # contrastive views: widest time mask (frames)
augment_frequency_mask: int = 16  # contrastive views: widest frequency mask (bins)
# The clustering chapter's settings.
code_scaling: str = "l2"  # codes before clustering and the neighbour vote: "l2", "standard", ...
umap_components: int = 10  # dimensions of the UMAP + KMeans peer
umap_neighbors: int = 15  # UMAP's neighbourhood size (windows)

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from dolphin_ae.analysis.ablation import (ABLATION_TABLE, CHOICE_COLUMNS, MEASURE_COLUMNS, WALL_CLOCK_COLUMNS,
                                          ablation_indices, front_end_grid, front_end_label, read_chosen_table,
                                          run_ablation)
from dolphin_ae.analysis.sequences import find_data_dir
from dolphin_ae.analysis.verdicts import verdict
from dolphin_ae.data.dataset import WindowDataset, with_front_end
from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import record_stage, update_metrics
from dolphin_ae.train.objective_settings import as_objective

started = time.perf_counter()
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
settings = dict(denoise_gain=denoise_gain, contrastive_temperature=contrastive_temperature,
                contrastive_weight=contrastive_weight, projection_dim=projection_dim,
                augment_shift_frames=augment_shift_frames, augment_shift_bins=augment_shift_bins,
                augment_gain_db=augment_gain_db, augment_background_gain=augment_background_gain,
                augment_time_mask=augment_time_mask, augment_frequency_mask=augment_frequency_mask)
objectives = [as_objective(name, **settings) for name in dict.fromkeys([*ablation_objectives, objective])]
front_ends = front_end_grid(dataset.front_end, ablation_magnitudes, ablation_whitenings)
if dataset.front_end not in front_ends:
    front_ends.insert(0, dataset.front_end)
default_row = (front_end_label(dataset.front_end), objective)

# %% [markdown]
# ## The same windows through every front end
#
# The {glue:text}`n_front_ends` front ends below differ from the data chapter's only in their
# magnitude and whitening. Each cuts the run's recordings into the same
# {glue:text}`n_windows:,` windows, and each window keeps its recording's split; the windows are cached
# in the run directory as the data chapter's are. Every row trains on the same
# {glue:text}`n_train:,` training windows for {glue:text}`ablation_epochs` epochs and is scored on the
# same {glue:text}`n_test:,` test windows ({glue:text}`n_cluster:,` of them clustered and voted on).

# %%
source = find_data_dir(run_dir, data_dir)
options = dict(channel=channel, min_duration_s=min_duration_s, min_event_overlap=min_event_overlap,
               label_column=label_column or None, pad_mode=pad_mode, recording_pattern=recording_pattern or None,
               test_fraction=test_fraction)
windows_started = time.perf_counter()
datasets = [with_front_end(dataset, source, front_end, cache_dir=layout.cache if use_cache else None, **options)
            for front_end in front_ends]
windows_seconds = time.perf_counter() - windows_started
train_indices, validation_indices, test_indices, cluster_indices = ablation_indices(
    dataset, validation_fraction=validation_fraction, max_train_windows=ablation_max_train_windows,
    max_cluster_windows=ablation_max_cluster_windows, seed=seed)
for name, value in (("n_front_ends", len(front_ends)), ("n_windows", len(dataset.index)),
                    ("n_train", len(train_indices)), ("n_test", len(test_indices)),
                    ("n_cluster", len(cluster_indices)), ("ablation_epochs", ablation_epochs),
                    ("n_objectives", len(objectives)), ("windows_seconds", windows_seconds)):
    glue(name, value, display=False)
pd.DataFrame({"magnitude": [f.magnitude for f in front_ends], "whitening": [f.whitening for f in front_ends]},
             index=[front_end_label(f) for f in front_ends])

# %% [markdown]
# ## Training and scoring every combination
#
# Each of the {glue:text}`n_objectives` objectives trains on each front end. A silence head and a
# signal-type head, as in the silence chapter, learn on the frozen codes of the training windows
# ({glue:text}`ablation_head_epochs` epochs each) and are scored on the test windows; KMeans with k =
# the true signal classes clusters the codes of the signal windows alone; and each window's 5 nearest
# codes vote for a class. The trainings are kept as checkpoints: a re-run with the same settings
# loads them.

# %%
glue("ablation_head_epochs", ablation_head_epochs, display=False)
sizes = {"conv_filters": conv_filters, "kernel_size": kernel_size, "latent_dim": latent_dim,
         "output_activation": output_activation, "conv_activation": conv_activation,
         "conv_batch_norm": conv_batch_norm}
rows = run_ablation(datasets, objectives, train_indices=train_indices, validation_indices=validation_indices,
                    test_indices=test_indices, cluster_indices=cluster_indices, sizes=sizes, epochs=ablation_epochs,
                    batch_size=batch_size, learning_rate=learning_rate, lr_schedule=lr_schedule,
                    head_epochs=ablation_head_epochs, head_batch_size=silence_batch_size, scaling=code_scaling,
                    umap_components=umap_components, umap_neighbors=umap_neighbors,
                    checkpoint_dir=layout.checkpoints, seed=seed, progress=print)
table = pd.DataFrame(rows).set_index(["front end", "method"])

# %% [markdown]
# ## The table
#
# One row per front end and objective, and below each front end's rows its peers, each with a number
# only where it answers the column's question. The row of the book's default front end and objective
# ({glue:text}`default_row`) is the one the other chapters use.

# %%
glue("default_row", f"{default_row[0]} with {default_row[1]}", display=False)
shown = table.drop(columns="kind")
shown.index = pd.MultiIndex.from_tuples(
    [(front, f"{method} (the book's default)" if (front, method) == default_row else method)
     for front, method in shown.index], names=shown.index.names)
glue("ablation_table", shown.style.format("{:.3f}", na_rep="", subset=list(MEASURE_COLUMNS))
     .format("{:.0f}", na_rep="", subset=list(WALL_CLOCK_COLUMNS)), display=False)

# %% [markdown]
# ```{glue:figure} ablation_table
# :name: tab-ablation
#
# Every front end (magnitude, whitening) with every objective, scored on the same test windows, and the
# peers of each front end. Silence: balanced accuracy of a head on the frozen codes; signals V-measure:
# KMeans (k = true signal classes) on the signal windows' codes; signal type: accuracy of a four-class
# head on the codes; 5-neighbour agreement: share of windows whose five nearest codes vote for their
# class; test MSE / PCA MSE below 1: better reconstruction than the PCA (the contrastive objective
# does not train the decoder); training windows per second: this machine's clock.
# ```
#
# Where a peer wins, and on what: **{glue:text}`verdict_silence`** **{glue:text}`verdict_signals`**
# **{glue:text}`verdict_type`** **{glue:text}`verdict_agreement`** (Each sentence compares the best
# network row with the best peer of any front end.)

# %%
network, peers = table[table["kind"] == "network"], table[table["kind"] == "peer"]
verdict_names = {"silence balanced accuracy": ("silence", "silence balanced accuracy"),
                 "signals V-measure": ("signals", "V-measure on the signal windows"),
                 "signal-type accuracy": ("type", "signal-type accuracy"),
                 "5-neighbour agreement": ("agreement", "5-neighbour label agreement")}
best = {}
for column, (name, measure) in verdict_names.items():
    front, method = network[column].idxmax()
    best[column] = (front, method)
    peer_values = {f"{peer.removeprefix('peer: ')} ({peer_front})": value
                   for (peer_front, peer), value in peers[column].dropna().items()}
    glue(f"verdict_{name}", verdict(f"{method} on the {front} front end", float(network[column].max()),
                                    peer_values, measure=measure, names={}), display=False)
timings = {f"{front} x {method}": {key: float(row[key]) for key in WALL_CLOCK_COLUMNS}
           for (front, method), row in network.iterrows()}
update_metrics(run_dir, "ablation", {
    "default": {"front_end": default_row[0], "objective": default_row[1]},
    "n_train_windows": int(len(train_indices)), "n_test_windows": int(len(test_indices)),
    "n_cluster_windows": int(len(cluster_indices)), "epochs": ablation_epochs,
    "rows": [{"front_end": front, "method": method, "kind": row["kind"],
              **{key: (None if pd.isna(row[key]) else float(row[key])) for key in MEASURE_COLUMNS}}
             for (front, method), row in table.iterrows()]})

# %% [markdown]
# ## How the book's default was chosen
#
# A default picked from the table above would be tuned on the test recordings it is scored on. The
# default is instead the row that `bench/ablation.py` chooses on synthetic development sets of other
# seeds, never on the recordings scored here; the note below is read from the file it wrote.

# %%
def default_rank(table, row):
    """Where ``row`` (front end, objective) stands in the chooser's table, in words."""
    match = table[(table["front end"] == row[0]) & (table["method"] == row[1])]
    if match.empty:
        return "The chooser's grid does not hold it."
    rank = int(table.index.get_loc(match.index[0])) + 1
    return (f"In the chooser's table it ranks {rank} of {len(table)} (mean score "
            f"{float(match['score'].iloc[0]):.3f}); `bench/RESULTS.md` says how far apart the rows are on each "
            "development set.")


chosen_table, chosen_meta = read_chosen_table()
if chosen_table is None:
    choice_note = (f"The chooser's table ({ABLATION_TABLE.name}, written by `bench/ablation.py`) is not in this "
                   "installation, so this run cannot show how its default was chosen.")
else:
    chosen = chosen_table[chosen_table["chosen"]].iloc[0]
    seeds = chosen_meta.get("development_seeds", [])
    is_default = (chosen["front end"], chosen["method"]) == default_row
    choice_note = (
        f"`bench/ablation.py` ran the grid on {len(seeds)} synthetic development sets (seeds "
        f"{', '.join(map(str, seeds))}, {chosen_meta.get('sessions', '?')} sessions each, "
        f"{chosen_meta.get('epochs', '?')} epochs per row; written {chosen_meta.get('date', '?')}). "
        f"Its rule: {chosen_meta.get('rule', '?')}. It chose **{chosen['method']} on the {chosen['front end']} "
        f"front end** (mean score {float(chosen['score']):.3f}). "
        + ("This run's default is that row." if is_default else
           f"This run's default ({default_row[1]} on the {default_row[0]} front end) is not that row: "
           "the defaults of the data and autoencoder chapters, or a profile or `--set`, differ from it. "
           + default_rank(chosen_table, default_row)))
display(Markdown(choice_note))
if chosen_table is not None:
    display(chosen_table.head(12).style.format(precision=3, na_rep="").hide(axis="index"))

# %%
# The report records the parameters; the chapter records what it measured, and the clock readings.
record_stage(run_dir, "09_ablation", seconds=time.perf_counter() - started,
             extra={"rows": [f"{front} x {method}" for front, method in network.index], "timings": timings,
                    "windows_seconds": windows_seconds, "best": {k: list(v) for k, v in best.items()}})
