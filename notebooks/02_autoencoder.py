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
# # The autoencoder: ConvNet v5.1
#
# The 2019 study's ConvNet v5.1 squeezes each 128 x 256 window through four strided 8 x 8 convolutions
# into one 128-number code, and a mirror-image decoder of transposed convolutions rebuilds the window
# from that code. Trained only to reproduce its input, it never sees a label; whatever the code keeps
# is what the later chapters can use. This chapter trains it on the training recordings and measures
# how well it reconstructs the test recordings, against a PCA with the same 128 numbers per window.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the data chapter
seed: int = 0  # random seed for weights and batch order
model: str = "conv_v5"  # autoencoder family
conv_filters: list = [128, 64, 32, 16]  # filters of the four encoder convolutions (the seed's sizes)
kernel_size: int = 8  # convolution kernel size (frames x bins)
latent_dim: int = 128  # numbers per window code
output_activation: str = "linear"  # decoder output; the seed's "relu" cannot produce negative z-scores
epochs: int = 32  # training epochs
batch_size: int = 10  # windows per training step
learning_rate: float = 0.001  # Adam learning rate
jit_compile: bool = False  # XLA compilation (faster on GPU, slower for these convolutions on CPU)
validation_fraction: float = 0.2  # share of the training recordings held out to watch for overfitting
max_train_windows: int = 0  # cap on training windows, drawn at random (0: all)

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from myst_nb import glue

from dolphin_ae.dataset import WindowDataset, split_by_recording
from dolphin_ae.models import build_model
from dolphin_ae.models.conv_v5 import SEED_FILTERS
from dolphin_ae.plots import plot_loss_curves, plot_reconstructions
from dolphin_ae.runio import record_stage, save_model, update_metrics, write_json
from dolphin_ae.training import pca_reconstruction_mse, predict_windows, reconstruction_mse, train_autoencoder

started = time.perf_counter()
run_dir = Path(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
print(f"Keras {keras.__version__} on the {keras.backend.backend()} backend")

# %% [markdown]
# ## Training and validation recordings
#
# A share of the *training recordings* (never the test recordings) is held out to draw a validation
# curve, so that overfitting shows without touching the test set.

# %%
train_all = dataset.split_indices("train")
is_validation = split_by_recording(dataset.index["recording"].to_numpy()[train_all],
                                   dataset.index["label"].to_numpy()[train_all],
                                   test_fraction=validation_fraction, seed=seed)
train_indices, validation_indices = train_all[~is_validation], train_all[is_validation]
if max_train_windows and len(train_indices) > max_train_windows:
    train_indices = np.sort(np.random.default_rng(seed).choice(train_indices, max_train_windows, replace=False))
test_indices = dataset.split_indices("test")
print(f"{len(train_indices)} training, {len(validation_indices)} validation, {len(test_indices)} test windows")

# %% [markdown]
# ## The model
#
# The layer sizes of this run are below. The seed's sizes (filters {glue:text}`seed_filters`) give an
# encoder of 959,344 parameters; this run uses filters {glue:text}`run_filters`, an encoder of
# {glue:text}`encoder_params:,` parameters and a whole autoencoder of {glue:text}`total_params:,`.
# Profiles for small machines narrow the filters, because the full model trains at about two windows
# per second on two CPU cores.

# %%
autoencoder = build_model(model, input_shape=dataset.windows.shape[1:] + (1,), filters=tuple(conv_filters),
                          kernel_size=kernel_size, latent_dim=latent_dim, output_activation=output_activation)
encoder = autoencoder.get_layer("encoder")
glue("seed_filters", " / ".join(map(str, SEED_FILTERS)), display=False)
glue("run_filters", " / ".join(map(str, conv_filters)), display=False)
glue("encoder_params", encoder.count_params(), display=False)
glue("total_params", autoencoder.count_params(), display=False)
pd.DataFrame(
    [(layer.name, type(layer).__name__, str(layer.output.shape), layer.count_params()) for layer in encoder.layers],
    columns=["layer", "type", "output shape", "parameters"],
)

# %% [markdown]
# ## Training
#
# Mean squared error, Adam, {glue:text}`epochs` epochs of batches of {glue:text}`batch_size` windows, as
# the seed trained (its own run used 32 epochs). One line per epoch reports the losses.

# %%
glue("epochs", epochs, display=False)
glue("batch_size", batch_size, display=False)
history = train_autoencoder(autoencoder, dataset.windows, train_indices, validation_indices=validation_indices,
                            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                            jit_compile=jit_compile, seed=seed)
(run_dir / "models").mkdir(exist_ok=True)
save_model(autoencoder, run_dir / "models" / "autoencoder.keras")
save_model(encoder, run_dir / "models" / "encoder.keras")
write_json(run_dir / "models" / "autoencoder_history.json", history)
seconds_per_epoch = float(np.mean(history["epoch_seconds"]))
glue("seconds_per_epoch", seconds_per_epoch, display=False)
glue("train_windows_per_s", len(train_indices) / seconds_per_epoch, display=False)
figure = plot_loss_curves(history)
glue("loss_curves", figure, display=False)

# %% [markdown]
# ```{glue:figure} loss_curves
# :name: fig-loss-curves
#
# Reconstruction error per epoch on the training recordings and on held-out validation recordings.
# Curves that fall together mean the model learns structure that carries over to new recordings.
# ```
#
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
update_metrics(run_dir, "reconstruction", {"mse": test_mse, "pca_mse": pca_mse, "model": model})
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
record_stage(run_dir, "02_autoencoder", seconds=time.perf_counter() - started,
             parameters={"model": model, "conv_filters": list(conv_filters), "kernel_size": kernel_size,
                         "latent_dim": latent_dim, "output_activation": output_activation, "epochs": epochs,
                         "batch_size": batch_size, "learning_rate": learning_rate, "jit_compile": jit_compile,
                         "validation_fraction": validation_fraction, "max_train_windows": max_train_windows,
                         "seed": seed},
             extra={"encoder_params": encoder.count_params(), "seconds_per_epoch": seconds_per_epoch})
