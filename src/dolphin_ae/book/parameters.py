"""The notebooks' parameters: the choices each one allows, and checks run before any chapter.

``dolphin-ae report`` checks every value from the profile (``params/<profile>.yaml``) and from
``--set`` against what the notebooks declare in their ``parameters`` cells (the type annotation
and default that ``papermill.inspect_notebook`` reads) and, for the parameters listed in
``CHOICES`` and ``ITEM_CHOICES``, against the values the code accepts. A bad value stops the run
with one line naming the parameter, the value and what is allowed, before chapter 01 starts.

The choices are the package's own constants where the module that owns them imports without
Keras; the model, activation and schedule names are repeated here (a test keeps them equal to
``dolphin_ae.models.MODEL_BUILDERS``, ``conv_v5.ACTIVATIONS`` and ``training.LR_SCHEDULES``) so
that checking a command line never waits for TensorFlow to load.
"""

import ast

from dolphin_ae.audio.loading import PAD_MODES
from dolphin_ae.analysis.clustering import SCALINGS, WINDOW_METHODS
from dolphin_ae.data.clips import LAYOUTS
from dolphin_ae.analysis.discovery_settings import DISCOVERY_SCALINGS
from dolphin_ae.analysis.dtw_blocks import dtw_engine_settings
from dolphin_ae.engine import ENGINES
from dolphin_ae.exceptions import ParameterError
from dolphin_ae.analysis.projection import PROJECTIONS
from dolphin_ae.audio.spectrogram import MAGNITUDES, NORMALIZATIONS, WHITENINGS
from dolphin_ae.data.synth import MODES as SYNTH_MODES
from dolphin_ae.train.objective_settings import OBJECTIVE_PARAMETERS, OBJECTIVES, as_objective

# Equal to tuple(dolphin_ae.models.MODEL_BUILDERS), conv_v5.ACTIVATIONS and training.LR_SCHEDULES.
MODEL_NAMES = ("conv_v5", "lstm_v4_1", "lstm_v4_3", "vae_v4_2")
CONV_ACTIVATIONS = ("seed", "leaky")
LSTM_DECODER_INPUTS = ("first_step", "repeat")
LR_SCHEDULES = ("constant", "cosine")

# Parameter name -> the values it may take (in every notebook that declares it).
CHOICES = {
    "data_layout": LAYOUTS,
    "synth_mode": SYNTH_MODES,
    "magnitude": MAGNITUDES,
    "normalization": NORMALIZATIONS,
    "whitening": WHITENINGS,
    "pad_mode": PAD_MODES,
    "model": MODEL_NAMES,
    "conv_activation": CONV_ACTIVATIONS,
    "lstm_decoder_input": LSTM_DECODER_INPUTS,
    "lr_schedule": LR_SCHEDULES,
    "objective": OBJECTIVES,
    "code_scaling": SCALINGS,
    "discovery_code_scaling": DISCOVERY_SCALINGS,
    "headline_method": WINDOW_METHODS,
    "dtw_engine": ENGINES,
}
# List parameter name -> the values each of its items may take.
ITEM_CHOICES = {
    "projections": PROJECTIONS,
    "compare_models": MODEL_NAMES,
    "ablation_magnitudes": MAGNITUDES,
    "ablation_whitenings": WHITENINGS,
    "ablation_objectives": OBJECTIVES,
}
# Set by the report itself, never by a profile or --set.
REPORT_PARAMETERS = ("run_dir", "data_dir", "profile")

_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
               "list": "a list", "dict": "a mapping"}


def _kind(value):
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    for python_type, word in ((int, "an integer"), (float, "a number with a decimal point"), (str, "a string"),
                              (list, "a list"), (dict, "a mapping")):
        if isinstance(value, python_type):
            return word
    return type(value).__name__


def _fits(value, type_name):
    """Whether ``value`` (as YAML read it) may stand for a parameter declared as ``type_name``."""
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":  # an integer is a fine value for a float parameter
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "str":
        return isinstance(value, str)
    if type_name == "list":
        return isinstance(value, (list, tuple))
    if type_name == "dict":
        return isinstance(value, dict)
    return True  # no annotation (papermill: "None"): nothing to check against


