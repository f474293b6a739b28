"""detect, embed and index on the Dask engine, and the resumable folder of parts.

The recordings are short synthetic long recordings (``synth_long``: background with whistles, burst
pulses and click trains at known times); the model is the session's tiny ``trained_run``
(``tests/conftest.py``). One 2-worker ``LocalCluster`` serves every Dask test of the module.
"""

import math
import os

import numpy as np
import pandas as pd
import pytest

from dolphin_ae.audio.blocks import plan_spans
from dolphin_ae.cli import main
from dolphin_ae.data.synth_long import write_long_recording
from dolphin_ae.engine import engine_client
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.field import batch as batch_module
from dolphin_ae.field import index as index_module
from dolphin_ae.field.batch import detect_batch, embed_batch
from dolphin_ae.field.engine_run import RunSpec, cached_run, run_cache_info
from dolphin_ae.field.evaluation import region_recall_precision
from dolphin_ae.field.index import build_index
from dolphin_ae.field.parts import PartsFolder, check_output
from dolphin_ae.field.regions import DetectionOptions
from dolphin_ae.field.run import load_detector_run
from dolphin_ae.layout import IndexLayout, RunLayout

from conftest import FIELD_LATENT_DIM as LATENT_DIM

DURATIONS_S = (8.0, 6.0, 7.0)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Three short recordings with known events; returns (paths, truth tables)."""
    root = tmp_path_factory.mktemp("recordings")
    paths, truths = [], []
    for k, duration_s in enumerate(DURATIONS_S):
        path = root / f"rec{k}.wav"
        truths.append(write_long_recording(path, duration_s=duration_s, gap_s_range=(0.5, 1.5), seed=10 + k))
        paths.append(path)
    return paths, truths


@pytest.fixture(scope="module")
def client():
    with engine_client("dask", workers=2) as client:
        yield client


def _read(folder):
    table = pd.read_parquet(folder)
    return table.sort_values(["file", "start_s"]).reset_index(drop=True)


def test_serial_and_dask_give_identical_regions_and_codes(trained_run, recordings, client, tmp_path):
    paths, truths = recordings
    run = load_detector_run(trained_run)
    for name, call in (("regions", lambda out, c: detect_batch(run, paths, out, progress=False, client=c)),
                       ("codes", lambda out, c: embed_batch(run, paths, out, progress=False, client=c)),
                       ("windows", lambda out, c: embed_batch(run, paths, out, per="window", progress=False,
                                                              client=c))):
        serial, distributed = call(tmp_path / f"{name}_serial", None), call(tmp_path / f"{name}_dask", client)
        assert serial.succeeded == distributed.succeeded == [str(p) for p in paths] and not distributed.failed
        assert serial.n_rows == distributed.n_rows > 0
        pd.testing.assert_frame_equal(_read(tmp_path / f"{name}_serial"), _read(tmp_path / f"{name}_dask"),
                                      check_exact=True)
    # The regions are the known events.
    regions = _read(tmp_path / "regions_dask")
    for path, truth in zip(paths, truths):
        mine = regions[regions["file"] == str(path)]
        scores = region_recall_precision(list(zip(mine["start_s"], mine["end_s"])),
                                         list(zip(truth["start_s"], truth["end_s"])))
        assert scores["recall"] >= 0.75, (path.name, scores)
    # Each worker loaded the run once, for every task of the three batches it ran.
    info = client.run(run_cache_info)
    assert sum(i["loads"] + i["hits"] for i in info.values()) == 3 * len(paths)
    assert all(i["loads"] <= 1 for i in info.values())


def _cache_uses(client):
    return sum(i["loads"] + i["hits"] for i in client.run(run_cache_info).values())


def _run_with_front_end(trained_run, folder, **changes):
    """A copy of the session's run whose windows are made with another front end (same models)."""
    import shutil

    from dolphin_ae.audio.spectrogram import FrontEnd
    from dolphin_ae.runio import read_json, write_json

    shutil.copytree(trained_run, folder)
    dataset = RunLayout(folder).dataset
    front_end = FrontEnd(**{**read_json(dataset)["front_end"], **changes})
    write_json(dataset, {**read_json(dataset), "front_end": front_end.to_dict()})
    return folder


@pytest.mark.parametrize("front_end", [{}, {"magnitude": "log", "whitening": "recording_median"}],
                         ids=["linear", "log-whitened"])
