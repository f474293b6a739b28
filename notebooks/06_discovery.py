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
# # Discovery: finding the calls that recur
#
# Dolphins repeat some whistles: a signature whistle comes back, stretched or shifted a little, many
# times. The 2019 study looked for such recurring patterns with a density rule on its DTW distances and
# drew what it found (density_0..4.png), with no way to tell a real recurring call from a chance
# resemblance. Where the data plants recurring motifs (the synthetic data does), every discovered group
# is checked: **precision** is the share of discovered groups that are renditions of one planted motif,
# **recall** the share of planted motifs that some group finds. Data without a motif truth has neither:
# they are reported as not measured. The seed's rule is compared with a rule of ours, on the calls of the
# test recordings only.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the earlier chapters
data_dir: str = ""  # folder of the recordings; empty: the one the data chapter used
seed: int = 0  # random seed for the sampled pairs
channel: int = 0  # channel of multi-channel recordings to analyse (0 is the first)
density_k: int = 3  # the seed's rule: neighbours per sequence; density is one over the distance to the k-th (the seed's 3)
density_percentile: float = 15.0  # the seed's rule: a mode's density is above this percentile (the seed's 15)
discovery_code_scaling: str = "whiten_l2"  # our rule's codes: whiten_l2 or standard_l2 (training statistics, then unit length), or l2
group_k: int = 3  # our rule: neighbours per sequence among which links are drawn
link_ratio: float = 0.65  # our rule: longest link as a share of the median distance between two sequences
min_group_size: int = 3  # our rule: smallest group reported (renditions)
min_purity: float = 0.5  # a group finds a motif when more than this share of it are renditions of the motif
seed_gap_penalty: float = 10.0  # the seed's DTW gap penalty, for raw codes (code units; the seed's 10)
unit_gap_penalty: float = 0.3  # DTW gap penalty for unit-length codes (code units)
n_candidates: int = 15  # shortcut: candidate neighbours per sequence whose DTW is computed
dtw_engine: str = "local"  # where our rule's all-pairs DTW runs: local (this process) or dask (blocks as tasks on a Dask cluster)
dtw_workers: int = 0  # dask: worker processes of the local cluster it starts (0: one per core)
dtw_scheduler: str = ""  # dask: address of a running scheduler to join instead (empty: start a local cluster)
gallery_groups: int = 5  # discovered groups drawn per rule
gallery_members: int = 5  # clips drawn per group

# %%
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from IPython.display import Audio, Markdown, display
from myst_nb import glue

from dolphin_ae.analysis.clustering import code_statistics, scale_codes
from dolphin_ae.data.dataset import WindowDataset
from dolphin_ae.analysis.discovery import (SEED_DENSITY_SETTINGS, approximate_knn, density_modes, discovery_scores,
                                  knn_from_distances, median_pair_distance, neighbour_agreement,
                                  sampled_median_distance, tight_groups)
from dolphin_ae.analysis.discovery_settings import (DEVELOPMENT_TABLE, DISCOVERY_SCALINGS, SETTING_COLUMNS, chosen_settings,
                                           read_settings_table)
from dolphin_ae.analysis.dtw import SequenceSet
from dolphin_ae.analysis.dtw_blocks import dtw_engine_settings, pairwise_dtw_blocks
from dolphin_ae.engine import engine_client
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.layout import RunLayout
from dolphin_ae.viz.analysis import clip_spectrogram, gallery_spectrograms, plot_clip_gallery, plot_distance_matrix
from dolphin_ae.runio import record_stage, update_metrics
from dolphin_ae.analysis.sequences import (NO_MOTIF, clip_sources, discovery_truth, find_data_dir, has_motif_truth,
                                           seed_settings_label)
from dolphin_ae.train.training import predict_windows

started = time.perf_counter()
if discovery_code_scaling not in DISCOVERY_SCALINGS:
    raise ParameterError(f"discovery_code_scaling must be one of {DISCOVERY_SCALINGS}, got {discovery_code_scaling!r}")
