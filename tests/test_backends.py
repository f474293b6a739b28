"""Keras backends: the tests' backend comes from ``KERAS_BACKEND``, and a ``.keras`` file crosses backends.

``make test-backends`` runs this module (with the model, training, head and detect tests) once under
``KERAS_BACKEND=jax`` and once under ``KERAS_BACKEND=torch``, in ``.venv-backends``, which holds
TensorFlow, JAX and PyTorch. There, each of the three autoencoder families (ConvNet v5, LSTM V4.1 and
the variational V4.2, a subclassed model with a loss of its own) is trained for an epoch and saved
under the running backend and, in a subprocess, under each other installed backend; each side loads
the other's files and must predict what the saving side predicted. In ``.venv`` (TensorFlow alone)
the crossing test is skipped.

Tolerance: ``rtol=1e-4, atol=1e-5`` on outputs of order 1. The weights cross exactly (float32 in the
file); what differs is each backend's kernels for convolutions, LSTMs and reductions, which sum the
same float32 products in another order.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from dolphin_ae.models import build_model

# The package each Keras backend needs, by the backend's name.
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
RTOL, ATOL = 1e-4, 1e-5
TINY = {"input_shape": (16, 32, 1), "kernel_size": 3, "latent_dim": 6}
MODELS = {
    "conv_v5": {"filters": (4, 4)},
    "lstm_v4_1": {"filters": 4, "lstm_units": 8, "decoder_units": 8},
    "vae_v4_2": {"filters": 4, "lstm_units": 8, "decoder_units": 8},
}
TESTS_DIR = Path(__file__).resolve().parent


def current_backend():
    return keras.backend.backend()


def installed_backends():
    return [name for name, package in BACKEND_PACKAGES.items() if importlib.util.find_spec(package) is not None]


def _windows():
    return np.random.default_rng(7).standard_normal((8, 16, 32, 1)).astype(np.float32)


def save_models(folder):
    """Train each of ``MODELS`` for one epoch under the running backend; save ``NAME.keras`` and its outputs.

    ``NAME.npy`` holds the model's reconstruction of ``_windows()`` (8, 16, 32, 1) and ``NAME-code.npy``
    its encoder's codes (8, 6), both as this backend computed them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    x = _windows()
    for name, sizes in MODELS.items():
        keras.utils.set_random_seed(0)
        model = build_model(name, **TINY, **sizes)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.fit(x, x, epochs=1, batch_size=4, verbose=0)  # moves the batch norms' statistics off 0 and 1
        model.save(folder / f"{name}.keras")
        np.save(folder / f"{name}.npy", model.predict(x, verbose=0))
        np.save(folder / f"{name}-code.npy", model.get_layer("encoder").predict(x, verbose=0))
    (folder / "backend.txt").write_text(current_backend())


def check_models(folder):
    """Load every ``NAME.keras`` of ``folder`` under the running backend; its outputs must match the saved ones."""
    folder = Path(folder)
    saved_under = (folder / "backend.txt").read_text()
    x = _windows()
    for name in MODELS:
        restored = keras.models.load_model(folder / f"{name}.keras")
        where = f"{name} saved under {saved_under}, loaded under {current_backend()}"
        np.testing.assert_allclose(restored.predict(x, verbose=0), np.load(folder / f"{name}.npy"), rtol=RTOL,
                                   atol=ATOL, err_msg=where)
        np.testing.assert_allclose(restored.get_layer("encoder").predict(x, verbose=0),
                                   np.load(folder / f"{name}-code.npy"), rtol=RTOL, atol=ATOL, err_msg=where)


def _under(backend, code):
    """Run ``code`` (after ``import test_backends as here``) in a fresh interpreter under ``backend``."""
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), environment.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", f"import test_backends as here\n{code}"], env=environment,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"under {backend}:\n{result.stderr[-4000:]}"


def test_the_backend_comes_from_the_environment():
    # tests/conftest.py sets TensorFlow only where KERAS_BACKEND is not set.
    assert current_backend() == os.environ["KERAS_BACKEND"]


OTHER_BACKENDS = [name for name in installed_backends() if name != current_backend()]


@pytest.mark.skipif(not OTHER_BACKENDS, reason=f"only {current_backend()} is installed here; "
                    "`make test-backends` runs this where TensorFlow, JAX and PyTorch are")
@pytest.mark.parametrize("other", OTHER_BACKENDS or ["none"])
def test_a_keras_file_loads_and_predicts_the_same_under_another_backend(other, tmp_path):
    here, there = tmp_path / current_backend(), tmp_path / other
    save_models(here)
    _under(other, f"here.save_models({str(there)!r})\nhere.check_models({str(here)!r})")
    check_models(there)