def test_long_recordings_cut_into_spans_give_the_regions_and_codes_of_one_task(trained_run, recordings, client,
                                                                               tmp_path, front_end):
    paths, truths = recordings
    run = load_detector_run(_run_with_front_end(trained_run, tmp_path / "run", **front_end) if front_end
                            else trained_run)
    fe = run.front_end
    assert fe.whitening == front_end.get("whitening", "none")
    step_s = fe.step_frames * fe.hop_length / fe.sr
    # Spans short enough that a span's edge falls in the middle of the first recording's first event, and that
    # every recording is cut into at least 3 spans.
    event = truths[0].iloc[0]
    middle_s = (event["start_s"] + event["end_s"]) / 2
    task_s = middle_s / math.ceil(3 * middle_s / min(DURATIONS_S))
    spans = [plan_spans(path, fe, task_s=task_s) for path in paths]
    assert all(len(s) >= 3 for s in spans)
    edges_s = [first * step_s for first, _ in spans[0][1:]]
    assert any(event["start_s"] < edge < event["end_s"] for edge in edges_s)
    options = DetectionOptions(task_s=task_s)
    for name, call in (("regions", lambda out, c: detect_batch(run, paths, out, options=options, progress=False,
                                                              client=c)),
                       ("codes", lambda out, c: embed_batch(run, paths, out, options=options, progress=False,
                                                            client=c)),
                       ("windows", lambda out, c: embed_batch(run, paths, out, per="window", options=options,
                                                              progress=False, client=c))):
        serial = call(tmp_path / f"{name}_serial", None)
        uses = _cache_uses(client)
        distributed = call(tmp_path / f"{name}_dask", client)
        # Every span was a task of its own (each loads the run from the cache), then one task per recording.
        assert _cache_uses(client) - uses == sum(len(s) + 1 for s in spans)
        assert serial.succeeded == distributed.succeeded == [str(p) for p in paths] and not distributed.failed
        assert serial.n_rows == distributed.n_rows > 0
        pd.testing.assert_frame_equal(_read(tmp_path / f"{name}_serial"), _read(tmp_path / f"{name}_dask"),
                                      check_exact=True)
        assert sorted(p.name for p in (tmp_path / f"{name}_dask").glob("*.parquet")) == \
            sorted(PartsFolder(tmp_path / f"{name}_dask").part(p).name for p in paths)  # one part per recording
    # A region runs across a span's edge, and is one region in both.
    regions = _read(tmp_path / "regions_dask")
    first = regions[regions["file"] == str(paths[0])]
    assert any(((first["start_s"] < edge) & (first["end_s"] > edge)).any() for edge in edges_s)
    # A rerun keeps the spanned parts: task_s changes how the work is cut, not the rows.
    again = detect_batch(run, paths, tmp_path / "regions_dask", options=DetectionOptions(task_s=task_s * 2),
                         progress=False, client=client)
    assert again.reused == [str(p) for p in paths]


def test_a_failing_span_fails_its_recording_alone(trained_run, recordings, client, tmp_path):
    import soundfile

    paths, _ = recordings
    y, sr = soundfile.read(str(paths[0]), dtype="float32")
    y[int(0.8 * len(y))] = np.nan  # in the last span only
    poisoned = tmp_path / "poisoned.wav"
    soundfile.write(str(poisoned), y, sr, subtype="FLOAT")
    out = tmp_path / "regions"
    result = detect_batch(load_detector_run(trained_run), [poisoned, paths[1]], out, progress=False, client=client,
                          options=DetectionOptions(task_s=1.5))
    assert result.succeeded == [str(paths[1])]
    assert [file for file, _ in result.failed] == [str(poisoned)] and "NaN or infinite" in result.failed[0][1]
    assert set(_read(out)["file"]) == {str(paths[1])}


