import numpy as np
import pandas as pd
import pytest

from dolphin_ae.exceptions import AudioError
from dolphin_ae.sequences import clip_windows, load_truth, sequence_front_end, with_truth
from dolphin_ae.spectrogram import FrontEnd
from conftest import tone


def test_truth_with_motifs_takes_the_primary_event(tmp_path):
    pd.DataFrame({
        "file": ["w/a.wav", "w/a.wav", "w/b.wav", "n/c.wav"],
        "recording": ["s0"] * 4, "label": ["burst", "whistle", "whistle", "noise"],
        "type": ["burst_pulse", "upsweep", "convex", "background"],
        "motif": ["", "sig01", "", ""], "primary": [False, True, True, True],
    }).to_csv(tmp_path / "truth.csv", index=False)
    table = load_truth(tmp_path)
    assert table.attrs["has_motif"] is True
    truth = table.set_index("file")
    assert truth.loc["w/a.wav", "type"] == "upsweep" and truth.loc["w/a.wav", "motif"] == "sig01"
    assert truth.loc["w/b.wav", "motif"] == ""


def test_truth_without_motif_column_degrades(tmp_path):
    pd.DataFrame({"file": ["w/a.wav"], "recording": ["s0"], "label": ["whistle"], "type": ["convex"]}).to_csv(
        tmp_path / "truth.csv", index=False)
    truth = load_truth(tmp_path)
    assert truth.attrs["has_motif"] is False and truth["motif"].tolist() == [""]
    assert load_truth(tmp_path / "elsewhere") is None
    index = pd.DataFrame({"file": ["w/a.wav", "w/z.wav"], "label": ["whistle", "click"]})
    joined = with_truth(index, truth)
    assert joined["type"].tolist() == ["convex", "click"] and joined["motif"].tolist() == ["", ""]
    assert with_truth(index, None)["type"].tolist() == ["whistle", "click"]


def test_clip_windows_step_by_the_sequence_step(write_wav):
    fe = sequence_front_end(FrontEnd(), 12)
    path = write_wav("w/a.wav", tone(9000, 0.5))
    windows = clip_windows(path, fe)
    n_frames = 1 + (24000 - fe.n_fft) // fe.hop_length
    assert windows.shape == (1 + (n_frames - 128) // 12, 128, 256)
    with pytest.raises(AudioError, match="shorter than one window"):
        clip_windows(write_wav("w/short.wav", tone(9000, 0.05)), fe)
    assert np.all(np.isfinite(windows))


def test_gallery_spectrograms_fill_rows(tmp_path):
    import soundfile

    from dolphin_ae.sequences import gallery_spectrograms
    from dolphin_ae.spectrogram import FrontEnd

    paths = []
    for k in range(3):
        paths.append(tmp_path / f"clip{k}.wav")
        soundfile.write(str(paths[-1]), np.zeros(12000 * (k + 1), dtype=np.float32), 48000)
    spectrograms, titles = gallery_spectrograms([[0, 1], [2]], paths, FrontEnd(),
                                                title=lambda group, item: f"{group}:{item}", max_members=2)
    assert titles == ["0:0", "0:1", "1:2", ""]
    assert spectrograms[3] is None
    assert [S.shape[0] for S in spectrograms[:3]] == [1 + (12000 * (k + 1) - 512) // 64 for k in range(3)]
