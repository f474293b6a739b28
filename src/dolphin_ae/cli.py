"""The ``dolphin-ae`` command line (also ``python -m dolphin_ae``)."""

import argparse
import logging
import sys
from pathlib import Path

from dolphin_ae.constants import SEED_SR
from dolphin_ae.exceptions import DolphinAEError, ParameterError


def _synth(args):
    from dolphin_ae.data.synth import DIFFICULTY_OFF, clip_counts, synthesize_dataset, synthesized_files

    counts = clip_counts(args.clips, args.noise_clips)
    truth = synthesize_dataset(args.out, mode=args.mode, n_sessions=args.sessions, clips_per_label=counts, sr=args.sr,
                               snr_db_range=(args.snr_min_db, args.snr_max_db), n_motifs=args.motifs,
                               motif_fraction=args.motif_fraction, recordings_per_session=args.recordings,
                               recording_s=args.recording_s, seed=args.seed, **(DIFFICULTY_OFF if args.easy else {}))
    n_files = len(synthesized_files(args.out))
    kind = "clips" if args.mode == "clips" else "recordings (annotations: annotations.csv)"
    print(f"wrote {n_files} {kind} holding {len(truth)} events from {args.sessions} sessions to {args.out} "
          f"(truth table: {args.out}/truth.csv)")
    return 0


def _report(args):
    import subprocess

    from papermill.exceptions import PapermillExecutionError

    from dolphin_ae.book.report import parse_overrides, run_report

    try:
        result = run_report(profile=args.profile, data_dir=args.data, run_dir=args.run_dir,
                            overrides=parse_overrides(args.set), build=not args.no_build, force=args.force)
    except PapermillExecutionError as error:
        print(f"dolphin-ae: error: a notebook failed: {error.ename}: {error.evalue}", file=sys.stderr)
        print("dolphin-ae: the stages that finished are kept; run the command again to resume from the failed one",
              file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"dolphin-ae: error: the book build failed (exit status {error.returncode}); see the log above",
              file=sys.stderr)
        return 1
    print(f"done: {result}")
    return 0


def _detection_options(args):
    from dolphin_ae.field.regions import DetectionOptions

    return DetectionOptions(step_frames=args.step_frames, min_gap_s=args.min_gap_s, min_region_s=args.min_region_s,
                            channel=args.channel, block_s=args.block_s, batch_size=args.batch_size,
                            task_s=args.task_s).check()


def _finish_batch(result, out, what):
    reused = getattr(result, "reused", [])
    changed = getattr(result, "changed", [])
    notes = ([f"{len(reused)} kept from an earlier run: finished, inputs unchanged"] if reused else []) + \
        ([f"{len(changed)} re-embedded: changed since they were indexed"] if changed else [])
    kept = f" ({'; '.join(notes)})" if notes else ""
    print(f"wrote {result.n_rows} {what} from {len(result.succeeded)} recording(s) to {out}{kept}")
    if result.failed:
        print(f"dolphin-ae: {len(result.failed)} of {len(result.failed) + len(result.succeeded)} recording(s) "
              f"could not be used:", file=sys.stderr)
        for file, reason in result.failed:
            print(f"  {file}: {reason}", file=sys.stderr)
    if not result.succeeded:
        print("dolphin-ae: error: no recording could be used", file=sys.stderr)
    return result.exit_status


def _check_suffix(option, path, suffixes, what):
    if Path(path).suffix.lower() not in suffixes:
        raise ParameterError(f"{option} {path}: expected a {' or '.join(suffixes)} file ({what}), "
                             f"got {Path(path).suffix or 'no suffix'}")


def _check_engine(args):
    """The engine options, checked before the run is loaded or any recording read."""
    from dolphin_ae.engine import check_engine

    check_engine(args.engine, args.workers, args.scheduler)


def _engine(args):
    from dolphin_ae.engine import engine_client

    return engine_client(args.engine, workers=args.workers, scheduler=args.scheduler)


def _detect(args):
    from dolphin_ae.field.batch import detect_batch
    from dolphin_ae.field.parts import check_output
    from dolphin_ae.field.run import load_detector_run

    _check_engine(args)
    check_output(args.out, (".csv",))
    if args.wav is not None:
        _check_suffix("--wav", args.wav, (".wav",), "the regions' audio is written as WAV")
    options = _detection_options(args)
    run = load_detector_run(args.model_dir, threshold=args.threshold)
    with _engine(args) as client:
        result = detect_batch(run, args.inputs, args.out, options=options, wav_path=args.wav,
                              progress=not args.no_progress, client=client)
    return _finish_batch(result, args.out + (f" and {args.wav}" if args.wav else ""), "regions")


