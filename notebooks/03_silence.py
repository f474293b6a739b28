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
# # The silence detector
#
# Most of a field recording is background. The 2019 study put a small classifier on top of the frozen
# encoder to tell windows with a dolphin signal from windows without one, and used it to cut hours of
# recordings down to the interesting parts. It published one confusion matrix for ConvNet v5.1,
# measured on the very windows the detector was trained on, and it missed about two thirds of the
# signals. Here the detector trains on the training recordings and is scored on the test recordings,
# beside a plain band-energy threshold, so that the table shows what the network adds.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the earlier chapters
seed: int = 0  # random seed for the head's weights and batch order
silence_epochs: int = 64  # training epochs of the detector head
silence_batch_size: int = 10  # windows per training step
silence_learning_rate: float = 0.001  # Adam learning rate
balanced: bool = True  # weight the classes by inverse frequency during training
threshold: float = 0.5  # windows with a silence probability at or above this are called silence

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from myst_nb import glue

from dolphin_ae.dataset import WindowDataset
from dolphin_ae.plots import plot_confusion_matrices, plot_level_histogram
from dolphin_ae.runio import record_stage, save_model, update_metrics
from dolphin_ae.silence import (
    SEED_CONFUSION_MATRIX,
    EnergyThresholdDetector,
    build_silence_detector,
    build_silence_head,
    metrics_from_confusion,
    silence_metrics,
    train_silence_head,
)
from dolphin_ae.training import predict_windows

started = time.perf_counter()
run_dir = Path(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
encoder = keras.models.load_model(run_dir / "models" / "encoder.keras")
train_indices, test_indices = dataset.split_indices("train"), dataset.split_indices("test")
is_silence = dataset.is_silence

# %% [markdown]
# ## Training the head on the frozen encoder
#
# The encoder stays as the autoencoder left it. Every window is encoded once; a head of batch
# normalisation, dense layers of 64 and 32 units, dropout and one sigmoid unit learns from the codes of
# the training recordings. With `balanced`, each class weighs as much as the other in the loss, so the
# rarer class is not given up for accuracy on the common one.

# %%
train_codes = predict_windows(encoder, dataset.windows, train_indices)
test_codes = predict_windows(encoder, dataset.windows, test_indices)
head = build_silence_head(latent_dim=train_codes.shape[1])
history = train_silence_head(head, train_codes, is_silence[train_indices], epochs=silence_epochs,
                             batch_size=silence_batch_size, learning_rate=silence_learning_rate, balanced=balanced,
                             seed=seed)
print(f"final training loss {history['loss'][-1]:.4f}, training accuracy {history['accuracy'][-1]:.3f}")
detector = build_silence_detector(encoder, head)
save_model(detector, run_dir / "models" / "silence_detector.keras")

# %% [markdown]
# ## Scored on the test recordings
#
# Rows are the truth and columns the prediction, in the seed's orientation. The seed's matrix is shown
# as published; remember that it counts training windows.

# %%
probability = head.predict(test_codes, verbose=0)[:, 0]
network = silence_metrics(is_silence[test_indices], probability >= threshold)
energy_detector = EnergyThresholdDetector().fit(dataset.index["level_db"].to_numpy()[train_indices],
                                                is_silence[train_indices])
energy = silence_metrics(is_silence[test_indices],
                         energy_detector.predict(dataset.index["level_db"].to_numpy()[test_indices]))
energy["threshold_db"] = energy_detector.threshold_db_
seed_reported = metrics_from_confusion(SEED_CONFUSION_MATRIX)
update_metrics(run_dir, "silence", {**network, "threshold": threshold})
update_metrics(run_dir, "baseline_energy", energy)
figure = plot_confusion_matrices({
    "seed ConvNet v5.1\n(2019, its training windows)": SEED_CONFUSION_MATRIX,
    "this run: network\n(test recordings)": network["confusion_matrix"],
    "this run: energy threshold\n(test recordings)": energy["confusion_matrix"],
})
glue("confusion_matrices", figure, display=False)
for name, values in (("net", network), ("energy", energy), ("seed", seed_reported)):
    for key in ("balanced_accuracy", "recall_not_silence", "recall_silence", "n_test_windows"):
        glue(f"{name}_{key}", values[key], display=False)

# %% [markdown]
# ```{glue:figure} confusion_matrices
# :name: fig-confusion
#
# Confusion matrices: counts, and in brackets the share of each true class. A good detector has dark
# diagonal cells in both rows. The seed's top row shows most signal windows called silence.
# ```
#
# On {glue:text}`net_n_test_windows` test windows the network detector reaches a balanced accuracy of
# **{glue:text}`net_balanced_accuracy:.3f`**: it keeps {glue:text}`net_recall_not_silence:.1%` of the
# signal windows and recognises {glue:text}`net_recall_silence:.1%` of the silent ones. The energy
# threshold reaches {glue:text}`energy_balanced_accuracy:.3f`, and the seed's published matrix
# corresponds to {glue:text}`seed_balanced_accuracy:.3f` (keeping {glue:text}`seed_recall_not_silence:.1%`
# of the signals), on its training data.

# %%
table = pd.DataFrame(
    {name: {"balanced accuracy": m["balanced_accuracy"], "recall of signals (not silence)": m["recall_not_silence"],
            "recall of silence": m["recall_silence"], "windows scored": m["n_test_windows"]}
     for name, m in (("seed ConvNet v5.1 (training windows)", seed_reported), ("network (test)", network),
                     ("energy threshold (test)", energy))}
).T
table.style.format({"balanced accuracy": "{:.3f}", "recall of signals (not silence)": "{:.3f}",
                    "recall of silence": "{:.3f}", "windows scored": "{:.0f}"})

# %% [markdown]
# ## Why a loudness threshold is not enough
#
# The baseline calls a window silent when its mean band power is below a threshold chosen on the
# training recordings ({glue:text}`energy_threshold_db:.1f` dB). Each recording session has its own
# background level, and quiet events sit close to loud backgrounds, so the two classes overlap. The
# network's input is normalised per window: it judges the shape of the sound, not its loudness.

# %%
glue("energy_threshold_db", energy_detector.threshold_db_, display=False)
figure = plot_level_histogram(dataset.index["level_db"].to_numpy()[test_indices], is_silence[test_indices],
                              threshold_db=energy_detector.threshold_db_)
glue("level_histogram", figure, display=False)

# %% [markdown]
# ```{glue:figure} level_histogram
# :name: fig-levels
#
# Band power of the test windows, signals and silence, with the energy detector's threshold. Where the
# two histograms overlap, no threshold can separate them.
# ```

# %%
record_stage(run_dir, "03_silence", seconds=time.perf_counter() - started,
             parameters={"silence_epochs": silence_epochs, "silence_batch_size": silence_batch_size,
                         "silence_learning_rate": silence_learning_rate, "balanced": balanced,
                         "threshold": threshold, "seed": seed})
