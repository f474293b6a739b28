"""dolphin_ae: dolphin audio autoencoders, from recordings to a measured, published report."""

from dolphin_ae.exceptions import AudioError, DolphinAEError, NoUsableAudioError, ParameterError
from dolphin_ae.audio.spectrogram import FrontEnd, band_spectrogram, normalize_windows, spectrogram_windows

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "DolphinAEError",
    "FrontEnd",
    "NoUsableAudioError",
    "ParameterError",
    "band_spectrogram",
    "normalize_windows",
    "spectrogram_windows",
]
