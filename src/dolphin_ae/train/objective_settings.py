"""What an autoencoder is trained to do: the objective's name and its settings, checked (no Keras).

``mse`` is the seed's (and the default): reconstruct each window, mean squared error. The others:

- ``denoising``: the input is the window plus a background window, ``x + g * b``, the target the
  clean ``x`` (:func:`dolphin_ae.train.augment.mix_background`). ``b`` is a silence window (label
  ``noise``) of another training recording; ``g`` is drawn per example, uniformly from
  ``denoise_gain`` = [low, high]. The mixing is in the window domain, after each window's own
  normalisation: both windows are then zero-mean, so for linear magnitudes it is a sum of the two
  magnitude patterns at relative level ``g``.
- ``contrastive``: two augmented views of each window (:func:`dolphin_ae.train.augment.augment_views`)
  go through the encoder and a small projection head (``projection_dim`` numbers); the loss is
  NT-Xent at temperature ``contrastive_temperature`` (:func:`dolphin_ae.train.objectives.nt_xent`).
  The decoder is not trained.
- ``contrastive_mse``: NT-Xent plus ``contrastive_weight`` times the autoencoder's own loss on the
  clean window (MSE; for the variational model its weighted MSE plus KL).
- ``supervised``: the contrastive views and projection head, with the supervised contrastive loss
  (SupCon, Khosla et al. 2020) at ``contrastive_temperature``: an anchor's positives are every other
  row of the batch (either view) with its window's label, not only its own other view
  (:func:`dolphin_ae.train.objectives.supervised_contrastive`). The labels are the training
  windows' clip labels, the four classes of the heads (whistle, burst, click, and noise as a class
  of its own); the test windows' labels are never read. The decoder is not trained.
- ``supervised_mse``: SupCon plus ``contrastive_weight`` times the reconstruction loss, as
  ``contrastive_mse``.

The augmentations of a view, each drawn per example: a time shift of up to ``augment_shift_frames``
frames and a frequency shift of up to ``augment_shift_bins`` bins either way (vacated cells 0, the
normalised windows' mean), a gain of up to ``augment_gain_db`` dB either way (a factor on the
values), a background window of another training recording at a gain drawn from
``augment_background_gain`` = [low, high] (no mixing when high is 0), and one time mask of up to
``augment_time_mask`` frames and one frequency mask of up to ``augment_frequency_mask`` bins (set
to 0). Masks and shifts are cut to the window's size.

The field names are the parameter names a chapter would declare (``OBJECTIVE_PARAMETERS``), so a
chapter's values map onto :class:`Objective` one to one.
"""

from dataclasses import asdict, dataclass

from dolphin_ae.exceptions import ParameterError

OBJECTIVES = ("mse", "denoising", "contrastive", "contrastive_mse", "supervised", "supervised_mse")
# The objectives trained on two augmented views; the supervised ones also read each window's label.
CONTRASTIVE_OBJECTIVES = ("contrastive", "contrastive_mse", "supervised", "supervised_mse")
SUPERVISED_OBJECTIVES = ("supervised", "supervised_mse")
# The objectives that add the reconstruction loss (weight ``contrastive_weight``) to the contrastive one.
RECONSTRUCTING_OBJECTIVES = ("contrastive_mse", "supervised_mse")
AUGMENT_PARAMETERS = ("augment_shift_frames", "augment_shift_bins", "augment_gain_db", "augment_background_gain",
                      "augment_time_mask", "augment_frequency_mask")
# Objective -> the settings it reads; only these enter its training key.
USED_PARAMETERS = {
    "mse": (),
    "denoising": ("denoise_gain",),
    "contrastive": ("contrastive_temperature", "projection_dim", *AUGMENT_PARAMETERS),
    "contrastive_mse": ("contrastive_temperature", "projection_dim", "contrastive_weight", *AUGMENT_PARAMETERS),
    "supervised": ("contrastive_temperature", "projection_dim", *AUGMENT_PARAMETERS),
    "supervised_mse": ("contrastive_temperature", "projection_dim", "contrastive_weight", *AUGMENT_PARAMETERS),
}
OBJECTIVE_PARAMETERS = ("denoise_gain", "contrastive_temperature", "contrastive_weight", "projection_dim",
                        *AUGMENT_PARAMETERS)


