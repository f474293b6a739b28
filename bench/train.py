"""Training throughput and achieved FLOP/s of the autoencoders: ``train_autoencoder`` against ``model.fit``.

For each model and each Keras backend asked for, in one run and on the same machine:

- ``base``: a fresh model, ``compile("adam", "mse")`` with Keras's defaults (float32; ``jit_compile="auto"``,
  which Keras resolves to XLA on JAX and on a TensorFlow GPU, to no compilation on a TensorFlow CPU and on
  PyTorch; the table says what it resolved to) and ``model.fit(x, x)`` on an in-memory float32 array, at
  the same batch size as ours;
- ``ours``: ``dolphin_ae.train.training.train_autoencoder`` reading the same windows batch by batch from
  a memory-mapped ``.npy`` file, in each precision of ``--precisions`` (``bfloat16``: the model built
  under ``precision_policy(True)``, float32 weights) and each ``--jit`` setting. What ``jit_compile``
  means differs by backend: TensorFlow ``off`` runs a ``tf.function`` graph and ``on`` compiles it with
  XLA; JAX ``off`` runs the step eagerly, op by op, and ``on`` is ``jax.jit`` (XLA); PyTorch ``off`` is
  eager and ``on`` is ``torch.compile``.

Each windows-per-second figure is over the epochs after the first (the first includes building,
tracing and compiling the step), the median over ``--repeats`` rounds; each round measures every
setting once, in turn, so that load from other processes falls on all of them alike. ``x base`` is
the setting's rate over the baseline's (> 1: faster). The windows are random normal numbers:
throughput does not depend on what the windows hold.

FLOP/s: the windows per second times the training FLOPs per window of
:func:`dolphin_ae.models.flops.training_flops` (3 x the forward count of the model's convolutions,
matrix products and pooling, counted from its layers; the module gives the rule). The count is the
model's arithmetic, the same for every setting and backend, not what a backend happens to execute.
With ``--peak-tflops X`` (the device's dense peak in TFLOP/s, e.g. about 989 for an H200 in dense
bfloat16) each line also gives the share of that peak reached. ``--xla-check`` (JAX) prints XLA's own
count of the forward pass beside ours.

Sizes: ``--sizes cpu`` takes the ``cpu`` profile's (``params/cpu.yaml``: ConvNet v5 filters, LSTM
width), ``--sizes seed`` the seed's full ConvNet v5.1 (128/64/32/16) and LSTM V4 (width 1);
``--conv-filters`` and ``--lstm-width`` override either. ``--backends`` runs the same measurements
once per backend, each in a fresh process with ``KERAS_BACKEND`` set (a backend whose package is not
installed is named and skipped); without it, the backend of this process.

    PYTHONPATH=src python bench/train.py [--backends tensorflow jax torch] [--sizes cpu|seed]
        [--models conv_v5 lstm_v4_1] [--windows 64] [--epochs 3] [--batch-size 32]
        [--precisions float32 bfloat16] [--jit off on] [--peak-tflops 989] [--xla-check]
"""

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

MODELS = ("conv_v5", "lstm_v4_1", "lstm_v4_3", "vae_v4_2")
BACKENDS = ("tensorflow", "jax", "torch")
CPU_PROFILE = Path(__file__).resolve().parents[1] / "params" / "cpu.yaml"
SEED_SIZES = {"conv_filters": [128, 64, 32, 16], "lstm_width": 1.0}
WINDOW_SHAPE = (128, 256)


def steady_rate(n_windows, epoch_seconds):
    """Windows per second over the epochs after the first (all epochs when there is only one)."""
    seconds = epoch_seconds[1:] or epoch_seconds
    return n_windows / float(np.median(seconds))


def sizes_of(args):
    if args.sizes == "seed":
        sizes = dict(SEED_SIZES)
    else:
        profile = yaml.safe_load(CPU_PROFILE.read_text())
        sizes = {"conv_filters": list(profile["conv_filters"]), "lstm_width": float(profile["lstm_width"])}
    label = args.sizes
    if args.conv_filters is not None:
        sizes["conv_filters"], label = list(args.conv_filters), "custom"
    if args.lstm_width is not None:
        sizes["lstm_width"], label = float(args.lstm_width), "custom"
    return label, sizes


def baseline_rate(name, options, x, *, epochs, batch_size, seed):
    import keras

    from dolphin_ae.models import build_model
    from dolphin_ae.train.training import EpochTimer

    keras.utils.set_random_seed(seed)
    model = build_model(name, **options)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, x, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[EpochTimer()])
    return steady_rate(len(x), history.history["epoch_seconds"]), bool(model.jit_compile)


def ours_rate(name, options, windows, *, epochs, batch_size, mixed_precision, jit_compile, seed):
    import keras

    from dolphin_ae.models import build_model
    from dolphin_ae.train.training import precision_policy, train_autoencoder

    keras.utils.set_random_seed(seed)
    with precision_policy(mixed_precision):
        model = build_model(name, **options)
    history = train_autoencoder(model, windows, np.arange(len(windows)), epochs=epochs, batch_size=batch_size,
                                jit_compile=jit_compile, seed=seed, verbose=0)
    return steady_rate(len(windows), history["epoch_seconds"])


def xla_forward_flops(model):
    """XLA's own count of ``model``'s forward FLOPs for one window (JAX backend only), a check on ours.

    XLA's cost analysis counts a ``while`` loop's body once, not once per iteration, so the LSTM layers'
    time steps (each a loop iteration) are left out of it.
    """
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    window = np.zeros((1,) + tuple(model.input_shape[1:]), np.float32)
    forward = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
    cost = forward.lower(trainable, non_trainable, window).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def describe_size(name, options):
    if name == "conv_v5":
        return "filters " + "/".join(str(f) for f in options["filters"])
    return f"{options['filters']} filters, {options['lstm_units']} units"


