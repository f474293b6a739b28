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
# # The data: recordings, spectrogram windows and a split by recording
#
# Everything the models see is a *window*: 128 spectrogram frames of 64 samples each (0.17 s at
# 48 kHz) by 256 frequency bins, normalised on its own as the 2019 study did. This chapter reads the
# recordings (or, by default, writes a synthetic data set whose truth we know), turns them into
# windows, and splits them into training and test sets **by recording**, so that no test window
# shares a background, a session or an animal with any training window. The 2019 study scored its
# silence detector on its own training windows; every number in this book comes from the test
# recordings.

# %% tags=["parameters"]
run_dir: str = "runs/dev"  # run directory: every artifact of this run is written here
data_dir: str = ""  # recordings (see data_layout); empty: synthesise into the run directory
data_layout: str = "auto"  # "folders" (DIR/<label>/*.wav), "annotations" (annotations.csv), "raven", or "auto"
label_column: str = ""  # Raven tables: column holding the labels; empty: Annotation, Label, Type, ...
min_event_overlap: float = 0.5  # share of a window (or of a shorter event) an annotated event must cover to label it
recording_pattern: str = ""  # regex whose first group names a file's recording; empty: the name before "__", else the file; DIR/recordings.csv overrides
seed: int = 0  # random seed for the synthetic data and the split
synth_mode: str = "clips"  # synthetic layout: "clips" (folder per label) or "recordings" (long, annotated)
synth_sessions: int = 8  # synthetic recording sessions, each with its own background
synth_signal_clips: int = 4  # clips mode: clips per session of each signal class (whistle, burst, click)
synth_noise_clips: int = 8  # clips mode: background-only clips per session
synth_recordings: int = 2  # recordings mode: recordings per session
synth_recording_s: float = 30.0  # recordings mode: duration of each recording (s)
synth_motifs: int = 4  # signature whistles planted in the synthetic data
synth_motif_fraction: float = 0.5  # share of synthetic whistles that are renditions of a signature whistle
synth_difficulty: bool = True  # synthetic data as hard as clip-labelled recordings; False: generator version 2
snr_db_min: float = -3.0  # lowest event signal-to-noise ratio in the band (dB)
snr_db_max: float = 15.0  # highest event signal-to-noise ratio in the band (dB)
sr: int = 48000  # sample rate of the analysis; recordings are resampled to it (Hz)
n_fft: int = 512  # Hann frame length (samples)
hop_length: int = 64  # frame step (samples)
fmin_hz: float = 4400.0  # lowest frequency of the band (Hz)
fmax_hz: float = 24000.0  # highest frequency of the band (Hz)
n_bins: int = 256  # frequency bins across the band
window_frames: int = 128  # frames per window
step_frames: int = 64  # frames between window starts
magnitude: str = "log"  # "linear" (the seed's), "log" (log1p of the magnitude) or "pcen" (per-channel energy norm.)
normalization: str = "seed"  # "seed": (x - mean) / (std + 1) per window; "none"
whitening: str = "recording_median"  # "recording_median": subtract each recording's median band profile before windowing; "none"
channel: int = 0  # channel of multi-channel recordings to analyse (0 is the first)
min_duration_s: float = 0.05  # recordings shorter than this are skipped; longer ones shorter than a window are padded (s)
pad_mode: str = "reflect"  # padding of clips shorter than a window: "reflect" (their own audio) or "zeros"
use_cache: bool = True  # reuse the windows cached in the run directory when inputs and parameters are unchanged
test_fraction: float = 0.25  # share of the windows, by recording, held out for testing

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Audio, display
from myst_nb import glue

from dolphin_ae.data.clips import scan_annotated_recordings
from dolphin_ae.data.dataset import build_window_dataset
from dolphin_ae.audio.examples import event_audio, example_events
from dolphin_ae.layout import RunLayout
from dolphin_ae.viz.plots import (panel_gallery_html, plot_annotated_spectrogram, plot_message, plot_spectrogram_panels,
                              plot_window_grid)
