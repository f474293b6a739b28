"""Training objectives: NT-Xent, augmentations, denoising inputs, one epoch of each, their training keys."""

import math

import keras
import numpy as np
import pytest

from dolphin_ae.exceptions import ParameterError
from dolphin_ae.models import build_model, model_options
from dolphin_ae.train.augment import BackgroundPool, augment_view, mask, shift
from dolphin_ae.train.objective_settings import OBJECTIVES, Objective, as_objective
from dolphin_ae.train.objectives import ObjectiveRun, nt_xent
from dolphin_ae.train.training import checkpoint_folder, train_autoencoder, training_key

from objective_data import LABELS, RECORDINGS, SHAPE, SILENCE, SMALL
from objective_data import small_conv as _conv
from objective_data import windows as _windows


def test_nt_xent_by_hand():
    first = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    second = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)  # unit rows already
    t = 0.5
    # Anchor: (similarity to its positive, similarities to its two negatives); cosine / t.
    anchors = [(0.6, (0.0, 1.0)),   # first[0]: positive second[0]; negatives first[1], second[1]
               (0.0, (0.0, 0.8)),   # first[1]: positive second[1]; negatives first[0], second[0]
               (0.6, (0.8, 0.6)),   # second[0]: positive first[0]; negatives first[1], second[1]
               (0.0, (1.0, 0.6))]   # second[1]: positive first[1]; negatives first[0], second[0]
    expected = np.mean([-p / t + math.log(math.exp(p / t) + sum(math.exp(n / t) for n in negatives))
                        for p, negatives in anchors])
    assert float(nt_xent(first, second, t)) == pytest.approx(expected, rel=1e-5)
    # Lengths do not matter: the projections are normalised first.
    assert float(nt_xent(3 * first, 0.5 * second, t)) == pytest.approx(expected, rel=1e-5)


def test_nt_xent_is_lower_for_identical_views_than_for_random_ones():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((8, 16)).astype(np.float32)
    same = float(nt_xent(codes, codes, 0.2))
    unrelated = float(nt_xent(codes, rng.standard_normal((8, 16)).astype(np.float32), 0.2))
    assert np.isfinite(same) and same < unrelated


def test_shift_and_mask_move_and_blank_cells():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3) + 1
    moved = shift(x, [1, -2], axis=1)
    np.testing.assert_array_equal(moved[0, 1:], x[0, :3])
    np.testing.assert_array_equal(moved[0, 0], 0)
    np.testing.assert_array_equal(moved[1, :2], x[1, 2:])
    np.testing.assert_array_equal(moved[1, 2:], 0)
    blanked = mask(x, [1, 0], [2, 0], axis=2)
    assert np.all(blanked[0, :, 1:3] == 0) and np.all(blanked[0, :, 0] == x[0, :, 0])
    np.testing.assert_array_equal(blanked[1], x[1])


def test_augmented_views_keep_the_shape_and_repeat_under_a_seed():
    x = _windows(6)
    background = _windows(6, seed=1)
    objective = Objective("contrastive", **SMALL)
    view = augment_view(x, np.random.default_rng(3), objective, background)
    assert view.shape == x.shape and view.dtype == np.float32
    np.testing.assert_array_equal(view, augment_view(x, np.random.default_rng(3), objective, background))
    assert not np.array_equal(view, augment_view(x, np.random.default_rng(4), objective, background))
    assert not np.array_equal(view, x)


def test_background_comes_from_other_training_recordings():
    train = np.arange(12)[RECORDINGS != "c"]  # recording c is held out
    pool = BackgroundPool(RECORDINGS, SILENCE, train)
    assert set(pool.pool) == {0, 1, 4, 5}
    examples = np.repeat(train, 20)
    drawn = pool.draw(np.random.default_rng(0), examples)
    assert np.all(SILENCE[drawn]) and np.all(RECORDINGS[drawn] != RECORDINGS[examples])
    assert set(drawn) == {0, 1, 4, 5}
    held_out = pool.draw(np.random.default_rng(0), np.arange(8, 12))
    assert np.all(np.isin(held_out, pool.pool))
    with pytest.raises(ParameterError, match="from recording 'a'"):
        BackgroundPool(RECORDINGS, SILENCE & (RECORDINGS == "a"), np.arange(12))
    with pytest.raises(ParameterError, match="no background"):
        BackgroundPool(RECORDINGS, np.zeros(12, dtype=bool), np.arange(12))


