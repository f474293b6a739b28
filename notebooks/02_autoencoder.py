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
# # The autoencoder
#
# The 2019 study squeezed each 128 x 256 window into one 128-number code and rebuilt the window from
# that code. Trained only to reproduce its input, an autoencoder never sees a label; whatever the code
# keeps is what the later chapters can use. The study tried several encoders, and this chapter trains
# the one named by the `model` parameter:
#
# - `conv_v5`, ConvNet v5.1: four strided 8 x 8 convolutions and a dense code; a mirror-image decoder
#   of transposed convolutions;
# - `lstm_v4_1`, LSTM V4.1, the study's title model: one 8 x 8 convolution, a max over frequency, a
#   bidirectional LSTM and an LSTM whose last state is the code; a one-to-many LSTM decoder (the code
#   at the first time step, zeros after) followed by a transposed convolution;
# - `lstm_v4_3`, LSTM V4.3: the same with 128 filters, a smaller decoder and a linear output;
# - `vae_v4_2`, LSTM V4.2: V4.1 with a variational code (a mean and a log-variance, sampled during
#   training, with a KL term in the loss); the mean is the code.
#
# It trains on the training recordings and is scored on the test recordings, against a PCA with the
# same 128 numbers per window. The {doc}`model comparison <07_models>` trains every model side by side.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the data chapter
seed: int = 0  # random seed for weights and batch order
model: str = "conv_v5"  # autoencoder: conv_v5, lstm_v4_1, lstm_v4_3 or vae_v4_2
conv_filters: list = [128, 64, 32, 16]  # conv_v5: filters of the four encoder convolutions (the seed's sizes)
lstm_width: float = 1.0  # LSTM V4: scale of the seed's filters and units (1: 256 filters, 128 units)
lstm_decoder_input: str = "repeat"  # LSTM V4: the code at every decoder step ("repeat") or, as the seed, at step 0 then zeros ("first_step"); see chapter 07
kernel_size: int = 8  # convolution kernel size (frames x bins)
latent_dim: int = 128  # numbers per window code
output_activation: str = "linear"  # decoder output; the seed's "relu" cannot produce negative z-scores
conv_activation: str = "leaky"  # conv_v5: "leaky" (LeakyReLU) or "seed" (ReLU in each convolution, then LeakyReLU)
conv_batch_norm: bool = False  # conv_v5: batch-normalise the code and the decoder's first layer (the seed: true)
epochs: int = 32  # training epochs
batch_size: int = 10  # windows per training step
learning_rate: float = 0.001  # Adam learning rate (the starting rate under a schedule)
lr_schedule: str = "cosine"  # "cosine": decay to 0 over the epochs; "constant": the seed's fixed rate
jit_compile: bool = False  # XLA compilation (faster on GPU, slower for these convolutions on CPU)
mixed_precision: bool = False  # compute in bfloat16 with float32 weights (GPUs from Ampere on, recent CPUs)
patience: int = 0  # stop when the validation loss has not improved for this many epochs (0: never)
validation_fraction: float = 0.2  # share of the training recordings held out to watch for overfitting
max_train_windows: int = 0  # cap on training windows, drawn at random (0: all)
objective: str = "contrastive_mse"  # what the autoencoder learns: "mse" (the seed's), "denoising", "contrastive", "contrastive_mse", "supervised" or "supervised_mse"
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

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from myst_nb import glue

from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.layout import RunLayout
from dolphin_ae.models import build_model, model_options
from dolphin_ae.viz.plots import plot_loss_curves, plot_reconstructions
from dolphin_ae.runio import record_stage, save_model, update_metrics, write_json
from dolphin_ae.train.evaluation import pca_reconstruction_mse, reconstruction_mse
from dolphin_ae.train.objective_settings import as_objective
from dolphin_ae.train.signal_type import window_classes
from dolphin_ae.train.training import precision_policy, predict_windows, train_autoencoder
from dolphin_ae.train.validation import validation_split

started = time.perf_counter()
run_dir = Path(run_dir)
# Checked here as well as by the report, for a chapter run on its own.
training_objective = as_objective(
    objective, denoise_gain=denoise_gain, contrastive_temperature=contrastive_temperature,
    contrastive_weight=contrastive_weight, projection_dim=projection_dim, augment_shift_frames=augment_shift_frames,
    augment_shift_bins=augment_shift_bins, augment_gain_db=augment_gain_db,
    augment_background_gain=augment_background_gain, augment_time_mask=augment_time_mask,
    augment_frequency_mask=augment_frequency_mask)
