"""Floating-point operations of a Keras model per window, counted from its layers.

A training benchmark needs the work a step does to turn windows per second into FLOP/s and a share of a
device's peak. The backends' own counters disagree with each other or exist on one backend only (XLA's
cost analysis under JAX and TensorFlow, none under PyTorch without a profiler), so the count is made here,
the same on every backend, from each layer's configuration and its input and output shapes.

The rule, per window (batch of one):

- one multiply-add is 2 FLOPs; only matrix products, convolutions and pooling are counted. Bias
  additions, activations, normalisation, dropout, reshapes and padding are elementwise or copies (at
  most a few percent of these models' counts) and count 0;
- ``Dense``: ``2 * in * units`` per position of its input (a Dense on a (frames, d) sequence does
  ``frames`` such products);
- ``Conv1D/2D/3D``: ``2 * prod(kernel_size) * (in_channels / groups) * filters`` per output position;
- ``Conv1DTranspose/2DTranspose/3DTranspose``: every input position spreads ``prod(kernel_size) *
  filters`` products from each of its ``in_channels``: ``2 * prod(kernel_size) * in_channels * filters``
  per input position (products that ``padding="same"`` crops at the borders are counted, as a backend
  computes them);
- ``LSTM``: per time step, the four gates' products of the input and of the state:
  ``2 * 4 * units * (in + units)``; ``GRU``: three gates, ``2 * 3 * units * (in + units)``;
  ``SimpleRNN``: ``2 * units * (in + units)``; ``Bidirectional``: its two layers;
- pooling (``MaxPooling*``, ``AveragePooling*``): one operation per element of each pooling window,
  ``prod(pool_size)`` per output element; global pooling: one per input element;
- ``UpSampling*``: 0 with ``interpolation="nearest"`` (copies); bilinear ``UpSampling2D``: a weighted sum of
  4 neighbours, 7 FLOPs per output element.

Training is taken as 3 x the forward count: the backward pass computes, for each layer, the gradient with
respect to its input and with respect to its weights, each about one forward pass of that layer (the usual
rule; the first layer's input gradient, which is not needed, is counted; the optimizer's update, elementwise
and proportional to the parameters, is not).

A layer whose class is neither counted nor known to be elementwise raises :class:`ParameterError`
naming it, so a new layer type is never silently counted as free. Each layer is counted once, at the
shapes of its first call, even when several sub-models share it (the variational model's encoder is its
posterior's mean branch); a layer called more than once in one forward pass would be undercounted, and
none of the project's models does that.
"""

import math

import keras
from keras import layers

from dolphin_ae.exceptions import ParameterError

TRAINING_FACTOR = 3

_CONVOLUTIONS = (layers.Conv1D, layers.Conv2D, layers.Conv3D)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
_POOLING = (layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
            layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D)
_GLOBAL_POOLING = (layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
                   layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D, layers.GlobalAveragePooling3D)
_UPSAMPLING = (layers.UpSampling1D, layers.UpSampling2D, layers.UpSampling3D)
_GATES = {layers.LSTM: 4, layers.GRU: 3, layers.SimpleRNN: 1}
# Elementwise or copies: not counted (see the module docstring).
_UNCOUNTED = (layers.InputLayer, layers.Reshape, layers.Flatten, layers.Permute, layers.RepeatVector,
              layers.ZeroPadding1D, layers.ZeroPadding2D, layers.ZeroPadding3D,
              layers.Cropping1D, layers.Cropping2D, layers.Cropping3D,
              layers.Dropout, layers.SpatialDropout1D, layers.SpatialDropout2D, layers.SpatialDropout3D,
              layers.GaussianNoise, layers.GaussianDropout, layers.Activation, layers.ReLU, layers.LeakyReLU,
              layers.ELU, layers.PReLU, layers.Softmax, layers.BatchNormalization, layers.LayerNormalization,
              layers.Identity)


def _shape(tensor, layer, what):
    if isinstance(tensor, (list, tuple)):
        raise ParameterError(f"layer {layer.name!r} ({type(layer).__name__}) has several {what}s; "
                             "its FLOPs are not counted here")
    shape = tuple(tensor.shape[1:])
    if any(size is None for size in shape):
        raise ParameterError(f"layer {layer.name!r} has an {what} shape with unknown sizes {shape}; "
                             "build the model with a fixed input shape to count its FLOPs")
    return shape