from dolphin_ae.runio import atomic_path, record_stage
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram
from dolphin_ae.constants import SILENCE_LABEL, TRUTH_FILE
from dolphin_ae.data.synth import DIFFICULTY_OFF, clip_counts, synthesize_dataset

started = time.perf_counter()
run_dir = Path(run_dir)
layout = RunLayout(run_dir)
front_end = FrontEnd(sr=sr, n_fft=n_fft, hop_length=hop_length, fmin_hz=fmin_hz, fmax_hz=fmax_hz, n_bins=n_bins,
                     window_frames=window_frames, step_frames=step_frames, magnitude=magnitude,
                     normalization=normalization, whitening=whitening)
linear_front_end = FrontEnd(**{**front_end.to_dict(), "magnitude": "linear"})

# %% [markdown]
# ## Where the recordings come from
#
# With no `data_dir`, the run writes a synthetic soundscape whose every event is known. Each recording
# session has its own background: coloured ocean noise, snapping shrimp at its own rate, and in some
# sessions a passing boat (engine tonals below the band, broadband propeller cavitation in it). Into it
# go whistles of six contour families (upsweep, downsweep, convex, concave, sinusoidal, multi-loop)
# with harmonics and amplitude envelopes, burst pulses (click trains 1.5-8 ms apart), and echolocation
# trains (20-120 ms apart, some ending in a buzz), each at a signal-to-noise ratio drawn between
# `snr_db_min` and `snr_db_max`, measured in the analysis band against the background under the event.
# A few *signature whistles* recur: fixed contours repeated with small variations among one-off
# whistles, the patterns the later chapters should discover. In `clips` mode each sound is its own
# clip in a folder named after its class (some clips hold a second, overlapping sound); in `recordings`
# mode the sounds fall at random times in long recordings, overlapping where they meet, listed in an
# `annotations.csv`.
#
# With `synth_difficulty` (the default) the data carry what clip-labelled field recordings carry. Half
# the whistles and burst pulses have an echolocation train over part of them, as pods echolocate while
# they whistle. Every clip is brought to its background's level plus a random offset of up to 10 dB
# either way, so noise clips are both quieter and louder than signal clips and loudness alone tells
# nothing. Each session has stationary hum bands and tonal lines of its own in the band, and snapping
# shrimp up to a crackle. A signal clip's main event fills only part of it: the clip keeps its folder's
# label, so a "whistle" clip has windows with only clicks or only background in them, while the truth
# table keeps every true event.
#
# Recordings of your own come in the same layouts: clips in `DIR/<label>/`, or long recordings with an
# `annotations.csv` (`file,start_s,end_s,label[,type]`) or Raven selection tables beside them.

# %%
if data_dir:
    source = Path(data_dir)
    truth_path = source / TRUTH_FILE
    truth = pd.read_csv(truth_path, keep_default_na=False, na_values={"snr_db": [""]}) if truth_path.exists() else None
else:
    source = layout.data
    truth = synthesize_dataset(
        source, mode=synth_mode, n_sessions=synth_sessions, sr=sr, snr_db_range=(snr_db_min, snr_db_max),
        band_fmin_hz=fmin_hz, n_motifs=synth_motifs, motif_fraction=synth_motif_fraction,
        clips_per_label=clip_counts(synth_signal_clips, synth_noise_clips),
        recordings_per_session=synth_recordings, recording_s=synth_recording_s, seed=seed,
        **({} if synth_difficulty else DIFFICULTY_OFF),
    )
if truth is not None:
    with atomic_path(layout.truth) as temporary:
        truth.to_csv(temporary, index=False)
windows_started = time.perf_counter()
dataset = build_window_dataset(source, front_end=front_end, channel=channel, min_duration_s=min_duration_s,
                               test_fraction=test_fraction, seed=seed, layout=data_layout,
                               min_event_overlap=min_event_overlap, label_column=label_column or None,
                               pad_mode=pad_mode, recording_pattern=recording_pattern or None,
                               cache_dir=layout.cache if use_cache else None, progress=True)
