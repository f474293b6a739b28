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
# # Every model side by side
#
# The 2019 study tried a ConvNet and a family of LSTM autoencoders and compared them by one silence
# confusion matrix each, measured on training windows. This chapter trains all four models of this
# book on the same training recordings, with the same number of epochs, and scores each on the test
# recordings: its size, its training time, how well it reconstructs the test windows against a PCA
# with as many numbers per window as the code, and how well a silence head on its frozen encoder
# separates signals from silence. Beside them, trained here on the same windows for the same epochs:
# the ConvNet built and trained exactly as the seed's (`compare_seed_conv`), and the model, layers,
# learning-rate schedule, early stopping and training objective of the
# {doc}`autoencoder chapter <02_autoencoder>`. Every row is trained in this chapter; none is read from
# another chapter's results.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the data chapter
seed: int = 0  # random seed for weights and batch order
compare_models: list = ["conv_v5", "lstm_v4_1", "lstm_v4_3", "vae_v4_2"]  # models to compare
conv_filters: list = [128, 64, 32, 16]  # conv_v5: filters of the four encoder convolutions
lstm_width: float = 1.0  # LSTM V4: scale of the seed's filters and units (1: 256 filters, 128 units)
kernel_size: int = 8  # convolution kernel size (frames x bins)
latent_dim: int = 128  # numbers per window code
output_activation: str = "linear"  # decoder output activation
lstm_decoder_input: str = "repeat"  # LSTM V4: the decoder LSTM reads the code at every step ("repeat") or, as the seed, at step 0 then zeros ("first_step")
conv_activation: str = "leaky"  # conv_v5: "leaky" (LeakyReLU) or "seed" (ReLU in each convolution, then LeakyReLU)
conv_batch_norm: bool = False  # conv_v5: batch-normalise the code and the decoder's first layer (the seed: true)
compare_seed_conv: bool = True  # also train conv_v5 exactly as the seed did (ReLU, batch norm, fixed rate)
model: str = "conv_v5"  # the autoencoder chapter's model, trained here with that chapter's settings as one more row
patience: int = 0  # the autoencoder chapter's early stopping (epochs without a better validation loss; 0: never)
objective: str = "contrastive_mse"  # the autoencoder chapter's objective, its row's here: "mse", "denoising", "contrastive", "contrastive_mse", "supervised" or "supervised_mse"
denoise_gain: list = [0.25, 1.0]  # denoising: range of the gain of the background window added to the input
contrastive_temperature: float = 0.2  # contrastive: NT-Xent temperature
contrastive_weight: float = 1.0  # contrastive_mse, supervised_mse: weight of the reconstruction loss beside NT-Xent or SupCon
projection_dim: int = 64  # contrastive: numbers out of the projection head
augment_shift_frames: int = 8  # contrastive views: largest time shift (frames)
augment_shift_bins: int = 4  # contrastive views: largest frequency shift (bins)
augment_gain_db: float = 3.0  # contrastive views: largest gain either way (dB)
augment_background_gain: list = [0.0, 0.5]  # contrastive views: range of the gain of an added background window ([0, 0]: none)
augment_time_mask: int = 16  # contrastive views: widest time mask (frames)
augment_frequency_mask: int = 16  # contrastive views: widest frequency mask (bins)
compare_epochs: int = 8  # training epochs of each model
batch_size: int = 10  # windows per training step
learning_rate: float = 0.001  # Adam learning rate (the starting rate under a schedule)
lr_schedule: str = "cosine"  # "cosine": decay to 0 over the epochs; "constant": the seed's fixed rate
jit_compile: bool = False  # XLA compilation
mixed_precision: bool = False  # compute in bfloat16 with float32 weights
compare_max_train_windows: int = 0  # cap on training windows per model, drawn at random (0: all)
compare_silence_epochs: int = 32  # training epochs of each model's silence head
silence_batch_size: int = 10  # windows per training step of the silence heads
validation_fraction: float = 0.2  # share of the training recordings held out for the validation loss

# %%
import time
from pathlib import Path

import pandas as pd
from myst_nb import glue

from dolphin_ae.train.compare import (WALL_CLOCK_COLUMNS, best_row, chapter_contenders, compare_autoencoders,
                                      decoder_reach)
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.layout import RunLayout
from dolphin_ae.viz.plots import plot_model_comparison
from dolphin_ae.runio import record_stage, update_metrics
from dolphin_ae.train.objective_settings import as_objective
from dolphin_ae.train.signal_type import window_classes
from dolphin_ae.train.validation import validation_split

