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
# # What the network heard: maps of the codes, filters and reconstructions
#
# The encoder turns each 0.17 s window into a code of a few dozen numbers. The 2019 study drew those
# codes on a t-SNE map with each point as a small spectrogram, and showed the first layer's filters;
# it measured nothing. This chapter draws the test windows' codes on three maps (t-SNE as the seed
# did, UMAP and PCA), coloured by the true class and by a clustering of the codes, scores each map by
# how often a window's neighbours on it share its class, and shows the filters of **every**
# convolution layer (the seed's loop drew the first layer four times).

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the earlier chapters
seed: int = 0  # random seed for the maps, the clustering and the subsets
projections: list = ["tsne", "umap", "pca"]  # maps to draw: any of "tsne", "umap", "pca"
tsne_perplexity: float = 30.0  # t-SNE's effective number of neighbours
umap_neighbors: int = 15  # UMAP's neighbourhood size (windows)
umap_min_dist: float = 0.1  # UMAP's smallest distance between packed points (map units)
code_scaling: str = "l2"  # codes before mapping and clustering: "l2" (unit length), "standard" or "none"
n_clusters: int = 8  # KMeans clusters used to colour the maps
map_neighbors: int = 5  # neighbours whose vote scores a map (windows)
max_map_windows: int = 2000  # test windows drawn at most, chosen at random keeping class shares
n_thumbnails: int = 60  # spectrogram thumbnails on the thumbnail map
hover_windows: int = 250  # points on the interactive map (each carries its thumbnail)
max_filters: int = 32  # filters shown per convolution layer
reconstructions_per_class: int = 2  # extra test windows per class shown beside their reconstructions

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from IPython.display import HTML, display
from myst_nb import glue

from dolphin_ae.analysis.clustering import cluster_windows, scale_codes
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.layout import RunLayout
from dolphin_ae.viz.plots import plot_reconstructions
from dolphin_ae.viz.analysis import hover_map_html, plot_conv_filters, plot_projection_grid, plot_thumbnail_map
from dolphin_ae.analysis.projection import (PROJECTION_NAMES, neighbour_label_agreement, project, spread_subset,
                                   stratified_subset)
from dolphin_ae.runio import record_stage, save_array, update_metrics
from dolphin_ae.analysis.sequences import find_data_dir, load_truth, with_truth
from dolphin_ae.train.training import predict_windows

started = time.perf_counter()
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
encoder = keras.models.load_model(layout.encoder)
index = with_truth(dataset.index, load_truth(find_data_dir(run_dir)))

# %% [markdown]
# ## The codes of the test windows
#
# Every window of the test recordings (at most `max_map_windows`, drawn at random with each class
# keeping its share) is encoded. With `code_scaling = "l2"` each code is divided by its length before
# it is mapped or clustered: a code's length follows mostly how loud and busy a window is, its
# direction what kind of sound it holds. {glue:text}`n_map_windows` windows are drawn here.

# %%
test_indices = dataset.split_indices("test")
test_indices = test_indices[stratified_subset(index["label"].to_numpy()[test_indices], max_map_windows, seed=seed)]
codes = predict_windows(encoder, dataset.windows, test_indices)
features = scale_codes(codes, scaling=code_scaling)
labels = index["label"].to_numpy()[test_indices]
clusters = cluster_windows(codes, method="kmeans", n_clusters=n_clusters, scaling=code_scaling, random_state=seed)
glue("n_map_windows", len(test_indices), display=False)
glue("n_clusters", n_clusters, display=False)
pd.Series(labels).value_counts().rename("test windows").to_frame()

# %% [markdown]
# ## Three maps
#
# t-SNE keeps near neighbours near and says little about far distances; UMAP does the same with a
# better hold on the global layout; PCA is the linear view, the two directions of largest variance.
# Each map is drawn twice: coloured by the true class, and by a KMeans clustering of the codes into
# {glue:text}`n_clusters` clusters (the seed coloured its map by KMeans with 24).

# %%
maps = {PROJECTION_NAMES[m]: project(features, method=m, perplexity=tsne_perplexity, n_neighbors=umap_neighbors,
                                     min_dist=umap_min_dist, random_state=seed) for m in projections}
figure = plot_projection_grid(maps, {"true class": labels, f"cluster (KMeans, {n_clusters})": clusters})
glue("projection_grid", figure, display=False)
layout.embedding.mkdir(exist_ok=True)
save_array(layout.test_codes, codes)
save_array(layout.test_window_indices, test_indices)
for name, Y in maps.items():
    save_array(layout.projection_map(name), Y)

# %% [markdown]
# ```{glue:figure} projection_grid
# :name: fig-projection-grid
#
# Test windows on three maps of their codes (rows), coloured by true class (left) and by KMeans cluster
# of the codes (right). Map coordinates have no unit. Classes that form their own islands are classes
# the code tells apart; where colours mix, the code does not separate them.
# ```
#
# How well does each map keep the classes apart? For every window, its {glue:text}`map_neighbors`
# nearest neighbours on the map vote for a class; the table gives the share of windows whose vote is
# their own class, and the same vote in the full codes. A map scoring far below the codes lost
# neighbourhoods that the code had.

