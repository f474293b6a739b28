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
# # Clustering: do the codes group sounds the way the truth does?
#
# The 2019 study clustered 36 whistle snippets, each a sequence of codes, with dynamic time warping and
# agglomerative clustering, and drew each cluster as a row of spectrograms; it never compared the
# clusters with any label. Here both levels are measured against the synthetic truth. **Windows**: the
# test windows' codes are clustered with KMeans, Ward agglomerative clustering and HDBSCAN, beside two
# peers that need no autoencoder, run on the same windows: the AVGN recipe of Sainburg et al. (2020),
# a 2-D UMAP of log-magnitude spectrogram windows clustered by HDBSCAN (their V-measure on Bengalese
# finch syllables was 0.903), and KMeans on a 10-D UMAP of the raw windows. **Sequences**: the seed's own method on
# the whistles of the test recordings, scored against the whistle contour families, and the same method
# on codes scaled to unit length.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the earlier chapters
data_dir: str = ""  # folder of the recordings; empty: the one the data chapter used
seed: int = 0  # random seed for the clusterings and subsets
channel: int = 0  # channel of multi-channel recordings to analyse (0 is the first)
code_scaling: str = "l2"  # codes before clustering: "l2" (unit length), "standard" or "none"
n_clusters: int = 8  # clusters for KMeans and Ward agglomerative clustering
min_cluster_size: int = 10  # smallest HDBSCAN cluster, for the codes and the 10-D baseline alike (windows)
umap_components: int = 10  # dimensions UMAP reduces to (codes, the 10-D baseline and the UMAP + KMeans peer)
umap_neighbors: int = 15  # UMAP's neighbourhood size (windows)
headline_method: str = "hdbscan"  # window clustering of the codes reported as clustering.v_measure
max_cluster_windows: int = 3000  # test windows clustered at most, chosen at random keeping class shares
sequence_labels: list = ["whistle"]  # classes whose calls (clips, or annotated events) of the test recordings become code sequences
sequence_step_frames: int = 12  # frames between the windows of a sequence (the seed's win/10)
seed_gap_penalty: float = 10.0  # the seed's DTW gap penalty, for raw codes (code units)
unit_gap_penalty: float = 0.3  # DTW gap penalty for unit-length codes (code units)
sequence_percentile: float = 20.0  # agglomerative cut: this percentile of all DTW distances (the seed's 20)
gallery_clusters: int = 4  # clusters drawn in the gallery
gallery_members: int = 5  # clips drawn per cluster
audio_members: int = 2  # clips per gallery cluster with an audio player

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from IPython.display import Audio, Markdown, display
from myst_nb import glue

from dolphin_ae.analysis.clustering import (WINDOW_METHODS, agglomerative_from_distances, cluster_windows, clustering_scores,
                                   hdbscan_labels, scale_codes)
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.analysis.dtw import (SequenceSet, dtw_distance, dtw_distance_reference, measure_pairwise_cost,
                            pairwise_dtw, scaling_exponent)
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.layout import RunLayout
from dolphin_ae.analysis.peers import PEER_NAMES, clustering_peers, code_scores_k_true, verdict
from dolphin_ae.viz.analysis import (clip_spectrogram, gallery_spectrograms, plot_clip_gallery, plot_contingency,
                                     plot_distance_matrix, plot_dtw_scaling)
from dolphin_ae.analysis.projection import stratified_subset
from dolphin_ae.runio import record_stage, save_array, update_metrics
from dolphin_ae.analysis.sequences import (SEED_SEQUENCE_SETTINGS, clip_sources, encode_clips, find_data_dir,
                                           load_event_truth, load_truth, seed_settings_label, sequence_items,
                                           with_truth)
from dolphin_ae.train.training import predict_windows

