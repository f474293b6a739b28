"""Figures of the analysis chapters: maps of codes, filters, clusters, galleries, DTW cost.

Same rules as :mod:`dolphin_ae.viz.plots`: time in seconds, frequency in kHz, a colour bar with its
unit on every image; each function returns the figure.
"""

import base64
import io

import matplotlib
import matplotlib.image
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from dolphin_ae.audio.pipeline import load_audio, segment
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram
from dolphin_ae.viz.plots import _extent, _subplots

UNCLUSTERED_COLOUR = (0.75, 0.75, 0.75, 1.0)
MAP_AXIS_NOTE = "map coordinates have no unit"


def category_colours(values):
    """A colour for each distinct value (sorted; ``-1`` and ``""`` grey), as a dict."""
    distinct = sorted({str(v) for v in values}, key=lambda v: (v in ("-1", ""), v))
    palette = matplotlib.colormaps["tab10" if len(distinct) <= 10 else "tab20"]
    colours, k = {}, 0
    for value in distinct:
        if value in ("-1", ""):
            colours[value] = UNCLUSTERED_COLOUR
        else:
            colours[value] = palette(k % palette.N)
            k += 1
    return colours


def _legend_name(value, kind):
    if value == "-1":
        return "unclustered"
    if value == "":
        return "none"
    return f"{kind} {value}" if kind else value


def plot_projection_grid(maps, colourings, *, point_size=8):
    """Rows: one 2-D map each (``{name: (n, 2) array}``); columns: one colouring each (``{title: labels}``)."""
    fig, axes = _subplots(len(maps), len(colourings), figsize=(4.3 * len(colourings) + 1.6, 3.6 * len(maps)),
                          squeeze=False)
    for col, (title, labels) in enumerate(colourings.items()):
        labels = np.asarray(labels).astype(str)
        colours = category_colours(labels)
        kind = "cluster" if title.startswith("cluster") else ""
        for row, (name, Y) in enumerate(maps.items()):
            ax = axes[row, col]
            for value, colour in colours.items():
                chosen = labels == value
                ax.scatter(Y[chosen, 0], Y[chosen, 1], s=point_size, color=colour, label=_legend_name(value, kind),
                           linewidths=0)
            ax.set_xlabel(f"{name} 1")
            ax.set_ylabel(f"{name} 2")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=10)
        axes[-1, col].legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(4, len(colours)), fontsize=7,
                             markerscale=2, frameon=False)
    return fig


def thumbnail_image(window, *, frames_step=2, bins_step=4):
    """A window shrunk for display: (bins, frames) image, lowest frequency at the bottom row."""
    return np.asarray(window, dtype=np.float32)[::frames_step, ::bins_step].T[::-1]


