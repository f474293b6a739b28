import json

import numpy as np
import pytest

from dolphin_ae.runio import (atomic_path, keep_metrics_sections, read_metrics, record_stage, update_metrics,
                              write_json)


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


def test_a_metrics_section_is_replaced_whole_and_the_others_kept(tmp_path):
    update_metrics(tmp_path, "clustering", {"v_measure": 0.5, "by_k": {"8": 0.5, "12": 0.4}})
    update_metrics(tmp_path, "baseline_energy", {"balanced_accuracy": 0.7})
    update_metrics(tmp_path, "clustering", {"v_measure": 0.6, "by_k": {"12": 0.6}})
    # Nothing of the first clustering write survives, not even inside a nested table.
    assert read_metrics(tmp_path) == {"clustering": {"v_measure": 0.6, "by_k": {"12": 0.6}},
                                      "baseline_energy": {"balanced_accuracy": 0.7}}
    assert keep_metrics_sections(tmp_path, ["baseline_energy"]) == ["clustering"]
    assert read_metrics(tmp_path) == {"baseline_energy": {"balanced_accuracy": 0.7}}
    assert keep_metrics_sections(tmp_path, ()) == ["baseline_energy"]
    assert read_metrics(tmp_path) == {}


def test_a_stage_record_is_replaced_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("dolphin_ae.runio.environment_summary", lambda: {"python": "3.11"})
    write_json(tmp_path / "manifest.json", {"report": {"profile": "ci"}})
    record_stage(tmp_path, "01_data", seconds=1.0, extra={"skipped_files": [{"file": "a.wav"}], "n_windows": 4})
    record_stage(tmp_path, "02_autoencoder", seconds=2.0, extra={"epochs_run": 2})
    record_stage(tmp_path, "01_data", seconds=3.0, extra={"n_windows": np.int64(5)})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "skipped_files" not in manifest["stages"]["01_data"]
    assert manifest["stages"]["01_data"]["seconds"] == 3.0 and manifest["stages"]["01_data"]["n_windows"] == 5
    assert manifest["stages"]["02_autoencoder"]["epochs_run"] == 2
    # The parameters are the report's to record (report.stages), never a chapter's.
    assert not any("parameters" in record for record in manifest["stages"].values())
    assert manifest["report"] == {"profile": "ci"} and manifest["environment"] == {"python": "3.11"}
