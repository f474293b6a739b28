import numpy as np
import pandas as pd
import pytest
import soundfile

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.synth import LABELS, Session, _band_power, background, make_clip, synthesize_dataset, whistle


def test_writes_folder_per_label_with_truth(tmp_path):
    counts = {"whistle": 2, "burst": 1, "click": 1, "noise": 3}
    truth = synthesize_dataset(tmp_path, n_sessions=2, clips_per_label=counts, seed=3)
    assert len(truth) == 2 * sum(counts.values())
    assert set(truth["label"]) == set(LABELS)
    assert truth.groupby("label").size().to_dict() == {k: 2 * v for k, v in counts.items()}
    for row in truth.itertuples():
        path = tmp_path / row.file
        assert path.parent.name == row.label and path.name.startswith(f"{row.recording}__")
        info = soundfile.info(str(path))
        assert info.samplerate == 48000 and 0 <= row.start_s < row.end_s <= info.duration + 1e-9
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "truth.csv"), truth, check_dtype=False)


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


@pytest.mark.parametrize("label", ["whistle", "burst", "click"])
@pytest.mark.parametrize("snr_db", [0.0, 15.0])
def test_event_snr_in_band_is_as_asked(label, snr_db):
    rng = np.random.default_rng(0)
    session = Session("s", noise_alpha=1.0, level_db=-30.0, shrimp_per_s=20.0)
    sr, fmin = 48000, 4400.0
    y, truth = make_clip(label, session, sr=sr, snr_db=snr_db, duration_s=0.5, band_fmin_hz=fmin,
                         rng=np.random.default_rng(1))
    # The same background, regenerated from the same generator state, isolates the event.
    bg = background(int(0.5 * sr), sr, session, np.random.default_rng(1))
    span = slice(int(round(truth["start_s"] * sr)), int(round(truth["end_s"] * sr)))
    event = (y - bg)[span]
    measured = 10 * np.log10(_band_power(event, sr, fmin) / _band_power(bg, sr, fmin))
    assert measured == pytest.approx(snr_db, abs=0.01)
    assert truth["snr_db"] == snr_db and truth["type"]


def test_whistle_contour_stays_in_band():
    y, family = whistle(0.5, 48000, np.random.default_rng(2), family="upsweep")
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / 48000)
    assert family == "upsweep"
    assert 4400 < freqs[np.argmax(spectrum)] < 19000


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="unknown labels"):
        synthesize_dataset(tmp_path, clips_per_label={"song": 1})
    with pytest.raises(ParameterError, match="n_sessions"):
        synthesize_dataset(tmp_path, n_sessions=0)