dtw_settings = dtw_engine_settings(dtw_engine, dtw_workers, dtw_scheduler)
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
dataset = WindowDataset.load(run_dir)
source = find_data_dir(run_dir, data_dir)
clips = pd.read_csv(layout.sequence_clips, keep_default_na=False, na_values={"start_s": [""], "end_s": [""]})
raw_set = SequenceSet.from_flat(np.load(layout.sequence_codes), np.load(layout.sequence_offsets))
D_seed = np.load(layout.dtw_seed)
D_unit = np.load(layout.dtw_unit)
# Our rule's codes: whitened (or standardised) with the training windows' statistics (never the test
# recordings'), then scaled to unit length; chapter 5's unit-length codes when discovery_code_scaling is "l2".
if discovery_code_scaling in ("whiten_l2", "standard_l2"):
    encoder = keras.models.load_model(layout.encoder, compile=False)
    statistics = code_statistics(predict_windows(encoder, dataset.windows, dataset.split_indices("train")),
                                 whiten=discovery_code_scaling == "whiten_l2")
else:
    statistics = None
unit_set = SequenceSet([scale_codes(raw_set[i], scaling=discovery_code_scaling, statistics=statistics)
                        for i in range(len(raw_set))])
if discovery_code_scaling == "l2":
    D_ours = D_unit
else:  # dtw_engine "dask": the same matrix, block by block on the cluster
    with engine_client(**dtw_settings) as client:
        D_ours = pairwise_dtw_blocks(unit_set, client=client, gap_penalty=unit_gap_penalty, band="seed")

# %% [markdown]
# ## What counts as a planted motif
#
# The sequences are the ones chapter 5 built: {glue:text}`n_sequences` calls of the test recordings.
# {glue:text}`truth_note`

# %%
clips["motif"] = clips["motif"].astype(str)
motif_truth = has_motif_truth(source)
families = clips["type"].astype(str)
n_families = int(families[families != clips["label"].astype(str)].nunique())
targets, truth_kind = discovery_truth(clips, motif_truth=motif_truth)
family_standin = truth_kind == "contour family"
if motif_truth:
    truth_column = "motif"
    truth_note = ("The truth table plants recurring motifs: each rendition carries its motif's id, and calls "
                  "that are no rendition of any motif are distractors that a discovery rule should leave alone.")
elif family_standin:
    truth_column = "contour family"
    truth_note = ("This data set plants no recurring motifs (its truth table has no motif column), so discovery "
                  "precision and recall are not measured (null in metrics.json). As a weaker check, kept "
                  "apart from them under its own name (discovery.contour_family_standin), the contour family "
                  "of each whistle stands in for a motif: a group counts as a find when most of it shares one "
                  "family.")
else:
    truth_column = "type"
    truth_note = ("This data set has no motif truth (no truth table with a motif column) and no contour "
                  "families to stand in, so discovery precision and recall are not measured (null in "
                  "metrics.json). The groups below can be looked at and listened to; nothing says whether "
                  "they are real recurring calls.")
display_labels = targets if targets is not None else families.to_numpy()
glue("truth_note", truth_note, display=False)
glue("n_sequences", len(raw_set), display=False)
if targets is not None:
    planted = pd.Series(targets[targets != NO_MOTIF]).value_counts()
    display(planted.rename_axis(truth_column).rename("renditions").to_frame().T)
else:
    display(Markdown("No motif truth: nothing planted to count."))

# %% [markdown]
# ## Two rules
#
# **{glue:text}`seed_rule_name`.** Each sequence's {glue:text}`density_k` nearest DTW neighbours; its
# density is one over the distance to the farthest of them; a sequence denser than all its neighbours,
# and above the {glue:text}`density_percentile:.0f`th percentile of density, is a mode, and the mode
# with its neighbours is a discovered group. Every dense spot makes a mode, recurring call or not, and
# every group has exactly {glue:text}`density_group_size` members whatever the motif's size.
#
# **Our rule: tight groups of mutual neighbours.** Two sequences are linked when each is among the
# other's {glue:text}`group_k` nearest neighbours and their distance is below
# {glue:text}`link_ratio:.2f` times the median distance between two sequences; linked sequences form
# groups, and groups of at least {glue:text}`min_group_size` are reported. A recurring call is far
# closer to its own renditions than ordinary calls are to each other, so the link threshold separates
# the two, and a group grows to the size of the motif. It runs with DTW as in chapter 5 on codes
# scaled as {glue:text}`discovery_code_scaling` (`whiten_l2` whitens them with the training windows'
# statistics (centred on their mean, turned onto their principal axes and each axis scaled to unit
# variance) and then scales them to unit length). The autoencoder's codes all point into one corner of
# the code space, so measured from the origin every pair of calls looks alike; measured from the
# typical code, with dimensions that move together counted once, the differences between calls stand
# out. To tell the changes apart, the table also shows the seed's rule on chapter 5's unit-length codes
# and on ours.
#
# ## How our rule's settings were chosen
#
# Our rule's settings can only be judged by their outcomes, so they were chosen on development data
# sets that no scored run sees, by a script anyone can rerun (`bench/discovery_settings.py`). The note
# and the table below are read from the file that script wrote; no number here is typed by hand.