windows_seconds = time.perf_counter() - windows_started
dataset.save(run_dir)
print(f"{len(dataset.index)} windows from {dataset.index['file'].nunique()} files ({dataset.layout} layout) in "
      f"{windows_seconds:.1f} s; {len(dataset.skipped)} skipped")
print(f"{dataset.index['recording'].nunique()} recordings, assigned by {dataset.recording_rule}")
if dataset.recording_warning:
    display(Markdown(f"**Warning:** {dataset.recording_warning}"))

# %% [markdown]
# ## How windows get their labels
#
# This run read its recordings in the **{glue:text}`layout`** layout. In the folder layout every window
# of a clip takes its folder's label. In the annotated layouts a window is labelled by the events it
# overlaps: an event claims a window when it covers at least {glue:text}`min_event_overlap:.0%` of the
# window, or, for an event shorter than the window, when that share of the event lies inside it; the
# window takes the label whose claiming events cover most of it, and a window no event claims is
# `noise`, the silence class. Clips shorter than one window but longer than {glue:text}`min_duration_s`
# s are centred in one window and padded with their own audio mirrored at the edges
# ({glue:text}`n_padded` windows here): padding with digital silence would hand the models a cue
# (a dead-quiet stretch) that only short clips carry.

# %%
glue("layout", dataset.layout, display=False)
glue("min_event_overlap", min_event_overlap, display=False)
glue("min_duration_s", min_duration_s, display=False)
glue("n_padded", int(dataset.index["padded"].sum()), display=False)

# %% [markdown]
# ## The front end
#
# Each frame of {glue:text}`n_fft` samples is Hann-windowed and zero-padded to a
# {glue:text}`fft_length`-point FFT, so that the {glue:text}`n_bins` kept bins span
# {glue:text}`band_low_hz:.0f`-{glue:text}`band_high_hz:.0f` Hz, the band the 2019 code kept at 48 kHz.
# A window is {glue:text}`window_frames` frames, {glue:text}`window_s:.3f` s, and windows start every
# {glue:text}`step_s:.3f` s. {glue:text}`front_end_options` The book's defaults, the log magnitude and
# the recording-median whitening, are not the seed's (linear, no whitening): they are the front end of
# the row that `bench/ablation.py` chose on synthetic development sets, never on this run's
# recordings ({doc}`the ablation <09_ablation>` shows the table and the rule).

# %%
magnitude_words = {"linear": "the FFT's magnitude itself (the seed's)",
                   "log": "the logarithm of one plus the magnitude",
                   "pcen": "per-channel energy normalised (an automatic gain control per band)"}
glue("front_end_options",
     f"This run's magnitude is {magnitude_words[front_end.magnitude]}; "
     + ("each recording's median band profile (per bin, over all its frames) is subtracted before the frames "
        "are cut into windows, which takes out a background that is steady in each band."
        if front_end.whitening == "recording_median" else "the frames are not whitened."),
     display=False)
glue("n_fft", front_end.n_fft, display=False)
glue("fft_length", front_end.fft_length, display=False)
glue("n_bins", front_end.n_bins, display=False)
glue("band_low_hz", float(front_end.frequencies_hz()[0]), display=False)
glue("band_high_hz", float(front_end.frequencies_hz()[-1]), display=False)
glue("window_frames", front_end.window_frames, display=False)
glue("window_s", front_end.window_s, display=False)
glue("step_s", front_end.step_s, display=False)

# %% [markdown]
# ## What each class sounds and looks like
#
# One sound of each class from the training recordings, as spectrograms in decibels on a shared scale,
# each with its player below it. The example of each class is the one whose SNR sits at the upper quartile
# of its class: clear enough to see the shape, not the loudest. Whistles draw narrow frequency-modulated
# lines with harmonics above them; burst pulses and echolocation trains draw vertical broadband stripes,
# dense for bursts and sparse for clicks; the background shows shrimp snaps, which look like single
# clicks, and, where a boat passes, a raised broadband floor.

# %%
train_recordings = set(dataset.index.loc[dataset.index["split"] == "train", "recording"])


