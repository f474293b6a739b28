import numpy as np
import pytest

from conftest import tone
from dolphin_ae.audio.loading import find_audio_files
from dolphin_ae.audio.pipeline import load_audio
from dolphin_ae.exceptions import AudioError
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram


@pytest.mark.parametrize("name,subtype", [("a.wav", "PCM_16"), ("b.wav", "PCM_24"), ("c.wav", "PCM_32"),
                                          ("d.wav", "FLOAT"), ("e.flac", "PCM_16"), ("f.flac", "PCM_24")])
def test_reads_integer_and_float_files(write_wav, name, subtype):
    y = tone(9000.0, 0.2)
    loaded = load_audio(write_wav(name, y, subtype=subtype))
    assert loaded.dtype == np.float32 and loaded.shape == y.shape
    np.testing.assert_allclose(loaded, y, atol=1e-3)


def test_picks_the_channel(write_wav):
    stereo = np.stack([tone(6000.0, 0.1), tone(12000.0, 0.1, amplitude=0.25)], axis=1)
    path = write_wav("stereo.wav", stereo)
    np.testing.assert_allclose(load_audio(path, channel=1), stereo[:, 1], atol=1e-6)
    with pytest.raises(AudioError, match="2 channel"):
        load_audio(path, channel=2)


def test_resamples_with_the_tone_in_place(write_wav):
    path = write_wav("fast.wav", tone(10000.0, 0.5, sr=96000), sr=96000)
    y = load_audio(path, sr=48000)
    assert abs(y.shape[0] - 24000) <= 1
    fe = FrontEnd()
    peak_hz = fe.frequencies_hz()[np.argmax(band_spectrogram(y, fe).mean(axis=0))]
    assert abs(peak_hz - 10000.0) < fe.sr / fe.fft_length


def test_bad_files_name_the_file_and_reason(tmp_path, write_wav):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    with pytest.raises(AudioError, match="notes.wav.*cannot be read"):
        load_audio(text)
    empty = write_wav("empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match="empty.wav"):
        load_audio(empty)
    broken = tone(8000.0, 0.1)
    broken[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        load_audio(write_wav("nan.wav", broken))
    with pytest.raises(AudioError, match="at least 48000 Hz"):
        load_audio(write_wav("slow.wav", tone(3000.0, 0.2, sr=16000), sr=16000), fmax_hz=24000.0)
    with pytest.raises(AudioError, match="shorter than the minimum"):
        load_audio(write_wav("short.wav", tone(8000.0, 0.05)), min_duration_s=0.1)


def test_find_audio_files(tmp_path, write_wav):
    write_wav("x/one.wav", tone(8000.0, 0.01))
    write_wav("y/two.flac", tone(8000.0, 0.01), subtype="PCM_16")
    (tmp_path / "x" / "readme.txt").write_text("no")
    assert [p.name for p in find_audio_files(tmp_path)] == ["one.wav", "two.flac"]


def test_pad_to_length_centres_the_clip():
    from dolphin_ae.audio.loading import pad_to_length
    from dolphin_ae.exceptions import ParameterError

    y = np.arange(1.0, 6.0)
    reflected = pad_to_length(y, 11)
    assert reflected.shape == (11,)
    np.testing.assert_array_equal(reflected[3:8], y)  # centred: 3 before, 3 after
    np.testing.assert_array_equal(reflected[:3], [4.0, 3.0, 2.0])  # mirrored, no step at the join
    np.testing.assert_array_equal(pad_to_length(y, 9, mode="zeros"), [0, 0, 1, 2, 3, 4, 5, 0, 0])
    long = pad_to_length(np.arange(2.0), 40)  # much shorter than the target: mirrored again and again
    assert long.shape == (40,) and set(long) == {0.0, 1.0}
    np.testing.assert_array_equal(pad_to_length(y, 3), y)
    with pytest.raises(ParameterError, match="mode"):
        pad_to_length(y, 9, mode="noise")


def test_truncated_wav_is_refused(tmp_path, write_wav):
    from dolphin_ae.audio.loading import check_audio_file

    path = write_wav("whole.wav", tone(8000.0, 0.5), subtype="PCM_16")
    assert check_audio_file(path).frames == 24000
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[:30000])
    with pytest.raises(AudioError, match="cut.wav: is truncated: its header promises 24000 samples"):
        load_audio(cut)
    flac = write_wav("whole.flac", tone(8000.0, 0.5), subtype="PCM_16")
    cut_flac = tmp_path / "cut.flac"
    cut_flac.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    with pytest.raises(AudioError, match="cut.flac"):
        load_audio(cut_flac)
