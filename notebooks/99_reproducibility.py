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
# # Reproducing this book
#
# Everything needed to make this edition again, read from the run's `manifest.json`: the command, the
# code version, the parameters each chapter received, the packages, the Keras backend and devices, how
# long each stage took, and the input files that could not be used. The run's files can be downloaded:
# {download}`metrics.json <../metrics.json>` (every measured number),
# {download}`manifest.json <../manifest.json>` (this page's source), and the trained models
# {download}`encoder <../models/encoder.keras>`, {download}`autoencoder <../models/autoencoder.keras>` and
# {download}`silence detector <../models/silence_detector.keras>` (Keras 3 `.keras` files).

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory written by the chapters

# %%
from pathlib import Path

from IPython.display import Markdown
from myst_nb import glue

from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import read_json
from dolphin_ae.book.summary import (
    package_table,
    parameter_table,
    reproduce_command,
    run_table,
    skipped_files_table,
    stage_table,
)

run_dir = Path(run_dir)
manifest = read_json(RunLayout(run_dir).manifest)
stages = stage_table(manifest)
skipped = skipped_files_table(manifest)
glue("repro_total_minutes", float(stages["seconds"].sum()) / 60, display=False)
glue("repro_n_skipped", len(skipped), display=False)

# %% [markdown]
# ## The command
#
# Run from a checkout of the recorded commit, this repeats the run. The same seed and parameters give
# the same metrics on the same backend; a re-run in the same run directory resumes, executing only the
# stages whose notebook, parameters, code or data changed (and every stage after them).

# %%
print(reproduce_command(manifest))

# %% [markdown]
# ## Code, backend and machine

# %%
run_table(manifest)

# %% [markdown]
# ## Parameters
#
# Every parameter of every chapter, as the report recorded it for each stage: the value it passed
# (from the profile, the command line or the report itself) or, where it passed none, the default
# written in the notebook's parameters cell, and which chapters used it.

# %%
parameter_table(manifest)

# %% [markdown]
# ## Stages and durations
#
# The chapters took {glue:text}`repro_total_minutes:.1f` minutes in all. A stage's key is a hash of its
# notebook, its parameters, the package's code, the input data and the keys of the stages before it;
# the executed notebook carries the same key, so a stage's output is never mistaken for another's.

# %%
stages.style.format({"seconds": "{:.1f}"}, na_rep="")

# %% [markdown]
# ## Packages

# %%
package_table(manifest)

# %% [markdown]
# ## Input files that could not be used
#
# This run skipped {glue:text}`repro_n_skipped` file(s).

# %%
skipped if len(skipped) else Markdown("No input file was skipped.")