started = time.perf_counter()
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
keras.utils.set_random_seed(seed)
dataset = WindowDataset.load(run_dir)
encoder = keras.models.load_model(layout.encoder)
source = find_data_dir(run_dir, data_dir)
truth = load_truth(source)
index = with_truth(dataset.index, truth)
if headline_method not in WINDOW_METHODS:
    raise ParameterError(f"headline_method must be one of {WINDOW_METHODS}, got {headline_method!r}")

# %% [markdown]
# ## Windows: codes against the raw spectrogram
#
# {glue:text}`n_cluster_windows` test windows are clustered. Each row of the table is one method; the
# columns score it against the four true classes and against the finer true types (the contour family
# of a whistle, the kind of click train, background). Homogeneity is 1 when every cluster holds one
# class, completeness when every class sits in one cluster, the V-measure is their harmonic mean, and
# the adjusted Rand index (ARI) is 0 for a chance partition and 1 for the true one. HDBSCAN leaves
# some windows unclustered; they are scored as one more cluster.

# %%
test_indices = dataset.split_indices("test")
test_indices = test_indices[stratified_subset(index["label"].to_numpy()[test_indices], max_cluster_windows,
                                              seed=seed)]
codes = predict_windows(encoder, dataset.windows, test_indices)
true_class = index["label"].to_numpy()[test_indices]
true_type = index["type"].to_numpy()[test_indices]
method_names = {
    "kmeans": f"KMeans ({n_clusters}) on codes", "agglomerative": f"Ward agglomerative ({n_clusters}) on codes",
    "hdbscan": "HDBSCAN on codes", "umap_hdbscan": "UMAP + HDBSCAN on codes",
    "umap_kmeans": f"UMAP + KMeans ({n_clusters}) on codes",
}
window_labels = {name: cluster_windows(codes, method=method, n_clusters=n_clusters, min_cluster_size=min_cluster_size,
                                       scaling=code_scaling, umap_components=umap_components,
                                       umap_neighbors=umap_neighbors, random_state=seed)
                 for method, name in method_names.items()}
window_labels["KMeans (24) on codes, the seed's colouring"] = cluster_windows(
    codes, method="kmeans", n_clusters=24, scaling=code_scaling, random_state=seed)
baseline_start = time.perf_counter()
peer_scores, peer_labels, peer_embeddings = clustering_peers(
    np.asarray(dataset.windows[test_indices]), true_class, magnitude=dataset.front_end.magnitude,
    umap_components=umap_components, n_neighbors=umap_neighbors, random_state=seed)
baseline_seconds = time.perf_counter() - baseline_start
for peer, labels in peer_labels.items():
    window_labels[f"peer: {PEER_NAMES[peer]}"] = labels
# The earlier baseline: HDBSCAN on the same 10-D UMAP of the raw windows as the UMAP + KMeans peer.
baseline_name = f"baseline: {umap_components}-D UMAP + HDBSCAN on raw windows"
window_labels[baseline_name] = hdbscan_labels(peer_embeddings["umap_kmeans"], min_cluster_size=min_cluster_size)
codes_k_true = code_scores_k_true(codes, true_class, scaling=code_scaling, random_state=seed)
update_metrics(run_dir, "clustering_peers", {**peer_scores, "n_test_windows": int(len(test_indices))})
scores = {name: {"class": clustering_scores(true_class, labels), "type": clustering_scores(true_type, labels)}
          for name, labels in window_labels.items()}
columns = ["homogeneity", "completeness", "v_measure", "ari"]
table = pd.DataFrame({name: {**{("true class", c): s["class"][c] for c in columns},
                             **{("true type", c): s["type"][c] for c in columns},
                             ("", "clusters"): s["class"]["n_clusters"],
                             ("", "unclustered"): s["class"]["unclustered_fraction"]}
                      for name, s in scores.items()}).T
