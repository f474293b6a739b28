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
search_sessions: int = 2  # sessions of the search archive, each with its own background
search_recordings_per_session: int = 2  # long recordings per session in the search archive
search_recording_s: float = 30.0  # length of each archive recording (s)
search_motifs: int = 3  # signature whistles planted in the archive
search_motif_fraction: float = 0.6  # share of the archive's whistles that are renditions of a signature whistle
search_min_region_s: float = 0.25  # regions shorter than this are not indexed (s)
search_hits_shown: int = 5  # hits of the example query shown with their audio

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from IPython.display import HTML, Audio, display
from myst_nb import glue

from dolphin_ae.data.synth import synthesize_dataset
from dolphin_ae.field.batch import detect_batch, embed_batch
from dolphin_ae.field.evaluation import (chance_rendition_precision, region_recall_precision, spans_match,
                                         without_query)
from dolphin_ae.field.index import build_index
from dolphin_ae.field.search import embed_spans, index_run, load_index, rendition_scores, search
from dolphin_ae.field.regions import DetectionOptions
from dolphin_ae.field.run import load_detector_run
from dolphin_ae.viz.analysis import clip_spectrogram
from dolphin_ae.viz.plots import panel_gallery_html, plot_regions, plot_spectrogram_panels
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

# %% [markdown]
# ## Finding the calls like this one
#
# A researcher with one good recording of a signature whistle wants every other rendition of it in the
# archive. `dolphin-ae index` detects and embeds the regions of many recordings and keeps their codes
# in a nearest-neighbour index; `dolphin-ae search` embeds a query exactly as the index embedded its
# regions and lists the nearest regions, optionally re-ranked by the DTW distance between the code
# sequences (whistles of one signature differ in duration):
#
# ```bash
# dolphin-ae index RUN_DIR archive/ --out archive_index
# dolphin-ae search archive_index query.wav --start-s 3.2 --end-s 4.1 --k 10 --rerank dtw --out hits.csv
# ```
#
# The archive here is synthetic, so the renditions are known: long recordings of several sessions in
# which a share of the whistles are renditions of a few signature whistles (a rendition varies its
# contour's frequency by about 2 % and its duration by about 4 %; the session's background and the
# events' levels are drawn as for the rest of the data). Every rendition is used as a query in turn
# and scored by its precision at k, with k the number of other renditions of its signature (at most
# 10): the share of the first k hits, the query itself left out, that are renditions of the same
# signature. Queries are averaged within a signature, then signatures with one another. The peer
# indexes the same regions by their raw spectrograms pooled into blocks (4 time blocks x 32 frequency
# blocks) and is searched the same way; chance is the precision that hits drawn at random would score.

# %%
archive = layout.field_archive
archive_truth = synthesize_dataset(archive, mode="recordings", n_sessions=search_sessions,
                                   recordings_per_session=search_recordings_per_session,
                                   recording_s=search_recording_s, n_motifs=search_motifs,
                                   motif_fraction=search_motif_fraction,
                                   snr_db_range=(field_snr_db_min, field_snr_db_max), seed=seed + 1)
archive_truth["file"] = [str(archive / name) for name in archive_truth["file"]]
archive_files = sorted(str(path) for path in archive.glob("*.wav"))
search_options = DetectionOptions(min_gap_s=field_min_gap_s, min_region_s=search_min_region_s)
started = time.perf_counter()
indexes = {}
for name, embedding, folder in (("codes", "encoder", layout.field_index),
                                ("peer", "pooled", layout.field_index_peer)):
    build_index(run_dir, archive_files, folder, options=search_options, embedding=embedding, seed=seed)
    indexes[name] = load_index(folder)
index_seconds = time.perf_counter() - started
started = time.perf_counter()
search_scores = {name: rendition_scores(index, archive_truth) for name, index in indexes.items()}
search_seconds = time.perf_counter() - started
chance = chance_rendition_precision(indexes["codes"].regions, archive_truth, min_overlap=field_min_overlap)
renditions = archive_truth[archive_truth["motif"].fillna("") != ""]
search_metrics = {f"{name}_{rerank}": values["precision"] for name, by_rerank in search_scores.items()
                  for rerank, values in by_rerank.items()}
search_metrics.update({"chance": chance, "n_queries": search_scores["codes"]["codes"]["n_queries"],
                       "n_regions": len(indexes["codes"]), "n_renditions": len(renditions),
                       "n_motifs": int(renditions["motif"].nunique()),
                       "archive_minutes": len(archive_files) * search_recording_s / 60})
