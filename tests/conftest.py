import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402


@pytest.fixture
def write_wav(tmp_path):
    """Write ``y`` (n,) or (n, channels) at ``sr`` to ``tmp_path/name`` and return the path."""

    def write(name, y, sr=48000, subtype="FLOAT"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.asarray(y), sr, subtype=subtype)
        return path

    return write


def tone(frequency_hz, duration_s, sr=48000, amplitude=0.5):
    t = np.arange(int(duration_s * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)
