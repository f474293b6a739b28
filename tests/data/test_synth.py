import numpy as np
import pandas as pd
import pytest
import soundfile

from dolphin_ae.constants import LABELS
from dolphin_ae.data.annotations import read_annotations_csv
from dolphin_ae.data.synth import DIFFICULTY_OFF, TRUTH_COLUMNS, clip_counts, make_clip, synthesize_dataset
from dolphin_ae.data.synth_sounds import (
    WHISTLE_CONTOURS,
    Session,
    background,
    band_power,
    click_train,
    draw_whistle_shape,
    make_motif_bank,
    render_whistle,
    vary_whistle_shape,
    whistle,
    whistle_contour,
)
from dolphin_ae.exceptions import ParameterError

SR = 48000


def test_writes_folder_per_label_with_truth(tmp_path):
    counts = {"whistle": 2, "burst": 1, "click": 1, "noise": 3}
    truth = synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=3)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    primary = truth[truth["primary"]]
    assert len(primary) == 2 * sum(counts.values()) and primary["file"].is_unique
    assert set(truth["label"]) == set(LABELS)
    assert primary.groupby("label").size().to_dict() == {k: 2 * v for k, v in counts.items()}
    for row in truth.itertuples():
        path = tmp_path / row.file
        assert path.name.startswith(f"{row.recording}__")
        info = soundfile.info(str(path))
        assert info.samplerate == SR and 0 <= row.start_s < row.end_s <= info.duration + 1e-9
        if row.primary:
            assert path.parent.name == row.label
    assert not (tmp_path / "annotations.csv").exists()  # clip mode stays in the folder-per-label layout
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "truth.csv", keep_default_na=False,
                                              na_values={"snr_db": [""]}), truth, check_dtype=False)


def test_same_seed_same_files(tmp_path):
    counts = {"whistle": 1, "noise": 1}
    synthesize_dataset(tmp_path / "a", n_sessions=2, clips_per_label=counts, seed=7)
    synthesize_dataset(tmp_path / "b", n_sessions=2, clips_per_label=counts, seed=7)
    synthesize_dataset(tmp_path / "c", n_sessions=2, clips_per_label=counts, seed=8)

    def samples(run, file):
        return soundfile.read(str(tmp_path / run / file))[0]

    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.wav"))
    for file in files:
        np.testing.assert_array_equal(samples("a", file), samples("b", file))
    assert not np.array_equal(samples("a", files[0])[:1000], samples("c", files[0])[:1000])


def test_same_parameters_reuse_the_files_other_parameters_replace_them(tmp_path):
    counts = {"whistle": 1, "noise": 1}
    synthesize_dataset(tmp_path, n_sessions=3, clips_per_label=counts, seed=1)
    first = tmp_path / "whistle" / "session002__whistle_000.wav"
    stamp = first.stat().st_mtime_ns
    synthesize_dataset(tmp_path, n_sessions=3, clips_per_label=counts, seed=1)
    assert first.stat().st_mtime_ns == stamp
    truth = synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=1)
    assert not first.exists()  # the earlier, larger set's files are gone
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.wav")) == sorted(truth["file"].unique())


def test_recording_mode_writes_annotations_in_the_design_format(tmp_path):
    truth = synthesize_dataset(tmp_path, mode="recordings", n_sessions=2, recordings_per_session=2, recording_s=12.0,
                               events_per_minute={"whistle": 30, "burst": 10, "click": 10}, seed=0)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    files = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert files == [f"session{s:03d}__rec{k:02d}.wav" for s in range(2) for k in range(2)]
    for file in files:
        assert soundfile.info(str(tmp_path / file)).duration == pytest.approx(12.0)
    annotations = read_annotations_csv(tmp_path / "annotations.csv")
    assert len(annotations) == len(truth) and set(annotations["label"]) == {"whistle", "burst", "click"}
    np.testing.assert_allclose(annotations["start_s"], truth["start_s"], atol=1e-5)
    assert (truth["end_s"] <= 12.0).all() and (truth["end_s"] > truth["start_s"]).all()
    # Events fall at random times, so some overlap one another.
    overlaps = 0
    for _, events in truth.groupby("file"):
        events = events.sort_values("start_s")
        overlaps += int((events["start_s"].to_numpy()[1:] < np.maximum.accumulate(events["end_s"].to_numpy())[:-1]).sum())
    assert overlaps > 0