# %%
settings_table, settings_meta = read_settings_table()
run_settings = {"discovery_code_scaling": discovery_code_scaling, "group_k": group_k, "link_ratio": link_ratio,
                "unit_gap_penalty": unit_gap_penalty}
matches = False
if settings_table is None:
    chosen = None
    settings_note = (f"The development table ({DEVELOPMENT_TABLE.name}, written by `bench/discovery_settings.py`) "
                     "is not in this installation, so this run cannot show how its settings were chosen.")
else:
    chosen = chosen_settings(settings_table)
    chosen_row = settings_table[settings_table["chosen"].astype(str).str.lower().isin(["true", "1"])].iloc[0]
    seeds = settings_meta.get("development_seeds", [])
    n_tied = int(np.isclose(settings_table["objective"], float(chosen_row["objective"])).sum()) - 1
    matches = all(str(chosen[c]) == str(run_settings[c]) if c == "discovery_code_scaling"
                  else float(chosen[c]) == float(run_settings[c]) for c in SETTING_COLUMNS)
    settings_note = (
        f"They were chosen by `bench/discovery_settings.py` on {len(seeds)} synthetic development sets "
        f"(seeds {', '.join(map(str, seeds))}, {settings_meta.get('sessions', '?')} sessions each) encoded by "
        f"a `{settings_meta.get('encoder_profile') or '?'}`-profile encoder, never on the recordings scored "
        f"here. The script tries every setting of its grid and keeps the one with the highest mean of "
        f"precision and recall over the sets; the table below is its file (`bench/tables/{DEVELOPMENT_TABLE.name}`, "
        f"written {settings_meta.get('date', '?')}), best first. The chosen row: "
        f"`{chosen['discovery_code_scaling']}` codes, {chosen['group_k']} neighbours, links below "
        f"{chosen['link_ratio']:.2f} of the median, gap {chosen['unit_gap_penalty']:g}; mean precision "
        f"{float(chosen_row['mean_precision']):.3f} and recall {float(chosen_row['mean_recall']):.3f} over the "
        "development sets"
        + (f" ({n_tied} other settings score exactly as well; the grid's order broke the tie)" if n_tied else "")
        + ". "
        + ("This run uses those settings." if matches else
           "This run's settings differ from the chosen row (set by a profile or `--set`): "
           + ", ".join(f"{c} {run_settings[c]}" for c in SETTING_COLUMNS) + "."))
display(Markdown(settings_note))
if settings_table is not None:
    display(settings_table.head(12).style.format(precision=3).hide(axis="index"))

# %% [markdown]
# ## What each rule finds
#
# {glue:text}`discovery_result` (A rule that finds no group has no precision; the table leaves it
# empty.)

# %%
glue("density_k", density_k, display=False)
glue("density_percentile", density_percentile, display=False)
glue("density_group_size", density_k + 1, display=False)
glue("group_k", group_k, display=False)
glue("link_ratio", link_ratio, display=False)
glue("min_group_size", min_group_size, display=False)
glue("discovery_code_scaling", discovery_code_scaling, display=False)
seed_rule_name = seed_settings_label("density rule", {"k": density_k, "percentile": density_percentile,
                                                      "gap_penalty": seed_gap_penalty}, SEED_DENSITY_SETTINGS)
