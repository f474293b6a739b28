import json

import numpy as np
import pytest

from dolphin_ae.runio import atomic_path, read_metrics, update_metrics, write_json


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"a": np.float32(1.5), "b": np.arange(2)})
    assert json.loads(target.read_text()) == {"a": 1.5, "b": [0, 1]}
    assert target.stat().st_mode & 0o044, "others cannot read the result"


def test_metrics_sections_merge(tmp_path):
    update_metrics(tmp_path, "silence", {"balanced_accuracy": 0.9})
    update_metrics(tmp_path, "baseline_energy", {"balanced_accuracy": 0.7})
    update_metrics(tmp_path, "silence", {"recall_silence": 1.0})
    assert read_metrics(tmp_path) == {"silence": {"balanced_accuracy": 0.9, "recall_silence": 1.0},
                                      "baseline_energy": {"balanced_accuracy": 0.7}}