def test_denoising_inputs_are_clean_windows_plus_background_of_another_recording():
    windows = _windows()
    train = np.arange(12)
    run = ObjectiveRun(_conv(), Objective("denoising", denoise_gain=[0.5, 1.0]), train, recordings=RECORDINGS,
                       is_background=SILENCE)
    batches = run.batches(windows, train, batch_size=6, shuffle=True, seed=2)
    noisy, clean = batches[0]
    assert noisy.shape == clean.shape == (6, *SHAPE, 1) and not np.allclose(noisy, clean)
    again, _ = run.batches(windows, train, batch_size=6, shuffle=True, seed=2)[0]
    np.testing.assert_array_equal(noisy, again)
    flat = windows.reshape(12, -1)
    for added, target in zip((noisy - clean)[..., 0], clean[..., 0]):
        (source,) = np.flatnonzero(np.all(np.isclose(flat, target.ravel()), axis=1))
        # added = gain * background: find the one background window it is a multiple of.
        gains = flat @ added.ravel() / np.sum(flat**2, axis=1)
        residual = np.linalg.norm(added.ravel()[None] - gains[:, None] * flat, axis=1)
        (background,) = np.flatnonzero(residual < 1e-4)
        assert SILENCE[background] and RECORDINGS[background] != RECORDINGS[source]
        assert 0.5 - 1e-6 <= gains[background] <= 1.0 + 1e-6


def test_contrastive_batches_stack_views_and_the_clean_window():
    windows = _windows()
    for name, n_views in (("contrastive", 2), ("contrastive_mse", 3)):
        run = ObjectiveRun(_conv(), Objective(name, **SMALL), np.arange(12), recordings=RECORDINGS,
                           is_background=SILENCE)
        views, clean = run.batches(windows, np.arange(12), batch_size=5)[0]
        assert views.shape == (5, n_views, *SHAPE, 1) and clean.shape == (5, *SHAPE, 1)
        assert not np.allclose(views[:, -1], views[:, -2])
        if name == "contrastive_mse":
            np.testing.assert_array_equal(views[:, 0], clean)
    with pytest.raises(ParameterError, match="recordings and is_background"):
        ObjectiveRun(_conv(), "denoising", np.arange(12))
    # Without background mixing the contrastive views need no recordings.
    ObjectiveRun(_conv(), Objective("contrastive", augment_background_gain=[0, 0]), np.arange(12))


@pytest.mark.slow  # trains six models
@pytest.mark.parametrize("name", OBJECTIVES)
def test_one_epoch_of_each_objective_gives_a_finite_loss(name):
    windows = _windows()
    model = _conv()
    decoder_before = [w.copy() for w in model.get_layer("decoder").get_weights()]
    encoder_before = [w.copy() for w in model.get_layer("encoder").get_weights()]
    history = train_autoencoder(model, windows, np.arange(9), validation_indices=np.arange(9, 12), epochs=1,
                                batch_size=4, seed=0, verbose=0, objective=Objective(name, **SMALL),
                                recordings=RECORDINGS, is_background=SILENCE, labels=LABELS)
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0]) and np.isfinite(history["val_loss"][0])
    # The autoencoder passed in is the one trained; a contrastive-only run leaves the decoder alone.
    assert any(not np.allclose(a, b) for a, b in zip(encoder_before, model.get_layer("encoder").get_weights()))
    decoder_after = model.get_layer("decoder").get_weights()
    decoder_changed = any(not np.allclose(a, b) for a, b in zip(decoder_before, decoder_after))
    assert decoder_changed == (name not in ("contrastive", "supervised"))
    if name in ("contrastive_mse", "supervised_mse"):
        assert history["loss"][0] > history["contrastive_loss"][0]
        assert np.isfinite(history["reconstruction_loss"][0])


