"""Throughput of ``detect`` and ``embed`` on each engine: local, Dask with 1 worker, Dask with 2 workers.

The same synthetic recordings (``synth_long``, 16-bit WAV at 48 kHz) and the same detector (an
untrained ConvNet v5 encoder of the requested filters and the seed's head: speed does not depend on
the weights) go through ``detect_batch`` and ``embed_batch`` (per region) into a fresh folder of
parts for each engine, in one run. Model loading is not timed on any engine: the local run loads it
before the clock starts, and every Dask worker loads it (``cached_run``) before its batches; the
time to start the cluster is printed apart. Printed per engine and command: seconds of audio per
wall second (x real time), the ratio to the local engine, and the hours of wall time per 10^4
hours of audio, for the whole engine and per worker (one worker's share: engine time x workers).

Then ONE long recording (``--long-seconds``, default 300 s) on Dask with 1 and 2 workers, as one task
(``task_s`` longer than the recording) and cut into spans of ``--task-s`` seconds (default 60, so 5
spans): printed with the speed-up of spans over one task. With one task per recording a second worker
has nothing to do; with spans it should take about half the work.

    PYTHONPATH=src python bench/engine.py                          # 4 recordings of 45 s, 8/8/8/8 filters
    PYTHONPATH=src python bench/engine.py --recordings 8 --seconds 120 --filters 32,16,16,8
    PYTHONPATH=src python bench/engine.py --long-seconds 0         # without the long recording
    PYTHONPATH=src python bench/engine.py --magnitude log --whitening recording_median   # the book's front end

With ``--whitening recording_median`` each recording is read twice (its band profile first); its spans
wait for one task that computes the profile.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ARCHIVE_HOURS = 1e4


def _warm(spec):
    """Load the run into this worker's cache (returns nothing: the models stay in the worker)."""
    from dolphin_ae.field.engine_run import cached_run

    cached_run(spec)


def _make_model_dir(directory, filters, front_end):
    import keras

    from dolphin_ae.field.run import write_detector_run
    from dolphin_ae.models.conv_v5 import build_conv_v5_encoder
    from dolphin_ae.train.silence import build_silence_detector, build_silence_head

    keras.utils.set_random_seed(0)
    encoder = build_conv_v5_encoder(filters=filters)
    detector = build_silence_detector(encoder, build_silence_head())
    return write_detector_run(directory, detector, front_end, encoder=encoder)


