import numpy as np
import pytest

from conftest import tone
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.audio.spectrogram import (
    FrontEnd,
    FRAMES_PER_BLOCK,
    band_spectrogram,
    n_frames_of,
    normalize_windows,
    spectrogram_windows,
    window_level_db,
    window_start_s,
)


def test_default_geometry_covers_the_seed_band():
    fe = FrontEnd()
    freqs = fe.frequencies_hz()
    assert fe.fft_length == 624
    assert freqs.shape == (256,)
    assert freqs[0] == pytest.approx(4384.6, abs=0.1)
    assert freqs[-1] == pytest.approx(24000.0)
    assert np.allclose(np.diff(freqs), 48000 / 624)
    assert fe.window_s == pytest.approx(8192 / 48000)


def test_tone_peaks_in_its_bin():
    fe = FrontEnd()
    S = band_spectrogram(tone(10000.0, 0.5), fe)
    peak_hz = fe.frequencies_hz()[np.argmax(S.mean(axis=0))]
    assert abs(peak_hz - 10000.0) <= fe.sr / fe.fft_length / 2


def test_frame_count_and_reference_loop_agree():
    fe = FrontEnd(magnitude="linear")
    rng = np.random.default_rng(0)
    y = rng.standard_normal(20000).astype(np.float32)
    S = band_spectrogram(y, fe)
    n_frames = 1 + (len(y) - fe.n_fft) // fe.hop_length
    assert S.shape == (n_frames, 256)
    window = np.hanning(fe.n_fft + 1)[:-1]
    for i in (0, 7, n_frames - 1):
        frame = y[i * fe.hop_length : i * fe.hop_length + fe.n_fft] * window
        expected = np.abs(np.fft.rfft(frame, n=fe.fft_length))[fe.first_bin : fe.first_bin + fe.n_bins]
        np.testing.assert_allclose(S[i], expected, rtol=1e-3, atol=1e-3)


def test_band_is_librosa_stft_of_the_same_geometry():
    # librosa centres the 512-sample window in its 624-sample frame: 56 zeros before the signal put its
    # frame i on ours.
    import librosa

    fe = FrontEnd()
    y = np.random.default_rng(3).standard_normal(30000).astype(np.float32)
    offset = (fe.fft_length - fe.n_fft) // 2
    D = librosa.stft(np.pad(y, (offset, offset)), n_fft=fe.fft_length, win_length=fe.n_fft,
                     hop_length=fe.hop_length, center=False)
    expected = np.abs(D[fe.first_bin:fe.first_bin + fe.n_bins].T)
    S = band_spectrogram(y, fe)
    assert S.shape == expected.shape
    np.testing.assert_allclose(S, expected, rtol=1e-4, atol=1e-5 * float(expected.max()))


@pytest.mark.parametrize("n_blocks_and_extra", [(0, 3), (1, 0), (3, 1), (9, FRAMES_PER_BLOCK - 1)])
def test_threads_and_blocks_do_not_change_a_bit(n_blocks_and_extra):
    n_blocks, extra = n_blocks_and_extra
    fe = FrontEnd()
    n_frames = n_blocks * FRAMES_PER_BLOCK + extra
    y = np.random.default_rng(n_frames).standard_normal((n_frames - 1) * fe.hop_length + fe.n_fft + 17)
    serial = band_spectrogram(y.astype(np.float32), fe, workers=1)
    assert serial.shape == (n_frames_of(y.shape[0], fe), fe.n_bins) == (n_frames, fe.n_bins)
    for workers in (2, 3, 4):
        np.testing.assert_array_equal(band_spectrogram(y, fe, workers=workers), serial)
    # Frames computed in two pieces (as a stream does) are the frames of the whole.
    split = 5 * fe.hop_length * (n_frames // 10)
    if split:
        head = band_spectrogram(y[: split + fe.n_fft - fe.hop_length], fe, workers=1)
        tail = band_spectrogram(y[split:], fe, workers=2)
        np.testing.assert_array_equal(np.concatenate([head, tail]), serial)


def test_log_magnitude_is_log1p_of_linear():
    y = tone(8000.0, 0.3)
    linear = band_spectrogram(y, FrontEnd(magnitude="linear"))
    np.testing.assert_allclose(band_spectrogram(y, FrontEnd(magnitude="log")), np.log1p(linear), rtol=1e-5)


def test_windows_are_consecutive_frames():
    fe = FrontEnd()
    S = np.arange(300 * 256, dtype=np.float32).reshape(300, 256)
    windows = spectrogram_windows(S, fe)
    assert windows.shape == (1 + (300 - 128) // 64, 128, 256)
    np.testing.assert_array_equal(windows[1], S[64:192])
    assert np.shares_memory(windows, S)
    assert spectrogram_windows(S[:100], fe).shape == (0, 128, 256)
    np.testing.assert_allclose(window_start_s(3, fe), [0, fe.step_s, 2 * fe.step_s])


def test_seed_normalisation():
    rng = np.random.default_rng(1)
    windows = rng.gamma(2.0, 3.0, size=(4, 128, 256)).astype(np.float32)
    normalised = normalize_windows(windows, method="seed")
    for raw, out in zip(windows, normalised):
        np.testing.assert_allclose(out, (raw - raw.mean()) / (raw.std() + 1), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(normalize_windows(windows, method="none"), windows)


def test_normalisation_into_a_given_array_is_the_same_numbers():
    rng = np.random.default_rng(2)
    windows = rng.gamma(2.0, 3.0, size=(11, 128, 256)).astype(np.float32)
    batch = np.full((16, 128, 256, 1), np.nan, dtype=np.float32)  # a model's input batch, windows 3..13
    written = normalize_windows(windows, out=batch[3:14, ..., 0])
    assert np.shares_memory(written, batch)
    np.testing.assert_array_equal(batch[3:14, ..., 0], normalize_windows(windows))
    assert np.isnan(batch[:3]).all() and np.isnan(batch[14:]).all()
    for wrong in (np.empty((11, 128, 256), np.float64), np.empty((10, 128, 256), np.float32),
                  np.empty((11, 256, 128), np.float32).transpose(0, 2, 1)):
        with pytest.raises(ParameterError, match="out must be"):
            normalize_windows(windows, out=wrong)


def test_level_db():
    windows = np.full((2, 4, 4), 0.1, dtype=np.float32)
    windows[1] *= 10
    np.testing.assert_allclose(window_level_db(windows), [-20.0, 0.0], atol=1e-4)


@pytest.mark.parametrize("kwargs", [
    {"hop_length": 0}, {"fmin_hz": 30000.0}, {"fmax_hz": 30000.0}, {"magnitude": "power"},
    {"normalization": "zscore"}, {"n_bins": 16},
])
def test_bad_parameters_are_named(kwargs):
    with pytest.raises(ParameterError, match=next(iter(kwargs)).split("_")[0]):
        FrontEnd(**kwargs)


def test_bad_waveforms():
    with pytest.raises(ParameterError, match="mono"):
        band_spectrogram(np.zeros((1000, 2), dtype=np.float32))
    with pytest.raises(ParameterError, match="floating"):
        band_spectrogram(np.zeros(1000, dtype=np.int16))
    for workers in (0, 1.5, True):
        with pytest.raises(ParameterError, match="workers"):
            band_spectrogram(np.zeros(1000, dtype=np.float32), workers=workers)
    assert band_spectrogram(np.zeros(100, dtype=np.float32)).shape == (0, 256)