def _embed(args):
    from dolphin_ae.field.batch import embed_batch
    from dolphin_ae.field.parts import check_output
    from dolphin_ae.field.run import load_detector_run

    _check_engine(args)
    check_output(args.out, (".parquet", ".csv"))
    options = _detection_options(args)
    run = load_detector_run(args.model_dir, threshold=args.threshold)
    with _engine(args) as client:
        result = embed_batch(run, args.inputs, args.out, per=args.per, signal_only=args.signal_only, options=options,
                             progress=not args.no_progress, client=client)
    return _finish_batch(result, args.out, f"{args.per} embeddings")


def _index(args):
    from dolphin_ae.field.index import build_index
    from dolphin_ae.layout import IndexLayout

    _check_engine(args)
    options = _detection_options(args)
    with _engine(args) as client:
        result = build_index(args.model_dir, args.inputs, args.out, options=options, embedding=args.embedding,
                             threshold=args.threshold, seed=args.seed, client=client,
                             progress=not args.no_progress)
    if not result.succeeded and not result.failed:
        print(f"every recording is in {args.out} already; nothing added")
        return 0
    return _finish_batch(result, f"the index {args.out} ({IndexLayout(args.out).manifest.name})", "regions")


def _search(args):
    from dolphin_ae.field.search import embed_query, index_run, load_index, search
    from dolphin_ae.runio import atomic_path

    if args.out is not None:
        _check_suffix("--out", args.out, (".csv",), "the hits are written as CSV")
    if args.k < 1:
        raise ParameterError(f"--k must be a positive number of hits, got {args.k}")
    index = load_index(args.index_dir)
    run = index_run(index, run_dir=args.run)
    code, sequence = embed_query(run, args.query, options=index.options, start_s=args.start_s, end_s=args.end_s)
    hits = search(index, code, sequence, k=args.k, rerank=args.rerank, n_candidates=args.candidates)
    if args.out is None:
        print(hits.to_csv(index=False, float_format="%.4f"), end="")
    else:
        with atomic_path(args.out) as temporary:
            hits.to_csv(temporary, index=False, float_format="%.4f")
        print(f"wrote the {len(hits)} nearest of {len(index)} regions to {args.out}")
    return 0


