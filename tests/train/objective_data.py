"""The tiny training set the objective tests share: twelve 16 x 32 windows of three recordings, their silence
flags and classes, small augmentations, and a small ConvNet v5."""

import keras
import numpy as np

from dolphin_ae.models import build_model

SHAPE = (16, 32)
# Twelve windows of three recordings; within each recording, windows 0 and 1 are silence.
RECORDINGS = np.repeat(["a", "b", "c"], 4)
SILENCE = np.tile([True, True, False, False], 3)
# Each window's class, for the supervised objectives: noise (0) on the silence windows, 1 and 2 on the others.
LABELS = np.tile([0, 0, 1, 2], 3)
# Small masks and shifts for 16 x 32 windows.
SMALL = dict(augment_shift_frames=2, augment_shift_bins=2, augment_time_mask=3, augment_frequency_mask=4)


def windows(n=12, seed=0):
    """``n`` windows of standard normal noise, float32."""
    return np.random.default_rng(seed).standard_normal((n, *SHAPE)).astype(np.float32)


def small_conv(**changes):
    """A ConvNet v5 of 4 filters per layer, 3 x 3 kernels and 6 numbers per code, seeded."""
    keras.utils.set_random_seed(0)
    return build_model("conv_v5", **{"input_shape": (*SHAPE, 1), "filters": (4, 4, 4, 4), "kernel_size": 3,
                                     "latent_dim": 6, **changes})
