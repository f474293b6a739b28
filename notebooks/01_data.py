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
data_dir: str = ""  # folder-per-label recordings DIR/<label>/*.wav; empty: synthesise into the run directory
seed: int = 0  # random seed for the synthetic data and the split
synth_sessions: int = 8  # synthetic recording sessions, each with its own background
synth_signal_clips: int = 4  # synthetic clips per session of each signal class (whistle, burst, click)
synth_noise_clips: int = 8  # synthetic background-only clips per session
snr_db_min: float = 0.0  # lowest event signal-to-noise ratio in the band (dB)
snr_db_max: float = 20.0  # highest event signal-to-noise ratio in the band (dB)
sr: int = 48000  # sample rate of the analysis; recordings are resampled to it (Hz)
n_fft: int = 512  # Hann frame length (samples)
hop_length: int = 64  # frame step (samples)
fmin_hz: float = 4400.0  # lowest frequency of the band (Hz)
fmax_hz: float = 24000.0  # highest frequency of the band (Hz)
n_bins: int = 256  # frequency bins across the band
window_frames: int = 128  # frames per window
step_frames: int = 64  # frames between window starts
magnitude: str = "linear"  # "linear" (the seed's) or "log" (log1p of the magnitude)
normalization: str = "seed"  # "seed": (x - mean) / (std + 1) per window; "none"
channel: int = 0  # channel of multi-channel recordings to analyse (0 is the first)
min_duration_s: float = 0.0  # recordings shorter than this are skipped (s)
test_fraction: float = 0.25  # share of the windows, by recording, held out for testing

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Audio, display
from myst_nb import glue

from dolphin_ae.audio import load_audio
from dolphin_ae.dataset import build_window_dataset
from dolphin_ae.plots import plot_spectrogram, plot_window_grid
from dolphin_ae.runio import record_stage
from dolphin_ae.spectrogram import FrontEnd, band_spectrogram
from dolphin_ae.synth import synthesize_dataset

started = time.perf_counter()
run_dir = Path(run_dir)
front_end = FrontEnd(sr=sr, n_fft=n_fft, hop_length=hop_length, fmin_hz=fmin_hz, fmax_hz=fmax_hz, n_bins=n_bins,
                     window_frames=window_frames, step_frames=step_frames, magnitude=magnitude,
                     normalization=normalization)

# %% [markdown]
# ## Where the recordings come from
#
# With no `data_dir`, the run writes a synthetic data set: recording sessions, each with its own
# coloured ocean noise and snapping-shrimp rate, from which clips of four kinds are cut: whistles
# (frequency-modulated tones with harmonics), burst pulses (fast click trains), echolocation click
# trains, and background alone, the "silence" class. Each event is mixed into its session's
# background at a signal-to-noise ratio drawn between `snr_db_min` and `snr_db_max`, measured in the
# analysis band.

# %%
if data_dir:
    source = Path(data_dir)
    truth = None
else:
    source = run_dir / "data"
    truth = synthesize_dataset(
        source, n_sessions=synth_sessions, sr=sr, snr_db_range=(snr_db_min, snr_db_max), band_fmin_hz=fmin_hz,
        clips_per_label={"whistle": synth_signal_clips, "burst": synth_signal_clips, "click": synth_signal_clips,
                         "noise": synth_noise_clips},
        seed=seed,
    )
dataset = build_window_dataset(source, front_end=front_end, channel=channel, min_duration_s=min_duration_s,
                               test_fraction=test_fraction, seed=seed, progress=True)
dataset.save(run_dir)
print(f"{len(dataset.index)} windows from {dataset.index['file'].nunique()} files; {len(dataset.skipped)} skipped")

# %% [markdown]
# ## The front end
#
# Each frame of {glue:text}`n_fft` samples is Hann-windowed and zero-padded to a
# {glue:text}`fft_length`-point FFT, so that the {glue:text}`n_bins` kept bins span
# {glue:text}`band_low_hz:.0f`-{glue:text}`band_high_hz:.0f` Hz, the band the 2019 code kept at 48 kHz.
# A window is {glue:text}`window_frames` frames, {glue:text}`window_s:.3f` s, and windows start every
# {glue:text}`step_s:.3f` s.

# %%
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
# One clip of each class from the training recordings, as a spectrogram in decibels with a player
# to listen to it. Whistles draw narrow rising or falling lines with harmonics above them; burst
# pulses and echolocation trains draw vertical broadband stripes, dense for bursts and sparse for
# clicks; the background shows scattered shrimp snaps.

# %%
examples = dataset.index[dataset.index["split"] == "train"].groupby("label")["file"].first()
for label, file in examples.items():
    y = load_audio(source / file, sr=sr, channel=channel)
    figure = plot_spectrogram(band_spectrogram(y, FrontEnd(**{**front_end.to_dict(), "magnitude": "linear"})),
                              front_end=front_end)
    figure.axes[0].set_title(f"{label}: {file}", fontsize=9)
    glue(f"example_{label}", figure, display=False)
    display(figure)
    display(Audio(y, rate=sr))

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
counts

# %% [markdown]
# Files that could not be used are listed here with their reason, and in the run's `manifest.json`;
# this run skipped {glue:text}`n_skipped`.

# %%
pd.DataFrame(dataset.skipped, columns=["file", "reason"])

# %%
record_stage(run_dir, "01_data", seconds=time.perf_counter() - started,
             parameters={"data_dir": str(source), "seed": seed, "front_end": front_end.to_dict(),
                         "test_fraction": test_fraction, "channel": channel, "min_duration_s": min_duration_s},
             extra={"skipped_files": dataset.skipped, "n_windows": len(dataset.index)})