def show_examples(events, titles, name):
    """Glue as ``name`` a table of ``events``: each one's spectrogram with its audio player below it."""
    clips = [event_audio(source, event, sr=sr, channel=channel) for _, event in events.iterrows()]
    panels = plot_spectrogram_panels([band_spectrogram(y, linear_front_end) for y, _ in clips], titles,
                                     front_end=front_end, start_s=[start for _, start in clips])
    players = [Audio(y, rate=sr)._repr_html_() for y, _ in clips]
    glue(name, HTML(panel_gallery_html(panels, players, alt=titles)), display=False)


if truth is not None:
    class_examples = example_events(truth[truth["primary"]] if "primary" in truth else truth, by="label",
                                    recordings=train_recordings)
    class_titles = [f"{row.label} ({row.type}, {row.snr_db:.0f} dB)" if row.label != SILENCE_LABEL
                    else f"{SILENCE_LABEL} (background)"
                    for row in class_examples.itertuples()]
else:
    # Recordings without a truth table: the first training window of each label, with its context.
    firsts = dataset.index[dataset.index["split"] == "train"].groupby("label").head(1)
    class_examples = pd.DataFrame({"file": firsts["file"], "start_s": firsts["start_s"],
                                   "end_s": firsts["start_s"] + front_end.window_samples / sr,
                                   "label": firsts["label"]})
    class_titles = [f"{row.label}: {row.file}" for row in class_examples.itertuples()]
show_examples(class_examples, class_titles, "class_examples")

# %% [markdown]
# ```{glue:figure} class_examples
# :name: fig-class-examples
#
# One example of each class (title: class, type, SNR in the band), with 0.1 s of its recording on each
# side, and its player below it. Colour is the magnitude in dB, on one scale for all panels.
# ```

# %% [markdown]
# ### Whistle contour families and signature whistles
#
# Whistles differ most in the shape of their contour. Below, one whistle of each family, then three
# renditions of each planted signature whistle: the same contour each time, with small changes in
# duration, pitch and loudness. (Only for data with a truth table, such as the synthetic data.)

# %%
has_whistles = truth is not None and (truth["label"] == "whistle").any()
if has_whistles:
    whistles = truth[truth["label"] == "whistle"]
    family_examples = example_events(whistles[whistles["motif"] == ""], by="type", recordings=train_recordings)
    show_examples(family_examples, [f"{row.type} ({row.snr_db:.0f} dB)" for row in family_examples.itertuples()],
                  "family_examples")
    glue("n_motif_renditions", int((whistles["motif"] != "").sum()), display=False)
    glue("n_one_off_whistles", int((whistles["motif"] == "").sum()), display=False)
    glue("n_motifs", int(whistles.loc[whistles["motif"] != "", "motif"].nunique()), display=False)
else:
    glue("family_examples", plot_message("no truth table with whistle types: no contour families to show"),
         display=False)
    for name in ("n_motif_renditions", "n_one_off_whistles", "n_motifs"):
        glue(name, 0, display=False)

# %% [markdown]
# ```{glue:figure} family_examples
# :name: fig-family-examples
#
# One one-off whistle of each contour family, in dB on a shared scale. Multi-loop whistles repeat a loop
# with short silences; the fainter lines above each contour are its harmonics.
# ```

# %%
if has_whistles and (whistles["motif"] != "").any():
    renditions = example_events(whistles[whistles["motif"] != ""], by="motif", per_group=3, quantile=0.9)
    show_examples(renditions, [f"{row.motif}, {row.recording} ({row.snr_db:.0f} dB)"
                               for row in renditions.itertuples()], "motif_examples")
else:
    glue("motif_examples", plot_message("no signature whistles in the truth table"), display=False)

# %% [markdown]
# ```{glue:figure} motif_examples
# :name: fig-motif-examples
#
# Up to three renditions of each signature whistle (the title names the motif and the recording), in dB
# on a shared scale: the same contour returns with small changes in duration, pitch and loudness. The synthetic data hold {glue:text}`n_motif_renditions` renditions of
# {glue:text}`n_motifs` signature whistles among {glue:text}`n_one_off_whistles` one-off whistles.
# ```