update_metrics(run_dir, "search", search_metrics)
rows = [("the run's codes", "codes", "codes"), ("the run's codes, DTW re-ranked", "codes", "dtw"),
        ("peer: pooled spectrograms", "peer", "codes"), ("peer: pooled spectrograms, DTW re-ranked", "peer", "dtw")]
search_table = pd.DataFrame({"search": [label for label, _, _ in rows] + ["chance (random hits)"],
                             "precision at k": [search_scores[name][rerank]["precision"] for _, name, rerank in rows]
                             + [chance]})
glue("search_table", search_table.style.format({"precision at k": "{:.3f}"}, na_rep="-").hide(axis="index"),
     display=False)
for key in ("n_queries", "n_regions", "n_renditions", "n_motifs", "archive_minutes"):
    glue(f"search_{key}", search_metrics[key], display=False)
best_ours = max(search_metrics["codes_codes"] or 0.0, search_metrics["codes_dtw"] or 0.0)
best_peer = max(search_metrics["peer_codes"] or 0.0, search_metrics["peer_dtw"] or 0.0)
glue("search_verdict", "The run's codes find more renditions than the peer's pooled spectrograms."
     if best_ours > best_peer else
     "The peer's pooled spectrograms find at least as many renditions as the run's codes: on this archive "
     "the codes are not yet the better index.", display=False)
search_table

# %% [markdown]
# The archive holds {glue:text}`search_archive_minutes:.0f` minutes of recordings, in which the detector
# found {glue:text}`search_n_regions` regions; {glue:text}`search_n_renditions` of the events are
# renditions of {glue:text}`search_n_motifs` signature whistles, and {glue:text}`search_n_queries` of them
# are queries.
#
# ```{glue:figure} search_table
# :name: tab-search-precision
#
# Precision at k of query by example, averaged over signature whistles: the run's codes and the peer's
# pooled spectrograms, each searched by Euclidean distance and re-ranked by DTW, beside chance.
# ```
#
# {glue:text}`search_verdict`
#
# ### One query and its hits
#
# The first rendition of the first signature whistle is the query (first panel); the other panels are
# its nearest regions in the index of the run's codes, DTW re-ranked, nearest first, each titled with
# what the truth puts there. Each spectrogram has its audio below it.

# %%
def truth_name(file, start_s, end_s):
    """What the archive's truth holds in a span: a signature whistle's id, another event's label, or background."""
    for event in archive_truth[archive_truth["file"] == file].itertuples():
        if spans_match((start_s, end_s), (event.start_s, event.end_s), field_min_overlap):
            return event.motif if isinstance(event.motif, str) and event.motif else event.label
    return "background"


query = renditions.sort_values(["motif", "file", "start_s"]).iloc[0]
query_span = (query["file"], float(query["start_s"]), float(query["end_s"]))
code, sequence = embed_spans(index_run(indexes["codes"]), query_span[0], [query_span[1:]],
                             options=indexes["codes"].options)[0]
hits = search(indexes["codes"], code, sequence, k=search_hits_shown + 3, rerank="dtw")
hits = without_query(zip(hits["file"], hits["start_s"].astype(float), hits["end_s"].astype(float)), query_span)
spans = [query_span] + hits[:search_hits_shown]
titles = [f"query: {query['motif']}"] + [f"hit {number}: {truth_name(*span)}"
                                         for number, span in enumerate(spans[1:], start=1)]
spectrograms, players = [], []
for span in spans:
    S, y = clip_spectrogram(span, run.front_end)
    spectrograms.append(S)
    players.append(Audio(y, rate=run.front_end.sr)._repr_html_())
panels = plot_spectrogram_panels(spectrograms, titles, front_end=run.front_end, start_s=[span[1] for span in spans])
glue("search_hits", HTML(panel_gallery_html(panels, players, alt=titles)), display=False)
glue("search_query", f"{Path(query_span[0]).name} at {query_span[1]:.2f}-{query_span[2]:.2f} s", display=False)

# %% [markdown]
# The query is {glue:text}`search_query`:
#
# ```{glue:} search_hits
# ```
#
# The panels share one colour scale (magnitude in dB); times are those of each span in its recording.

# %%
# The report records the parameters; the chapter records what it measured (the speed is a timing, so here
# rather than in metrics.json).
record_stage(run_dir, "08_field", seconds=time.perf_counter() - stage_started,
             extra={"real_time_factor": round(real_time_factor, 1), "n_regions": int(scores["n_regions"]),
                    "n_events": int(scores["n_events"]), "index_seconds": round(index_seconds, 1),
                    "search_seconds": round(search_seconds, 1)})
