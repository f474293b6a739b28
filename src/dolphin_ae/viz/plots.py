"""Figures for readers: time in seconds, frequency in kHz, a colour bar with its unit on every image.

Every function takes ``ax=None`` (or makes its own grid) and returns the figure.
"""

import numpy as np
from matplotlib.figure import Figure

from dolphin_ae.constants import SILENCE_CLASS_NAMES
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.audio.spectrogram import FrontEnd


def _show_figures_in_notebooks():
    """Inside a Jupyter kernel, display ``Figure`` objects as PNG even though pyplot is never imported."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


_show_figures_in_notebooks()


def _subplots(nrows=1, ncols=1, *, figsize, squeeze=True):
    # Figures are made without pyplot, so nothing is shown twice or kept alive by a global registry;
    # notebooks display them explicitly (or glue them), and IPython renders them as PNG.
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _axes(ax, figsize):
    if ax is None:
        fig, ax = _subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _extent(n_frames, front_end, start_s=0.0):
    freqs_khz = front_end.frequencies_hz() / 1000.0
    duration_s = n_frames * front_end.hop_length / front_end.sr
    return [start_s, start_s + duration_s, freqs_khz[0], freqs_khz[-1]]


def _fill_grid(fig, axes, images, titles, fe, start_s, *, vmin, vmax, colorbar_label, fontsize):
    """One (frames, bins) image per panel on one colour scale, unused panels hidden, one colour bar."""
    mappable = None
    for ax, image, title, start in zip(axes.flat, images, titles, start_s):
        mappable = ax.imshow(image.T, origin="lower", aspect="auto", extent=_extent(image.shape[0], fe, start),
                             cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=fontsize)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (kHz)")
    for ax in axes.flat[len(images):]:
        ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes, label=colorbar_label, shrink=0.8)


def plot_spectrogram(S, *, front_end=None, start_s=0.0, db=True, ax=None, colorbar=True, cmap="magma",
                     vmin=None, vmax=None, colorbar_label=None):
    """Draw a (frames, bins) spectrogram: time (s) across, frequency (kHz) up.

    With ``db`` the magnitudes are shown as ``20 log10`` (dB re 1, full-scale units).
    """
    fe = front_end or FrontEnd()
    S = np.asarray(S, dtype=np.float32)
    image = 20 * np.log10(np.maximum(S, 1e-7)) if db else S
    fig, ax = _axes(ax, (6, 3))
    if db and vmax is None:
        vmax = float(np.max(image))
        vmin = vmax - 80.0 if vmin is None else vmin
    mappable = ax.imshow(image.T, origin="lower", aspect="auto", extent=_extent(S.shape[0], fe, start_s), cmap=cmap,
                         vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    if colorbar:
        fig.colorbar(mappable, ax=ax, label=colorbar_label or ("magnitude (dB re 1)" if db else "value"))
    return fig


def plot_window_grid(windows, titles, *, front_end=None, ncols=4, colorbar_label="z-normalised magnitude"):
    """Normalised windows in a grid with one shared colour scale and one colour bar."""
    fe = front_end or FrontEnd()
    windows = np.asarray(windows, dtype=np.float32)
    nrows = int(np.ceil(len(windows) / ncols))
    fig, axes = _subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    vmin, vmax = np.percentile(windows, [1, 99.5])
    _fill_grid(fig, axes, windows, titles, fe, [0.0] * len(windows), vmin=vmin, vmax=vmax,
               colorbar_label=colorbar_label, fontsize=9)
    return fig


def plot_confusion_matrices(matrices, *, class_names=SILENCE_CLASS_NAMES, max_columns=3):
    """2x2 matrices side by side, ``{title: matrix}``, at most ``max_columns`` to a row (so that each
    stays readable on a book page); colour is the share of each true class (%).

    Rows are the truth, columns the prediction, as in the seed's table; each cell shows its count.
    """
    if max_columns < 1:
        raise ParameterError(f"max_columns must be at least 1, got {max_columns}")
    ncols = min(len(matrices), max_columns)
    nrows = -(-len(matrices) // ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(3.6 * ncols + 0.8, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(matrices):]:
        ax.set_visible(False)
    mappable = None
    for ax, (title, matrix) in zip(axes.flat, matrices.items()):
        matrix = np.asarray(matrix, dtype=float)
        share = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        mappable = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, f"{int(count)}\n({share[row, col]:.0f} %)", ha="center", va="center",
                    color="white" if share[row, col] > 60 else "black", fontsize=9)
        ax.set_xticks([0, 1], [f"predicted\n{c}" for c in class_names], fontsize=8)
        ax.set_yticks([0, 1], [f"true\n{c}" for c in class_names], fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.colorbar(mappable, ax=axes, label="share of the true class (%)", shrink=0.9)
    return fig


def plot_loss_curves(history, *, ax=None, ylabel="reconstruction MSE (z-units²)"):
    """Training (and validation) loss per epoch (MSE of z-normalised windows, unless ``ylabel`` says otherwise)."""
    fig, ax = _axes(ax, (5, 3))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], marker="o", label="training recordings")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], marker="s", label="validation recordings")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_reconstructions(inputs, reconstructions, titles, *, front_end=None):
    """Each input window (top row) above its reconstruction (bottom row), one shared colour scale."""
    fe = front_end or FrontEnd()
    inputs = np.asarray(inputs, dtype=np.float32).squeeze(-1) if np.ndim(inputs) == 4 else np.asarray(inputs)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if reconstructions.ndim == 4:
        reconstructions = reconstructions[..., 0]
    n = len(inputs)
    fig, axes = _subplots(2, n, figsize=(2.8 * n + 1, 5), squeeze=False)
    vmin, vmax = np.percentile(inputs, [1, 99.5])
    mappable = None
    for col in range(n):
        for row, (window, kind) in enumerate(((inputs[col], "input"), (reconstructions[col], "reconstruction"))):
            ax = axes[row, col]
            mappable = ax.imshow(window.T, origin="lower", aspect="auto", extent=_extent(window.shape[0], fe),
                                 cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(f"{titles[col]}: {kind}", fontsize=8)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("frequency (kHz)")
    fig.colorbar(mappable, ax=axes, label="z-normalised magnitude", shrink=0.8)
    return fig


def plot_level_histogram(level_db, is_silence, *, threshold_db=None, ax=None):
    """Distribution of window band levels (dB) for silence and signal windows, with the threshold."""
    fig, ax = _axes(ax, (5.5, 3))
    level_db = np.asarray(level_db, dtype=float)
    is_silence = np.asarray(is_silence, dtype=bool)
    bins = np.linspace(level_db.min(), level_db.max(), 40)
    ax.hist(level_db[~is_silence], bins=bins, alpha=0.6, label="signal windows")
    ax.hist(level_db[is_silence], bins=bins, alpha=0.6, label="silence windows")
    if threshold_db is not None:
        ax.axvline(threshold_db, color="black", linestyle="--", label=f"threshold {threshold_db:.1f} dB")
    ax.set_xlabel("mean band power of the window (dB re 1)")
    ax.set_ylabel("windows")
    ax.legend(fontsize=8)
    return fig


def plot_spectrogram_grid(spectrograms, titles, *, front_end=None, start_s=None, ncols=3, dynamic_range_db=70.0,
                          panel_size=(3.6, 2.4)):
    """Several (frames, bins) magnitude spectrograms in dB on one shared colour scale and colour bar.

    ``start_s`` gives each panel's start time in its recording (s); the colour scale spans
    ``dynamic_range_db`` below the loudest cell of all panels.
    """
    fe = front_end or FrontEnd()
    images = [20 * np.log10(np.maximum(np.asarray(S, dtype=np.float32), 1e-7)) for S in spectrograms]
    start_s = list(start_s) if start_s is not None else [0.0] * len(images)
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = _subplots(nrows, ncols, figsize=(panel_size[0] * ncols + 1, panel_size[1] * nrows), squeeze=False)
    vmax = max(float(np.max(image)) for image in images) if images else 0.0
    _fill_grid(fig, axes, images, titles, fe, start_s, vmin=vmax - dynamic_range_db, vmax=vmax,
               colorbar_label="magnitude (dB re 1)", fontsize=8)
    return fig


def plot_spectrogram_panels(spectrograms, titles, *, front_end=None, start_s=None, dynamic_range_db=70.0,
                            panel_size=(3.6, 2.6)):
    """One figure per (frames, bins) magnitude spectrogram, all in dB on one shared colour scale.

    The separate figures let each panel stand beside what belongs to it (``panel_gallery_html``
    puts each above its audio player). Every figure has its own colour bar, with the same limits:
    ``dynamic_range_db`` below the loudest cell of all panels. ``start_s`` gives each panel's start
    time in its recording (s).
    """
    fe = front_end or FrontEnd()
    images = [20 * np.log10(np.maximum(np.asarray(S, dtype=np.float32), 1e-7)) for S in spectrograms]
    start_s = list(start_s) if start_s is not None else [0.0] * len(images)
    vmax = max(float(np.max(image)) for image in images) if images else 0.0
    figures = []
    for image, title, start in zip(images, titles, start_s):
        fig, ax = _subplots(figsize=panel_size)
        _fill_grid(fig, np.array([ax]), [image], [title], fe, [start], vmin=vmax - dynamic_range_db, vmax=vmax,
                   colorbar_label="magnitude (dB re 1)", fontsize=8)
        figures.append(fig)
    return figures


def figure_png_base64(fig, *, dpi=100):
    """The figure as a base64-encoded PNG (for an ``<img src="data:image/png;base64,...">``)."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def panel_gallery_html(figures, players, *, ncols=3, alt=None):
    """An HTML table of figures, each with its audio player directly below it, ``ncols`` to a row.

    Parameters
    ----------
    figures : list of matplotlib.figure.Figure
    players : list of str
        One HTML fragment per figure, e.g. ``IPython.display.Audio(y, rate=sr)._repr_html_()``.
    alt : list of str, optional
        Alternative text of each image (e.g. the panel's title).
    """
    import html

    if len(figures) != len(players):
        raise ParameterError(f"one player per figure: got {len(figures)} figures and {len(players)} players")
    alt = list(alt) if alt is not None else [""] * len(figures)
    cells = [f'<td style="vertical-align:top;text-align:center;padding:4px">'
             f'<img src="data:image/png;base64,{figure_png_base64(fig)}" alt="{html.escape(text)}" '
             f'style="max-width:100%"/><br/>{player}</td>'
             for fig, player, text in zip(figures, players, alt)]
    rows = ["<tr>" + "".join(cells[i:i + ncols]) + "</tr>" for i in range(0, len(cells), ncols)]
    # Equal columns that share the page's width; each player as wide as its picture.
    return ('<style>.dae-gallery audio{width:100%}</style>'
            '<table class="dae-gallery" style="width:100%;table-layout:fixed;border-collapse:collapse">'
            + "".join(rows) + "</table>")


