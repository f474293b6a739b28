"""The synthetic data's difficulty knobs: what clip-labelled recordings carry, each with known truth."""

import json

import numpy as np
import pytest
import soundfile
from scipy.signal import welch
from sklearn.metrics import roc_auc_score

from dolphin_ae.audio.spectrogram import FrontEnd, n_windows_of, window_start_s
from dolphin_ae.data.synth import DIFFICULTY_OFF, PARAMETERS_FILE, clip_counts, make_clip, synthesize_dataset
from dolphin_ae.data.synth_background import band_gain, draw_session_bands
from dolphin_ae.data.synth_sounds import Session, background, band_power
from dolphin_ae.exceptions import ParameterError

SR = 48000
FMIN = 4400.0
SESSION = Session("s", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=20.0)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """The same seed and sizes with the knobs on (the defaults) and off."""
    root = tmp_path_factory.mktemp("difficulty")
    sets = {}
    for name, knobs in (("on", {}), ("off", DIFFICULTY_OFF)):
        truth = synthesize_dataset(root / name, n_sessions=6, clips_per_label=clip_counts(4, 8), seed=5, **knobs)
        sets[name] = (root / name, truth)
    return sets


def _overlaps(a_start, a_end, b_start, b_end):
    return a_start < b_end and b_start < a_end


def _clip_band_levels(folder, primary):
    levels = []
    for file in primary["file"]:
        y, sr = soundfile.read(str(folder / file), dtype="float64")
        levels.append(10 * np.log10(band_power(y, sr, FMIN)))
    return np.array(levels)


# ------------------------------------------------------------------------------ clicks over whistles

@pytest.mark.parametrize("label", ["whistle", "burst"])
def test_a_click_train_lies_over_part_of_the_event(label):
    def clip(probability):
        return make_clip(label, SESSION, sr=SR, snr_db=10.0, duration_s=0.9, band_fmin_hz=FMIN,
                         rng=np.random.default_rng(4), extra_rng=np.random.default_rng(9),
                         click_overlap_probability=probability, snr_db_range=(0.0, 5.0))

    plain, plain_truth = clip(0.0)
    accompanied, truth = clip(1.0)
    assert isinstance(plain_truth, dict) and len(truth) == 2
    own, clicks = truth
    assert own == plain_truth and clicks["label"] == "click" and clicks["type"].startswith("echolocation")
    assert 0.0 <= clicks["snr_db"] <= 5.0
    assert _overlaps(own["start_s"], own["end_s"], clicks["start_s"], clicks["end_s"])
    # The extra stream draws the train alone: the difference of the two clips is the train, inside its span.
    added = np.flatnonzero(np.abs(accompanied - plain) > 1e-9)
    assert added.size > 0
    assert clicks["start_s"] * SR <= added[0] and added[-1] < clicks["end_s"] * SR


def test_half_the_whistle_and_burst_clips_carry_clicks_within_the_whistle(datasets):
    for name, expected in (("on", (0.3, 0.75)), ("off", (0.0, 0.2))):
        _, truth = datasets[name]
        primary = truth[truth["primary"]].set_index("file")
        extra = truth[~truth["primary"] & (truth["label"] == "click")]
        for label in ("whistle", "burst"):
            files = primary.index[primary["label"] == label]
            with_clicks = {r.file for r in extra.itertuples() if r.file in files and _overlaps(
                primary.at[r.file, "start_s"], primary.at[r.file, "end_s"], r.start_s, r.end_s)}
            share = len(with_clicks) / len(files)
            assert expected[0] <= share <= expected[1], (name, label, share)


def test_recordings_mode_accompanies_whistles_with_clicks(tmp_path):
    truth = synthesize_dataset(tmp_path, mode="recordings", n_sessions=1, recordings_per_session=1, recording_s=20.0,
                               events_per_minute={"whistle": 30, "burst": 0, "click": 0}, click_overlap_probability=1.0,
                               seed=3)
    whistles, clicks = truth[truth["label"] == "whistle"], truth[truth["label"] == "click"]
    assert len(whistles) == len(clicks) > 0  # no click train was planned: each accompanies a whistle
    for whistle, click in zip(whistles.itertuples(), clicks.itertuples()):
        assert _overlaps(whistle.start_s, whistle.end_s, click.start_s, click.end_s)


# -------------------------------------------------------------------------------- loudness is no cue

