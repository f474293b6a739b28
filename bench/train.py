"""Training throughput of every autoencoder: ``train_autoencoder`` against a plain ``model.fit``.

For each model, in one run and on the same machine:

- ``baseline``: a fresh model, ``compile("adam", "mse")`` and ``model.fit(x, x)`` on an in-memory
  float32 array with Keras's defaults (batch size 32, float32, no XLA);
- ``ours``: ``dolphin_ae.train.training.train_autoencoder`` reading the same windows batch by batch from a
  memory-mapped ``.npy`` file, at the same batch size, float32;
- ``ours-bf16``: the same with the model built under ``precision_policy(True)`` (bfloat16 compute);
- ``ours-xla`` (with ``--jit-compile``): the same with XLA compilation.

Each figure is training windows per second over the epochs after the first (the first includes
building and tracing the step), the median over ``--repeats`` rounds; each round measures every
setting once, in turn, so that load from other processes falls on all of them alike. Ratios > 1 mean faster than the baseline. The windows are random
normal numbers: throughput does not depend on what the windows hold.

    PYTHONPATH=src python bench/train.py [--windows 64] [--epochs 3] [--lstm-width 0.0625]
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from dolphin_ae.models import MODEL_BUILDERS, build_model, model_options  # noqa: E402
from dolphin_ae.train.training import EpochTimer, precision_policy, train_autoencoder  # noqa: E402


def steady_rate(n_windows, epoch_seconds):
    """Windows per second over the epochs after the first (all epochs when there is only one)."""
    seconds = epoch_seconds[1:] or epoch_seconds
    return n_windows / float(np.median(seconds))


def baseline_rate(name, options, x, *, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = build_model(name, **options)
    model.compile(optimizer="adam", loss="mse")
    timer = EpochTimer()
    history = model.fit(x, x, epochs=epochs, verbose=0, callbacks=[timer])
    return steady_rate(len(x), history.history["epoch_seconds"])


def ours_rate(name, options, windows, *, epochs, batch_size, mixed_precision=False, jit_compile=False, seed=0):
    keras.utils.set_random_seed(seed)
    with precision_policy(mixed_precision):
        model = build_model(name, **options)
    history = train_autoencoder(model, windows, np.arange(len(windows)), epochs=epochs, batch_size=batch_size,
                                jit_compile=jit_compile, seed=seed, verbose=0)
    return steady_rate(len(windows), history["epoch_seconds"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=sorted(MODEL_BUILDERS), choices=sorted(MODEL_BUILDERS))
    parser.add_argument("--windows", type=int, default=64, help="training windows per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement (the first is not timed)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of ours (the baseline uses Keras's 32)")
    parser.add_argument("--conv-filters", type=int, nargs="+", default=[32, 16, 16, 8])
    parser.add_argument("--lstm-width", type=float, default=1 / 16, help="scale of the seed's LSTM V4 sizes")
    parser.add_argument("--jit-compile", action="store_true", help="also measure ours with XLA")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of measurements; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    frames, n_bins = 128, 256
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.windows, frames, n_bins, 1)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "windows.npy"
        np.save(path, x[..., 0])
        windows = np.load(path, mmap_mode="r")
        print(f"# {time.strftime('%Y-%m-%d')} | {platform.processor() or platform.machine()} | "
              f"{os.cpu_count()} CPUs | Keras {keras.__version__} on {keras.backend.backend()} | "
              f"{args.windows} windows of {frames} x {n_bins}, {args.epochs} epochs, batch {args.batch_size}, "
              f"median of {args.repeats} round(s); load average {os.getloadavg()[0]:.1f}")
        print("model      | parameters | baseline w/s | ours w/s | ours/base | ours-bf16 w/s | bf16/base"
              + (" | ours-xla w/s | xla/base" if args.jit_compile else ""))
        for name in args.models:
            options = model_options(name, input_shape=(frames, n_bins, 1), conv_filters=args.conv_filters,
                                    lstm_width=args.lstm_width, seed=args.seed)
            parameters = build_model(name, **options).count_params()
            settings = {"base": lambda: baseline_rate(name, options, x, epochs=args.epochs, seed=args.seed),
                        "ours": lambda: ours_rate(name, options, windows, epochs=args.epochs,
                                                  batch_size=args.batch_size, seed=args.seed),
                        "bf16": lambda: ours_rate(name, options, windows, epochs=args.epochs,
                                                  batch_size=args.batch_size, mixed_precision=True, seed=args.seed)}
            if args.jit_compile:
                settings["xla"] = lambda: ours_rate(name, options, windows, epochs=args.epochs,
                                                    batch_size=args.batch_size, jit_compile=True, seed=args.seed)
            rates = {key: [] for key in settings}
            for _ in range(args.repeats):
                for key, measure in settings.items():
                    rates[key].append(measure())
            rate = {key: float(np.median(values)) for key, values in rates.items()}
            base, ours, bf16 = rate["base"], rate["ours"], rate["bf16"]
            line = (f"{name:10s} | {parameters:10,d} | {base:12.1f} | {ours:8.1f} | {ours / base:9.2f} | "
                    f"{bf16:13.1f} | {bf16 / base:9.2f}")
            if args.jit_compile:
                line += f" | {rate['xla']:12.1f} | {rate['xla'] / base:8.2f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