LABEL_COLOURS = {"whistle": "tab:cyan", "burst": "tab:orange", "click": "tab:green"}


def plot_annotated_spectrogram(S, events, *, front_end=None, start_s=0.0, ax=None, dynamic_range_db=70.0):
    """A stretch of recording as a dB spectrogram with its events as coloured bars at the bottom, one lane per label.

    ``events`` is a table with start_s, end_s (s, in the recording's time) and label.
    """
    fe = front_end or FrontEnd()
    fig, ax = _axes(ax, (10, 3.2))
    plot_spectrogram(S, front_end=fe, start_s=start_s, ax=ax, vmin=None, vmax=None)
    image = ax.images[0]
    vmax = image.get_clim()[1]
    image.set_clim(vmax - dynamic_range_db, vmax)
    stop_s = start_s + S.shape[0] * fe.hop_length / fe.sr
    low_khz = fe.frequencies_hz()[0] / 1000.0
    seen = set()
    lanes = {label: lane for lane, label in enumerate(sorted(set(events["label"])))}  # overlapping events stay visible
    for event in events.itertuples():
        if event.end_s < start_s or event.start_s > stop_s:
            continue
        colour = LABEL_COLOURS.get(event.label, "white")
        lane = lanes[event.label]
        ax.axvspan(max(event.start_s, start_s), min(event.end_s, stop_s), ymin=0.04 * lane, ymax=0.04 * (lane + 1),
                   color=colour, label=None if event.label in seen else event.label)
        seen.add(event.label)
    ax.set_xlim(start_s, stop_s)
    ax.set_ylim(low_khz, fe.frequencies_hz()[-1] / 1000.0)
    if seen:
        ax.legend(loc="upper right", fontsize=7, title="annotated events (bar)", title_fontsize=7)
    return fig


