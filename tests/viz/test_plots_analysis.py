import numpy as np
from matplotlib.figure import Figure

from dolphin_ae.viz.analysis import (gallery_layout, hover_map_html, plot_clip_gallery, plot_contingency,
                                       plot_conv_filters, plot_distance_matrix, plot_dtw_scaling,
                                       plot_projection_grid, plot_thumbnail_map)


def _colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_gallery_has_seconds_khz_and_a_db_colour_bar():
    spectrograms = [np.ones((100, 256)), None, np.ones((50, 256))]
    fig = plot_clip_gallery(spectrograms, ["a", "", "b"], ncols=3)
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(shown) == 2
    assert all(ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (kHz)" for ax in shown)
    assert _colorbar_labels(fig) == ["magnitude (dB re 1)"]


def test_every_conv_layer_gets_a_panel_with_its_colour_bar():
    rng = np.random.default_rng(0)
    layers = [("conv_1", rng.normal(size=(8, 8, 1, 4)), 1), ("conv_2", rng.normal(size=(8, 8, 4, 6)), 2)]
    fig = plot_conv_filters(layers)
    assert _colorbar_labels(fig) == ["weight", "weight"]
    titles = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert titles[0].startswith("conv_1: all 4") and titles[1].startswith("conv_2: all 6")


def test_maps_contingency_distances_and_scaling_figures_label_their_axes():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(30, 2))
    labels = np.repeat(["a", "b", "c"], 10)
    grid = plot_projection_grid({"t-SNE": Y, "PCA": Y}, {"true class": labels, "cluster": np.arange(30) % 2})
    assert [ax.get_xlabel() for ax in grid.axes][:2] == ["t-SNE 1", "t-SNE 1"]
    windows = rng.normal(size=(5, 128, 256))
    thumbnails = plot_thumbnail_map(Y, labels, np.arange(5), windows)
    assert "kHz" in _colorbar_labels(thumbnails)[0]
    assert _colorbar_labels(plot_contingency(labels, np.arange(30) % 4)) == ["share of the true class (%)"]
    D = np.abs(Y[:, :1] - Y[:, :1].T)
    assert "DTW" in _colorbar_labels(plot_distance_matrix(D, labels))[0]
    scaling = plot_dtw_scaling([10, 20, 40], [0.01, 0.04, 0.16], exponent=2.0)
    assert scaling.axes[0].get_xlabel() == "number of sequences N"


def test_hover_map_carries_one_thumbnail_per_point():
    rng = np.random.default_rng(2)
    html = hover_map_html(rng.normal(size=(4, 2)), rng.normal(size=(4, 128, 256)), ["a", "b", "a", "b"])
    assert html.count("<circle") == 4 + 2  # points plus the legend
    assert html.count("data:image/png;base64,") == 4


def test_gallery_layout_pads_rows():
    cells = gallery_layout([[4, 5, 6], [7]], max_groups=2, max_members=2)
    assert cells == [(0, 4), (0, 5), (1, 7), None]
