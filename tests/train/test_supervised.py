"""The supervised contrastive objectives: SupCon by hand, labels through the batches, training, keys."""

import math

import numpy as np
import pytest

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.train.compare import Contender, compare_autoencoders
from dolphin_ae.train.objective_settings import Objective
from dolphin_ae.train.objectives import ObjectiveRun, nt_xent, supervised_contrastive
from dolphin_ae.train.training import train_autoencoder, training_key

from objective_data import LABELS, RECORDINGS, SHAPE, SILENCE, SMALL
from objective_data import small_conv as _conv
from objective_data import windows as _windows


def _supcon(first, second, labels, t):
    return float(supervised_contrastive(first, second, np.asarray(labels, dtype=np.int32), t))


def test_supcon_with_distinct_labels_is_nt_xent():
    rng = np.random.default_rng(0)
    first, second = rng.standard_normal((2, 6, 5)).astype(np.float32)
    assert _supcon(first, second, np.arange(6), 0.3) == pytest.approx(float(nt_xent(first, second, 0.3)), rel=1e-5)


def test_supcon_by_hand_with_a_shared_label():
    # Rows 0 and 1 share a label; row 2 is alone. Unit rows already.
    first = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    second = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]], dtype=np.float32)
    labels, t = [7, 7, 3], 0.5
    both = np.concatenate([first, second])
    every = np.concatenate([labels, labels])
    similarity = both @ both.T / t
    losses = []
    for anchor in range(6):
        others = [j for j in range(6) if j != anchor]
        log_denominator = math.log(sum(math.exp(similarity[anchor, j]) for j in others))
        positives = [j for j in others if every[j] == every[anchor]]
        losses.append(-np.mean([similarity[anchor, p] - log_denominator for p in positives]))
    assert _supcon(first, second, labels, t) == pytest.approx(np.mean(losses), rel=1e-5)


def test_supcon_is_lower_when_same_label_rows_are_aligned():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 4)
    centres = rng.standard_normal((3, 8)).astype(np.float32)
    aligned = centres[labels] + 0.05 * rng.standard_normal((12, 8)).astype(np.float32)
    scattered = rng.standard_normal((12, 8)).astype(np.float32)
    assert _supcon(aligned, aligned, labels, 0.2) < _supcon(scattered, scattered, labels, 0.2)
    assert np.isfinite(_supcon(scattered, scattered, np.zeros(12, dtype=np.int32), 0.2))


def test_batches_carry_the_labels_and_a_missing_one_is_an_error():
    windows = _windows()
    for name, n_views in (("supervised", 2), ("supervised_mse", 3)):
        run = ObjectiveRun(_conv(), Objective(name, **SMALL), np.arange(12), recordings=RECORDINGS,
                           is_background=SILENCE, labels=LABELS)
        views, target = run.batches(windows, np.arange(12), batch_size=5, shuffle=True, seed=1)[0]
        assert views.shape == (5, n_views, *SHAPE, 1) and target["window"].shape == (5, *SHAPE, 1)
        # The labels are those of the windows in the batch.
        flat = windows.reshape(12, -1)
        chosen = [int(np.flatnonzero(np.all(flat == w.ravel(), axis=1))[0]) for w in target["window"][..., 0]]
        np.testing.assert_array_equal(target["label"], LABELS[chosen])
    with pytest.raises(ParameterError, match="pass labels"):
        ObjectiveRun(_conv(), Objective("supervised_mse"), np.arange(12), recordings=RECORDINGS, is_background=SILENCE)
    with pytest.raises(ParameterError, match="labels must be one class number per window"):
        ObjectiveRun(_conv(), Objective("supervised"), np.arange(12), recordings=RECORDINGS, is_background=SILENCE,
                     labels=np.array(["whistle"] * 12))
    with pytest.raises(ParameterError, match="pass labels"):
        compare_autoencoders(windows, SILENCE, [Contender("row", "conv_v5", objective="supervised")], train_indices=np.arange(9),
                             validation_indices=np.arange(9, 12), test_indices=np.arange(9, 12), sizes={},
                             epochs=1, recordings=RECORDINGS)


def test_the_labels_enter_the_training_key():
    windows, train = _windows(), np.arange(12)
    model = _conv()

    def key(objective, labels=LABELS):
        run = ObjectiveRun(model, objective, train, recordings=RECORDINGS, is_background=SILENCE, labels=labels)
        return training_key(model, windows, train, epochs=1, seed=0, **run.key(train))

    assert key("supervised") != key("contrastive") and key("supervised_mse") != key("contrastive_mse")
    assert key("supervised") != key("supervised_mse")
    assert key("supervised") != key(Objective("supervised", contrastive_temperature=0.5))
    assert key("supervised") != key("supervised", labels=np.roll(LABELS, 1))
    # The unsupervised objectives ignore labels, as before.
    assert key("contrastive") == key("contrastive", labels=None)


@pytest.mark.slow  # trains a small model for a few epochs
def test_a_few_epochs_of_supervised_mse_lower_the_loss():
    windows = _windows()
    model = _conv()
    decoder_before = [w.copy() for w in model.get_layer("decoder").get_weights()]
    history = train_autoencoder(model, windows, np.arange(12), epochs=6, batch_size=6, learning_rate=3e-3, seed=0,
                                verbose=0, objective=Objective("supervised_mse", **SMALL), recordings=RECORDINGS,
                                is_background=SILENCE, labels=LABELS)
    assert all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert history["loss"][0] > history["contrastive_loss"][0] and np.isfinite(history["reconstruction_loss"][-1])
    assert any(not np.allclose(a, b) for a, b in zip(decoder_before, model.get_layer("decoder").get_weights()))
    with pytest.raises(ParameterError, match="one class per window"):
        train_autoencoder(_conv(), windows, np.arange(12), epochs=1, objective="supervised", recordings=RECORDINGS,
                          is_background=SILENCE, labels=LABELS[:5])
