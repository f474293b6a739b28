import numpy as np
import pytest
from matplotlib.figure import Figure

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.viz.plots import (
    plot_confusion_matrices,
    plot_level_histogram,
    plot_loss_curves,
    plot_reconstructions,
    plot_spectrogram,
    plot_window_grid,
)
from dolphin_ae.audio.spectrogram import FrontEnd


def _colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_spectrogram_axes_are_seconds_and_khz():
    fe = FrontEnd()
    fig = plot_spectrogram(np.ones((200, 256)), front_end=fe, start_s=1.0)
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (kHz)"
    left, right = ax.get_xlim()
    assert left == 1.0 and right == 1.0 + 200 * 64 / 48000
    assert ax.get_ylim()[1] == 24.0
    assert _colorbar_labels(fig) == ["magnitude (dB re 1)"]


def test_every_figure_has_units_and_a_colour_bar_where_it_shows_an_image():
    windows = np.random.default_rng(0).standard_normal((3, 128, 256))
    grid = plot_window_grid(windows, ["a", "b", "c"])
    assert _colorbar_labels(grid) == ["z-normalised magnitude"]
    reconstructions = plot_reconstructions(windows, windows * 0.5, ["a", "b", "c"])
    assert _colorbar_labels(reconstructions) == ["z-normalised magnitude"]
    matrices = plot_confusion_matrices({"one": [[1, 2], [3, 4]], "two": [[5, 0], [0, 5]]})
    assert _colorbar_labels(matrices) == ["share of the true class (%)"]
    loss = plot_loss_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    assert loss.axes[0].get_xlabel() == "epoch"
    levels = plot_level_histogram(np.array([-50.0, -40.0, -10.0]), np.array([True, True, False]), threshold_db=-30)
    assert "dB" in levels.axes[0].get_xlabel()


def test_region_plot_marks_regions_and_events_in_seconds():
    from dolphin_ae.viz.plots import plot_regions

    fig = plot_regions(np.ones((750, 256)), [(0.2, 0.5), (5.0, 6.0)], [(0.25, 0.45)], front_end=FrontEnd(), start_s=0.0)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (kHz)"
    assert ax.get_xlim() == (0.0, 750 * 64 / 48000)
    assert _colorbar_labels(fig) == ["magnitude (dB re 1)"]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["detected region", "true event"]


def test_model_comparison_marks_the_pca_line():
    from dolphin_ae.viz.plots import plot_model_comparison

    fig = plot_model_comparison({"a": {"test MSE / PCA MSE": 0.8, "silence balanced accuracy": 0.9},
                                 "b": {"test MSE / PCA MSE": 1.3, "silence balanced accuracy": 0.7}})
    left, right = fig.axes
    assert [p.get_height() for p in left.patches] == [0.8, 1.3]
    assert left.lines[0].get_ydata()[0] == 1.0
    assert right.get_ylabel() == "silence balanced accuracy"


def test_each_panel_carries_its_own_player_on_one_colour_scale():
    import re

    import pytest

    from dolphin_ae.exceptions import ParameterError
    from dolphin_ae.viz.plots import panel_gallery_html, plot_spectrogram_panels

    spectrograms = [np.full((100, 256), level) for level in (1.0, 0.1, 0.01, 0.001)]
    panels = plot_spectrogram_panels(spectrograms, ["a", "b", "c", "d"], front_end=FrontEnd())
    assert len(panels) == 4
    assert {panel.axes[0].images[0].get_clim() for panel in panels} == {(-70.0, 0.0)}, "one dB scale for all"
    assert all(_colorbar_labels(panel) == ["magnitude (dB re 1)"] for panel in panels)
    players = [f'<audio id="player{i}"></audio>' for i in range(4)]
    html = panel_gallery_html(panels, players, ncols=3, alt=["a", "b", "c", "d"])
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    assert [len(re.findall(r"<td", row)) for row in rows] == [3, 1]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    for i, cell in enumerate(cells):
        # The cell holds the panel's picture and then that panel's player, and no other player.
        assert re.fullmatch(rf'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="{"abcd"[i]}"[^>]*/><br/>'
                            rf'<audio id="player{i}"></audio>', cell)
    with pytest.raises(ParameterError, match="one player per figure"):
        panel_gallery_html(panels, players[:3])


def test_five_confusion_matrices_wrap_into_rows_of_three():
    matrices = {f"m{k}": [[k + 1, 1], [1, k + 1]] for k in range(5)}
    fig = plot_confusion_matrices(matrices)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in shown] == list(matrices)
    rows = sorted({round(ax.get_position().y0, 3) for ax in shown})
    assert len(rows) == 2
    with pytest.raises(ParameterError, match="max_columns"):
        plot_confusion_matrices(matrices, max_columns=0)