@pytest.mark.slow
def test_contrastive_mse_on_the_variational_model_adds_its_own_loss():
    from dolphin_ae.models.vae_v4 import kl_divergence

    options = model_options("vae_v4_2", input_shape=(*SHAPE, 1), lstm_width=1 / 32, kernel_size=3, latent_dim=6)
    keras.utils.set_random_seed(0)
    model = build_model("vae_v4_2", **options)
    run = ObjectiveRun(model, Objective("contrastive_mse", **SMALL), np.arange(12), recordings=RECORDINGS,
                       is_background=SILENCE)
    views, clean = run.batches(_windows(), np.arange(12), batch_size=6)[0]
    run.fit_model.compile(optimizer="adam", loss=run.loss)
    logs = run.fit_model.evaluate(views, clean, batch_size=6, return_dict=True, verbose=0)
    # Evaluation decodes the mean code: the variational model's loss is 1000 x MSE + KL, without noise.
    numpy = keras.ops.convert_to_numpy
    mean, log_variance = model.posterior(clean, training=False)
    mse = np.mean((numpy(model.decoder(mean, training=False)) - clean) ** 2)
    kl = float(np.mean(numpy(kl_divergence(mean, log_variance))))
    assert kl > 1e-3
    assert logs["reconstruction_loss"] == pytest.approx(1000 * mse + kl, abs=1e-3)
    assert logs["loss"] == pytest.approx(logs["contrastive_loss"] + logs["reconstruction_loss"], rel=1e-5)


def test_training_key_changes_with_the_objective_and_the_settings_it_uses(tmp_path):
    windows, train = _windows(), np.arange(12)
    model = _conv()

    def key(objective):
        extra = ObjectiveRun(model, objective, train, recordings=RECORDINGS, is_background=SILENCE,
                             labels=LABELS).key(train)
        return training_key(model, windows, train, epochs=1, seed=0, **extra)

    # The default adds nothing: its key is the one train_autoencoder made before there were objectives.
    assert key("mse") == training_key(model, windows, train, epochs=1, seed=0) == key(None)
    keys = [key(name) for name in OBJECTIVES]
    assert len({checkpoint_folder(tmp_path, model.name, k) for k in keys}) == len(OBJECTIVES)
    assert key(Objective("contrastive", contrastive_temperature=0.5)) != key("contrastive")
    assert key(Objective("denoising", denoise_gain=[0.1, 0.2])) != key("denoising")
    # A setting the objective does not use leaves its key alone.
    assert key(Objective("denoising", contrastive_temperature=0.5)) == key("denoising")
    assert key(Objective("mse", denoise_gain=[0.1, 0.2])) == key("mse")
    # Other background windows, another key.
    other = ObjectiveRun(model, "denoising", train, recordings=RECORDINGS, is_background=np.roll(SILENCE, 2)).key()
    assert other != ObjectiveRun(model, "denoising", train, recordings=RECORDINGS, is_background=SILENCE).key()


@pytest.mark.slow
def test_a_finished_contrastive_run_is_reloaded_from_its_checkpoint(tmp_path):
    windows = _windows()
    options = dict(epochs=1, batch_size=6, seed=0, verbose=0, checkpoint_dir=tmp_path, recordings=RECORDINGS,
                   is_background=SILENCE, objective=Objective("contrastive_mse", **SMALL))
    first = train_autoencoder(_conv(), windows, np.arange(12), **options)
    trained = _conv()
    again = train_autoencoder(trained, windows, np.arange(12), **options)
    assert again["resumed_after_epoch"] == 1 and again["loss"] == first["loss"]
    assert len(list(tmp_path.iterdir())) == 1


def test_objective_settings_are_checked():
    with pytest.raises(ParameterError, match="objective must be one of"):
        as_objective("triplet")
    with pytest.raises(ParameterError, match="denoise_gain"):
        Objective("denoising", denoise_gain=[1.0, 0.5])
    with pytest.raises(ParameterError, match="unknown objective setting"):
        as_objective("contrastive", temperature=0.1)
    with pytest.raises(ParameterError, match="contrastive_temperature"):
        Objective("contrastive", contrastive_temperature=0)
    settings = as_objective("denoising", denoise_gain=(0, 1)).settings()
    assert settings == {"name": "denoising", "denoise_gain": [0.0, 1.0]}


def test_the_book_knows_the_objectives():
    from dolphin_ae.book.parameters import CHOICES, check_objective

    assert CHOICES["objective"] == OBJECTIVES
    check_objective({"objective": "denoising", "denoise_gain": [0.1, 0.3]}, origins={})
    with pytest.raises(ParameterError, match="params/x.yaml: contrastive_temperature"):
        check_objective({"objective": "contrastive", "contrastive_temperature": -1.0},
                        origins={"contrastive_temperature": "params/x.yaml"})
