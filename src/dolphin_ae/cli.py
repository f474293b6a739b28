"""The ``dolphin-ae`` command line (also ``python -m dolphin_ae``)."""

import argparse
import logging
import sys

from dolphin_ae.exceptions import DolphinAEError


def _synth(args):
    from dolphin_ae.synth import synthesize_dataset, synthesized_files

    counts = {"whistle": args.clips, "burst": args.clips, "click": args.clips, "noise": args.noise_clips}
    truth = synthesize_dataset(args.out, mode=args.mode, n_sessions=args.sessions, clips_per_label=counts, sr=args.sr,
                               snr_db_range=(args.snr_min_db, args.snr_max_db), n_motifs=args.motifs,
                               motif_fraction=args.motif_fraction, recordings_per_session=args.recordings,
                               recording_s=args.recording_s, seed=args.seed)
    n_files = len(synthesized_files(args.out))
    kind = "clips" if args.mode == "clips" else "recordings (annotations: annotations.csv)"
    print(f"wrote {n_files} {kind} holding {len(truth)} events from {args.sessions} sessions to {args.out} "
          f"(truth table: {args.out}/truth.csv)")
    return 0


def _report(args):
    import subprocess

    from papermill.exceptions import PapermillExecutionError

    from dolphin_ae.report import parse_overrides, run_report

    try:
        result = run_report(profile=args.profile, data_dir=args.data, run_dir=args.run_dir,
                            overrides=parse_overrides(args.set), build=not args.no_build)
    except PapermillExecutionError as error:
        print(f"dolphin-ae: error: a notebook failed: {error.ename}: {error.evalue}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"dolphin-ae: error: the book build failed (exit status {error.returncode}); see the log above",
              file=sys.stderr)
        return 1
    print(f"done: {result}")
    return 0


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
    synth.add_argument("--sr", type=int, default=48000, help="sample rate of the files (Hz, default 48000)")
    synth.add_argument("--snr-min-db", type=float, default=-3.0, help="lowest event SNR in the band (dB, default -3)")
    synth.add_argument("--snr-max-db", type=float, default=15.0, help="highest event SNR in the band (dB, default 15)")
    synth.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes the same files")
    synth.set_defaults(handler=_synth)

    report = commands.add_parser("report", help="run every notebook with papermill and build the Jupyter Book",
                                 description="Execute the chapter notebooks into a run directory (artifacts, "
                                             "metrics.json, manifest.json) and build the HTML book there.")
    report.add_argument("--profile", default="auto", choices=("auto", "ci", "cpu", "gpu"),
                        help="parameter profile from params/; auto picks gpu when a GPU is visible, else cpu")
    report.add_argument("--data", default=None, help="recordings: DIR/<label>/*.wav clips, or recordings with "
                                                     "DIR/annotations.csv or Raven selection tables; default: a "
                                                     "synthetic data set made in the run directory")
    report.add_argument("--run-dir", default=None, help="where the run's artifacts and book go (default runs/<profile>)")
    report.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override one notebook parameter (YAML value), e.g. --set epochs=3; repeatable")
    report.add_argument("--no-build", action="store_true", help="run the notebooks but do not build the HTML book")
    report.set_defaults(handler=_report)
    return parser


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DolphinAEError as error:
        print(f"dolphin-ae: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