# %%
glue("map_neighbors", map_neighbors, display=False)
agreement = {"codes (all dimensions)": neighbour_label_agreement(features, labels, n_neighbors=map_neighbors)}
agreement.update({f"{name} map": neighbour_label_agreement(Y, labels, n_neighbors=map_neighbors)
                  for name, Y in maps.items()})
chance = float(np.max(pd.Series(labels).value_counts(normalize=True)))
agreement["majority class (chance)"] = chance
for name, value in agreement.items():
    glue(f"agreement_{name.split()[0].replace('-', '').lower()}", value, display=False)
update_metrics(run_dir, "embedding", {"neighbour_label_agreement": agreement, "n_windows": int(len(test_indices)),
                                      "code_scaling": code_scaling})
pd.Series(agreement, name=f"{map_neighbors}-neighbour vote = true class").to_frame().style.format("{:.3f}")

# %% [markdown]
# In the codes, {glue:text}`agreement_codes:.1%` of the windows have neighbours of their own class,
# against {glue:text}`agreement_majority:.1%` for always guessing the commonest class.
#
# ## The seed's picture, readable
#
# The 2019 figure put a spectrogram at every point of the t-SNE map, so that thousands overlapped.
# Here {glue:text}`n_thumbnails_shown` thumbnails are spread over the map, one per region, framed in
# the colour of their true class, on one colour scale.

# %%
first_map_name = next(iter(maps))
Y = maps[first_map_name]
chosen = spread_subset(Y, n_thumbnails)
figure = plot_thumbnail_map(Y, labels, chosen, dataset.windows[test_indices[chosen]], front_end=dataset.front_end,
                            method_name=first_map_name)
glue("thumbnail_map", figure, display=False)
glue("n_thumbnails_shown", len(chosen), display=False)

# %% [markdown]
# ```{glue:figure} thumbnail_map
# :name: fig-thumbnail-map
#
# Spectrogram thumbnails of test windows at their map positions (each thumbnail 0.17 s across, the
# analysis band upward, lowest frequency at the bottom). Whistles show thin lines, clicks and bursts
# vertical stripes, silence speckle; neighbouring thumbnails should look alike.
# ```
#
# ### Hover to see a window
#
# The map below carries a thumbnail with each of up to `hover_windows` points: hold the pointer over a
# point to see its spectrogram at the right (no script needed; the page's own styles do it).

# %%
hover = spread_subset(Y, hover_windows)
display(HTML(hover_map_html(Y[hover], dataset.windows[test_indices[hover]], labels[hover], front_end=dataset.front_end,
                            title=first_map_name)))

# %% [markdown]
# ## Filters of every convolution layer
#
# Each small square is one filter, averaged over its input channels, in red for positive weights and
# blue for negative, on one colour scale per layer. Deeper layers work on grids shrunk by the strides
# before them, so their 8 x 8 kernels cover longer times and wider bands of the input: the axes of the
# corner square give the span in milliseconds and kHz.

# %%
conv_layers, stride = [], 1
for layer in encoder.layers:
    if isinstance(layer, keras.layers.Conv2D):
        conv_layers.append((layer.name, layer.get_weights()[0], stride))
        stride *= int(np.atleast_1d(layer.strides)[0])
glue("n_conv_layers", len(conv_layers), display=False)
figure = plot_conv_filters(conv_layers, front_end=dataset.front_end, max_filters=max_filters)
glue("conv_filters", figure, display=False)

# %% [markdown]
# ```{glue:figure} conv_filters
# :name: fig-conv-filters
#
# Filters of all {glue:text}`n_conv_layers` convolution layers of the encoder. First-layer filters that
# look like short slanted or horizontal strokes respond to tonal sweeps, vertical strokes to clicks;
# uniform noise means a filter the training left untouched.
# ```
#
# ## Reconstructions
#
# Chapter 2 shows one test window of each class beside its reconstruction ({ref}`fig-reconstructions`).
# Here are {glue:text}`reconstructions_per_class` more per class, on one shared colour scale.

# %%
glue("reconstructions_per_class", reconstructions_per_class, display=False)
autoencoder = keras.models.load_model(layout.autoencoder)
# Chapter 2 drew the first test window of each class; these are the next ones.
examples = index.iloc[dataset.split_indices("test")].groupby("label").nth(list(range(1, reconstructions_per_class + 1)))
example_indices = examples.index.to_numpy()
reconstructed = predict_windows(autoencoder, dataset.windows, example_indices)
figure = plot_reconstructions(dataset.windows[example_indices], reconstructed,
                              [f"{row.label} ({row.type})" for row in examples.itertuples()],
                              front_end=dataset.front_end)
glue("more_reconstructions", figure, display=False)

# %% [markdown]
# ```{glue:figure} more_reconstructions
# :name: fig-more-reconstructions
#
# Test windows (top) and their reconstructions from the code (bottom), time in seconds and frequency in
# kHz, one colour scale. The classes the maps above separate well are the ones whose reconstructions
# keep their shape.
# ```

# %%
# The report records the parameters; the chapter records its duration.
record_stage(run_dir, "04_embedding", seconds=time.perf_counter() - started)
