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
# # Results at a glance
#
# The headline numbers of this edition of the book, each beside what the 2019 study reported and beside
# the peers, methods that need no autoencoder, measured on the same test windows. Every number on this page is read from the
# run's `metrics.json` when the book is built; the chapters explain how each was measured.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the chapters

# %%
from pathlib import Path

from myst_nb import glue

from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import read_json, read_metrics
from dolphin_ae.book.summary import discovery_note, headline_table, lookup, peer_line

run_dir = Path(run_dir)
metrics = read_metrics(run_dir)
profile = read_json(RunLayout(run_dir).manifest).get("report", {}).get("profile", "")
table = headline_table(metrics)
glue("summary_profile", profile, display=False)
for key in ("silence.balanced_accuracy", "silence.recall_not_silence", "silence.n_test_windows",
            "baseline_energy.balanced_accuracy", "reconstruction.mse", "reconstruction.pca_mse"):
    glue("summary_" + key.replace(".", "_"), lookup(metrics, key), display=False)
glue("summary_discovery_note", discovery_note(metrics) or "The discovery chapter did not run.", display=False)
glue("summary_seed_balanced_accuracy", float(table.loc["silence detector: balanced accuracy", "2019 study"]), display=False)
glue("summary_seed_recall_not_silence", float(table.loc["silence detector: recall of signals", "2019 study"]), display=False)
glue("summary_peer_line", peer_line(metrics), display=False)

# %% [markdown]
# ## The silence detector
#
# On {glue:text}`summary_silence_n_test_windows` windows of recordings it never saw in training, the
# detector on the autoencoder's codes reaches a balanced accuracy of
# **{glue:text}`summary_silence_balanced_accuracy:.3f`** and keeps
# {glue:text}`summary_silence_recall_not_silence:.1%` of the signal windows. The 2019 matrix corresponds
# to {glue:text}`summary_seed_balanced_accuracy:.3f`, keeping {glue:text}`summary_seed_recall_not_silence:.1%`
# of the signals, and it was measured on its own training windows. A threshold on band energy, with no
# network at all, reaches {glue:text}`summary_baseline_energy_balanced_accuracy:.3f`.
#
# ## Where a peer wins
#
# **{glue:text}`summary_peer_line`** Each peer is fitted on the training recordings and scored on the
# same test windows as the network; the table below gives every pair.
#
# ## The autoencoder
#
# The test reconstruction error is {glue:text}`summary_reconstruction_mse:.4f` against
# {glue:text}`summary_reconstruction_pca_mse:.4f` for a PCA with as many components as the code; the
# 2019 study reported no reconstruction error.
#
# ## Motif discovery
#
# {glue:text}`summary_discovery_note`
#
# ## Every headline number
#
# One row per measurement this run made (at the {glue:text}`summary_profile` profile); a row named
# "peer: ..." repeats the network's number beside that peer's. Empty cells: the 2019 study computed no
# such number, or the measurement has no baseline. Small profiles train small
# models for a few epochs, so their numbers test the pipeline rather than the method.

# %%
table.style.format({"this run": "{:.3f}", "baseline (this run)": "{:.3f}", "2019 study": "{:.3f}"}, na_rep="")