table.columns = pd.MultiIndex.from_tuples(table.columns)
headline = scores[method_names[headline_method]]["class"]
baseline = scores[baseline_name]["class"]
glue("n_cluster_windows", len(test_indices), display=False)
glue("headline_name", method_names[headline_method], display=False)
glue("headline_v", headline["v_measure"], display=False)
glue("headline_ari", headline["ari"], display=False)
glue("baseline_v", baseline["v_measure"], display=False)
glue("baseline_ari", baseline["ari"], display=False)
glue("baseline_seconds", baseline_seconds, display=False)
table.style.format("{:.3f}").format("{:.0f}", subset=[("", "clusters")]).format("{:.1%}", subset=[("", "unclustered")])

# %% [markdown]
# This run's chosen method, **{glue:text}`headline_name`**, reaches a V-measure of
# **{glue:text}`headline_v:.3f`** against the true classes (ARI {glue:text}`headline_ari:.3f`); HDBSCAN
# on a {glue:text}`umap_components`-D UMAP of the raw windows reaches {glue:text}`baseline_v:.3f` (ARI
# {glue:text}`baseline_ari:.3f`). The method is fixed by the `headline_method` parameter before the run,
# not picked from the table afterwards.
#
# ## The codes against their strongest peers
#
# The next table puts the codes beside the two peers, each scored on the same
# {glue:text}`n_cluster_windows` windows, first against the four true classes, then on the signal windows
# alone: noise left out, whether whistles, burst pulses and clicks separate is the biologist's question.
# On the signal windows each method clusters afresh (KMeans with k = the number of true signal classes;
# AVGN with its own UMAP and HDBSCAN). The AVGN recipe (Sainburg et al. 2020) is a 2-D UMAP of the
# log-magnitude windows scaled to 0..1, then HDBSCAN with a smallest cluster of 1 % of the windows and
# `min_samples` 1; the other peer is KMeans with k = the number of true classes on a
# {glue:text}`umap_components`-D UMAP of the raw windows. The peers took {glue:text}`baseline_seconds:.0f` s
# together, most of it finding neighbours among raw windows of many thousand numbers each.

# %%
comparison_rows = {
    f"codes: {method_names[headline_method]}": (headline["v_measure"], headline["ari"], None, None),
    f"codes: KMeans (k = {codes_k_true['k_true']})": (
        codes_k_true["v_measure_k_true"], codes_k_true["ari_k_true"],
        *((codes_k_true["signals"]["v_measure"], codes_k_true["signals"]["ari"]) if codes_k_true["signals"]
          else (None, None))),
    **{f"peer: {PEER_NAMES[peer]}": (s["v_measure"], s["ari"], s["signals_v_measure"], s["signals_ari"])
       for peer, s in peer_scores.items()},
}
comparison = pd.DataFrame(comparison_rows, index=["V-measure", "ARI", "signals only: V-measure",
                                                  "signals only: ARI"]).T.astype(float)
codes_signals_v = codes_k_true["signals"]["v_measure"] if codes_k_true["signals"] else None
glue("umap_components", umap_components, display=False)
glue("clustering_verdict", verdict(f"the codes' clustering ({method_names[headline_method]})", headline["v_measure"],
                                   {peer: s["v_measure"] for peer, s in peer_scores.items()},
                                   measure="V-measure against the true classes"), display=False)
glue("clustering_signals_verdict", verdict("KMeans on the codes", codes_signals_v,
                                           {peer: s["signals_v_measure"] for peer, s in peer_scores.items()},
                                           measure="V-measure on the signal windows alone"), display=False)
comparison.style.format("{:.3f}", na_rep="")

# %% [markdown]
# **{glue:text}`clustering_verdict`** **{glue:text}`clustering_signals_verdict`** The contingency table
# below shows where the chosen clustering of the codes puts each class.

# %%
figure = plot_contingency(true_class, window_labels[method_names[headline_method]])
glue("window_contingency", figure, display=False)