def plot_message(text, *, figsize=(6, 1.2)):
    """A figure holding only ``text``: stands in for a figure the data cannot give (e.g. no truth table)."""
    fig, ax = _subplots(figsize=figsize)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    ax.set_axis_off()
    return fig


def plot_class_confusion(matrix, class_names, *, ax=None):
    """An n x n confusion matrix (rows truth, columns prediction); colour is the share of each true class (%)."""
    matrix = np.asarray(matrix, dtype=float)
    n = len(class_names)
    fig, ax = _axes(ax, (1.1 * n + 2.4, 1.0 * n + 1.4))
    share = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    mappable = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, f"{int(count)}\n({share[row, col]:.0f} %)", ha="center", va="center",
                color="white" if share[row, col] > 60 else "black", fontsize=8)
    ax.set_xticks(range(n), [f"predicted\n{c}" for c in class_names], fontsize=8)
    ax.set_yticks(range(n), [f"true {c}" for c in class_names], fontsize=8)
    fig.colorbar(mappable, ax=ax, label="share of the true class (%)", shrink=0.9)
    return fig


def plot_regions(S, regions, events=(), *, front_end=None, start_s=0.0, ax=None):
    """A recording's spectrogram with detected regions (below) and true events (above) marked.

    Parameters
    ----------
    S : np.ndarray, shape (n_frames, n_bins)
        Band spectrogram of the stretch shown, starting at ``start_s`` (s).
    regions, events : sequences of (start_s, end_s)
        Detected regions and, when known, the true events (s, in the recording).
    """
    fe = front_end or FrontEnd()
    fig, ax = _axes(ax, (10, 3.4))
    plot_spectrogram(S, front_end=fe, start_s=start_s, ax=ax)
    freqs_khz = fe.frequencies_hz() / 1000.0
    band = freqs_khz[-1] - freqs_khz[0]
    end_s = start_s + S.shape[0] * fe.hop_length / fe.sr
    for spans, bottom, colour, label in ((events, freqs_khz[-1] - 0.08 * band, "#4fc3f7", "true event"),
                                         (regions, freqs_khz[0], "#b2ff59", "detected region")):
        for k, (start, end) in enumerate(spans):
            if end < start_s or start > end_s:
                continue
            ax.fill_between([max(start, start_s), min(end, end_s)], bottom, bottom + 0.08 * band, color=colour,
                            alpha=0.9, linewidth=0, label=label if k == 0 else None)
    ax.set_xlim(start_s, end_s)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.9), fontsize="small", framealpha=0.8)
    return fig


def plot_model_comparison(rows):
    """Two panels over models: test MSE relative to PCA (1 = as good as PCA), and silence balanced accuracy.

    ``rows`` maps a model name to a dict with ``"test MSE / PCA MSE"`` and ``"silence balanced accuracy"``.
    """
    names = list(rows)
    fig, (left, right) = _subplots(1, 2, figsize=(10, 3.6))
    positions = np.arange(len(names))
    left.bar(positions, [rows[n]["test MSE / PCA MSE"] for n in names], color="tab:blue")
    left.axhline(1.0, color="black", linestyle="--", label="PCA with as many components as the code")
    left.set_ylabel("test MSE / PCA test MSE")
    left.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
    right.bar(positions, [rows[n]["silence balanced accuracy"] for n in names], color="tab:green")
    right.set_ylim(0, 1)
    right.set_ylabel("silence balanced accuracy")
    for ax in (left, right):
        ax.set_xticks(positions, names, fontsize=8, rotation=25, ha="right")
        ax.set_xlabel("model")
    return fig