def test_the_folder_reads_whole_with_pandas_and_dask(trained_run, recordings, tmp_path):
    import dask.dataframe

    paths, _ = recordings
    out = tmp_path / "codes"
    embed_batch(load_detector_run(trained_run), paths, out, progress=False)
    folder = PartsFolder(out)
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(folder.part(p).name for p in paths)
    assert folder.failures.is_file() and folder.dataset.is_file() and len(list((out / "_parts").iterdir())) == 3
    by_pandas = _read(out)
    by_dask = dask.dataframe.read_parquet(str(out)).compute().sort_values(["file", "start_s"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(by_pandas, by_dask, check_dtype=False)
    assert list(by_pandas.columns) == (["file", "start_s", "end_s", "score", "n_windows"]
                                       + [f"code_{k:03d}" for k in range(LATENT_DIM)])
    # Joined into one file, the same rows in the order of the inputs.
    single = tmp_path / "codes.parquet"
    embed_batch(load_detector_run(trained_run), paths, single, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(single), by_pandas)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes", "codes.parquet"]  # no temporary left


def test_recordings_without_regions_make_empty_parts_of_the_same_schema(trained_run, recordings, tmp_path):
    import dask.dataframe

    paths, _ = recordings
    out = tmp_path / "none"
    result = detect_batch(load_detector_run(trained_run), paths, out, progress=False,
                          options=DetectionOptions(min_region_s=1000.0))
    assert result.succeeded == [str(p) for p in paths] and result.n_rows == 0
    table = pd.read_parquet(out)
    assert list(table.columns) == ["file", "start_s", "end_s", "score"] and table.empty
    assert dask.dataframe.read_parquet(str(out)).compute().empty


def test_a_failing_recording_is_listed_and_the_others_complete(trained_run, recordings, client, tmp_path):
    paths, _ = recordings
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio at all")
    out = tmp_path / "regions"
    result = detect_batch(load_detector_run(trained_run), [paths[0], broken, paths[1]], out, progress=False,
                          client=client)
    assert result.succeeded == [str(paths[0]), str(paths[1])]
    assert [file for file, _ in result.failed] == [str(broken)] and "cannot be read" in result.failed[0][1]
    failures = pd.read_csv(PartsFolder(out).failures)
    assert failures["file"].tolist() == [str(broken)] and "cannot be read" in failures["reason"].iloc[0]
    assert set(_read(out)["file"]) == {str(paths[0]), str(paths[1])}


def test_an_interrupted_job_resumes_to_the_uninterrupted_result(trained_run, recordings, tmp_path, monkeypatch):
    paths, _ = recordings
    run = load_detector_run(trained_run)
    whole = tmp_path / "whole"
    embed_batch(run, paths, whole, progress=False)
    out = tmp_path / "resumed"
    calls, kill = [], [True]
    original = batch_module.write_part

    def killed_at_the_second(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == 2 and kill and kill.pop():
            raise KeyboardInterrupt  # the job is stopped (Ctrl-C) while the second recording is processed
        return original(*args, **kwargs)

    monkeypatch.setattr(batch_module, "write_part", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        embed_batch(run, paths, out, progress=False)
    first_part = PartsFolder(out).part(paths[0])
    assert [p.name for p in out.glob("*.parquet")] == [first_part.name]  # the finished part, nothing half made
    assert set(pd.read_parquet(out)["file"]) == {str(paths[0])}
    stamp = first_part.stat().st_mtime_ns
    calls.clear()
    result = embed_batch(run, paths, out, progress=False)
    assert calls == paths[1:] and result.reused == [str(paths[0])] and first_part.stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(_read(out), _read(whole), check_exact=True)
    # A changed recording is redone, alone; so is every one when an option that changes the rows changes.
    write_long_recording(paths[1], duration_s=DURATIONS_S[1], gap_s_range=(0.5, 1.5), seed=99)
    try:
        calls.clear()
        result = embed_batch(run, paths, out, progress=False)
        assert calls == [paths[1]] and result.reused == [str(paths[0]), str(paths[2])]
        fresh = tmp_path / "fresh"
        embed_batch(run, [paths[1]], fresh, progress=False)
        changed = _read(out)
        pd.testing.assert_frame_equal(changed[changed["file"] == str(paths[1])].reset_index(drop=True), _read(fresh))
        calls.clear()
        embed_batch(run, paths, out, progress=False, options=DetectionOptions(min_gap_s=0.3))
        assert calls == paths
    finally:
        write_long_recording(paths[1], duration_s=DURATIONS_S[1], gap_s_range=(0.5, 1.5), seed=11)


def test_a_folder_of_another_table_is_refused(trained_run, recordings, tmp_path):
    paths, _ = recordings
    run = load_detector_run(trained_run)
    out = tmp_path / "parts"
    detect_batch(run, paths[:1], out, progress=False)
    with pytest.raises(ParameterError, match="another table"):
        embed_batch(run, paths[:1], out, progress=False)
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not empty"):
        detect_batch(run, paths[:1], tmp_path / "stranger", progress=False)


def test_the_run_is_loaded_once_per_process_until_its_files_change(trained_run):
    spec = RunSpec.of(load_detector_run(trained_run))
    first = cached_run(spec)
    assert cached_run(spec) is first
    detector = RunLayout(trained_run).detector
    stat = detector.stat()
    os.utime(detector, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert cached_run(spec) is not first
    finally:
        os.utime(detector, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_index_on_dask_equals_the_serial_index_and_resumes(trained_run, recordings, client, tmp_path, monkeypatch):
    paths, _ = recordings
    options = DetectionOptions(min_region_s=0.25)
    serial, distributed = tmp_path / "serial", tmp_path / "dask"
    build_index(trained_run, paths, serial, options=options)
    build_index(trained_run, paths, distributed, options=options, client=client)

    def regions(out):
        layout = IndexLayout(out)
        return pd.concat([pd.read_parquet(p) for p in sorted(layout.parts.glob("*.parquet"))], ignore_index=True)

    pd.testing.assert_frame_equal(regions(serial), regions(distributed), check_exact=True)
    # Interrupted before its manifest: the next build keeps the part it finished.
    out = tmp_path / "interrupted"
    embedded, kill = [], [True]
    original = index_module.embed_regions

    def killed_at_the_second(run, path, *, options):
        embedded.append(path)
        if len(embedded) == 2 and kill and kill.pop():
            raise KeyboardInterrupt
        return original(run, path, options=options)

    monkeypatch.setattr(index_module, "embed_regions", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        build_index(trained_run, paths, out, options=options)
    assert not IndexLayout(out).manifest.exists()
    embedded.clear()
    result = build_index(trained_run, paths, out, options=options)
    assert embedded == paths[1:] and result.reused == [str(paths[0])]
    pd.testing.assert_frame_equal(regions(out), regions(serial), check_exact=True)


def test_the_command_line_runs_on_dask_and_resumes(trained_run, recordings, tmp_path, capsys):
    paths, _ = recordings
    out = tmp_path / "regions"
    args = ["detect", str(trained_run), *map(str, paths), "--out", str(out), "--no-progress"]
    assert main(args + ["--engine", "dask", "--workers", "2"]) == 0
    assert main(args) == 0
    assert f"{len(paths)} kept from an earlier run" in capsys.readouterr().out
    serial = tmp_path / "regions.csv"
    assert main(["detect", str(trained_run), *map(str, paths), "--out", str(serial), "--no-progress"]) == 0
    table = pd.read_csv(serial)
    np.testing.assert_allclose(table[["start_s", "end_s", "score"]], _read(out)[["start_s", "end_s", "score"]],
                               atol=5e-5)


@pytest.mark.parametrize("flags, message", [
    (["--engine", "dask", "--workers", "0"], "workers must be a whole number"),
    (["--workers", "2"], "workers is only used with engine 'dask'"),
    (["--scheduler", "tcp://127.0.0.1:9"], "scheduler is only used with engine 'dask'"),
    (["--engine", "dask", "--scheduler", " "], "scheduler must be an address"),
    (["--engine", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "workers is only used when"),
    (["--engine", "dask", "--task-s", "0"], "task_s (--task-s) must be a positive"),
    (["--engine", "dask", "--task-s", "nan"], "task_s (--task-s) must be a positive"),
])
def test_bad_engine_options_stop_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    # No model is needed to see these: they are checked before the run is loaded.
    assert main(["detect", str(tmp_path / "no_run"), str(tmp_path / "x.wav"), "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_unknown_engine_and_an_unreachable_scheduler_are_clear(trained_run, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stop:
        main(["embed", str(trained_run), str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark"])
    assert stop.value.code == 2 and "invalid choice: 'spark'" in capsys.readouterr().err
    from dolphin_ae import engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1)
    out = tmp_path / "out"
    assert main(["embed", str(trained_run), str(tmp_path), "--out", str(out), "--engine", "dask",
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "scheduler tcp://127.0.0.1:9: cannot be reached" in capsys.readouterr().err
    assert not out.exists()


def test_output_names(tmp_path):
    folder = PartsFolder(tmp_path)
    a, b = tmp_path / "one" / "_rec.wav", tmp_path / "two" / "_rec.wav"
    assert folder.part(a) != folder.part(b)
    assert not folder.part(a).name.startswith(("_", ".")) and folder.part(a).suffix == ".parquet"
    for good in ("regions.csv", "regions.parquet", "regions", tmp_path):
        check_output(good, (".csv", ".parquet"))
    with pytest.raises(ParameterError, match="a folder"):
        check_output("regions.json", (".csv", ".parquet"))