layout = RunLayout(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
print(f"Keras {keras.__version__} on the {keras.backend.backend()} backend")

# %% [markdown]
# ## Training and validation recordings
#
# A share of the *training recordings* (never the test recordings) is held out to draw a validation
# curve, so that overfitting shows without touching the test set.

# %%
train_indices, validation_indices = validation_split(
    dataset.index["recording"], dataset.index["label"], dataset.split_indices("train"),
    validation_fraction=validation_fraction, seed=seed, max_train_windows=max_train_windows)
test_indices = dataset.split_indices("test")
print(f"{len(train_indices)} training, {len(validation_indices)} validation, {len(test_indices)} test windows")

# %% [markdown]
# ## The model
#
# The encoder of this run, layer by layer, is below: {glue:text}`encoder_params:,` parameters, and
# {glue:text}`total_params:,` for the whole autoencoder ({glue:text}`run_sizes`). At the seed's sizes
# the encoders have 959,344 (ConvNet v5.1), 609,024 (LSTM V4.1) and 469,120 (LSTM V4.3) parameters.
# Profiles for small machines narrow the layers, because the full models train at a few windows per
# second on two CPU cores.
#
# By default the ConvNet and its training depart from the seed in three places:
#
# - the seed batch-normalised the code and the decoder's first dense layer; with batches of ten
#   windows the running statistics trail the weights, and the error on new recordings jumped from one
#   epoch to the next; here there is no batch normalisation (`conv_batch_norm`);
# - the seed trained at a fixed learning rate; here the rate falls along half a cosine to zero over
#   the epochs, so the last epochs refine the model instead of wandering (`lr_schedule`);
# - the seed put a ReLU inside every convolution and a LeakyReLU after it, so the leak never saw a
#   negative number; here only the LeakyReLU remains (`conv_activation`). This one matters least.
#
# `conv_activation="seed"`, `conv_batch_norm=true` and `lr_schedule="constant"` rebuild the seed's
# model and training; the {doc}`model comparison <07_models>` trains both side by side.

# %%
options = model_options(model, input_shape=dataset.windows.shape[1:] + (1,), conv_filters=conv_filters,
                        lstm_width=lstm_width, kernel_size=kernel_size, latent_dim=latent_dim,
                        output_activation=output_activation, conv_activation=conv_activation,
                        conv_batch_norm=conv_batch_norm, seed=seed, decoder_input=lstm_decoder_input)
with precision_policy(mixed_precision):
    autoencoder = build_model(model, **options)
encoder = autoencoder.get_layer("encoder")
run_sizes = ", ".join(f"{key} {value}" for key, value in options.items()
                      if key in ("filters", "lstm_units", "decoder_units", "latent_dim") and value is not None)
run_sizes = f"{model}: {run_sizes or 'the seed sizes'}"
glue("run_sizes", run_sizes, display=False)
glue("encoder_params", encoder.count_params(), display=False)
glue("total_params", autoencoder.count_params(), display=False)
pd.DataFrame(
    [(layer.name, type(layer).__name__, str(layer.output.shape), layer.count_params()) for layer in encoder.layers],
    columns=["layer", "type", "output shape", "parameters"],
)

# %% [markdown]
# ## Training
#
# Mean squared error (for the variational model, 1000 times the per-window MSE plus the KL term, as
# the seed's), Adam, up to {glue:text}`epochs` epochs of batches of {glue:text}`batch_size` windows, as
# the seed trained (its own runs used 32 to 128 epochs). The windows are read from the memory-mapped
# array batch by batch. After every epoch a checkpoint goes into the run directory, so an
# interrupted run picks up where it stopped; the model keeps the weights of the epoch with the lowest
# validation loss. One line per epoch reports the losses.
#
# That is the seed's objective, `mse`, and this run's is **{glue:text}`objective_name`**. The
# `objective` parameter offers five more, on the same encoder: `denoising` (the input is the window
# plus a silence window of another training recording, the target the clean window), `contrastive`
# (two augmented views of each window, NT-Xent on a small projection of their codes; the decoder is
# not trained), `contrastive_mse` (both losses), and their supervised counterparts `supervised` and
# `supervised_mse`, whose contrastive loss (SupCon) also pulls together the codes of training windows
# of the same clip label (whistle, burst, click or noise); the test windows' labels are never read. The {doc}`ablation <09_ablation>` trains each of
# them on each front end and says which the book's default is, and why: `contrastive_mse`, the
# objective of the row `bench/ablation.py` chose on synthetic development sets.

# %%
glue("objective_name", training_objective.name, display=False)
glue("epochs", epochs, display=False)
glue("batch_size", batch_size, display=False)
history = train_autoencoder(autoencoder, dataset.windows, train_indices, validation_indices=validation_indices,
                            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, lr_schedule=lr_schedule,
                            jit_compile=jit_compile, patience=patience, checkpoint_dir=layout.checkpoints,
                            seed=seed, objective=training_objective,
                            recordings=dataset.index["recording"].to_numpy(), is_background=dataset.is_silence,
                            labels=window_classes(dataset.index["label"]))
layout.models.mkdir(exist_ok=True)
save_model(autoencoder, layout.autoencoder)
save_model(encoder, layout.encoder)
write_json(layout.history, history)
seconds_per_epoch = float(np.mean(history["epoch_seconds"]))
glue("seconds_per_epoch", seconds_per_epoch, display=False)
glue("train_windows_per_s", len(train_indices) / seconds_per_epoch, display=False)
glue("epochs_run", len(history["loss"]), display=False)
glue("best_epoch", history["best_epoch"], display=False)
loss_label = ("1000 x MSE + KL (z-units²)" if model == "vae_v4_2" else "reconstruction MSE (z-units²)")
if training_objective.contrastive:
    contrastive_label = "SupCon" if training_objective.supervised else "NT-Xent"
    loss_label = (f"{contrastive_label} + weighted {loss_label}" if training_objective.reconstructs
                  else contrastive_label)
figure = plot_loss_curves(history, ylabel=loss_label)
glue("loss_curves", figure, display=False)

# %% [markdown]
# ```{glue:figure} loss_curves
# :name: fig-loss-curves
#
# The training objective's loss per epoch on the training recordings and on held-out validation
# recordings (for `mse`, the reconstruction error). Curves that fall together mean the model learns
# structure that carries over to new recordings.
# ```
#
# The run trained {glue:text}`epochs_run` epochs and kept the weights of epoch {glue:text}`best_epoch`.
# An epoch took {glue:text}`seconds_per_epoch:.1f` s, {glue:text}`train_windows_per_s:.0f` windows per
# second.
#
# ## Reconstructions of the test recordings
#
# The autoencoder's error on the test windows, against a PCA fitted on the training windows with the
# same number of components as the code has numbers. The PCA is the linear baseline: an autoencoder
# that cannot beat it has not learned anything a projection would not.

# %%
test_mse = reconstruction_mse(autoencoder, dataset.windows, test_indices)
pca_mse = pca_reconstruction_mse(dataset.windows, train_indices, test_indices, n_components=latent_dim, seed=seed)
update_metrics(run_dir, "reconstruction", {"mse": test_mse, "pca_mse": pca_mse, "model": model,
                                             "sizes": run_sizes, "n_train_windows": int(len(train_indices))})
glue("test_mse", test_mse, display=False)
glue("pca_mse", pca_mse, display=False)
pd.DataFrame({"test MSE (z-units²)": [test_mse, pca_mse]}, index=[f"{model} autoencoder", f"PCA, {latent_dim} components"])

# %% [markdown]
# The autoencoder's test error is {glue:text}`test_mse:.4f` against {glue:text}`pca_mse:.4f` for the
# PCA. Below, one test window of each class above its reconstruction, on one colour scale.

# %%
chosen = dataset.index.iloc[test_indices].groupby("label").head(1)
reconstructed = predict_windows(autoencoder, dataset.windows, chosen.index.to_numpy())
figure = plot_reconstructions(dataset.windows[chosen.index.to_numpy()], reconstructed, list(chosen["label"]),
                              front_end=dataset.front_end)
glue("reconstructions", figure, display=False)

# %% [markdown]
# ```{glue:figure} reconstructions
# :name: fig-reconstructions
#
# Test windows (top) and their reconstructions from 128 numbers (bottom). Whistle contours and the
# vertical stripes of click trains should survive; the fine grain of the background is what a
# 128-number code has to let go.
# ```

# %%
# The report records the parameters; the chapter records what it measured.
record_stage(run_dir, "02_autoencoder", seconds=time.perf_counter() - started,
             extra={"encoder_params": encoder.count_params(), "seconds_per_epoch": seconds_per_epoch,
                    "epochs_run": len(history["loss"]), "best_epoch": history["best_epoch"]})