# %% [markdown]
# ### A stretch of a long recording
#
# In annotated recordings, events come at their own pace and overlap. The bar under the spectrogram
# marks the annotated events (clips layout: one whole clip).

# %%
first_file = dataset.index["file"].iloc[0]
stretch_y = event_audio(source, {"file": first_file, "start_s": 0.0, "end_s": 10.0}, sr=sr, channel=channel,
                        context_s=0.0)[0]
if truth is not None:
    stretch_events = truth[truth["file"] == first_file]
elif dataset.layout == "folders":
    stretch_events = pd.DataFrame(columns=["start_s", "end_s", "label"])
else:
    annotated, _ = scan_annotated_recordings(source, layout=dataset.layout, label_column=label_column or None)
    stretch_events = next(clip.events for clip in annotated if clip.file == first_file)
figure = plot_annotated_spectrogram(band_spectrogram(stretch_y, linear_front_end), stretch_events,
                                    front_end=front_end)
glue("recording_stretch", figure, display=False)
display(Audio(stretch_y, rate=sr))

# %% [markdown]
# ```{glue:figure} recording_stretch
# :name: fig-recording-stretch
#
# The first ten seconds (at most) of one recording, in dB, with its annotated events as coloured bars at
# the bottom, one lane per class. Shrimp snaps and boat noise are part of the background, not events.
# ```

# %% [markdown]
# The model sees normalised windows, not whole clips. Below, the first training window of each class
# after normalisation, on one shared colour scale.

# %%
first_windows = dataset.index[dataset.index["split"] == "train"].groupby("label").head(1)
figure = plot_window_grid(dataset.windows[first_windows.index.to_numpy()],
                          [f"{row.label} ({row.file.split('/')[-1]})" for row in first_windows.itertuples()],
                          front_end=front_end)
glue("window_grid", figure, display=False)

# %% [markdown]
# ```{glue:figure} window_grid
# :name: fig-window-grid
#
# One normalised window (0.17 s) of each class. Colour is the window's magnitude after subtracting its
# mean and dividing by its standard deviation plus one; structure, not loudness, is what is left.
# ```
#
# ## The split by recording
#
# The table counts windows per class in each split. Train and test share no recording:
# {glue:text}`n_train_recordings` recordings train, {glue:text}`n_test_recordings` others test.

# %%
counts = dataset.index.pivot_table(index="label", columns="split", values="file", aggfunc="count", fill_value=0)
counts.loc["all"] = counts.sum()
recordings = dataset.index.groupby("split")["recording"].unique()
shared = set(recordings.get("train", [])) & set(recordings.get("test", []))
assert not shared, f"recordings in both splits: {shared}"
glue("n_train_recordings", len(recordings["train"]), display=False)
glue("n_test_recordings", len(recordings["test"]), display=False)
glue("n_windows", len(dataset.index), display=False)
glue("n_skipped", len(dataset.skipped), display=False)
glue("windows_seconds", windows_seconds, display=False)
counts

# %% [markdown]
# Turning the recordings into windows took {glue:text}`windows_seconds:.1f` s. The windows are cached
# in the run directory (a memory-mapped file keyed by the front end's parameters and the files' paths,
# sizes and modification times), so a re-run over the same recordings skips the work.
#
# Files that could not be used are listed here with their reason, and in the run's `manifest.json`;
# this run skipped {glue:text}`n_skipped`.

# %%
pd.DataFrame(dataset.skipped, columns=["file", "reason"])

# %%
# The report records the parameters; the chapter records what it found and measured.
record_stage(run_dir, "01_data", seconds=time.perf_counter() - started,
             extra={"data_source": str(source), "front_end": front_end.to_dict(),
                    "skipped_files": dataset.skipped, "n_windows": len(dataset.index), "layout": dataset.layout,
                    "n_recordings": int(dataset.index["recording"].nunique()),
                    "recording_rule": dataset.recording_rule, "recording_warning": dataset.recording_warning,
                    "windows_seconds": round(windows_seconds, 2),
                    "truth_file": str(layout.truth) if truth is not None else None})
