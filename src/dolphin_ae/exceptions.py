"""One exception family for the package, as librosa does with ``ParameterError``."""


class DolphinAEError(Exception):
    """Base class of every error this package raises on purpose."""


class ParameterError(DolphinAEError, ValueError):
    """A parameter or array has the wrong value, type or shape."""


class AudioError(DolphinAEError):
    """A recording cannot be used; the message names the file and the reason."""


class NoUsableAudioError(DolphinAEError):
    """Not one recording of a data set could be used."""
