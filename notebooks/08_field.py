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
# # In the field: detecting and embedding long recordings
#
# The 2019 study used its silence detector to cut hours of field recordings down to the stretches where
# dolphins were vocalising: windows called not silent were merged into regions when less than 0.1 s
# apart, and the regions were written out as audio and as a table. It never measured how many true
# events those regions caught. Here the trained detector of this run is applied, exactly as the
# `dolphin-ae detect` command applies it, to a long synthetic recording whose events are known, and the
# regions are scored against them.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory holding the trained silence detector
seed: int = 0  # random seed of the synthetic field recording
field_duration_s: float = 120.0  # length of the field recording (s)
field_snr_db_min: float = 5.0  # lowest event signal-to-noise ratio in the band (dB)
field_snr_db_max: float = 20.0  # highest event signal-to-noise ratio in the band (dB)
field_min_gap_s: float = 0.1  # windows less than this apart are merged into one region (s)
field_min_overlap: float = 0.5  # share of both event and region their overlap must cover to match

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from IPython.display import Audio, display
from myst_nb import glue

from dolphin_ae.field.batch import detect_batch, embed_batch
from dolphin_ae.field.evaluation import region_recall_precision
from dolphin_ae.field.regions import DetectionOptions
from dolphin_ae.field.run import load_detector_run
from dolphin_ae.viz.plots import plot_regions
from dolphin_ae.layout import RunLayout
from dolphin_ae.runio import record_stage, update_metrics
from dolphin_ae.audio.spectrogram import band_spectrogram
from dolphin_ae.data.synth_long import write_long_recording

stage_started = time.perf_counter()
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
field_dir = layout.field
field_dir.mkdir(exist_ok=True)

# %% [markdown]
# ## A recording with known events
#
# Background of one session with whistles, burst pulses and click trains (0.5-1 s each) every 1-3 s.

# %%
recording = layout.field_recording
truth = write_long_recording(recording, duration_s=field_duration_s, snr_db_range=(field_snr_db_min, field_snr_db_max),
                             subtype="PCM_16", seed=seed)
truth.to_csv(layout.field_truth, index=False)
glue("field_minutes", field_duration_s / 60, display=False)
glue("field_n_events", len(truth), display=False)
truth.head()

# %% [markdown]
# ## Detection
#
# The recording is read in blocks of 10 s, every window is scored, and the regions go to
# `field/regions.csv` and their audio to `field/regions.wav`. The command line does the same:
#
# ```bash
# dolphin-ae detect RUN_DIR recording.wav --out regions.csv --wav regions.wav
# ```

# %%
run = load_detector_run(run_dir)
options = DetectionOptions(min_gap_s=field_min_gap_s)
started = time.perf_counter()
detect_batch(run, [recording], layout.field_regions, wav_path=layout.field_regions_audio, options=options,
             progress=False)
real_time_factor = field_duration_s / (time.perf_counter() - started)
regions = pd.read_csv(layout.field_regions)
scores = region_recall_precision(list(zip(regions["start_s"], regions["end_s"])),
                                 list(zip(truth["start_s"], truth["end_s"])), min_overlap=field_min_overlap)
# The speed is shown here, not kept in metrics.json: metrics repeat exactly for the same seed, timings do not.
update_metrics(run_dir, "detect", {"region_recall": scores["recall"], "region_precision": scores["precision"],
                                   "n_events": scores["n_events"], "n_regions": scores["n_regions"],
                                   "min_overlap": field_min_overlap})
for key in ("recall", "precision", "n_regions"):
    glue(f"field_{key}", scores[key], display=False)
glue("field_real_time_factor", real_time_factor, display=False)
glue("field_min_overlap", field_min_overlap, display=False)
regions.head()

# %% [markdown]
# The detector found {glue:text}`field_n_regions` regions in {glue:text}`field_minutes:.0f` minutes holding
# {glue:text}`field_n_events` events. A region and an event match when their overlap covers at least
# {glue:text}`field_min_overlap:.0%` of each; by that rule the regions recover
# **{glue:text}`field_recall:.1%`** of the events (recall), and {glue:text}`field_precision:.1%` of the
# regions are events (precision). Detection ran {glue:text}`field_real_time_factor:.0f` times faster than
# real time on this machine.

# %%
y, sr = soundfile.read(str(recording), dtype="float32", frames=int(20 * 48000))
figure = plot_regions(band_spectrogram(y, run.front_end), list(zip(regions["start_s"], regions["end_s"])),
                      list(zip(truth["start_s"], truth["end_s"])), front_end=run.front_end)
glue("field_regions", figure, display=False)

# %% [markdown]
# ```{glue:figure} field_regions
# :name: fig-field-regions
#
# The first 20 s of the field recording, with the true events (blue, top) and the detected regions
# (green, bottom). A region starts up to one window (0.18 s) before its event and ends up to one window
# after it, because a window is called signal as soon as part of an event falls into it.
# ```
#
# ## Listening to the regions
#
# The first 15 s of `regions.wav`: the detected regions one after another, with 0.1 s of silence
# between them, as the 2019 study wrote them.

# %%
regions_audio, regions_sr = soundfile.read(str(layout.field_regions_audio), dtype="float32",
                                           frames=int(15 * run.front_end.sr))
display(Audio(regions_audio, rate=regions_sr))

# %% [markdown]
# ## Embeddings for search
#
# Each region also gets one code, the mean of its windows' codes, in a table that a search index can
# load (`dolphin-ae embed RUN_DIR recording.wav --out regions.parquet`).

# %%
embed_batch(run, [recording], layout.field_embeddings, per="region", options=options, progress=False)
embeddings = pd.read_parquet(layout.field_embeddings)
glue("field_code_size", sum(c.startswith("code_") for c in embeddings.columns), display=False)
embeddings.iloc[:5, :8]

# %% [markdown]
# Every region has a code of {glue:text}`field_code_size` numbers. The run's files:
# {download}`regions.csv <../field/regions.csv>`, {download}`regions.parquet <../field/regions.parquet>`,
# {download}`truth.csv <../field/truth.csv>`.

# %%
# The report records the parameters; the chapter records what it measured (the speed is a timing, so here
# rather than in metrics.json).
record_stage(run_dir, "08_field", seconds=time.perf_counter() - stage_started,
             extra={"real_time_factor": round(real_time_factor, 1), "n_regions": int(scores["n_regions"]),
                    "n_events": int(scores["n_events"])})