def _time_batches(run, paths, work, label, client, options=None):
    from dolphin_ae.field.batch import detect_batch, embed_batch

    rows = []
    for command, call in (("detect", detect_batch), ("embed", embed_batch)):
        out = work / f"{command}_{label}"
        start = time.perf_counter()
        result = call(run, paths, out, progress=False, client=client, options=options)
        seconds = time.perf_counter() - start
        if result.failed or len(result.succeeded) != len(paths):
            raise RuntimeError(f"{label} {command}: {result.failed}")
        rows.append({"engine": label, "command": command, "seconds": seconds, "rows": result.n_rows})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=4, help="recordings (default 4)")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each recording (s, default 45)")
    parser.add_argument("--filters", default="8,8,8,8", help="encoder filters (default 8,8,8,8, the ci size)")
    parser.add_argument("--long-seconds", type=float, default=300.0,
                        help="length of the one long recording (s, default 300; 0: leave that case out)")
    parser.add_argument("--task-s", type=float, default=60.0,
                        help="span length for the long recording (s, default 60)")
    parser.add_argument("--magnitude", default="linear", help="the front end's magnitude (default linear)")
    parser.add_argument("--whitening", default="none", help="the front end's whitening (default none)")
    parser.add_argument("--work-dir", default=None,
                        help="where recordings, model and parts go (default: a temp folder)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import soundfile

    from dolphin_ae.data.synth_long import write_long_recording
    from dolphin_ae.engine import engine_client
    from dolphin_ae.audio.blocks import plan_spans
    from dolphin_ae.field.engine_run import RunSpec
    from dolphin_ae.field.regions import DetectionOptions
    from dolphin_ae.field.run import load_detector_run

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_engine_"))
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(args.recordings):
        path = work / f"recording_{k}_{args.seconds:g}s.wav"
        if not path.exists():
            write_long_recording(path, duration_s=args.seconds, subtype="PCM_16", seed=k)
        paths.append(path)
    audio_s = sum(soundfile.info(str(p)).duration for p in paths)
    filters = tuple(int(f) for f in args.filters.split(","))
    from dolphin_ae.audio.spectrogram import FrontEnd

    front_end = FrontEnd(magnitude=args.magnitude, whitening=args.whitening)
    model_dir = _make_model_dir(work / f"model_{args.magnitude}_{args.whitening}", filters, front_end)
    run = load_detector_run(model_dir)
    print(f"cpu cores visible: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; {len(paths)} recordings, "
          f"{audio_s:.0f} s of audio; encoder filters {args.filters}; front end {args.magnitude}, {args.whitening}",
          flush=True)
    long_path, long_rows = None, []
    if args.long_seconds > 0:
        long_path = work / f"long_{args.long_seconds:g}s.wav"
        if not long_path.exists():
            write_long_recording(long_path, duration_s=args.long_seconds, subtype="PCM_16", seed=100)
        n_spans = len(plan_spans(long_path, run.front_end, task_s=args.task_s) or [None])
        print(f"long recording: {args.long_seconds:g} s, {n_spans} spans of {args.task_s:g} s", flush=True)
    rows = _time_batches(run, paths, work, "local", None)
    for workers in (1, 2):
        start = time.perf_counter()
        with engine_client("dask", workers=workers) as client:
            client.run(_warm, RunSpec.of(run))
            started_s = time.perf_counter() - start
            print(f"dask {workers} worker(s): cluster started and model loaded in {started_s:.1f} s (not timed below)",
                  flush=True)
            rows += [{**row, "workers": workers} for row in
                     _time_batches(run, paths, work, f"dask{workers}", client)]
            if long_path is not None:
                for mode, task_s in (("one task", 10 * args.long_seconds), ("spans", args.task_s)):
                    label = f"long_dask{workers}_{mode.replace(' ', '_')}"
                    long_rows += [{**row, "workers": workers, "mode": mode} for row in
                                  _time_batches(run, [long_path], work, label, client, DetectionOptions(task_s=task_s))]
    local = {row["command"]: row["seconds"] for row in rows if row["engine"] == "local"}
    for row in rows:
        workers = row.get("workers", 1)
        speed = audio_s / row["seconds"]
        row.update(x_real_time=speed, vs_local=local[row["command"]] / row["seconds"],
                   hours_per_archive=ARCHIVE_HOURS / speed, worker_hours_per_archive=ARCHIVE_HOURS / speed * workers)
        print(f"{row['engine']:>6} {row['command']:>6}  {row['seconds']:6.1f} s  {speed:6.1f}x real time  "
              f"x{row['vs_local']:.2f} vs local  {row['hours_per_archive']:6.0f} h per 10^4 h of audio "
              f"({row['worker_hours_per_archive']:.0f} worker-hours)  rows {row['rows']}", flush=True)
    one_task = {(row["workers"], row["command"]): row["seconds"] for row in long_rows if row["mode"] == "one task"}
    one_worker = {(row["mode"], row["command"]): row["seconds"] for row in long_rows if row["workers"] == 1}
    for row in long_rows:
        row.update(x_real_time=args.long_seconds / row["seconds"],
                   vs_one_task=one_task[row["workers"], row["command"]] / row["seconds"],
                   vs_one_worker=one_worker[row["mode"], row["command"]] / row["seconds"])
        print(f"long, dask {row['workers']} worker(s), {row['mode']:>8}, {row['command']:>6}  {row['seconds']:6.1f} s  "
              f"{row['x_real_time']:6.1f}x real time  x{row['vs_one_task']:.2f} vs one task  "
              f"x{row['vs_one_worker']:.2f} vs 1 worker  rows {row['rows']}", flush=True)
    for row in long_rows:  # spans must give the one task's rows
        whole = next(o for o in long_rows if o["command"] == row["command"] and o["mode"] == "one task")
        if row["rows"] != whole["rows"]:
            raise RuntimeError(f"long {row['command']}: {row['rows']} rows in {row['mode']}, {whole['rows']} in one task")
    (work / "bench_engine.json").write_text(json.dumps({"audio_s": audio_s, "rows": rows, "long_rows": long_rows,
                                                        "long_seconds": args.long_seconds, "task_s": args.task_s},
                                                       indent=2))
    print(f"results: {work / 'bench_engine.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