# %% [markdown]
# ```{glue:figure} window_contingency
# :name: fig-window-contingency
#
# Test windows of each true class (rows) in each cluster of the chosen method (columns), with the share of
# the class as colour. A good clustering has one dark cell per row, in a column of its own.
# ```
#
# ## Sequences: the seed's whistle clustering, measured
#
# Each call of the classes {glue:text}`sequence_labels` in the **test recordings** (the encoder never
# trained on them) becomes a sequence of codes of windows taken every {glue:text}`sequence_step_frames`
# frames ({glue:text}`sequence_step_s:.3f` s), as the seed did. A call is {glue:text}`sequence_unit`.
# Every pair of sequences is compared by DTW with the seed's band and normalisation, and an
# average-linkage agglomerative clustering is cut at the {glue:text}`sequence_percentile:.0f`th
# percentile of all pairwise distances. It runs twice: {glue:text}`seed_sequence_name` (raw codes, gap
# penalty {glue:text}`seed_gap_penalty:.0f`), and the same method on codes scaled to unit length, whose
# distances lie between 0 and 2, with a gap penalty of {glue:text}`unit_gap_penalty:.1f` on that scale.

# %%
files = sequence_items(dataset, sequence_labels, truth=truth, event_truth=load_event_truth(source))
if len(files) < 3:
    raise ParameterError(f"sequence_labels {sequence_labels} select {len(files)} calls of the test recordings; "
                         "at least 3 are needed")
sequences, clips, skipped_clips = encode_clips(encoder, files, source, dataset.front_end,
                                               step_frames=sequence_step_frames, channel=channel,
                                               profiles=dataset.profiles)
seed_sequence_name = seed_settings_label(
    "DTW clustering", {"step_frames": sequence_step_frames, "gap_penalty": seed_gap_penalty,
                       "percentile": sequence_percentile}, SEED_SEQUENCE_SETTINGS)
raw_set = SequenceSet(sequences)
unit_set = SequenceSet([scale_codes(s, scaling="l2") for s in sequences])
pairwise_dtw(SequenceSet(sequences[:2]))  # compiles (or loads) the DTW code, so the timing below is the work only
start = time.perf_counter()
D_seed = pairwise_dtw(raw_set, gap_penalty=seed_gap_penalty, band="seed")
dtw_seconds = time.perf_counter() - start
D_unit = pairwise_dtw(unit_set, gap_penalty=unit_gap_penalty, band="seed")
save_array(layout.sequence_codes, raw_set.flat)
save_array(layout.sequence_offsets, raw_set.offsets)
save_array(layout.dtw_seed, D_seed)
save_array(layout.dtw_unit, D_unit)
clips.to_csv(layout.sequence_clips, index=False)
glue("sequence_labels", ", ".join(sequence_labels), display=False)
glue("sequence_unit", "one annotated event, cut from its recording between the event's start and end and labelled "
     "by it" if dataset.events is not None else "one clip, labelled by its folder", display=False)
glue("seed_sequence_name", seed_sequence_name, display=False)
glue("n_sequence_recordings", int(clips["recording"].nunique()), display=False)
glue("sequence_step_frames", sequence_step_frames, display=False)
glue("sequence_step_s", sequence_step_frames * dataset.front_end.hop_length / dataset.front_end.sr, display=False)
glue("sequence_percentile", sequence_percentile, display=False)
glue("seed_gap_penalty", seed_gap_penalty, display=False)
glue("unit_gap_penalty", unit_gap_penalty, display=False)
glue("n_sequences", len(raw_set), display=False)
glue("mean_sequence_length", float(np.mean(raw_set.lengths)), display=False)
print(f"{len(raw_set)} sequences of {raw_set.lengths.min()}-{raw_set.lengths.max()} codes; "
      f"{len(skipped_clips)} calls skipped (shorter than a window)")

# %% [markdown]
# {glue:text}`n_sequences` calls of {glue:text}`n_sequence_recordings` test recordings gave sequences of
# {glue:text}`mean_sequence_length:.1f` codes on average.
# The scores below compare each clustering with the true contour family of each clip.

