"""Front-end throughput: our band spectrogram against ``librosa.stft`` on the same audio, in one run.

Both transform the same 10 minutes of 48 kHz audio with 512-sample Hann frames every 64 samples.
``librosa.stft`` makes the full complex STFT (257 bins of a 512-point FFT, centred frames); ours makes
the band's 256 magnitudes from a 624-point FFT (the seed's band, 4.4-24 kHz at 76.9 Hz per bin).
Each is timed as the best of ``--repeats`` runs, in audio-seconds processed per wall-clock second
(x real time), and its peak memory above the input's is measured with tracemalloc (NumPy reports
its allocations to it) in a separate run. The ratio ours/librosa is printed last.

    PYTHONPATH=src python bench/frontend.py [--minutes 10] [--repeats 3] [--workers N]
"""

import argparse
import gc
import os
import time
import tracemalloc

import numpy as np


def best_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
        del result
    return min(times)


def peak_bytes(function):
    gc.collect()
    tracemalloc.start()
    result = function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio duration (min, default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the best counts (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="threads for our front end (default: up to 4 cores)")
    args = parser.parse_args()

    import librosa

    from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram

    fe = FrontEnd()
    rng = np.random.default_rng(0)
    audio_s = args.minutes * 60.0
    y = (0.1 * rng.standard_normal(int(audio_s * fe.sr))).astype(np.float32)

    def ours():
        return band_spectrogram(y, fe, workers=args.workers)

    def theirs():
        return librosa.stft(y, n_fft=fe.n_fft, hop_length=fe.hop_length)

    ours(), theirs()  # warm up: imports, FFT plans, page faults
    rows = []
    for name, function in (("dolphin_ae band_spectrogram", ours), ("librosa.stft", theirs)):
        seconds = best_seconds(function, args.repeats)
        peak = peak_bytes(function)
        shape = function().shape
        rows.append((name, seconds, audio_s / seconds, peak / 2**20, shape))
    print(f"{audio_s:.0f} s of {fe.sr} Hz audio (input {y.nbytes / 2**20:.0f} MiB float32), n_fft={fe.n_fft}, "
          f"hop_length={fe.hop_length}; {os.cpu_count()} CPU(s); best of {args.repeats}")
    print(f"{'front end':32s} {'seconds':>8s} {'x real time':>12s} {'peak MiB':>9s}  output shape")
    for name, seconds, speed, peak_mib, shape in rows:
        print(f"{name:32s} {seconds:8.3f} {speed:12.0f} {peak_mib:9.0f}  {shape}")
    ratio = rows[0][2] / rows[1][2]
    print(f"speed ratio ours / librosa: {ratio:.2f} (target >= 10)")
    print(f"peak memory ratio ours / librosa: {rows[0][3] / rows[1][3]:.2f}")


if __name__ == "__main__":
    main()