def measure(args):
    """Every setting of every model on this process's backend; prints the table."""
    import keras

    from dolphin_ae.models import build_model, model_options
    from dolphin_ae.models.flops import TRAINING_FACTOR, training_flops
    from dolphin_ae.runio import backend_devices

    backend = keras.backend.backend()
    label, sizes = sizes_of(args)
    frames, n_bins = WINDOW_SHAPE
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.windows, frames, n_bins, 1)).astype(np.float32)
    devices = ", ".join(f"{name} ({kind})" if kind else name for name, kind in backend_devices())
    version = importlib.import_module(backend).__version__
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs | "
          f"Keras {keras.__version__} on {backend} {version} | devices: {devices} | sizes {label} | "
          f"{args.windows} windows of {frames} x {n_bins}, {args.epochs} epochs, batch {args.batch_size}, "
          f"median of {args.repeats} round(s) | load average {os.getloadavg()[0]:.1f}", flush=True)
    peak = f" | % of {args.peak_tflops:g} TFLOP/s" if args.peak_tflops else ""
    print(f"backend    | model      | size                   | parameters | train GFLOP/window | setting                "
          f"| w/s      | GFLOP/s  | x base{peak}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "windows.npy"
        np.save(path, x[..., 0])
        windows = np.load(path, mmap_mode="r")
        for name in args.models:
            options = model_options(name, input_shape=(frames, n_bins, 1), conv_filters=sizes["conv_filters"],
                                    lstm_width=sizes["lstm_width"], seed=args.seed)
            probe = build_model(name, **options)
            parameters, flops = probe.count_params(), training_flops(probe)
            if args.xla_check:
                ours, xla = flops // TRAINING_FACTOR, xla_forward_flops(probe)
                print(f"# {name}: forward GFLOP/window counted from the layers {ours / 1e9:.3f}, by XLA's cost analysis "
                      f"{xla / 1e9:.3f} (XLA / ours {xla / ours:.3f})", flush=True)
            del probe
            settings = {"base": lambda: baseline_rate(name, options, x, epochs=args.epochs,
                                                      batch_size=args.batch_size, seed=args.seed)}
            for precision in args.precisions:
                for jit in args.jit:
                    settings[f"ours {precision} jit {jit}"] = (
                        lambda precision=precision, jit=jit: ours_rate(
                            name, options, windows, epochs=args.epochs, batch_size=args.batch_size,
                            mixed_precision=precision == "bfloat16", jit_compile=jit == "on", seed=args.seed))
            rates = {key: [] for key in settings}
            base_jit = None
            for _ in range(args.repeats):
                for key, run in settings.items():
                    if key == "base":
                        rate, base_jit = run()
                    else:
                        rate = run()
                    rates[key].append(rate)
            base = float(np.median(rates["base"]))
            for key, values in rates.items():
                rate = float(np.median(values))
                shown = f"base float32 jit {'on' if base_jit else 'off'}" if key == "base" else key
                line = (f"{backend:10s} | {name:10s} | {describe_size(name, options):22s} | {parameters:10,d} | "
                        f"{flops / 1e9:18.3f} | {shown:22s} | {rate:8.2f} | {rate * flops / 1e9:8.2f} | "
                        f"{rate / base:6.2f}")
                if args.peak_tflops:
                    line += f" | {100 * rate * flops / (args.peak_tflops * 1e12):.2f}"
                print(line, flush=True)
    print(f"# {backend} done, load average {os.getloadavg()[0]:.1f}", flush=True)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS,
                        help="run once per backend, each in its own process (default: this process's backend)")
    parser.add_argument("--models", nargs="+", default=["conv_v5", "lstm_v4_1"], choices=MODELS)
    parser.add_argument("--sizes", choices=("cpu", "seed"), default="cpu",
                        help="the cpu profile's model sizes or the seed's full ones")
    parser.add_argument("--conv-filters", type=int, nargs="+", help="ConvNet v5 filters (overrides --sizes)")
    parser.add_argument("--lstm-width", type=float, help="scale of the seed's LSTM V4 sizes (overrides --sizes)")
    parser.add_argument("--windows", type=int, default=64, help="training windows per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement (the first is not timed)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of every setting, the baseline's too")
    parser.add_argument("--precisions", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"])
    parser.add_argument("--jit", nargs="+", choices=("off", "on"), default=["off", "on"],
                        help="jit_compile settings of ours (what each means per backend: see the docstring)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense peak (TFLOP/s): print the share reached")
    parser.add_argument("--xla-check", action="store_true",
                        help="JAX only: also print XLA's count of each model's forward FLOPs beside ours")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of measurements; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for option in ("windows", "epochs", "batch_size", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.xla_check and args.backends != ["jax"] and not (args.backends is None and os.environ.get("KERAS_BACKEND") == "jax"):
        parser.error("--xla-check needs the JAX backend alone (--backends jax, or KERAS_BACKEND=jax)")
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        parser.error(f"--peak-tflops must be positive, got {args.peak_tflops}")
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    current = os.environ.get("KERAS_BACKEND", "tensorflow")
    if args.backends is None or args.backends == [current]:
        measure(args)
        return 0
    failed = []
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            print(f"# {backend}: not installed in {sys.executable}, skipped", flush=True)
            continue
        # The last --backends wins in the child, so it measures this backend alone.
        child = subprocess.run([sys.executable, __file__, *argv, "--backends", backend],
                               env={**os.environ, "KERAS_BACKEND": backend})
        if child.returncode:
            failed.append(backend)
            print(f"# {backend}: failed with exit status {child.returncode}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