def _default(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return None


def _item_type(default):
    """The one type name of a default list's items (``"int"``, ``"float"``, ``"str"``), else None."""
    if not isinstance(default, (list, tuple)) or not default:
        return None
    names = {"bool" if isinstance(v, bool) else type(v).__name__ for v in default}
    return names.pop() if len(names) == 1 and names <= {"int", "float", "str"} else None


def _allowed(choices):
    return ", ".join(str(choice) for choice in choices)


def declarations(inspected):
    """``{notebook: papermill.inspect_notebook(...)}`` -> ``{name: [(notebook, type_name, default)]}``.

    ``default`` is the declared default as a Python value (None when it is not a literal).
    """
    found = {}
    for notebook, parameters in inspected.items():
        for name, info in parameters.items():
            found.setdefault(name, []).append((notebook, info.get("inferred_type_name", "None"),
                                               _default(info.get("default", ""))))
    return found


def check_value(name, value, declared, *, origin):
    """Raise ``ParameterError`` unless ``value`` suits every declaration of ``name``.

    Parameters
    ----------
    declared : list of (notebook, type_name, default)
        As ``declarations`` gives them.
    origin : str
        Where the value came from, e.g. ``"--set"`` or ``"params/ci.yaml"``; starts the message.
    """
    given = f"{origin}: {name}={value!r}"
    for notebook, type_name, default in declared:
        if not _fits(value, type_name):
            raise ParameterError(f"{given} is {_kind(value)}; {name} must be {_TYPE_WORDS.get(type_name, type_name)} "
                                 f"(declared in {notebook})")
        item_type = _item_type(default) if type_name == "list" else None
        if item_type is not None:
            wrong = [item for item in value if not _fits(item, item_type)]
            if wrong:
                raise ParameterError(f"{given}: item {wrong[0]!r} is {_kind(wrong[0])}; each item of {name} must be "
                                     f"{_TYPE_WORDS[item_type]} (declared in {notebook})")
    if name in CHOICES and value not in CHOICES[name]:
        raise ParameterError(f"{given} is not allowed; {name} must be one of {_allowed(CHOICES[name])}")
    if name in ITEM_CHOICES:
        wrong = [item for item in value if item not in ITEM_CHOICES[name]]
        if wrong:
            raise ParameterError(f"{given}: item {wrong[0]!r} is not allowed; each item of {name} must be one of "
                                 f"{_allowed(ITEM_CHOICES[name])}")


def check_parameters(values, declared, *, origins):
    """Check every value the report will pass to the notebooks, before any of them runs.

    Parameters
    ----------
    values : dict
        Parameter name -> value (the profile's, with the ``--set`` values over them).
    declared : dict
        ``declarations(...)`` of every notebook.
    origins : dict
        Parameter name -> where its value came from (``"--set"`` or the profile's file).

    Raises
    ------
    ParameterError
        A name no notebook declares, a value of the wrong type, or one outside its choices; the
        message names the parameter, the value given and what is allowed.
    """
    unknown = sorted(set(values) - set(declared) - set(REPORT_PARAMETERS))
    if unknown:
        sources = sorted({origins.get(name, "--set") for name in unknown})
        names = sorted(set(declared) - set(REPORT_PARAMETERS))
        raise ParameterError(f"{' and '.join(sources)}: unknown parameter(s) {unknown}; the notebooks declare {names}")
    for name, value in values.items():
        if name in REPORT_PARAMETERS:
            continue
        check_value(name, value, declared[name], origin=origins.get(name, "--set"))
    check_objective(values, origins=origins)
    check_dtw_engine(values, origins=origins)


def check_dtw_engine(values, *, origins):
    """Raise ``ParameterError`` unless chapter 06's ``dtw_engine``, ``dtw_workers`` and ``dtw_scheduler``
    among ``values`` go together (:func:`dolphin_ae.analysis.dtw_blocks.dtw_engine_settings`)."""
    names = ("dtw_engine", "dtw_workers", "dtw_scheduler")
    given = [name for name in names if name in values]
    if not given:
        return
    try:
        dtw_engine_settings(**{name: values[name] for name in given})
    except ParameterError as error:
        sources = " and ".join(sorted({origins.get(name, "--set") for name in given}))
        raise ParameterError(f"{sources}: {error}") from None


def check_objective(values, *, origins):
    """Raise ``ParameterError`` unless the training objective's settings among ``values`` are valid.

    ``objective`` and the ``OBJECTIVE_PARAMETERS`` (``denoise_gain``, ``contrastive_temperature``,
    ...) are checked together, as :class:`dolphin_ae.train.objective_settings.Objective` checks them.
    """
    given = [name for name in ("objective", *OBJECTIVE_PARAMETERS) if name in values]
    if not given:
        return
    try:
        as_objective(values.get("objective", "mse"), **{name: values[name] for name in given if name != "objective"})
    except ParameterError as error:
        sources = " and ".join(sorted({origins.get(name, "--set") for name in given}))
        raise ParameterError(f"{sources}: {error}") from None