def _shapes(layer):
    try:
        return _shape(layer.input, layer, "input"), _shape(layer.output, layer, "output")
    except (AttributeError, ValueError) as error:
        if isinstance(error, ParameterError):
            raise
        raise ParameterError(f"layer {layer.name!r} has never been called on a known input shape; "
                             f"build its model on keras.Input first ({error})") from None


def _channels_axis(layer):
    return 0 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _spatial(shape, layer):
    """The number of positions of an (..., channels) shape: every axis but the channels'."""
    axis = _channels_axis(layer)
    return math.prod(shape[1:] if axis == 0 else shape[:-1])


def _recurrent_flops(cell_layer, input_shape):
    gates = next(count for kind, count in _GATES.items() if isinstance(cell_layer, kind))
    steps, features = input_shape[-2], input_shape[-1]
    units = int(cell_layer.units)
    return steps * 2 * gates * units * (features + units)


def layer_forward_flops(layer):
    """Forward FLOPs of one layer for one window, by the rule of the module docstring.

    Parameters
    ----------
    layer : keras.layers.Layer
        A layer of a functional model that has been called (its ``input`` and ``output`` are known).

    Returns
    -------
    int
    """
    if isinstance(layer, _UNCOUNTED):
        return 0
    input_shape, output_shape = _shapes(layer)
    if isinstance(layer, layers.Dense):
        return math.prod(input_shape[:-1]) * 2 * input_shape[-1] * int(layer.units)
    if isinstance(layer, _TRANSPOSED):
        in_channels = input_shape[_channels_axis(layer)]
        return _spatial(input_shape, layer) * 2 * math.prod(layer.kernel_size) * in_channels * int(layer.filters)
    if isinstance(layer, _CONVOLUTIONS):
        in_channels = input_shape[_channels_axis(layer)] // int(layer.groups)
        return _spatial(output_shape, layer) * 2 * math.prod(layer.kernel_size) * in_channels * int(layer.filters)
    if isinstance(layer, layers.Bidirectional):
        return _recurrent_flops(layer.forward_layer, input_shape) + _recurrent_flops(layer.backward_layer, input_shape)
    if isinstance(layer, tuple(_GATES)):
        return _recurrent_flops(layer, input_shape)
    if isinstance(layer, _POOLING):
        return math.prod(output_shape) * math.prod(layer.pool_size)
    if isinstance(layer, _GLOBAL_POOLING):
        return math.prod(input_shape)
    if isinstance(layer, _UPSAMPLING):
        interpolation = getattr(layer, "interpolation", "nearest")
        if interpolation == "nearest":
            return 0
        if interpolation == "bilinear":
            return 7 * math.prod(output_shape)
        raise ParameterError(f"layer {layer.name!r}: UpSampling2D interpolation {interpolation!r} is not counted "
                             "(only 'nearest' and 'bilinear')")
    raise ParameterError(f"layer {layer.name!r} of class {type(layer).__name__} has no FLOP count; "
                         "dolphin_ae.models.flops counts Dense, convolutions, recurrent, pooling and upsampling "
                         "layers and leaves elementwise ones out")


def _leaves(model, seen):
    for layer in model.layers:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.Model):
            for path, leaf in _leaves(layer, seen):
                yield f"{layer.name}/{path}", leaf
        else:
            yield layer.name, layer


def flops_by_layer(model):
    """Forward FLOPs per window of every layer of ``model``, nested models included, each layer once.

    Returns
    -------
    dict
        ``"encoder/conv_1"``-style paths (sub-model names joined by ``/``) -> int, in the models'
        layer order; layers that count 0 are included.
    """
    if not isinstance(model, keras.Model):
        raise ParameterError(f"model must be a keras.Model, got {type(model).__name__}")
    return {path: layer_forward_flops(layer) for path, layer in _leaves(model, set())}


def forward_flops(model):
    """Forward FLOPs of ``model`` for one window (int); see the module docstring for the rule."""
    return sum(flops_by_layer(model).values())


def training_flops(model):
    """FLOPs of one training step per window: ``TRAINING_FACTOR`` (3) x the forward count."""
    return TRAINING_FACTOR * forward_flops(model)
