"""What the Keras backend sees decides ``has_gpu()``, the ``auto`` profile and the manifest's device.

The backend's own device list is replaced (for TensorFlow ``tf.config.list_logical_devices``, for JAX
``jax.devices``, for PyTorch ``torch.cuda``), so the code under test parses what that backend would
return on a machine with an NVIDIA H200 and on one without a GPU. ``make test-backends`` runs these
under JAX and PyTorch as well.
"""

import os
from types import SimpleNamespace

import keras
import pytest

from dolphin_ae.book.report import choose_profile
from dolphin_ae.runio import environment_summary, has_gpu, list_devices

GPU_NAME = "NVIDIA H200"


def _pretend_devices(monkeypatch, gpu_names):
    """Make the running backend report the CPU plus one GPU per name in ``gpu_names``."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        # JAX lists the default platform only: the GPUs where there are any, else the CPU.
        devices = ([SimpleNamespace(platform="gpu", id=i, device_kind=name) for i, name in enumerate(gpu_names)]
                   or [SimpleNamespace(platform="cpu", id=0, device_kind="cpu")])
        monkeypatch.setattr(jax, "devices", lambda *args, **kwargs: devices)
    elif backend == "torch":
        import torch

        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(gpu_names))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: gpu_names[index])
    else:
        import tensorflow as tf

        devices = [SimpleNamespace(device_type="CPU", name="/job:localhost/replica:0/task:0/device:CPU:0")]
        devices += [SimpleNamespace(device_type="GPU", name=f"/job:localhost/replica:0/task:0/device:GPU:{i}")
                    for i in range(len(gpu_names))]
        monkeypatch.setattr(tf.config, "list_logical_devices", lambda *args: devices)


def test_a_machine_without_a_gpu_gets_the_cpu_profile(monkeypatch):
    _pretend_devices(monkeypatch, [])
    assert list_devices() == ["CPU:0"]
    assert not has_gpu()
    assert choose_profile("auto") == "cpu"
    assert environment_summary()["device"] == "CPU:0"


def test_a_gpu_machine_gets_the_gpu_profile_and_the_manifest_names_the_gpu(monkeypatch):
    _pretend_devices(monkeypatch, [GPU_NAME])
    assert "GPU:0" in list_devices()
    assert has_gpu()
    assert choose_profile("auto") == "gpu"
    # A profile asked for by name is kept, GPU or not.
    assert choose_profile("ci") == "ci"
    environment = environment_summary()
    assert environment["keras_backend"] == keras.backend.backend()
    assert "GPU:0" in environment["devices"]
    # TensorFlow's logical devices carry no product name; JAX and PyTorch tell it.
    expected = "GPU:0" if keras.backend.backend() == "tensorflow" else f"GPU:0 ({GPU_NAME})"
    assert environment["device"] == expected


def test_a_backend_that_cannot_list_its_devices_counts_as_the_cpu(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no driver")

    _pretend_devices(monkeypatch, [GPU_NAME])
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        monkeypatch.setattr(jax, "devices", broken)
    elif backend == "torch":
        import torch

        monkeypatch.setattr(torch.cuda, "device_count", broken)
    else:
        import tensorflow as tf

        monkeypatch.setattr(tf.config, "list_logical_devices", broken)
    assert list_devices() == ["CPU:0"] and not has_gpu()
    assert choose_profile("auto") == "cpu"


def test_an_unknown_profile_is_refused():
    from dolphin_ae.exceptions import ParameterError

    with pytest.raises(ParameterError, match="profile must be one of"):
        choose_profile("tpu")


def test_the_look_for_a_gpu_leaves_the_gpu_memory_to_the_chapters(monkeypatch):
    # Under JAX the report's own process starts a GPU client to look; it must not preallocate the memory
    # the chapters' kernels need, and the kernels must start with the environment unchanged.
    seen = []
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.setattr("dolphin_ae.runio.has_gpu", lambda: seen.append(os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"))
                        or True)
    assert choose_profile("auto") == "gpu"
    assert seen == ["false"] and "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")
    assert choose_profile("auto") == "gpu"
    assert seen == ["false", "true"] and os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