def plot_thumbnail_map(Y, labels, chosen, chosen_windows, *, front_end=None, method_name="t-SNE", zoom=0.55,
                       ax=None):
    """The 2019 study's picture made readable: spectrogram thumbnails at their map positions.

    Every item is a small dot in its class colour; the ``chosen`` items (indices into ``Y``, spread
    over the map) are drawn as thumbnails of ``chosen_windows`` (one (frames, bins) window each, in
    the order of ``chosen``), framed in their class colour, on one colour scale.
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fe = front_end or FrontEnd()
    Y = np.asarray(Y)
    labels = np.asarray(labels).astype(str)
    colours = category_colours(labels)
    fig, ax = _subplots(figsize=(11, 8.5)) if ax is None else (ax.figure, ax)
    for value, colour in colours.items():
        mask = labels == value
        ax.scatter(Y[mask, 0], Y[mask, 1], s=6, color=colour, label=value, linewidths=0, alpha=0.6)
    images = np.stack([thumbnail_image(w) for w in chosen_windows]) if len(chosen) else np.zeros((0, 1, 1))
    vmin, vmax = (np.percentile(images, [1, 99.5]) if images.size > 1 else (0.0, 1.0))
    norm = Normalize(vmin=vmin, vmax=vmax)
    for image, i in zip(images, chosen):
        box = OffsetImage(image, zoom=zoom, cmap="magma", norm=norm)
        ax.add_artist(AnnotationBbox(box, (Y[i, 0], Y[i, 1]), frameon=True, pad=0.15,
                                     bboxprops={"edgecolor": colours[labels[i]], "linewidth": 2}))
    ax.set_xlabel(f"{method_name} 1 ({MAP_AXIS_NOTE})")
    ax.set_ylabel(f"{method_name} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(title="true class (frame colour)", fontsize=8, markerscale=3, loc="best")
    duration_s = fe.window_frames * fe.hop_length / fe.sr
    freqs_khz = fe.frequencies_hz() / 1000.0
    fig.colorbar(ScalarMappable(norm=norm, cmap="magma"), ax=ax, shrink=0.6,
                 label=f"z-normalised magnitude (each thumbnail: {duration_s:.2f} s across, "
                       f"{freqs_khz[0]:.1f}-{freqs_khz[-1]:.1f} kHz up)")
    return fig


def _png_base64(image, *, vmin, vmax):
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, cmap="magma", vmin=vmin, vmax=vmax, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def hover_map_html(Y, windows, labels, *, front_end=None, size_px=560, thumb_px=150, title="t-SNE"):
    """A self-contained HTML map: hovering a point shows its window's spectrogram (CSS only, no script).

    Parameters
    ----------
    Y : np.ndarray, shape (n, 2)
    windows : np.ndarray, shape (n, frames, bins)
        The windows of the points, in the order of ``Y``.
    labels : array-like, shape (n,)
    """
    fe = front_end or FrontEnd()
    Y = np.asarray(Y, dtype=float)
    labels = np.asarray(labels).astype(str)
    colours = category_colours(labels)
    images = [thumbnail_image(w) for w in windows]
    vmin, vmax = np.percentile(np.stack(images), [1, 99.5])
    low, high = Y.min(axis=0), Y.max(axis=0)
    margin = 12
    xy = margin + (Y - low) / np.maximum(high - low, 1e-12) * (size_px - 2 * margin)
    freqs_khz = fe.frequencies_hz() / 1000.0
    duration_s = fe.window_frames * fe.hop_length / fe.sr
    parts = [f'<div class="dae-hover"><style>.dae-hover .p image{{display:none}}'
             f'.dae-hover .p:hover image{{display:inline}}.dae-hover .p:hover circle{{stroke:#000;stroke-width:2}}'
             f'</style><svg width="{size_px + thumb_px + 20}" height="{size_px}" '
             f'xmlns="http://www.w3.org/2000/svg" style="font:11px sans-serif">'
             f'<rect width="{size_px}" height="{size_px}" fill="#fafafa" stroke="#ccc"/>']
    for (x, y), label, image in zip(xy, labels, images):
        r, g, b, _ = colours[label]
        png = _png_base64(image, vmin=vmin, vmax=vmax)
        parts.append(
            f'<g class="p"><title>{label}</title><circle cx="{x:.1f}" cy="{size_px - y:.1f}" r="4" '
            f'fill="rgb({int(255 * r)},{int(255 * g)},{int(255 * b)})"/>'
            f'<image x="{size_px + 10}" y="10" width="{thumb_px}" height="{thumb_px}" preserveAspectRatio="none" '
            f'href="data:image/png;base64,{png}"/></g>')
    legend_y = thumb_px + 40
    parts.append(f'<text x="{size_px + 10}" y="{thumb_px + 24}">{duration_s:.2f} s across, '
                 f'{freqs_khz[0]:.1f}-{freqs_khz[-1]:.1f} kHz up</text>')
    for k, (label, (r, g, b, _)) in enumerate(colours.items()):
        parts.append(f'<circle cx="{size_px + 16}" cy="{legend_y + 16 * k}" r="5" '
                     f'fill="rgb({int(255 * r)},{int(255 * g)},{int(255 * b)})"/>'
                     f'<text x="{size_px + 26}" y="{legend_y + 16 * k + 4}">{label}</text>')
    parts.append(f'<text x="8" y="{size_px - 6}">{title} map of window codes: hover a point</text></svg></div>')
    return "".join(parts)


def plot_conv_filters(layers, *, front_end=None, max_filters=32, ncols=16):
    """The kernels of every convolution layer, one panel per layer, each on its own symmetric colour scale.

    Parameters
    ----------
    layers : list of (name, kernel, stride_before)
        ``kernel`` has shape (kernel_frames, kernel_bins, in_channels, out_channels) and is shown
        averaged over its input channels; ``stride_before`` is the total stride of the layers
        before it, so that one kernel step spans that many frames and bins of the input window
        and the axes read in milliseconds and kHz of the input.
    max_filters : int
        Filters shown per layer (the first ones).
    """
    fe = front_end or FrontEnd()
    counts = [min(np.shape(kernel)[-1], max_filters) for _, kernel, _ in layers]
    ncols = max(1, min(ncols, max(counts)))
    rows = [int(np.ceil(n / ncols)) for n in counts]
    fig = Figure(figsize=(1.0 * ncols + 1.8, sum(1.1 * r + 0.8 for r in rows)), layout="constrained")
    panels = fig.subfigures(len(layers), 1, height_ratios=[1.1 * r + 0.8 for r in rows], squeeze=False)[:, 0]
    for panel, (name, kernel, stride_before), n, nrows in zip(panels, layers, counts, rows):
        kernel = np.asarray(kernel, dtype=np.float32)
        mean_kernel = kernel.mean(axis=2)
        axes = panel.subplots(nrows, ncols, squeeze=False)
        limit = float(np.max(np.abs(mean_kernel[..., :n]))) or 1.0
        frame_ms = 1000.0 * fe.hop_length / fe.sr * stride_before
        bin_khz = fe.sr / fe.fft_length / 1000.0 * stride_before
        extent = [0, mean_kernel.shape[0] * frame_ms, 0, mean_kernel.shape[1] * bin_khz]
        mappable = None
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_visible(False)
                continue
            mappable = ax.imshow(mean_kernel[:, :, k].T, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-limit,
                                 vmax=limit, extent=extent, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        corner = axes[-1, 0]
        corner.set_xticks([0, extent[1]], ["0", f"{extent[1]:.0f}"], fontsize=6)
        corner.set_yticks([0, extent[3]], ["0", f"{extent[3]:.1f}"], fontsize=6)
        corner.set_xlabel("time (ms)", fontsize=7)
        corner.set_ylabel("freq. (kHz)", fontsize=7)
        shown = f"first {n} of {mean_kernel.shape[-1]}" if n < mean_kernel.shape[-1] else f"all {n}"
        panel.suptitle(f"{name}: {shown} filters, mean over {kernel.shape[2]} input channel(s)", fontsize=9)
        panel.colorbar(mappable, ax=axes, label="weight", shrink=0.9)
    return fig


def plot_contingency(labels_true, labels_pred, *, ax=None, pred_name="cluster"):
    """Counts of each true class (rows) in each cluster (columns), coloured by the share of the row (%)."""
    import pandas as pd

    table = pd.crosstab(pd.Series(np.asarray(labels_true).astype(str), name="true"),
                        pd.Series(np.asarray(labels_pred), name=pred_name))
    share = 100 * table.to_numpy() / np.maximum(table.to_numpy().sum(axis=1, keepdims=True), 1)
    fig, ax = _subplots(figsize=(0.55 * table.shape[1] + 2.8, 0.45 * table.shape[0] + 1.6)) if ax is None else (
        ax.figure, ax)
    mappable = ax.imshow(share, cmap="Blues", vmin=0, vmax=100, aspect="auto")
    for (row, col), count in np.ndenumerate(table.to_numpy()):
        if count:
            ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                    color="white" if share[row, col] > 60 else "black")
    ax.set_xticks(range(table.shape[1]), ["unclustered" if c == -1 else str(c) for c in table.columns], fontsize=7,
                  rotation=90)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=8)
    ax.set_xlabel(pred_name)
    ax.set_ylabel("true class")
    fig.colorbar(mappable, ax=ax, label="share of the true class (%)")
    return fig


def plot_distance_matrix(D, labels, *, ax=None, unit="DTW distance per step"):
    """A distance matrix with items sorted by true label, boundaries between labels drawn."""
    labels = np.asarray(labels).astype(str)
    order = np.argsort(labels, kind="stable")
    D = np.asarray(D)[np.ix_(order, order)]
    sorted_labels = labels[order]
    fig, ax = _subplots(figsize=(6.2, 5.2)) if ax is None else (ax.figure, ax)
    mappable = ax.imshow(D, cmap="viridis_r", interpolation="nearest")
    edges = np.flatnonzero(sorted_labels[1:] != sorted_labels[:-1]) + 0.5
    for edge in edges:
        ax.axhline(edge, color="white", linewidth=0.8)
        ax.axvline(edge, color="white", linewidth=0.8)
    starts = np.concatenate([[0], np.ceil(edges).astype(int)])
    ends = np.concatenate([np.ceil(edges).astype(int), [len(labels)]])
    centres = (starts + ends - 1) / 2
    names = [sorted_labels[s] or "none" for s in starts]
    ax.set_yticks(centres, names, fontsize=7)
    ax.set_xticks(centres, names, fontsize=7, rotation=90)
    ax.set_xlabel("sequence (sorted by true label)")
    ax.set_ylabel("sequence (sorted by true label)")
    fig.colorbar(mappable, ax=ax, label=unit)
    return fig


def plot_clip_gallery(spectrograms, titles, *, front_end=None, ncols=5, dynamic_range_db=60.0):
    """Whole clips in a grid, in dB on one colour scale, each with its own time axis (s).

    ``spectrograms`` is a list of (frames, bins) magnitude arrays, read row by row; a None leaves its
    cell empty (to start each cluster on a new row).
    """
    fe = front_end or FrontEnd()
    images = [None if S is None else 20 * np.log10(np.maximum(np.asarray(S, dtype=np.float32), 1e-7))
              for S in spectrograms]
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = _subplots(nrows, ncols, figsize=(2.7 * ncols + 1.2, 2.2 * nrows + 0.3), squeeze=False)
    shown = [image for image in images if image is not None]
    vmax = max(float(np.max(image)) for image in shown) if shown else 0.0
    vmin = vmax - dynamic_range_db
    mappable = None
    for k, ax in enumerate(axes.flat):
        if k >= n or images[k] is None:
            ax.set_visible(False)
            continue
        mappable = ax.imshow(images[k].T, origin="lower", aspect="auto", extent=_extent(images[k].shape[0], fe),
                             cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(titles[k], fontsize=8)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel("frequency (kHz)", fontsize=8)
        ax.tick_params(labelsize=7)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes, label="magnitude (dB re 1)", shrink=0.9)
    return fig


def plot_dtw_scaling(n_sequences, seconds, *, exponent=None, ax=None, label="all pairs, compiled"):
    """Wall time of the all-pairs DTW matrix against the number of sequences, on log-log axes."""
    fig, ax = _subplots(figsize=(5, 3.4)) if ax is None else (ax.figure, ax)
    n_sequences = np.asarray(n_sequences, dtype=float)
    seconds = np.asarray(seconds, dtype=float)
    ax.loglog(n_sequences, seconds, "o-", label=label)
    if exponent is not None and len(n_sequences) > 1:
        reference = seconds[-1] * (n_sequences / n_sequences[-1]) ** 2
        ax.loglog(n_sequences, reference, "--", color="grey", label="slope 2 (pairs grow as N²)")
    ax.set_xlabel("number of sequences N")
    ax.set_ylabel("wall time (s)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def gallery_layout(groups, *, max_groups=4, max_members=5):
    """Cells of a gallery: the first ``max_members`` items of each of the first ``max_groups`` groups.

    Returns a flat list, row by row, of ``(group number, item)`` pairs, None where a row has no
    more members, for :func:`plot_clip_gallery` with ``ncols=max_members``.
    """
    cells = []
    for number, members in enumerate(list(groups)[:max_groups]):
        members = list(members)[:max_members]
        cells.extend((number, int(item)) for item in members)
        cells.extend([None] * (max_members - len(members)))
    return cells


def gallery_spectrograms(groups, paths, front_end, *, title, channel=0, max_groups=4, max_members=5):
    """Spectrograms and titles of a gallery's cells, for ``plot_clip_gallery(..., ncols=max_members)``.

    ``groups`` are lists of item numbers, ``paths[item]`` each item's audio (a path, or
    ``(path, start_s, end_s)`` as :func:`dolphin_ae.analysis.sequences.clip_sources` gives), and
    ``title(group_number, item)`` a cell's title. Rows are padded with None (an empty cell).
    """
    spectrograms, titles = [], []
    for cell in gallery_layout(groups, max_groups=max_groups, max_members=max_members):
        if cell is None:
            spectrograms.append(None)
            titles.append("")
            continue
        number, item = cell
        spectrograms.append(clip_spectrogram(paths[item], front_end, channel=channel)[0])
        titles.append(title(number, item))
    return spectrograms, titles


def clip_spectrogram(path, front_end, *, channel=0):
    """Linear band magnitude spectrogram of a whole clip (or of ``(path, start_s, end_s)``, s) for
    display, shape (n_frames, n_bins), and its waveform."""
    start_s = end_s = None
    if isinstance(path, tuple):
        path, start_s, end_s = path
    display_front_end = FrontEnd(**{**front_end.to_dict(), "magnitude": "linear"})
    y = segment(load_audio(path, sr=front_end.sr, channel=channel, fmax_hz=front_end.fmax_hz), front_end.sr,
                start_s, end_s)
    return band_spectrogram(y, display_front_end), y
