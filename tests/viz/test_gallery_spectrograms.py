import numpy as np
import soundfile

from dolphin_ae.audio.spectrogram import FrontEnd
from dolphin_ae.viz.analysis import gallery_spectrograms


def test_gallery_spectrograms_fill_rows(tmp_path):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"clip{k}.wav")
        soundfile.write(str(paths[-1]), np.zeros(12000 * (k + 1), dtype=np.float32), 48000)
    spectrograms, titles = gallery_spectrograms([[0, 1], [2]], paths, FrontEnd(),
                                                title=lambda group, item: f"{group}:{item}", max_members=2)
    assert titles == ["0:0", "0:1", "1:2", ""]
    assert spectrograms[3] is None
    assert [S.shape[0] for S in spectrograms[:3]] == [1 + (12000 * (k + 1) - 512) // 64 for k in range(3)]