def _gain_range(name, value):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be two numbers [low, high], got {value!r}") from None
    if not 0 <= low <= high:
        raise ParameterError(f"{name} must be [low, high] with 0 <= low <= high, got {value!r}")
    return (low, high)


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Objective:
    """One training objective and its settings (see the module docstring); checked when made."""

    name: str = "mse"
    denoise_gain: tuple = (0.25, 1.0)
    contrastive_temperature: float = 0.2
    contrastive_weight: float = 1.0
    projection_dim: int = 64
    augment_shift_frames: int = 8
    augment_shift_bins: int = 4
    augment_gain_db: float = 3.0
    augment_background_gain: tuple = (0.0, 0.5)
    augment_time_mask: int = 16
    augment_frequency_mask: int = 16

    def __post_init__(self):
        if self.name not in OBJECTIVES:
            raise ParameterError(f"objective must be one of {OBJECTIVES}, got {self.name!r}")
        set_ = object.__setattr__
        set_(self, "denoise_gain", _gain_range("denoise_gain", self.denoise_gain))
        set_(self, "augment_background_gain", _gain_range("augment_background_gain", self.augment_background_gain))
        for name in ("augment_shift_frames", "augment_shift_bins", "augment_time_mask", "augment_frequency_mask"):
            set_(self, name, _count(name, getattr(self, name)))
        if _count("projection_dim", self.projection_dim) < 1:
            raise ParameterError(f"projection_dim must be at least 1, got {self.projection_dim}")
        for name in ("contrastive_temperature", "contrastive_weight", "augment_gain_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{name} must be a number, got {value!r}")
            set_(self, name, float(value))
        if not self.contrastive_temperature > 0:
            raise ParameterError(f"contrastive_temperature must be positive, got {self.contrastive_temperature}")
        if self.contrastive_weight < 0 or self.augment_gain_db < 0:
            raise ParameterError("contrastive_weight and augment_gain_db must be >= 0, got "
                                 f"{self.contrastive_weight} and {self.augment_gain_db}")

    @property
    def contrastive(self):
        return self.name in CONTRASTIVE_OBJECTIVES

    @property
    def supervised(self):
        """Whether training reads each training window's label (and so needs ``labels``)."""
        return self.name in SUPERVISED_OBJECTIVES

    @property
    def reconstructs(self):
        """Whether a contrastive objective adds the reconstruction loss (``contrastive_weight``)."""
        return self.name in RECONSTRUCTING_OBJECTIVES

    @property
    def needs_background(self):
        """Whether training draws background windows (and so needs recordings and silence labels)."""
        return self.name == "denoising" or (self.contrastive and self.augment_background_gain[1] > 0)

    def settings(self):
        """``{"name": ..., setting: value}`` for the settings this objective uses.

        Ranges as lists, so that a training key read back from JSON compares equal.
        """
        values = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
        return {"name": self.name, **{key: values[key] for key in USED_PARAMETERS[self.name]}}


def as_objective(objective=None, **options):
    """An :class:`Objective` from a name (with ``options``), an ``Objective``, or None (``mse``)."""
    if isinstance(objective, Objective):
        if options:
            raise ParameterError("give the objective's settings either in the Objective or as options, not both")
        return objective
    unknown = sorted(set(options) - set(OBJECTIVE_PARAMETERS))
    if unknown:
        raise ParameterError(f"unknown objective setting(s) {unknown}; the settings are {list(OBJECTIVE_PARAMETERS)}")
    return Objective("mse" if objective is None else objective, **options)