def test_a_clip_is_brought_to_its_background_level_plus_the_offset():
    session = Session("s", noise_alpha=1.2, level_db=-30.0, shrimp_per_s=20.0, boat_level_db=4.0)
    for label in ("noise", "whistle", "click"):
        y, _ = make_clip(label, session, sr=SR, snr_db=12.0, duration_s=0.6, band_fmin_hz=FMIN,
                         rng=np.random.default_rng(2), extra_rng=np.random.default_rng(3), level_offset_db=-6.0)
        clean = background(y.shape[0], SR, session, np.random.default_rng(2))
        assert 10 * np.log10(band_power(y, SR, FMIN) / band_power(clean, SR, FMIN)) == pytest.approx(-6.0, abs=1e-6)


def test_clip_levels_tell_noise_from_signal_no_better_than_chance(datasets):
    aucs = {}
    for name, (folder, truth) in datasets.items():
        primary = truth[truth["primary"]].reset_index(drop=True)
        levels = _clip_band_levels(folder, primary)
        relative = levels - primary.assign(level=levels).groupby("recording")["level"].transform("median").to_numpy()
        is_signal = (primary["label"] != "noise").to_numpy()
        aucs[name] = (roc_auc_score(is_signal, levels), roc_auc_score(is_signal, relative))
        noise, signal = levels[~is_signal], levels[is_signal]
        if name == "on":  # noise clips both quieter and louder than signal clips
            assert noise.min() < np.percentile(signal, 10) and noise.max() > np.percentile(signal, 90)
    # Measured at seed 5: about 0.45 / 0.47 with the knobs on; 0.69 / 0.87 off (signal clips are louder).
    assert all(0.35 <= auc <= 0.65 for auc in aucs["on"]), aucs
    assert aucs["off"][1] > 0.8, aucs


# ------------------------------------------------------------------------- per-session backgrounds

def test_session_bands_raise_the_spectrum_where_they_lie():
    bands = ((9000.0, 1000.0, 12.0), (15000.0, 50.0, 9.0))
    plain = Session("p", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=0.0)
    banded = Session("b", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=0.0, bands=bands)
    n = 4 * SR
    without = background(n, SR, plain, np.random.default_rng(0))
    with_bands = background(n, SR, banded, np.random.default_rng(0))
    freqs, p_without = welch(without, SR, nperseg=4096)
    _, p_with = welch(with_bands, SR, nperseg=4096)
    ratio = p_with / p_without
    away_from_line = np.abs(freqs - 15000.0) > 100.0  # the 50 Hz line spreads over Welch's 12 Hz bins
    np.testing.assert_allclose(ratio[away_from_line], band_gain(freqs, bands)[away_from_line], rtol=0.2, atol=0.3)
    at = lambda hz: ratio[np.argmin(np.abs(freqs - hz))]  # noqa: E731
    assert at(9000) == pytest.approx(1 + 10 ** 1.2, rel=0.2) and at(15000) > 3
    assert at(12000) == pytest.approx(1, abs=0.05)


def test_drawn_session_bands_lie_in_the_band():
    rng = np.random.default_rng(1)
    for _ in range(20):
        bands = draw_session_bands(rng, level_db_range=(3.0, 15.0), fmin_hz=FMIN, fmax_hz=SR / 2)
        assert 1 <= len(bands) <= 6
        for centre, width, level in bands:
            assert FMIN <= centre - width / 2 and centre + width / 2 <= SR / 2 and 3.0 <= level <= 15.0


def _noise_profiles(folder, truth):
    noise = truth[truth["label"] == "noise"]
    profiles = []
    for file in noise["file"]:
        y, sr = soundfile.read(str(folder / file), dtype="float64")
        freqs, power = welch(y, sr, nperseg=512)
        log_power = 10 * np.log10(power[freqs >= FMIN])
        profiles.append(log_power - log_power.mean())  # the shape of the spectrum, not its level
    return np.array(profiles), noise["recording"].to_numpy()


def test_sessions_have_background_spectra_of_their_own(datasets):
    ratios = {}
    for name, (folder, truth) in datasets.items():
        profiles, sessions = _noise_profiles(folder, truth)
        medians = {s: np.median(profiles[sessions == s], axis=0) for s in np.unique(sessions)}
        within = np.mean([np.sqrt(np.mean((p - medians[s]) ** 2)) for p, s in zip(profiles, sessions)])
        names = sorted(medians)
        between = np.mean([np.sqrt(np.mean((medians[a] - medians[b]) ** 2))
                           for i, a in enumerate(names) for b in names[i + 1:]])
        ratios[name] = between / within
    # The median band profiles of two sessions differ more than one clip's from its own session's; the
    # stationary bands make the sessions' spectra differ more than their slopes alone did.
    assert ratios["on"] > 1.5 and ratios["on"] > ratios["off"], ratios