started = time.perf_counter()
run_dir = Path(run_dir)
# The autoencoder chapter's objective, checked here as there; only its row trains with it.
chapter_02_objective = as_objective(
    objective, denoise_gain=denoise_gain, contrastive_temperature=contrastive_temperature,
    contrastive_weight=contrastive_weight, projection_dim=projection_dim, augment_shift_frames=augment_shift_frames,
    augment_shift_bins=augment_shift_bins, augment_gain_db=augment_gain_db,
    augment_background_gain=augment_background_gain, augment_time_mask=augment_time_mask,
    augment_frequency_mask=augment_frequency_mask)
layout = RunLayout(run_dir)
dataset = WindowDataset.load(run_dir)

# %% [markdown]
# ## One split for every model
#
# The same training, validation and test recordings as the autoencoder chapter; every model here
# trains on the same training windows (at most `compare_max_train_windows` of them).

# %%
train_indices, validation_indices = validation_split(
    dataset.index["recording"], dataset.index["label"], dataset.split_indices("train"),
    validation_fraction=validation_fraction, seed=seed, max_train_windows=compare_max_train_windows)
test_indices = dataset.split_indices("test")
glue("n_train", len(train_indices), display=False)
glue("n_test", len(test_indices), display=False)
glue("compare_epochs", compare_epochs, display=False)

# %% [markdown]
# ## Why the seed's LSTM decoder could only learn the mean window
#
# The seed's LSTM decoder is *one-to-many*: its first LSTM reads the code at the first of the
# window's frames and zeros at every later one, so whatever it writes into frame 100 the code must
# have passed through a hundred steps of the LSTM's memory. Untrained, that memory forgets fast.
# Below, before any training, the chapter's v4.1 encodes {glue:text}`n_reach_windows` training
# windows and its decoder decodes each code; the number is how much the decoding changes from one
# window's code to another's, in each quarter of the frames (mean absolute difference):
#
# | decoder input | frames, first quarter | second | third | last quarter |
# |---|---|---|---|---|
# | the seed's: code at step 0, zeros after | {glue:text}`reach_first_step_0:.1e` | {glue:text}`reach_first_step_1:.1e` | {glue:text}`reach_first_step_2:.1e` | {glue:text}`reach_first_step_3:.1e` |
# | the code at every step | {glue:text}`reach_repeat_0:.1e` | {glue:text}`reach_repeat_1:.1e` | {glue:text}`reach_repeat_2:.1e` | {glue:text}`reach_repeat_3:.1e` |
#
# With the seed's input the code's effect falls by a factor of {glue:text}`reach_first_step_fall:,.0f`
# from the first quarter to the last: three quarters of every window are decoded the same whatever
# the window, so the only error the decoder can lower there is the distance to the mean window, and
# the gradient that reaches the encoder through them is as small. The cheapest descent is then to the
# mean window, and there the seed's LSTM models stopped at the `cpu` profile: the three of them at
# one and the same ratio to the PCA, that of a model that outputs the mean window whatever it is
# shown. Fed the code at
# every step (as Keras's `RepeatVector` does), the decoder has the same weights and the same
# parameter count, and the code reaches every frame alike from the start (a factor of
# {glue:text}`reach_repeat_fall:.1f` from the first quarter to the last). This chapter's LSTM rows,
# and the variational one, use it (`lstm_decoder_input="repeat"`, also a parameter of the
# autoencoder chapter); `lstm_decoder_input="first_step"` restores the seed's decoder. The encoders
# are the seed's.
#
# `bench/lstm_collapse.py` tested the other suspects on a development data set of its own (seed 101,
# the `cpu` profile's sizes and this chapter's budget; `bench/RESULTS.md`): with the seed's decoder
# input, a ten times higher learning rate and ten times larger windows both left v4.1 at the mean
# window, reconstructions all alike; the repeated code alone ended the collapse, bringing v4.1 level
# with the ConvNet at the same budget. It did not bring either below the PCA there: at a few hundred
# training steps every model of this chapter is still learning, which the column `test MSE /
# mean-window MSE` below shows beside the ratio to the PCA (below 1: the model reconstructs the
# window in front of it better than the mean window does). A second limit is the seed's encoder,
# which this chapter keeps: its max-pool over every frequency bin keeps what its kernels found and
# when, not at what frequency, so the same whistle at two pitches gets the same code, and no decoder
# can put the pitch back. The ConvNet keeps the frequency axis.

# %%
reach_indices = train_indices[:16]
reach = decoder_reach(dataset.windows, reach_indices, "lstm_v4_1",
                      {"lstm_width": lstm_width, "kernel_size": kernel_size, "latent_dim": latent_dim,
                       "output_activation": output_activation}, ("first_step", "repeat"), seed=seed)
glue("n_reach_windows", len(reach_indices), display=False)
for decoder_input, parts in reach.items():
    for part, value in enumerate(parts):
        glue(f"reach_{decoder_input}_{part}", float(value), display=False)
    glue(f"reach_{decoder_input}_fall", float(parts[0] / max(parts[-1], 1e-30)), display=False)