# %%
sequence_labels_seed = agglomerative_from_distances(D_seed, percentile=sequence_percentile)
sequence_labels_unit = agglomerative_from_distances(D_unit, percentile=sequence_percentile)
sequence_truth = clips["type"].to_numpy()
sequence_scores = {
    f"{seed_sequence_name} (raw codes, gap {seed_gap_penalty:g})": clustering_scores(sequence_truth,
                                                                                  sequence_labels_seed),
    f"unit-length codes, gap {unit_gap_penalty:g}": clustering_scores(sequence_truth, sequence_labels_unit),
}
seed_sequence, unit_sequence = sequence_scores.values()
glue("seed_sequence_v", seed_sequence["v_measure"], display=False)
glue("unit_sequence_v", unit_sequence["v_measure"], display=False)
glue("seed_sequence_clusters", seed_sequence["n_clusters"], display=False)
glue("unit_sequence_clusters", unit_sequence["n_clusters"], display=False)
pd.DataFrame(sequence_scores).T[["homogeneity", "completeness", "v_measure", "ari", "n_clusters"]].style.format(
    "{:.3f}").format("{:.0f}", subset=["n_clusters"])

# %% [markdown]
# Run as {glue:text}`seed_sequence_name`, the clustering finds {glue:text}`seed_sequence_clusters`
# clusters with a V-measure of {glue:text}`seed_sequence_v:.3f` against the contour families; on
# unit-length codes the same method finds {glue:text}`unit_sequence_clusters` with
# {glue:text}`unit_sequence_v:.3f`. The distance matrices
# show why: sorted by family, a good distance draws dark blocks on the diagonal.

# %%
figure = plot_distance_matrix(D_unit, sequence_truth, unit="DTW distance per step (unit-length codes)")
glue("distance_matrix", figure, display=False)

# %% [markdown]
# ```{glue:figure} distance_matrix
# :name: fig-distance-matrix
#
# DTW distances between the whistle sequences (unit-length codes), sorted by true contour family; white
# lines separate the families. Dark squares on the diagonal are families whose members resemble each
# other more than they resemble the rest.
# ```
#
# ## What the clusters sound and look like
#
# The seed drew each cluster as a row of spectrograms without axes. Below, the
# {glue:text}`gallery_clusters` largest clusters of the unit-length clustering, up to
# {glue:text}`gallery_members` clips each, with time in seconds, frequency in kHz and one colour scale;
# each title gives the clip's true family (and motif, when the data has planted ones). Players for a few
# members of each cluster follow.

# %%
groups = [np.flatnonzero(sequence_labels_unit == c) for c in range(sequence_labels_unit.max() + 1)]
groups = [g for g in groups if g.size > 1] or groups
paths = clip_sources(clips, source)


def cluster_title(number, item):
    motif = clips["motif"][item]
    return f"cluster {number}: {clips['type'][item]}" + (f" ({motif})" if motif else "")


spectrograms, titles = gallery_spectrograms(groups, paths, dataset.front_end, title=cluster_title, channel=channel,
                                            max_groups=gallery_clusters, max_members=gallery_members)
figure = plot_clip_gallery(spectrograms, titles, front_end=dataset.front_end, ncols=gallery_members)
glue("cluster_gallery", figure, display=False)
glue("gallery_clusters", min(gallery_clusters, len(groups)), display=False)
glue("gallery_members", gallery_members, display=False)

# %% [markdown]
# ```{glue:figure} cluster_gallery
# :name: fig-cluster-gallery
#
# One row per cluster (largest first): whole clips as spectrograms in dB on one colour scale. Members of a
# good cluster draw the same contour, stretched or shifted a little.
# ```

# %%
for number, members in enumerate(groups[:gallery_clusters]):
    display(Markdown(f"**Cluster {number}** ({members.size} clips)"))
    for item in members[:audio_members]:
        _, y = clip_spectrogram(paths[item], dataset.front_end, channel=channel)
        display(Markdown(f"{clips['file'][item]}: {clips['type'][item]}"))
        display(Audio(y, rate=dataset.front_end.sr))

