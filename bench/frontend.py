"""Front-end throughput: our band spectrogram against librosa and against the FFT alone, same work, one run.

Every side computes the seed's front end on the same 48 kHz noise: 512-sample periodic Hann frames
every 64 samples, each zero-padded to a 624-point real FFT, and the magnitudes of the band's 256 bins
(4.4-24 kHz, bins 57..312) as float32, frames first; the geometry comes from ``FrontEnd()`` and the
outputs are checked against each other before anything is timed.

- ``band_spectrogram``: ours, on 1 thread and on ``--workers`` threads.
- librosa: ``librosa.stft(y, n_fft=624, win_length=512, hop_length=64, center=False)``, then the
  band's rows, their magnitude, frames first (``np.abs(D[57:313].T)``). librosa centres the 512-sample
  window in the 624-sample frame, so it is given the signal with 56 zeros before and after (padded
  outside the timer), which puts its frame ``i`` on our frame ``i``. The STFT alone is timed too.
- the FFT alone (the ceiling): ``scipy.fft.rfft`` of frames already windowed and zero-padded to 624
  samples, the whole array at once and in blocks of ``FRAMES_PER_BLOCK`` frames (the faster counts).
- the window pipeline (:mod:`dolphin_ae.audio.pipeline`): windows of the whole waveform
  (``waveform_windows``) and streamed in blocks of ``--block-s`` (``stream_windows``), un-normalised.

Each is timed as the best of ``--repeats`` runs, in wall-clock seconds and in this process's CPU
seconds (steadier while other jobs share the cores; meaningful for the 1-thread rows). Printed: x real
time, and the ratios against librosa doing the same work and against the FFT alone.

    PYTHONPATH=src python bench/frontend.py [--seconds 120] [--repeats 3] [--workers 2] [--block-s 10]
"""

import argparse
import gc
import os
import time

import numpy as np