def test_signature_whistles_recur_among_one_off_whistles(tmp_path):
    truth = synthesize_dataset(tmp_path, mode="recordings", n_sessions=6, recordings_per_session=1, recording_s=30.0,
                               n_motifs=3, motif_fraction=0.5, seed=2)
    whistles = truth[truth["label"] == "whistle"]
    renditions = whistles[whistles["motif"] != ""]
    assert set(renditions["motif"]) == {"sig01", "sig02", "sig03"}
    assert (renditions.groupby("motif")["recording"].nunique() >= 2).all()
    assert 0.3 < len(renditions) / len(whistles) < 0.7
    assert (truth.loc[truth["label"] != "whistle", "motif"] == "").all()
    # Renditions of one motif share its family and nearly its duration (but for one cut by the end of
    # its recording).
    for _, group in renditions.groupby("motif"):
        assert group["type"].nunique() == 1
        whole = group[group["end_s"] < 30.0 - 1e-6]
        durations = whole["end_s"] - whole["start_s"]
        assert durations.std() / durations.mean() < 0.1


def test_renditions_vary_a_little_motifs_differ_a_lot():
    bank = make_motif_bank(4, np.random.default_rng(0))
    assert list(bank) == ["sig01", "sig02", "sig03", "sig04"]
    assert len({shape.family for shape in bank.values()}) == 4

    def contour(shape):
        f0, _ = whistle_contour(shape, SR)
        return np.interp(np.linspace(0, len(f0) - 1, 200), np.arange(len(f0)), f0)

    rng = np.random.default_rng(1)
    for motif, shape in bank.items():
        reference = contour(shape)
        for _ in range(5):
            rendition = contour(vary_whistle_shape(shape, rng))
            within = np.median(np.abs(rendition - reference) / reference)
            assert within < 0.06, motif
        for other, other_shape in bank.items():
            if other != motif:
                assert np.median(np.abs(contour(other_shape) - reference) / reference) > within