# %% [markdown]
# ## How the DTW cost grows
#
# The all-pairs DTW matrix of {glue:text}`n_sequences` sequences took {glue:text}`dtw_seconds:.2f` s with
# the compiled, banded code, in parallel over pairs. One pair costs about the product of the two lengths
# times the band's share, and there are N(N - 1)/2 pairs, so the time grows with the square of the
# number of sequences: the measured slope on log-log axes is {glue:text}`dtw_exponent:.2f`. The plain
# Python definition of the same distance (the reference the tests compare with) is
# {glue:text}`speedup:,.0f` times slower on one pair. At the measured rate, the seed's field run of
# 7,794 regions, which it sent to a distributed Apache Beam job, would take about
# {glue:text}`field_minutes:.0f` minutes on this machine; chapter 6 shows a shortcut that computes DTW
# only for a few candidate neighbours per sequence, whose cost grows linearly.

# %%
sizes = np.unique(np.linspace(max(4, len(unit_set) // 8), len(unit_set), 5).astype(int))
sizes, seconds = measure_pairwise_cost(unit_set, sizes, gap_penalty=unit_gap_penalty)
exponent = scaling_exponent(sizes, seconds)
pair = (unit_set[0][:20], unit_set[1][:20])
start = time.perf_counter()
dtw_distance_reference(*pair, gap_penalty=unit_gap_penalty)
reference_seconds = time.perf_counter() - start
start = time.perf_counter()
for _ in range(50):
    dtw_distance(*pair, gap_penalty=unit_gap_penalty)
compiled_seconds = (time.perf_counter() - start) / 50
field_seconds = float(seconds[-1] * (7794 / sizes[-1]) ** 2)
glue("dtw_seconds", dtw_seconds, display=False)
glue("dtw_exponent", exponent, display=False)
glue("speedup", reference_seconds / compiled_seconds, display=False)
glue("field_minutes", field_seconds / 60, display=False)
figure = plot_dtw_scaling(sizes, seconds, exponent=exponent)
glue("dtw_scaling", figure, display=False)

# %% [markdown]
# ```{glue:figure} dtw_scaling
# :name: fig-dtw-scaling
#
# Wall time of the all-pairs DTW matrix for the first N sequences (points), beside a line of slope 2.
# Points that follow the line mean the cost is set by the number of pairs. Small N sit above it: there,
# starting the parallel loop costs as much as the work.
# ```

# %%
update_metrics(run_dir, "clustering", {
    "v_measure": headline["v_measure"], "ari": headline["ari"], "homogeneity": headline["homogeneity"],
    "completeness": headline["completeness"], "method": headline_method, "code_scaling": code_scaling,
    "baseline_umap_hdbscan_v_measure": baseline["v_measure"], "baseline_umap_hdbscan_ari": baseline["ari"],
    "n_test_windows": int(len(test_indices)),
    "v_measure_k_true": codes_k_true["v_measure_k_true"], "ari_k_true": codes_k_true["ari_k_true"],
    "k_true": codes_k_true["k_true"], "signals": codes_k_true["signals"],
    "window_v_measure_by_method": {name: s["class"]["v_measure"] for name, s in scores.items()},
    "sequence_v_measure": unit_sequence["v_measure"], "sequence_ari": unit_sequence["ari"],
    "seed_sequence_v_measure": seed_sequence["v_measure"], "seed_sequence_ari": seed_sequence["ari"],
    "n_sequences": int(len(raw_set)), "sequence_split": "test",
    "sequence_unit": "event" if dataset.events is not None else "clip",
})
# The report records the parameters; the chapter records what it measured.
record_stage(run_dir, "05_clustering", seconds=time.perf_counter() - started,
             # Wall-clock timings go to the manifest: metrics.json holds what the same seed reproduces.
             extra={"skipped_clips": skipped_clips, "dtw_seconds": dtw_seconds, "dtw_scaling_exponent": exponent})
