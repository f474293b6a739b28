"""The front end's options: PCEN, per-recording whitening, their parameters, round trip and cache key."""

import json

import numpy as np
import pytest
import scipy.signal

from conftest import tone
from dolphin_ae.audio.gain import (BandProfile, MagnitudeTransform, band_profile, pcen_init_frames, pcen_smoothing,
                                   whiten)
from dolphin_ae.audio.pipeline import stream_profile, stream_windows, waveform_windows
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram
from dolphin_ae.data.windows import cache_key
from dolphin_ae.exceptions import ParameterError

SR = 48000
PCEN = FrontEnd(magnitude="pcen")


def _coloured_noise(duration_s, seed=0):
    """Noise whose band level falls by about 20 dB from 4.4 to 24 kHz (a low-pass tilt)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(duration_s * SR))
    b, a = scipy.signal.butter(1, 3000, fs=SR)
    return (0.05 * scipy.signal.lfilter(b, a, white) + 0.002 * white).astype(np.float32)


def test_pcen_flattens_stationary_noise_and_lifts_a_tonal_onset():
    noise = _coloured_noise(3.0)
    y = noise.copy()
    onset = int(1.5 * SR)
    y[onset:] += tone(10000.0, 1.5, amplitude=0.05)
    linear = band_spectrogram(y, FrontEnd())
    P = band_spectrogram(y, PCEN)
    assert P.dtype == np.float32 and P.shape == linear.shape
    assert np.all(np.isfinite(P)) and P.min() >= 0
    onset_frame, fps = onset // 64, SR / 64
    quiet = slice(int(0.5 * fps), onset_frame - 10)  # noise only, the smoother settled
    # Stationary noise: its tilt is divided out (10x between the band's ends in linear, under 1.5x in PCEN).
    linear_levels, pcen_levels = linear[quiet].mean(axis=0), P[quiet].mean(axis=0)
    assert linear_levels.max() / linear_levels.min() > 10
    assert pcen_levels.max() / pcen_levels.min() < 1.5
    # The tone's band right after the onset stands far above the noise, which PCEN keeps low and flat.
    tone_bin = int(np.argmin(np.abs(PCEN.frequencies_hz() - 10000.0)))
    just_after = P[onset_frame + 8 : onset_frame + int(0.05 * fps), tone_bin].mean()
    assert just_after > 5 * np.median(P[quiet])
    # Automatic gain control: a tone held for many time constants is partly absorbed into the background.
    much_later = P[-int(0.1 * fps):, tone_bin].mean()
    assert much_later < 0.5 * just_after


def test_pcen_starts_from_the_median_of_its_first_time_constant():
    noise = _coloured_noise(1.0, seed=3)
    P = band_spectrogram(noise, PCEN)
    # No start-up transient: the first frames look like the settled ones (librosa's default state would not).
    settled = P[pcen_init_frames(PCEN):].mean()
    assert 0.7 * settled < P[:20].mean() < 1.3 * settled
    b = pcen_smoothing(PCEN)
    assert pcen_init_frames(PCEN) == 300 and b == pytest.approx(1 / 300, rel=0.01)


@pytest.mark.parametrize("front_end", [
    FrontEnd(magnitude="pcen"),
    FrontEnd(magnitude="pcen", step_frames=200),
    FrontEnd(magnitude="log", whitening="recording_median"),
    FrontEnd(magnitude="pcen", whitening="recording_median", step_frames=16),
    FrontEnd(magnitude="linear", whitening="recording_median"),
], ids=["pcen", "pcen-step200", "log-whitened", "pcen-whitened", "linear-whitened"])
def test_streamed_windows_equal_the_whole_signal_for_each_option(front_end):
    rng = np.random.default_rng(1)
    y = _coloured_noise(2.2, seed=1)
    y[SR : SR + 24000] += tone(9000.0, 0.5, amplitude=0.1)
    expected, _ = waveform_windows(y, front_end)
    cuts = np.cumsum(rng.integers(1, 9000, size=60))
    blocks = np.split(y, cuts[cuts < y.shape[0]])  # blocks far shorter than PCEN's first 0.4 s, too
    profile = None
    if front_end.whitening != "none":
        profile = stream_profile(blocks, front_end)
        np.testing.assert_array_equal(profile, band_profile(band_spectrogram(y, front_end)))
    streamed = np.concatenate([w for _, w in stream_windows(blocks, front_end, profile=profile)])
    assert streamed.shape == expected.shape and streamed.dtype == np.float32
    np.testing.assert_array_equal(streamed, expected)


def test_pcen_of_a_signal_shorter_than_its_first_time_constant_streams_too():
    y = _coloured_noise(0.2, seed=2)  # 143 frames, fewer than the 300 of the initial median
    whole = band_spectrogram(y, PCEN)
    transform = MagnitudeTransform(PCEN)
    linear = band_spectrogram(y, PCEN, linear=True)
    pieces = [transform.push(linear[:50]), transform.push(linear[50:]), transform.finish()]
    assert pieces[0].shape[0] == pieces[1].shape[0] == 0
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_whitening_removes_a_constant_per_band_offset_exactly():
    rng = np.random.default_rng(0)
    S = rng.gamma(2.0, 1.0, size=(1000, 256)).astype(np.float32)
    offset = np.linspace(-3.0, 5.0, 256).astype(np.float32)  # a recording's own colour, in the log domain
    profile, shifted_profile = band_profile(S), band_profile(S + offset)
    np.testing.assert_allclose(shifted_profile, profile + offset, atol=1e-6)
    np.testing.assert_allclose(whiten(S + offset, shifted_profile), whiten(S.copy(), profile), atol=1e-5)
    flat = np.tile(offset, (700, 1))  # nothing but the offset: whitened to zero
    np.testing.assert_array_equal(whiten(flat.copy(), band_profile(flat)), 0.0)
    # The pipeline subtracts the recording's profile from its frames before cutting windows.
    fe = FrontEnd(magnitude="linear", whitening="recording_median", normalization="none")
    y = _coloured_noise(1.0)
    S_y = band_spectrogram(y, fe)
    windows, _ = waveform_windows(y, fe)
    np.testing.assert_allclose(np.asarray(windows[0]), S_y[:128] - band_profile(S_y), atol=1e-6)


def test_the_band_profile_thins_its_frames_and_does_not_depend_on_the_blocks():
    rng = np.random.default_rng(4)
    S = rng.standard_normal((1234, 8)).astype(np.float32)
    whole = BandProfile(8, max_frames=100).add(S)
    assert whole.stride == 16  # the smallest power of two keeping at most 100 of 1234 frames
    np.testing.assert_array_equal(whole.profile(), np.median(S[::16], axis=0).astype(np.float32))
    pieces = BandProfile(8, max_frames=100)
    for part in np.split(S, [1, 7, 99, 100, 640, 1000]):
        pieces.add(part)
        assert pieces._n_kept <= 100
    np.testing.assert_array_equal(pieces.profile(), whole.profile())
    np.testing.assert_array_equal(BandProfile(8).profile(), np.zeros(8, dtype=np.float32))


def test_the_new_fields_round_trip_through_json_and_change_the_cache_key(tmp_path):
    front_ends = [FrontEnd(), FrontEnd(magnitude="pcen"), FrontEnd(magnitude="pcen", pcen_time_constant_s=0.2),
                  FrontEnd(magnitude="pcen", pcen_power=0.25, pcen_bias=10.0, pcen_gain=0.8),
                  FrontEnd(magnitude="log", whitening="recording_median"),
                  FrontEnd(magnitude="pcen", whitening="recording_median")]
    keys = set()
    for fe in front_ends:
        assert FrontEnd(**json.loads(json.dumps(fe.to_dict()))) == fe
        keys.add(cache_key(tmp_path, [], [], {"front_end": fe.to_dict()}))
    assert len(keys) == len(front_ends)
    assert FrontEnd().to_dict()["whitening"] == "none"
    # A dataset.json written before these fields existed still loads, with their defaults.
    old = {k: v for k, v in FrontEnd().to_dict().items() if k != "whitening" and not k.startswith("pcen_")}
    assert FrontEnd(**old) == FrontEnd()


@pytest.mark.parametrize("settings, name", [
    ({"magnitude": "db"}, "magnitude"),
    ({"whitening": "mean"}, "whitening"),
    ({"whitening": True}, "whitening"),
    ({"pcen_time_constant_s": 0.0}, "pcen_time_constant_s"),
    ({"pcen_gain": -1.0}, "pcen_gain"),
    ({"pcen_bias": float("nan")}, "pcen_bias"),
    ({"pcen_power": "half"}, "pcen_power"),
])
def test_a_bad_value_names_its_parameter(settings, name):
    with pytest.raises(ParameterError, match=name):
        FrontEnd(**settings)


def test_streaming_a_whitening_front_end_without_a_profile_is_refused():
    with pytest.raises(ParameterError, match="band profile"):
        list(stream_windows([np.zeros(20000, dtype=np.float32)], FrontEnd(whitening="recording_median")))