# --------------------------------------------------------------------------- window-level label noise

def _window_coverage(folder, truth, front_end, label):
    """Per window of every ``label`` clip: (share covered by the clip's own event, share covered by clicks
    that accompany it)."""
    window_s = ((front_end.window_frames - 1) * front_end.hop_length + front_end.n_fft) / front_end.sr
    rows = []
    for file, events in truth[truth["file"].str.startswith(f"{label}/")].groupby("file"):
        n = soundfile.info(str(folder / file)).frames
        for start in window_start_s(max(1, n_windows_of(n, front_end)), front_end):
            cover = {"own": 0.0, "click": 0.0}
            for event in events.itertuples():
                kind = "own" if event.primary else event.label
                if kind in cover:
                    overlap = min(start + window_s, event.end_s) - max(start, event.start_s)
                    cover[kind] = max(cover[kind], max(0.0, overlap) / window_s)
            rows.append((cover["own"], cover["click"]))
    return np.array(rows)


def test_signal_clips_have_windows_without_their_signal(datasets):
    front_end = FrontEnd()
    shares = {}
    for name, (folder, truth) in datasets.items():
        for label in ("whistle", "burst", "click"):
            coverage = _window_coverage(folder, truth, front_end, label)
            without = coverage[:, 0] < 0.5
            shares[name, label] = without.mean()
            if name == "on" and label == "whistle":
                assert np.any(without & (coverage[:, 1] >= 0.5))  # windows with only clicks in them
                assert np.any(without & (coverage[:, 1] == 0))  # and with only background
        primary = truth[truth["primary"]]
        assert (primary["label"] == primary["file"].str.split("/").str[0]).all()  # clips keep their folder's label
    # Measured at seed 5, share of windows holding less than half a window of the clip's own event, on /
    # off: whistle 0.27 / 0.25 (one-off whistles were already shorter than their clips; signature
    # whistles keep their length), burst 0.25 / 0.00, click 0.27 / 0.00 (they filled their clips).
    assert shares["on", "whistle"] > 0.2 and shares["on", "whistle"] >= shares["off", "whistle"], shares
    for label in ("burst", "click"):
        assert shares["on", label] > 0.15 and shares["off", label] < 0.05, shares


def test_the_main_event_fills_at_most_its_share_of_the_clip():
    for label in ("whistle", "burst", "click"):
        _, truth = make_clip(label, SESSION, sr=SR, snr_db=5.0, duration_s=1.0, band_fmin_hz=FMIN,
                             rng=np.random.default_rng(6), event_share=0.4)
        assert truth["end_s"] - truth["start_s"] <= 0.4 * 0.98 + 1e-9, label


# ---------------------------------------------------------------------------- parameters and reuse

@pytest.mark.parametrize("knob, value, message", [
    ("click_overlap_probability", 1.5, "click_overlap_probability"),
    ("clip_level_db_range", (5.0, -5.0), "clip_level_db_range"),
    ("clip_level_db_range", (0.0, np.inf), "clip_level_db_range"),
    ("session_band_db_range", (3.0,), "session_band_db_range"),
    ("event_share_range", (0.0, 1.0), "event_share_range"),
    ("event_share_range", (0.5, 1.5), "event_share_range"),
    ("shrimp_per_s_range", (-1.0, 5.0), "shrimp_per_s_range"),
])
def test_difficulty_knobs_are_checked(tmp_path, knob, value, message):
    with pytest.raises(ParameterError, match=message):
        synthesize_dataset(tmp_path, **{knob: value})
    assert not any(tmp_path.iterdir())  # checked before anything is written


def test_a_folder_written_with_other_knobs_is_rewritten(tmp_path):
    counts = {"whistle": 1, "noise": 1}
    synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=1, **DIFFICULTY_OFF)
    first = tmp_path / "whistle" / "session000__whistle_000.wav"
    easy = soundfile.read(str(first))[0]
    synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=1)
    assert not np.array_equal(soundfile.read(str(first))[0], easy)
    record = json.loads((tmp_path / PARAMETERS_FILE).read_text())["parameters"]
    assert record["version"] == 3 and record["click_overlap_probability"] == 0.5
    # A folder of the version-2 generator (no knobs in its record) is never taken for this one.
    record = {k: v for k, v in record.items() if k not in DIFFICULTY_OFF} | {"version": 2}
    (tmp_path / PARAMETERS_FILE).write_text(json.dumps({"parameters": record, "files": []}))
    stamp = first.stat().st_mtime_ns
    synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=1)
    assert first.stat().st_mtime_ns != stamp