# %% [markdown]
# ## Training each model
#
# Each model trains {glue:text}`compare_epochs` epochs on {glue:text}`n_train` windows and keeps the
# weights of its best validation epoch; its silence head trains on the frozen encoder (the last LSTM
# trainable, for the LSTM models) and is scored on the {glue:text}`n_test` test windows. The row
# {glue:text}`chapter_02_row` trains the autoencoder chapter's model with that chapter's layers,
# learning-rate schedule, patience and training objective (named in its label; every other row learns
# the seed's `mse`), at this chapter's budget, so that it stands beside the others on equal terms;
# where those settings are those of a row above, the two rows are one training. An objective of
# `contrastive` never trains the decoder, so that row's test MSE is an untrained decoder's, and only
# its silence column compares.

# %%
contenders = chapter_contenders(compare_models, conv_activation=conv_activation, conv_batch_norm=conv_batch_norm,
                                lr_schedule=lr_schedule, compare_seed_conv=compare_seed_conv, model=model,
                                patience=patience, objective=chapter_02_objective)
glue("chapter_02_row", contenders[-1].label, display=False)
sizes = {"conv_filters": conv_filters, "lstm_width": lstm_width, "kernel_size": kernel_size, "latent_dim": latent_dim,
         "output_activation": output_activation, "decoder_input": lstm_decoder_input}
rows, pca_mse = compare_autoencoders(
    dataset.windows, dataset.is_silence, contenders, train_indices=train_indices,
    validation_indices=validation_indices, test_indices=test_indices, sizes=sizes, epochs=compare_epochs,
    batch_size=batch_size, learning_rate=learning_rate, jit_compile=jit_compile, mixed_precision=mixed_precision,
    silence_epochs=compare_silence_epochs, silence_batch_size=silence_batch_size,
    checkpoint_dir=layout.checkpoints, seed=seed, recordings=dataset.index["recording"].to_numpy(),
    labels=window_classes(dataset.index["label"]))
glue("pca_mse", pca_mse, display=False)
for label, row in rows.items():
    print(f"{label}: {row}")

# %% [markdown]
# ## The comparison
#
# A ratio of test MSE to PCA MSE below 1 means the autoencoder reconstructs the test recordings better
# than a {glue:text}`latent_dim`-component PCA fitted on the same training windows (test MSE
# {glue:text}`pca_mse:.4f` for the {glue:text}`n_train` windows the models here share). The sizes are
# this run's; a profile for small machines narrows the layers and trains few epochs, so the ranking of
# the side-by-side models says how they start, not where they end. The autoencoder chapter trains its
# model longer, on every training window: its own test error, against its own PCA, is on that page.

# %%
glue("latent_dim", latent_dim, display=False)
table = pd.DataFrame(rows).T
best = best_row(rows)
glue("best_model", best, display=False)
glue("best_ratio", rows[best]["test MSE / PCA MSE"], display=False)
# Training speed is a wall-clock figure no seed repeats: it goes to the manifest, the rest to the metrics.
timings = {label: {key: row[key] for key in WALL_CLOCK_COLUMNS} for label, row in rows.items()}
update_metrics(run_dir, "model_comparison", {
    "pca_mse": pca_mse, "epochs": compare_epochs, "n_train_windows": int(len(train_indices)),
    "decoder_reach": {key: list(map(float, value)) for key, value in reach.items()},
    "models": {label: {k: v for k, v in row.items() if k not in WALL_CLOCK_COLUMNS} for label, row in rows.items()}})
table.style.format({"encoder parameters": "{:,.0f}", "autoencoder parameters": "{:,.0f}",
                    "training windows": "{:,.0f}", "training s per epoch": "{:.1f}",
                    "training windows per s": "{:.1f}", "test MSE": "{:.4f}", "PCA test MSE": "{:.4f}",
                    "test MSE / PCA MSE": "{:.3f}", "mean-window test MSE": "{:.4f}",
                    "test MSE / mean-window MSE": "{:.3f}", "silence balanced accuracy": "{:.3f}"})

# %%
glue("comparison_figure", plot_model_comparison(rows), display=False)

# %% [markdown]
# ```{glue:figure} comparison_figure
# :name: fig-model-comparison
#
# Left: each model's test reconstruction error divided by the PCA's; bars below the dashed line beat
# the PCA. Right: balanced accuracy of a silence detector on each frozen encoder, on the test recordings.
# ```
#
# The lowest test error in this run is {glue:text}`best_model`'s, at {glue:text}`best_ratio:.3f` times
# the PCA's.

# %%
# The report records the parameters; the chapter records what it measured.
record_stage(run_dir, "07_models", seconds=time.perf_counter() - started,
             extra={"n_train_windows": int(len(train_indices)), "n_validation_windows": int(len(validation_indices)),
                    "n_test_windows": int(len(test_indices)), "rows": list(rows), "timings": timings})
