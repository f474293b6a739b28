"""One window pipeline: the data set, the sequence chapters and the field tool make the same windows.

The clips are stereo (channel 1 is analysed) and one is at 64 kHz, resampled to 48 kHz. It has
175359 samples: soxr gives 131519 samples at 48 kHz, the data set's length is ceil(175359 * 0.75) =
131520, and that last sample completes a 31st window, which the field tool did not make before it
shared the data set's resampler.
"""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import RecordingEncoder, tone
from dolphin_ae.analysis.sequences import encode_clips
from dolphin_ae.audio.pipeline import (Resampler, clip_windows, iter_audio_blocks, load_audio, stream_recording,
                                       stream_windows, waveform_windows, with_step_frames)
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram, n_windows_of, spectrogram_windows
from dolphin_ae.data.windows import extract_windows
from dolphin_ae.exceptions import AudioError
from dolphin_ae.field.regions import DetectionOptions, detect_file
from dolphin_ae.field.run import DetectorRun

RESAMPLED_SAMPLES = 175359  # at 64 kHz; see the module's docstring


class _RecordingDetector:
    """Stands in for the silence detector: keeps every window it is given, calls none silent."""

    def __init__(self):
        self.seen = []

    def predict_on_batch(self, x):
        self.seen.append(np.array(x[..., 0]))
        return np.zeros((x.shape[0], 1), dtype=np.float32)


def _stereo(y, rng):
    """Channel 0 unrelated noise, channel 1 ``y`` plus quiet noise: only channel 1 must be analysed."""
    return np.stack([0.2 * rng.standard_normal(y.shape[0]), y + 0.01 * rng.standard_normal(y.shape[0])],
                    axis=1).astype(np.float32)


@pytest.fixture
def clips(write_wav):
    """A folder-layout data set: three stereo whistle clips (48 kHz, 64 kHz, and one shorter than a window)."""
    rng = np.random.default_rng(0)
    long_48k = write_wav("data/whistle/s0__a.wav", _stereo(tone(9000.0, 1.3), rng))
    t = np.arange(RESAMPLED_SAMPLES) / 64000
    sweep = (0.3 * np.sin(2 * np.pi * (6000.0 + 3000.0 * t) * t)).astype(np.float32)
    resampled = write_wav("data/whistle/s1__b.wav", _stereo(sweep, rng), sr=64000, subtype="PCM_24")
    short = write_wav("data/whistle/s2__c.wav", _stereo(tone(12000.0, 0.1), rng))
    return long_48k.parents[1], {"long_48k": long_48k, "resampled": resampled, "short": short}


def _field_windows(path, front_end, *, block_s):
    detector = _RecordingDetector()
    run = DetectorRun(run_dir=Path("."), front_end=front_end, detector=detector)
    detect_file(run, path, options=DetectionOptions(channel=1, block_s=block_s, batch_size=1))
    return np.concatenate(detector.seen)


FRONT_ENDS = {"seed": FrontEnd(), "pcen": FrontEnd(magnitude="pcen"),
              "log-whitened": FrontEnd(magnitude="log", whitening="recording_median"),
              "pcen-whitened": FrontEnd(magnitude="pcen", whitening="recording_median")}


@pytest.mark.parametrize("fe", FRONT_ENDS.values(), ids=FRONT_ENDS.keys())
def test_the_data_set_the_sequences_and_the_field_tool_make_the_same_windows(clips, fe):
    """Each file is a recording of its own (``s0``, ``s1``, ``s2``): whitened by its own profile everywhere."""
    data, paths = clips
    windows, index, skipped, _ = extract_windows(data, front_end=fe, channel=1)
    assert not skipped
    encoder = RecordingEncoder()
    items = index.drop_duplicates("file")[["file"]].reset_index(drop=True)
    _, kept, _ = encode_clips(encoder, items, data, fe, step_frames=fe.step_frames, channel=1, pad_mode="reflect")
    assert list(kept["file"]) == list(items["file"])
    for (name, path), sequence_windows in zip(paths.items(), encoder.seen):
        file = path.relative_to(data).as_posix()
        in_data_set = windows[(index["file"] == file).to_numpy()]
        np.testing.assert_array_equal(sequence_windows, in_data_set)
        np.testing.assert_array_equal(clip_windows(path, fe, channel=1, pad_mode="reflect"), in_data_set)
        if name == "short":  # padded to one window by the data set and the sequences; the field tool refuses it
            assert len(in_data_set) == 1 and index.loc[index["file"] == file, "padded"].all()
            with pytest.raises(AudioError, match="shorter than one window"):
                _field_windows(path, fe, block_s=10.0)
            continue
        for block_s in (10.0, 0.37):  # the whole clip as one block, and many blocks
            np.testing.assert_array_equal(_field_windows(path, fe, block_s=block_s), in_data_set)
    resampled = windows[(index["file"] == paths["resampled"].relative_to(data).as_posix()).to_numpy()]
    assert len(resampled) == n_windows_of(int(np.ceil(RESAMPLED_SAMPLES * 0.75)), fe) == 31


