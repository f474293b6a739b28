"""Throughput and memory of ``dolphin-ae detect`` on long synthetic recordings.

For each model size, a detector with that encoder (untrained weights: speed does not depend on
them) is written as a run directory; recordings of each requested length are synthesised
(``synth_long``, 16-bit WAV at 48 kHz); each detection runs in a fresh process that reports

- the real-time factor: seconds of audio per second of detection (model loading excluded), and the
  CPU seconds the process spent on it (all its threads; less sensitive to other jobs than the wall time);
- the peak resident memory of the process, and its resident memory after loading the model.

Printed ratios compare the longest recording with the shortest, measured in the same run: time
should grow with the length (ratio near the length ratio) and peak memory should not (ratio near 1).

``--baseline-src DIR`` also times another checkout's package (its ``src/``, e.g. a worktree of
``main``) on the same recordings and models, each of its runs right before the current code's, so
that before and after share the machine's load; ``--repeat N`` runs every pair N times. Each row
carries the 1-minute load average read as it started (the machine may be shared).

    PYTHONPATH=src python bench/detect.py                      # 1 and 30 min, ci-size encoder
    PYTHONPATH=src python bench/detect.py --minutes 1 10 --filters 8,8,8,8 --filters 128,64,32,16:1
    PYTHONPATH=src python bench/detect.py --minutes 1 3 --filters 32,16,16,8 --baseline-src ../base/src --repeat 2
    PYTHONPATH=src python bench/detect.py --minutes 3 --filters 32,16,16,8 --activation leaky --no-batch-norm

The encoder is the seed's ConvNet v5 (ReLU then LeakyReLU in each convolution, a batch-normalised
code) at the given filters; ``--activation leaky --no-batch-norm`` is the architecture the book trains.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(model_dir, wav, block_s):
    """Runs in its own process: detection of one recording, timed, with its memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import soundfile

    from dolphin_ae.field.batch import detect_batch
    from dolphin_ae.field.regions import DetectionOptions
    from dolphin_ae.field.run import load_detector_run

    run = load_detector_run(model_dir)
    rss_loaded_mb = _current_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = detect_batch(run, [wav], Path(tempfile.mkdtemp()) / "regions.csv",
                          options=DetectionOptions(block_s=block_s), progress=False)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    duration_s = soundfile.info(wav).duration
    print(json.dumps({"audio_s": duration_s, "seconds": seconds, "real_time_factor": duration_s / seconds,
                      "cpu_s": cpu_s,
                      "regions": result.n_rows, "rss_after_load_mb": rss_loaded_mb,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _current_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _make_model_dir(directory, filters, *, activation="seed", batch_norm=True):
    import keras

    from dolphin_ae.field.run import write_detector_run
    from dolphin_ae.models.conv_v5 import build_conv_v5_encoder
    from dolphin_ae.train.silence import build_silence_detector, build_silence_head
    from dolphin_ae.audio.spectrogram import FrontEnd

    keras.utils.set_random_seed(0)
    encoder = build_conv_v5_encoder(filters=filters, activation=activation, batch_norm=batch_norm)
    detector = build_silence_detector(encoder, build_silence_head())
    return write_detector_run(directory, detector, FrontEnd(), encoder=encoder)


def _parse_filters(text):
    """``8,8,8,8`` or ``128,64,32,16:1`` (the longest recording to run it on, in minutes)."""
    sizes, _, limit = text.partition(":")
    return tuple(int(f) for f in sizes.split(",")), (float(limit) if limit else None)


def _print_summary(rows, codes):
    """Per code, the longest recording against the shortest; with a baseline, each pair's speed ratio."""
    for code in codes:
        measured = [r for r in rows if r["code"] == code and r["repeat"] == 0]
        if len(measured) < 2:
            continue
        short, long = measured[0], measured[-1]
        print(f"{code}, filters {short['filters']}: {long['minutes']:g} min vs {short['minutes']:g} min: "
              f"length x{long['minutes'] / short['minutes']:.1f}, time x{long['seconds'] / short['seconds']:.2f}, "
              f"peak RSS x{long['peak_rss_mb'] / short['peak_rss_mb']:.3f}, peak above the loaded model "
              f"x{(long['peak_rss_mb'] - long['rss_after_load_mb']) / max(short['peak_rss_mb'] - short['rss_after_load_mb'], 1e-9):.3f}",
              flush=True)
    if "baseline" not in codes:
        return
    for length in sorted({r["minutes"] for r in rows}):
        before = [r for r in rows if r["code"] == "baseline" and r["minutes"] == length]
        after = [r for r in rows if r["code"] == "current" and r["minutes"] == length]
        for b, c in zip(before, after):
            if b["regions"] != c["regions"]:
                print(f"WARNING: {length:g} min: the baseline found {b['regions']} regions, the current code {c['regions']}")
        ratios = ", ".join(f"{b['seconds'] / c['seconds']:.2f}" for b, c in zip(before, after))
        print(f"filters {rows[0]['filters']}, {length:g} min: speed of current / baseline, run by run: {ratios}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 30.0], help="recording lengths (min)")
    parser.add_argument("--filters", action="append", default=None,
                        help="encoder filters, e.g. 8,8,8,8 (the ci size) or 128,64,32,16:1 (the seed's, on "
                             "recordings up to 1 min only); repeatable")
    parser.add_argument("--activation", choices=("seed", "leaky"), default="seed",
                        help="the encoder's convolutions: seed (ReLU, then LeakyReLU; the default) or leaky (the book's)")
    parser.add_argument("--no-batch-norm", action="store_true", help="no batch normalisation of the code (the book's)")
    parser.add_argument("--block-s", type=float, default=10.0, help="detect's block size (s)")
    parser.add_argument("--work-dir", default=None, help="where recordings and models go (default: a temp folder)")
    parser.add_argument("--baseline-src", default=None,
                        help="another checkout's src/ folder, timed before the current code on every recording")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (code, recording) pair")
    parser.add_argument("--child", nargs=2, metavar=("MODEL_DIR", "WAV"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child, args.block_s)

    from dolphin_ae.data.synth_long import write_long_recording

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_detect_"))
    work.mkdir(parents=True, exist_ok=True)
    minutes = sorted(args.minutes)
    recordings = {}
    for length in minutes:
        path = work / f"recording_{length:g}min.wav"
        if not path.exists():
            start = time.perf_counter()
            write_long_recording(path, duration_s=length * 60, subtype="PCM_16", seed=0)
            print(f"wrote {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
        recordings[length] = path
    print(f"cpu cores visible: {os.cpu_count()}, block {args.block_s:g} s", flush=True)
    here = str(Path(__file__).resolve().parents[1] / "src")
    codes = [("current", here)]
    if args.baseline_src:
        baseline = Path(args.baseline_src).resolve()
        if not (baseline / "dolphin_ae" / "field" / "batch.py").is_file():
            parser.error(f"--baseline-src {baseline}: no dolphin_ae package there (expected a checkout's src/ folder)")
        codes.insert(0, ("baseline", str(baseline)))
    rows = []
    for text in args.filters or ["8,8,8,8"]:
        filters, limit = _parse_filters(text)
        variant = ("" if args.activation == "seed" else f"_{args.activation}") + ("_nobn" if args.no_batch_norm else "")
        model_dir = _make_model_dir(work / ("model_" + "_".join(map(str, filters)) + variant), filters,
                                    activation=args.activation, batch_norm=not args.no_batch_norm)
        for length in minutes:
            if limit is not None and length > limit:
                continue
            for repeat in range(args.repeat):
                for code, src in codes:
                    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
                    load = os.getloadavg()[0]
                    output = subprocess.run([sys.executable, __file__, "--child", str(model_dir), str(recordings[length]),
                                             "--block-s", str(args.block_s)], capture_output=True, text=True,
                                            env=env, check=True).stdout
                    row = {"code": code, "src": src, "filters": ",".join(map(str, filters)), "minutes": length,
                           "repeat": repeat, "load_1min": load, **json.loads(output.strip().splitlines()[-1])}
                    rows.append(row)
                    print(f"{code:>8}  filters {row['filters']:>14}  {length:5g} min  detect {row['seconds']:7.2f} s (cpu {row['cpu_s']:6.2f} s)  "
                          f"real-time factor {row['real_time_factor']:7.1f}x  peak RSS {row['peak_rss_mb']:7.0f} MB  "
                          f"(after model load {row['rss_after_load_mb']:.0f} MB)  regions {row['regions']}  "
                          f"load {load:.2f}", flush=True)
        _print_summary([r for r in rows if r["filters"] == ",".join(map(str, filters))], [c for c, _ in codes])
    (work / "bench_detect.json").write_text(json.dumps(rows, indent=2))
    print(f"results: {work / 'bench_detect.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