def best_of(function, repeats):
    """(wall s, CPU s) of the fastest of ``repeats`` calls, each minimum taken on its own."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        del result
    return min(walls), min(cpus)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="audio duration (s, default 120)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the best counts (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="threads of the threaded rows (default 2)")
    parser.add_argument("--block-s", type=float, default=10.0, help="streamed block (s, default 10)")
    args = parser.parse_args()

    import librosa
    import scipy.fft
    from numpy.lib.stride_tricks import sliding_window_view

    from dolphin_ae.audio.pipeline import stream_windows, waveform_windows
    from dolphin_ae.audio.spectrogram import FRAMES_PER_BLOCK, FrontEnd, band_spectrogram

    fe = FrontEnd()
    first, last = fe.first_bin, fe.first_bin + fe.n_bins
    offset = (fe.fft_length - fe.n_fft) // 2  # where librosa.util.pad_center puts the window in the frame
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(args.seconds * fe.sr))).astype(np.float32)
    y_librosa = np.pad(y, (offset, fe.fft_length - fe.n_fft - offset))
    window = np.hanning(fe.n_fft + 1)[:-1].astype(np.float32)
    windowed = np.zeros((1 + (y.shape[0] - fe.n_fft) // fe.hop_length, fe.fft_length), dtype=np.float32)
    np.multiply(sliding_window_view(y, fe.n_fft)[:: fe.hop_length], window, out=windowed[:, : fe.n_fft])
    block_samples = int(round(args.block_s * fe.sr))

    def librosa_stft():
        return librosa.stft(y_librosa, n_fft=fe.fft_length, win_length=fe.n_fft, hop_length=fe.hop_length,
                            center=False)

    def librosa_band():
        return np.abs(librosa_stft()[first:last].T)

    def fft_whole():
        return scipy.fft.rfft(windowed, axis=1)

    def fft_blocks(workers=1):
        for start in range(0, windowed.shape[0], FRAMES_PER_BLOCK):
            spectrum = scipy.fft.rfft(windowed[start:start + FRAMES_PER_BLOCK], axis=1, workers=workers)
        return spectrum

    def streamed():
        blocks = (y[k:k + block_samples] for k in range(0, y.shape[0], block_samples))
        return sum(windows.shape[0] for _, windows in stream_windows(blocks, fe))

    # Same numbers before any timing: librosa's band, the FFT alone's, the threaded and streamed ones.
    ours = band_spectrogram(y, fe, workers=1)
    np.testing.assert_allclose(librosa_band(), ours, rtol=1e-4, atol=1e-5 * float(ours.max()))
    np.testing.assert_allclose(np.abs(fft_whole()[:, first:last]), ours, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(band_spectrogram(y, fe, workers=args.workers), ours)
    whole_windows = waveform_windows(y, fe)[0]
    blocks = (y[k:k + block_samples] for k in range(0, y.shape[0], block_samples))
    for first_window, windows in stream_windows(blocks, fe):
        np.testing.assert_array_equal(windows, whole_windows[first_window:first_window + windows.shape[0]])

    rows = [
        ("band_spectrogram, 1 thread", lambda: band_spectrogram(y, fe, workers=1)),
        (f"band_spectrogram, {args.workers} threads", lambda: band_spectrogram(y, fe, workers=args.workers)),
        ("waveform_windows (whole file)", lambda: waveform_windows(y, fe)[0]),
        (f"stream_windows ({args.block_s:g} s blocks)", streamed),
        ("librosa.stft + band magnitude", librosa_band),
        ("librosa.stft alone", librosa_stft),
        ("FFT alone, whole array", fft_whole),
        (f"FFT alone, blocks of {FRAMES_PER_BLOCK}", fft_blocks),
        (f"FFT alone, blocks, {args.workers} threads", lambda: fft_blocks(args.workers)),
    ]
    for _, function in rows:
        function()  # warm up: imports, FFT plans, page faults
    timed = {name: best_of(function, args.repeats) for name, function in rows}

    print(f"{args.seconds:g} s of {fe.sr} Hz noise; {fe.n_fft}-sample Hann frames every {fe.hop_length} samples, "
          f"{fe.fft_length}-point FFT, bins {first}..{last - 1} ({fe.n_bins}); {os.cpu_count()} CPU(s), load "
          f"{os.getloadavg()[0]:.1f}; best of {args.repeats}")
    print(f"{'':40s} {'wall s':>7s} {'x real time':>12s} {'CPU s':>7s}")
    for name, (wall, cpu) in timed.items():
        print(f"{name:40s} {wall:7.3f} {args.seconds / wall:12.0f} {cpu:7.3f}")

    def ratio(slow, fast):  # speed of ``fast`` over that of ``slow``: wall, CPU
        return timed[slow][0] / timed[fast][0], timed[slow][1] / timed[fast][1]

    ours_1 = "band_spectrogram, 1 thread"
    ours_n = f"band_spectrogram, {args.workers} threads"
    ceiling = min(("FFT alone, whole array", f"FFT alone, blocks of {FRAMES_PER_BLOCK}"), key=lambda k: timed[k][0])
    lines = [
        ("ours 1 thread / librosa same work", ratio("librosa.stft + band magnitude", ours_1), "target >= 1.5"),
        (f"ours {args.workers} threads / librosa same work", ratio("librosa.stft + band magnitude", ours_n),
         "target >= 1.5"),
        ("ours 1 thread / librosa.stft alone", ratio("librosa.stft alone", ours_1), ""),
        (f"ours 1 thread / FFT alone ({ceiling.split(', ')[1]})", ratio(ceiling, ours_1), "target >= 0.7"),
        (f"ours {args.workers} threads / FFT alone {args.workers} threads",
         ratio(f"FFT alone, blocks, {args.workers} threads", ours_n), "target >= 0.7"),
        ("waveform_windows / librosa same work", ratio("librosa.stft + band magnitude",
                                                       "waveform_windows (whole file)"), ""),
        ("stream_windows / librosa same work", ratio("librosa.stft + band magnitude",
                                                     f"stream_windows ({args.block_s:g} s blocks)"), ""),
    ]
    print(f"{'speed ratio':50s} {'wall':>6s} {'CPU':>6s}")
    for name, (wall, cpu), target in lines:
        print(f"{name:50s} {wall:6.2f} {cpu:6.2f}  {target}")


if __name__ == "__main__":
    main()