@pytest.mark.parametrize("rate", [64000, 88200, 96000])
def test_resampling_does_not_depend_on_the_blocks(rate):
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(rate)
    y = (0.1 * rng.standard_normal(rate * 2 + 147)).astype(np.float32)
    expected = librosa.resample(y, orig_sr=rate, target_sr=48000, res_type="soxr_hq").astype(np.float32)
    resampler = Resampler(rate, 48000)
    cuts = np.cumsum(rng.integers(1, 9000, size=60))
    pieces = [resampler.push(block) for block in np.split(y, cuts[cuts < y.shape[0]])] + [resampler.finish()]
    np.testing.assert_array_equal(np.concatenate(pieces), expected)


def test_blocks_of_a_file_are_its_whole_waveform(write_wav):
    rng = np.random.default_rng(1)
    path = write_wav("x.flac", (0.1 * rng.standard_normal((88200 * 3 + 5, 2))).astype(np.float32), sr=88200,
                     subtype="PCM_24")
    whole = load_audio(path, sr=48000, channel=1)
    assert whole.shape == (int(np.ceil((88200 * 3 + 5) * (48000 / 88200))),)
    for block_s in (0.05, 0.7, 100.0):
        np.testing.assert_array_equal(np.concatenate(list(iter_audio_blocks(path, sr=48000, channel=1,
                                                                            block_s=block_s))), whole)


def test_a_file_shorter_than_its_header_is_refused_streamed_too(write_wav):
    whole = write_wav("cut.wav", tone(8000.0, 0.5), subtype="PCM_16")
    cut = whole.with_name("cut_short.wav")
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for reading in (lambda path: load_audio(path), lambda path: list(stream_recording(path, FrontEnd(), block_s=0.1))):
        with pytest.raises(AudioError, match="truncated"):
            reading(cut)
    flac = write_wav("cut.flac", tone(8000.0, 0.5), subtype="PCM_16")
    cut = flac.with_name("cut_short.flac")
    cut.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    for reading in (lambda path: load_audio(path), lambda path: list(iter_audio_blocks(path, sr=48000, block_s=0.1))):
        with pytest.raises(AudioError, match="cut_short.flac"):
            reading(cut)


def test_clip_windows_step_by_the_sequence_step(write_wav):
    fe = with_step_frames(FrontEnd(), 12)
    path = write_wav("w/a.wav", tone(9000, 0.5))
    windows = clip_windows(path, fe)
    n_frames = 1 + (24000 - fe.n_fft) // fe.hop_length
    assert windows.shape == (1 + (n_frames - 128) // 12, 128, 256)
    with pytest.raises(AudioError, match="shorter than one window"):
        clip_windows(write_wav("w/short.wav", tone(9000, 0.05)), fe)
    assert np.all(np.isfinite(windows))


def test_short_waveforms_are_padded_only_when_asked():
    fe = FrontEnd()
    y = tone(9000.0, 0.1)
    assert waveform_windows(y, fe)[0].shape[0] == 0
    windows, padded = waveform_windows(y, fe, pad_mode="zeros")
    assert padded and windows.shape == (1, fe.window_frames, fe.n_bins)


@pytest.mark.parametrize("step_frames", [64, 16, 200])
def test_stream_windows_match_the_whole_signal(step_frames):
    front_end = FrontEnd(step_frames=step_frames)
    y = np.random.default_rng(0).standard_normal(int(3.3 * 48000)).astype(np.float32)
    expected = spectrogram_windows(band_spectrogram(y, front_end), front_end)
    cuts = np.cumsum(np.random.default_rng(1).integers(1, 20000, size=40))
    blocks = np.split(y, cuts[cuts < y.shape[0]])
    pieces = list(stream_windows(blocks, front_end))
    assert [first for first, _ in pieces] == list(np.cumsum([0] + [w.shape[0] for _, w in pieces[:-1]]))
    streamed = np.concatenate([w for _, w in pieces])
    assert streamed.shape == expected.shape
    np.testing.assert_array_equal(streamed, expected)


def _peak_stream_bytes(path, block_s):
    tracemalloc.start()
    n_windows = 0
    for _, windows in stream_windows(iter_audio_blocks(path, sr=48000, block_s=block_s), FrontEnd()):
        n_windows += windows.shape[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, n_windows


def test_memory_is_bounded_by_the_block_not_the_recording(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    for minutes in (0.5, 2.0):
        paths[minutes] = tmp_path / f"{minutes}.wav"
        with soundfile.SoundFile(str(paths[minutes]), mode="w", samplerate=48000, channels=1, subtype="PCM_16") as f:
            for _ in range(int(minutes * 6)):
                f.write(0.1 * rng.standard_normal(480000).astype(np.float32))
    short_peak, short_windows = _peak_stream_bytes(paths[0.5], block_s=1.0)
    long_peak, long_windows = _peak_stream_bytes(paths[2.0], block_s=1.0)
    assert long_windows > 3.9 * short_windows
    assert long_peak < 1.2 * short_peak  # flat in the recording's length
    # Whole-file processing would hold at least the recording's spectrogram at once.
    whole_spectrogram_bytes = (2.0 * 60 * 48000 / 64) * 256 * 4
    assert long_peak < whole_spectrogram_bytes / 4
    bigger_block_peak, _ = _peak_stream_bytes(paths[2.0], block_s=8.0)
    assert bigger_block_peak > 2 * long_peak  # and it grows with the block