@pytest.mark.parametrize("family", WHISTLE_CONTOURS)
def test_every_contour_family(family):
    rng = np.random.default_rng(3)
    shape = draw_whistle_shape(rng, family=family)
    f0, sounding = whistle_contour(shape, SR)
    y = render_whistle(shape, SR, rng)
    assert y.shape == f0.shape and np.isfinite(y).all()
    assert 4400 < f0.min() and f0.max() <= 21000
    voiced = f0[sounding]
    quarter = len(voiced) // 4
    if family == "upsweep":
        assert voiced[-quarter:].mean() > voiced[:quarter].mean() + 1000
    if family == "downsweep":
        assert voiced[-quarter:].mean() < voiced[:quarter].mean() - 1000
    if family == "convex":
        assert voiced[len(voiced) // 2] > max(voiced[0], voiced[-1]) + 1000
    if family == "concave":
        assert voiced[len(voiced) // 2] < min(voiced[0], voiced[-1]) - 1000
    if family == "multiloop":
        assert shape.loops >= 2
        starts = np.flatnonzero(np.diff(sounding.astype(int)) == 1)
        assert len(starts) == shape.loops - 1  # a gap of silence before every loop after the first
        assert np.all(y[~sounding] == 0)
    if family == "sinusoidal":
        crossings = np.sum(np.diff(np.sign(voiced - voiced.mean())) != 0)
        assert crossings >= 2


def test_whistle_stays_in_band():
    y, family = whistle(0.5, SR, np.random.default_rng(2), family="upsweep")
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    assert family == "upsweep"
    assert 4400 < freqs[np.argmax(spectrum)] < 21000


@pytest.mark.parametrize("ici_range", [(0.0015, 0.008), (0.02, 0.12)])
def test_click_train_intervals(ici_range):
    y = click_train(1.5, SR, np.random.default_rng(4), ici_s_range=ici_range, sigma_s_range=(2e-5, 2e-5))
    envelope = np.abs(y)
    peaks = [i for i in range(1, len(y) - 1) if envelope[i] > 0.3 and envelope[i] == envelope[max(0, i - 40):i + 40].max()]
    intervals = np.diff(peaks) / SR
    # The mean interval drifts by at most -40 %..+30 % and each one by 10 %.
    assert ici_range[0] * 0.5 < np.median(intervals) < ici_range[1] * 1.5
    buzz = click_train(1.5, SR, np.random.default_rng(4), ici_s_range=(0.05, 0.06), buzz_probability=1.0)
    buzz_peaks = np.flatnonzero(np.abs(buzz[int(1.2 * SR):]) > 0.3)
    assert len(buzz_peaks) > 0 and np.median(np.diff(np.unique(buzz_peaks // int(0.002 * SR)))) * 0.002 < 0.012


def test_boat_noise_is_mostly_low_frequency():
    quiet = Session("q", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=0.0)
    boat = Session("b", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=0.0, boat_level_db=10.0,
                   boat_fundamental_hz=90.0)
    n = 2 * SR
    without = background(n, SR, quiet, np.random.default_rng(0))
    with_boat = background(n, SR, boat, np.random.default_rng(0))
    low_gain = band_power(with_boat, SR, 0.0) / band_power(without, SR, 0.0)
    assert low_gain > 3  # the boat dominates the whole spectrum ...
    assert band_power(with_boat, SR, 4400.0) > band_power(without, SR, 4400.0)  # ... and raises the band too


@pytest.mark.parametrize("label", ["whistle", "burst", "click"])
@pytest.mark.parametrize("snr_db", [0.0, 15.0])
def test_event_snr_in_band_is_as_asked(label, snr_db):
    session = Session("s", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=20.0, boat_level_db=5.0)
    fmin = 4400.0
    y, truth = make_clip(label, session, sr=SR, snr_db=snr_db, duration_s=0.8, band_fmin_hz=fmin,
                         rng=np.random.default_rng(1))
    # The same background, regenerated from the same generator state, isolates the event.
    bg = background(int(0.8 * SR), SR, session, np.random.default_rng(1))
    span = slice(int(round(truth["start_s"] * SR)), int(round(truth["end_s"] * SR)))
    measured = 10 * np.log10(band_power((y - bg)[span], SR, fmin) / band_power(bg[span], SR, fmin))
    assert measured == pytest.approx(snr_db, abs=0.01)
    assert truth["snr_db"] == snr_db and truth["type"] and truth["motif"] == ""


def test_overlapping_second_event_in_clip_mode():
    session = Session("s", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=20.0)
    _, truth = make_clip("whistle", session, sr=SR, snr_db=10.0, duration_s=0.8, band_fmin_hz=4400.0,
                         rng=np.random.default_rng(0), overlap_probability=1.0, snr_db_range=(0.0, 5.0))
    assert isinstance(truth, list) and len(truth) == 2
    assert truth[1]["label"] in ("burst", "click") and 0.0 <= truth[1]["snr_db"] <= 5.0


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="unknown labels"):
        synthesize_dataset(tmp_path, clips_per_label={"song": 1})
    with pytest.raises(ParameterError, match="n_sessions"):
        synthesize_dataset(tmp_path, n_sessions=0)
    with pytest.raises(ParameterError, match="mode"):
        synthesize_dataset(tmp_path, mode="tape")
    with pytest.raises(ParameterError, match="motif_fraction"):
        synthesize_dataset(tmp_path, motif_fraction=1.5)
    with pytest.raises(ParameterError, match="family"):
        draw_whistle_shape(np.random.default_rng(0), family="trill")


def test_clip_counts_follow_the_label_order():
    assert list(clip_counts(2, 5).items()) == [("whistle", 2), ("burst", 2), ("click", 2), ("noise", 5)]


def _fingerprint(folder, truth):
    files = {}
    for file in sorted(truth["file"].unique()):
        y, _ = soundfile.read(str(folder / file), dtype="float64")
        files[file] = (y.shape[0], float(np.sqrt(np.mean(y ** 2))))
    events = [(r.file, r.label, r.type, r.start_s, r.end_s, None if np.isnan(r.snr_db) else r.snr_db, r.motif)
              for r in truth.itertuples()]
    return files, events


def _assert_fingerprint(folder, truth, files, events):
    got_files, got_events = _fingerprint(folder, truth)
    assert list(got_files) == list(files)
    for file, (frames, rms) in files.items():
        assert got_files[file][0] == frames and got_files[file][1] == pytest.approx(rms, rel=1e-5), file
    assert len(got_events) == len(events)
    for got, expected in zip(got_events, events):
        assert got[:3] + got[-1:] == expected[:3] + expected[-1:]
        assert got[3:6] == pytest.approx(expected[3:6], abs=1e-4), got


def test_data_sets_stay_as_they_were(tmp_path):
    """The generator draws its random numbers in a fixed order: the same seed writes the same data
    sets as before, so that the report's synthetic data do not change under a refactor. With the
    difficulty knobs off (DIFFICULTY_OFF) the numbers below are those of GENERATOR_VERSION 2: the
    knobs draw from a stream of their own, so turning them off gives back the old data exactly."""
    truth = synthesize_dataset(tmp_path / "clips", n_sessions=2, clips_per_label=clip_counts(1, 1),
                               clip_s_range=(0.25, 0.5), n_motifs=2, overlap_probability=0.5, seed=11,
                               **DIFFICULTY_OFF)
    _assert_fingerprint(tmp_path / "clips", truth, {
        "burst/session000__burst_000.wav": (16423, 0.0726578), "burst/session001__burst_000.wav": (22690, 0.0238961),
        "click/session000__click_000.wav": (18239, 0.0284302), "click/session001__click_000.wav": (21036, 0.0185548),
        "noise/session000__noise_000.wav": (16208, 0.0368241), "noise/session001__noise_000.wav": (12797, 0.0170896),
        "whistle/session000__whistle_000.wav": (18670, 0.0361261),
        "whistle/session001__whistle_000.wav": (23957, 0.0191929),
    }, [
        ("whistle/session000__whistle_000.wav", "whistle", "concave", 0.017396, 0.275875, 0.9586, ""),
        ("burst/session000__burst_000.wav", "burst", "burst_pulse", 0.01, 0.332146, 10.392, ""),
        ("burst/session000__burst_000.wav", "whistle", "convex", 0.037833, 0.255292, 9.0607, ""),
        ("click/session000__click_000.wav", "click", "echolocation_buzz", 0.01, 0.369979, 6.5389, ""),
        ("noise/session000__noise_000.wav", "noise", "background", 0.0, 0.337667, None, ""),
        ("whistle/session001__whistle_000.wav", "whistle", "sinusoidal", 0.073083, 0.488417, 4.4049, ""),
        ("whistle/session001__whistle_000.wav", "click", "echolocation", 0.012812, 0.487625, 13.9967, ""),
        ("burst/session001__burst_000.wav", "burst", "burst_pulse", 0.01, 0.462708, 7.9889, ""),
        ("burst/session001__burst_000.wav", "whistle", "sinusoidal", 0.096354, 0.386792, 7.5662, ""),
        ("click/session001__click_000.wav", "click", "echolocation", 0.01, 0.42825, -2.6875, ""),
        ("click/session001__click_000.wav", "burst", "burst_pulse", 0.018042, 0.423354, 2.9832, ""),
        ("noise/session001__noise_000.wav", "noise", "background", 0.0, 0.266604, None, ""),
    ])
    truth = synthesize_dataset(tmp_path / "recordings", mode="recordings", n_sessions=1, recordings_per_session=1,
                               recording_s=4.0, events_per_minute={"whistle": 45, "burst": 15, "click": 15},
                               n_motifs=2, seed=11, **DIFFICULTY_OFF)
    _assert_fingerprint(tmp_path / "recordings", truth, {"session000__rec00.wav": (192000, 0.039723)}, [
        ("session000__rec00.wav", "whistle", "multiloop", 0.279187, 1.126354, -1.735, ""),
        ("session000__rec00.wav", "click", "echolocation", 1.273792, 1.973396, 1.0789, ""),
        ("session000__rec00.wav", "whistle", "convex", 1.353958, 1.797458, 6.3368, ""),
        ("session000__rec00.wav", "whistle", "upsweep", 1.435021, 1.726854, -2.7258, "sig02"),
        ("session000__rec00.wav", "whistle", "concave", 1.650521, 2.783333, -3.0, ""),
        ("session000__rec00.wav", "whistle", "upsweep", 2.751208, 3.047438, 8.1957, "sig02"),
        ("session000__rec00.wav", "whistle", "upsweep", 2.769312, 3.0705, 9.1538, "sig02"),
        ("session000__rec00.wav", "whistle", "convex", 3.590229, 3.923583, 7.8099, ""),
    ])


def test_difficult_data_sets_stay_as_they_were(tmp_path):
    """The same guard for the defaults, the difficulty knobs on (numbers of GENERATOR_VERSION 3, pinned
    deliberately when the knobs came in): clicks over whistles and bursts (the extra ``click`` rows),
    clip levels, session bands, main events over part of a clip, shrimp rates up to 300/s."""
    truth = synthesize_dataset(tmp_path / "clips", n_sessions=2, clips_per_label=clip_counts(1, 1),
                               clip_s_range=(0.25, 0.5), n_motifs=2, overlap_probability=0.5, seed=11)
    _assert_fingerprint(tmp_path / "clips", truth, {
        "burst/session000__burst_000.wav": (22668, 0.03256861), "burst/session001__burst_000.wav": (16825, 0.009728053),
        "click/session000__click_000.wav": (17004, 0.02352426), "click/session001__click_000.wav": (14683, 0.0100443),
        "noise/session000__noise_000.wav": (18752, 0.01828902), "noise/session001__noise_000.wav": (14762, 0.01257329),
        "whistle/session000__whistle_000.wav": (18670, 0.0326803),
        "whistle/session001__whistle_000.wav": (16307, 0.0139273),
    }, [
        ("whistle/session000__whistle_000.wav", "whistle", "upsweep", 0.053833, 0.371167, 0.9586, "sig02"),
        ("whistle/session000__whistle_000.wav", "burst", "burst_pulse", 0.125688, 0.367812, -2.3596, ""),
        ("burst/session000__burst_000.wav", "burst", "burst_pulse", 0.225812, 0.418833, 4.4853, ""),
        ("burst/session000__burst_000.wav", "click", "echolocation", 0.174542, 0.285042, 1.8791, ""),
        ("click/session000__click_000.wav", "click", "echolocation", 0.049958, 0.258625, 4.0439, ""),
        ("click/session000__click_000.wav", "burst", "burst_pulse", 0.017167, 0.343083, 12.2663, ""),
        ("noise/session000__noise_000.wav", "noise", "background", 0.0, 0.390667, None, ""),
        ("whistle/session001__whistle_000.wav", "whistle", "multiloop", 0.01, 0.329729, -0.1779, ""),
        ("whistle/session001__whistle_000.wav", "click", "echolocation", 0.01, 0.329729, 0.1933, ""),
        ("burst/session001__burst_000.wav", "burst", "burst_pulse", 0.086313, 0.275, 11.6693, ""),
        ("click/session001__click_000.wav", "click", "echolocation_buzz", 0.026271, 0.209667, -1.3928, ""),
        ("click/session001__click_000.wav", "whistle", "downsweep", 0.031, 0.270271, -2.6932, ""),
        ("noise/session001__noise_000.wav", "noise", "background", 0.0, 0.307542, None, ""),
    ])
    truth = synthesize_dataset(tmp_path / "recordings", mode="recordings", n_sessions=1, recordings_per_session=1,
                               recording_s=4.0, events_per_minute={"whistle": 45, "burst": 15, "click": 15},
                               n_motifs=2, seed=11)
    _assert_fingerprint(tmp_path / "recordings", truth, {"session000__rec00.wav": (192000, 0.0131702)}, [
        ("session000__rec00.wav", "whistle", "upsweep", 0.657583, 0.958229, 12.3548, "sig02"),
        ("session000__rec00.wav", "click", "echolocation", 0.756563, 0.994313, 13.9414, ""),
        ("session000__rec00.wav", "whistle", "concave", 0.94175, 2.134187, 8.1823, ""),
        ("session000__rec00.wav", "click", "echolocation", 1.013187, 1.532833, 14.8637, ""),
        ("session000__rec00.wav", "whistle", "downsweep", 2.020042, 2.856792, 6.4594, ""),
        ("session000__rec00.wav", "whistle", "upsweep", 2.706375, 2.990625, 11.6362, "sig02"),
        ("session000__rec00.wav", "click", "echolocation_buzz", 2.619104, 2.8675, 7.9439, ""),
    ])