def _add_detection_arguments(parser):
    parser.add_argument("model_dir", metavar="MODEL_DIR",
                        help="a run directory made by `dolphin-ae report` (or its models/ folder); its "
                             "models/silence_detector.keras scores the windows and its dataset.json gives the "
                             "front end (sample rate, band, window size) the model was trained with")
    parser.add_argument("inputs", metavar="AUDIO_OR_DIR", nargs="+",
                        help="recordings (WAV or FLAC, any length, rate and channel count) or folders searched "
                             "recursively for .wav/.flac files")
    parser.add_argument("--threshold", type=float, default=None,
                        help="probability of silence from which a window counts as silence; windows below it "
                             "are signal (default: the run's threshold from metrics.json, else 0.5)")
    parser.add_argument("--step-frames", type=int, default=None,
                        help="spectrogram frames between window starts (default: the run's, 64 frames = half a "
                             "window = 0.085 s at 48 kHz); smaller steps give finer region edges, cost more")
    parser.add_argument("--min-gap-s", type=float, default=0.1,
                        help="a signal window joins the current region when it starts less than this many seconds "
                             "after the region's end (default 0.1, the 2019 study's rule)")
    parser.add_argument("--min-region-s", type=float, default=None,
                        help="regions shorter than this (s) are dropped (default: one window, 0.18 s at 48 kHz)")
    parser.add_argument("--channel", type=int, default=0, help="channel of multi-channel files to analyse (0 = first)")
    parser.add_argument("--block-s", type=float, default=10.0,
                        help="seconds of audio read and analysed at a time; memory grows with this, not with the "
                             "recording's length (default 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per model call (default 64)")
    parser.add_argument("--task-s", type=float, default=600.0,
                        help="with --engine dask: a recording longer than this many seconds is cut into spans of "
                             "this length, each a task of its own, so that one long recording keeps every worker "
                             "busy; the regions and codes are those of one task (default 600)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="where the recordings are processed: local (this process, one after another; the "
                             "default) or dask (one task per recording on a Dask cluster: a LocalCluster of "
                             "--workers processes, or the cluster at --scheduler)")
    parser.add_argument("--workers", type=int, default=None,
                        help="with --engine dask: worker processes of the local cluster, one thread each "
                             "(default: one per CPU core)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --engine dask: join the running cluster whose scheduler is at ADDRESS (e.g. "
                             "tcp://host:8786, one started with dask-jobqueue); its workers must have dolphin-ae "
                             "installed and see the recordings, the run and --out at the same paths")


def build_parser():
    parser = argparse.ArgumentParser(prog="dolphin-ae", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write a labelled synthetic data set (clips or long recordings)",
                                description="Write synthetic whistle, burst-pulse, click and background sounds with "
                                            "planted signature whistles: clips into OUT/<label>/ (--mode clips) or "
                                            "long recordings with OUT/annotations.csv (--mode recordings), and a "
                                            "ground-truth table OUT/truth.csv.")
    synth.add_argument("out", help="output folder (created)")
    synth.add_argument("--mode", choices=("clips", "recordings"), default="clips",
                       help="folder-per-label clips, or long recordings with annotations.csv (default clips)")
    synth.add_argument("--recordings", type=int, default=2, help="recordings mode: recordings per session (default 2)")
    synth.add_argument("--recording-s", type=float, default=30.0,
                       help="recordings mode: duration of each recording (s, default 30)")
    synth.add_argument("--motifs", type=int, default=4, help="signature whistles planted (default 4)")
    synth.add_argument("--motif-fraction", type=float, default=0.5,
                       help="share of whistles that are renditions of a signature whistle (default 0.5)")
    synth.add_argument("--sessions", type=int, default=8, help="recording sessions, each with its own background (default 8)")
    synth.add_argument("--clips", type=int, default=4, help="clips per session of each signal class (default 4)")
    synth.add_argument("--noise-clips", type=int, default=8, help="background-only clips per session (default 8)")
    synth.add_argument("--sr", type=int, default=SEED_SR, help=f"sample rate of the files (Hz, default {SEED_SR})")
    synth.add_argument("--snr-min-db", type=float, default=-3.0, help="lowest event SNR in the band (dB, default -3)")
    synth.add_argument("--snr-max-db", type=float, default=15.0, help="highest event SNR in the band (dB, default 15)")
    synth.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes the same files")
    synth.add_argument("--easy", action="store_true",
                       help="without the difficulty of clip-labelled recordings (no clicks over whistles, natural "
                            "clip levels, no per-session bands, events filling their clips): the generator of "
                            "version 2")
    synth.set_defaults(handler=_synth)

    report = commands.add_parser("report", help="run every notebook with papermill and build the Jupyter Book",
                                 description="Execute the chapter notebooks into a run directory (artifacts, "
                                             "metrics.json, manifest.json) and build the HTML book there. "
                                             "Re-running in the same run directory resumes: stages that finished "
                                             "with unchanged inputs are skipped (see --force).")
    report.add_argument("--profile", default="auto", choices=("auto", "ci", "cpu", "gpu"),
                        help="parameter profile from params/; auto picks gpu when a GPU is visible, else cpu")
    report.add_argument("--data", default=None, help="recordings: DIR/<label>/*.wav clips, or recordings with "
                                                     "DIR/annotations.csv or Raven selection tables; default: a "
                                                     "synthetic data set made in the run directory")
    report.add_argument("--run-dir", default=None, help="where the run's artifacts and book go (default runs/<profile>)")
    report.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override one notebook parameter (YAML value), e.g. --set epochs=3; repeatable")
    report.add_argument("--no-build", action="store_true", help="run the notebooks but do not build the HTML book")
    report.add_argument("--force", action="store_true",
                        help="run every notebook again and remove the run's training checkpoints, so every model "
                             "trains afresh; by default a re-run in the same run directory skips the "
                             "leading stages that finished with the same notebook, parameters, code and data")
    report.set_defaults(handler=_report)

    detect = commands.add_parser(
        "detect", help="find the non-silent regions of recordings with a trained run's silence detector",
        description="Stream each recording in blocks, score every window with the run's silence detector, merge "
                    "the windows called signal into regions and write them as rows file,start_s,end_s,score "
                    "(score: mean not-silence probability of the region's windows; times in s), to one CSV file "
                    "or to a folder of one Parquet part per recording (resumable). A file that cannot be used is "
                    "named with its reason and skipped; the exit status is 0 when at least one recording was "
                    "processed, else 1. --engine dask runs one task per recording on a Dask cluster.")
    _add_detection_arguments(detect)
    detect.add_argument("--out", required=True,
                        help="a .csv file for the regions, written when the batch ends; or a folder "
                             "(an existing one, or a name without a suffix): one Parquet part per recording, "
                             "read whole by pandas.read_parquet(folder), and a rerun skips recordings whose part "
                             "is finished with unchanged inputs (embed --per region writes regions with their "
                             "codes)")
    detect.add_argument("--wav", default=None,
                        help="also write the regions' audio, at the run's sample rate, into this one WAV file (.wav) "
                             "with 0.1 s of silence between regions")
    detect.set_defaults(handler=_detect)

    embed = commands.add_parser(
        "embed", help="encode recordings: one embedding (the encoder's code) per window or per region",
        description="Stream each recording in blocks and write the run's encoder code of every window, or the "
                    "mean code of every detected region, as columns code_000.. beside file,start_s,end_s. "
                    "Parquet or CSV, chosen by the suffix of --out, or a folder of one Parquet part per recording "
                    "(resumable). Bad files are skipped and listed. --engine dask runs one task per recording "
                    "on a Dask cluster.")
    _add_detection_arguments(embed)
    embed.add_argument("--out", required=True,
                       help="output table, .parquet or .csv; or a folder (an existing one, or a name without a "
                            "suffix): one Parquet part per recording, resumable, as for detect")
    embed.add_argument("--per", choices=("region", "window"), default="region",
                       help="region: one row per detected region (mean code, score, n_windows); window: one row "
                            "per window (code, p_not_silence, is_signal)")
    embed.add_argument("--signal-only", action="store_true",
                       help="with --per window, keep only the windows called signal")
    embed.set_defaults(handler=_embed)

    index = commands.add_parser(
        "index", help="detect and embed the regions of recordings into a searchable index (query by example)",
        description="Detect and embed every region of the recordings as `embed --per region` does, keep the "
                    "codes of each region's windows, and build an approximate-nearest-neighbour index (pynndescent) "
                    "over the region codes, saved in INDEX_DIR with the run, front end and options used. Given an "
                    "existing INDEX_DIR, only recordings not yet in it are embedded and added, and those in it "
                    "whose size or modification time changed since they were indexed are embedded again.")
    _add_detection_arguments(index)
    index.add_argument("--out", required=True, metavar="INDEX_DIR",
                       help="the index folder (created, or extended when it holds an index of the same run and "
                            "options); index.json is written last, so an interrupted build is never trusted")
    index.add_argument("--embedding", choices=("encoder", "pooled"), default="encoder",
                       help="region codes from the run's encoder (default), or raw pooled spectrograms (the peer: "
                            "each normalised window averaged over 4 x 32 blocks of frames and bins)")
    index.add_argument("--seed", type=int, default=0, help="random seed of the neighbour graph")
    index.set_defaults(handler=_index)

    search = commands.add_parser(
        "search", help="find the regions of an index nearest to a query recording (query by example)",
        description="Embed the query (the whole file, or --start-s..--end-s) exactly as the index embedded its "
                    "regions and write the k nearest regions as CSV rows file,start_s,end_s,distance, nearest "
                    "first (times in s; distance: Euclidean between codes, or per-step DTW with --rerank dtw). "
                    "A query at another sample rate is resampled to the run's.")
    search.add_argument("index_dir", metavar="INDEX_DIR", help="an index made by `dolphin-ae index`")
    search.add_argument("query", metavar="QUERY", help="the query recording (WAV or FLAC, any rate)")
    search.add_argument("--start-s", type=float, default=None, help="start of the query span (s; default 0)")
    search.add_argument("--end-s", type=float, default=None, help="end of the query span (s; default the file's end)")
    search.add_argument("--k", type=int, default=20, help="hits to write (default 20)")
    search.add_argument("--out", default=None, help="CSV file for the hits (default: print them)")
    search.add_argument("--rerank", choices=("dtw",), default=None,
                        help="re-rank the candidates by the DTW distance between code sequences (whistles "
                             "differ in duration)")
    search.add_argument("--candidates", type=int, default=None,
                        help="with --rerank: nearest codes re-ranked (default 5 x k)")
    search.add_argument("--run", default=None,
                        help="the run directory to embed the query with (default: the one recorded in the "
                             "index; it must have the index's front end and models)")
    search.set_defaults(handler=_search)
    return parser


# Exit statuses: 2 for a user's mistake (a bad option, parameter, file or folder: argparse's own
# status for bad arguments), 1 for work that was tried and failed.
USAGE_ERROR = 2


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ParameterError as error:
        print(f"dolphin-ae: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except DolphinAEError as error:
        print(f"dolphin-ae: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