glue("seed_rule_name", seed_rule_name[0].upper() + seed_rule_name[1:], display=False)
n = len(raw_set)
k_density, k_group = min(density_k, n - 1), min(group_k, n - 1)
seed_rule = density_modes(*knn_from_distances(D_seed, k_density), percentile=density_percentile)
seed_rule_unit = density_modes(*knn_from_distances(D_unit, k_density), percentile=density_percentile)
seed_rule_ours = density_modes(*knn_from_distances(D_ours, k_density), percentile=density_percentile)
exact_indices, exact_distances = knn_from_distances(D_ours, k_group)
link_threshold = link_ratio * median_pair_distance(D_ours)
ours = tight_groups(exact_indices, exact_distances, threshold=link_threshold, min_group_size=min_group_size)
OURS = "tight mutual-neighbour groups (ours)"
results = {
    f"{seed_rule_name} (raw codes, gap {seed_gap_penalty:g})": seed_rule,
    f"the seed's density rule on unit-length codes (gap {unit_gap_penalty:g})": seed_rule_unit,
    f"the seed's density rule on {discovery_code_scaling} codes (gap {unit_gap_penalty:g})": seed_rule_ours,
    OURS: ours,
}


def score(found):
    if targets is None:
        return {"n_groups": found.n_groups, "precision": None, "recall": None, "n_found": None, "n_planted": None,
                "rendition_recall": None}
    return discovery_scores(found.groups, targets, min_purity=min_purity)


def score_table(scores):
    return pd.DataFrame({name: {"groups": s["n_groups"],
                                "precision": s["precision"] if targets is not None else "not measured",
                                "recall": s["recall"] if targets is not None else "not measured",
                                f"{truth_column} found": (f"{s['n_found']} of {s['n_planted']}"
                                                           if targets is not None else "not measured"),
                                "renditions in a correct group": s["rendition_recall"]}
                         for name, s in scores.items()}).T


def number(value, missing="none (no group)"):
    return missing if value is None else f"{value:.2f}"


NO_PLANTED = "none (no motif heard twice)"


scores = {name: score(found) for name, found in results.items()}
ours_scores = scores[OURS]
seed_scores = scores[next(iter(scores))]
if targets is None:
    discovery_result = (f"The seed's rule reports {seed_scores['n_groups']} groups and ours "
                        f"{ours_scores['n_groups']}; with no motif truth, their precision and recall are not measured.")
else:
    against = ("planted motifs" if motif_truth else "contour families (the stand-in, not motifs)")
    discovery_result = (
        f"Against {ours_scores['n_planted']} {against} with at least two renditions among the test calls, "
        f"{seed_rule_name} reports {seed_scores['n_groups']} groups with precision "
        f"{number(seed_scores['precision'])} and recall {number(seed_scores['recall'], NO_PLANTED)}; our rule "
        f"reports {ours_scores['n_groups']} groups with precision {number(ours_scores['precision'])} and recall "
        f"{number(ours_scores['recall'], NO_PLANTED)}.")
glue("discovery_result", discovery_result, display=False)
score_table(scores)

# %% [markdown]
# ## The shortcut: DTW only for likely neighbours
#
# Both rules need only each sequence's nearest neighbours, not the whole matrix. Each sequence is
# summarised by its codes resampled to a few steps; the {glue:text}`n_candidates` nearest summaries are
# the candidates, and DTW is computed only for those pairs. The median distance our rule needs is
# estimated from a random sample of pairs. The cost then grows with N x candidates instead of N².

# %%
start = time.perf_counter()
approx_indices, approx_distances, n_pairs = approximate_knn(unit_set, k_group, n_candidates=n_candidates,
                                                            gap_penalty=unit_gap_penalty)
sampled_median = sampled_median_distance(unit_set, n_pairs=max(n_pairs, 200), seed=seed, gap_penalty=unit_gap_penalty)
shortcut = tight_groups(approx_indices, approx_distances, threshold=link_ratio * sampled_median,
                        min_group_size=min_group_size)
shortcut_seconds = time.perf_counter() - start
shortcut_scores = score(shortcut)
agreement = neighbour_agreement(approx_indices, exact_indices)
all_pairs = n * (n - 1) // 2
glue("n_candidates", n_candidates, display=False)
glue("shortcut_pairs", n_pairs, display=False)
glue("all_pairs", all_pairs, display=False)
glue("shortcut_agreement", agreement, display=False)
score_table({"tight groups, all pairs": ours_scores, "tight groups, shortcut": shortcut_scores})

# %% [markdown]
# The shortcut computed {glue:text}`shortcut_pairs` DTW pairs instead of {glue:text}`all_pairs`, and
# found {glue:text}`shortcut_agreement:.1%` of the exact nearest neighbours. (On a set this small the
# candidates cover most pairs; the saving grows with N.)
#
# ## The groups, seen and heard
#
# Each row is one discovered group, its most central member first, with time in seconds, frequency in
# kHz and one colour scale; the title gives each call's true {glue:text}`truth_column`. First our
# groups, then those of the seed's rule (its density_0..4, with axes).

# %%
sources = clip_sources(clips, source)


def gallery(found):
    spectrograms, titles = gallery_spectrograms(
        found.groups, sources, dataset.front_end, channel=channel,
        title=lambda number, item: f"group {number}: {display_labels[item] or 'no motif'}",
        max_groups=gallery_groups, max_members=gallery_members)
    if not spectrograms:
        return None
    return plot_clip_gallery(spectrograms, titles, front_end=dataset.front_end, ncols=gallery_members)


for name, found in (("ours", ours), ("seed", seed_rule)):
    figure = gallery(found)
    glue(f"gallery_{name}", figure if figure is not None else "(no group found)", display=False)
glue("truth_column", truth_column, display=False)

# %% [markdown]
# ```{glue:figure} gallery_ours
# :name: fig-gallery-ours
#
# Groups found by our rule, one per row. A correct group repeats one contour; its members may be
# stretched in time, shifted in pitch, louder or quieter.
# ```
#
# ```{glue:figure} gallery_seed
# :name: fig-gallery-seed
#
# Groups found by the seed's density rule on the seed's distances: each mode (first) with its
# neighbours. Rows whose titles disagree are chance resemblances reported as discoveries.
# ```
#
# The mode of each of our groups, to listen to:

# %%
for number, members in enumerate(ours.groups[:gallery_groups]):
    item = members[0]
    _, y = clip_spectrogram(sources[item], dataset.front_end, channel=channel)
    display(Markdown(f"**Group {number}** ({members.size} calls; true {truth_column}: "
                     f"{display_labels[item] or 'none'})"))
    display(Audio(y, rate=dataset.front_end.sr))

# %% [markdown]
# Finally, the distances sorted by the truth: planted motifs should appear as small dark squares on
# the diagonal, the distractors (no motif) as a light block.

# %%
figure = plot_distance_matrix(D_ours, display_labels, unit=f"DTW distance per step ({discovery_code_scaling} codes)")
glue("motif_distance_matrix", figure, display=False)

# %% [markdown]
# ```{glue:figure} motif_distance_matrix
# :name: fig-motif-distance-matrix
#
# DTW distances between the sequences sorted by their true {glue:text}`truth_column` (white lines between
# labels). Dark diagonal squares are what a discovery rule can find.
# ```

# %%
measured = motif_truth  # precision and recall are for motif truth only
standin = None
if family_standin:
    standin = {"truth": "contour family", "n_families": n_families, "precision": ours_scores["precision"],
               "recall": ours_scores["recall"], "seed_precision": seed_scores["precision"],
               "seed_recall": seed_scores["recall"]}
update_metrics(run_dir, "discovery", {
    "precision": ours_scores["precision"] if measured else None,
    "recall": ours_scores["recall"] if measured else None,
    "measured": measured, "truth": "motif" if measured else None, "method": "tight_groups",
    "n_sequences": int(n), "sequence_split": "test", "n_groups": ours_scores["n_groups"],
    "n_planted": ours_scores["n_planted"] if measured else None,
    "rendition_recall": ours_scores["rendition_recall"] if measured else None,
    "link_threshold": link_threshold, "discovery_code_scaling": discovery_code_scaling,
    "seed_rule": seed_rule_name,
    "seed_precision": seed_scores["precision"] if measured else None,
    "seed_recall": seed_scores["recall"] if measured else None,
    "seed_n_groups": seed_scores["n_groups"],
    "contour_family_standin": standin,
    "settings": {"table": f"bench/tables/{DEVELOPMENT_TABLE.name}", "chosen": chosen,
                 "run_uses_chosen": bool(matches)},
    "shortcut": {"precision": shortcut_scores["precision"] if measured else None,
                 "recall": shortcut_scores["recall"] if measured else None,
                 "neighbour_agreement": agreement, "dtw_pairs": n_pairs, "all_pairs": all_pairs},
})
# The report records the parameters; the chapter records its duration.
record_stage(run_dir, "06_discovery", seconds=time.perf_counter() - started)
