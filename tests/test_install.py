"""What the project's own files install: the lock files agree with pyproject.toml, and `make book` installs the
GPU extra and runs Keras on JAX exactly where ``nvidia-smi`` lists a GPU.

The GPU check runs ``scripts/accelerator.sh`` and ``make -n`` (which prints the commands and runs none)
with a stand-in ``nvidia-smi`` first on ``PATH``, printing what the real one prints on a machine with a
GPU, on one whose driver is not loaded, and on one with no GPU.
"""

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "accelerator.sh"
EXTRAS = {"jax": "requirements-jax.lock", "torch": "requirements-torch.lock", "gpu": "requirements-gpu.lock"}
LISTS_A_GPU = ("GPU 0: NVIDIA H200 (UUID: GPU-5b1f0c2e-9a63-4d1e-8f2a-7c3b5e4d6a10)\n", 0)
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 9)
NO_DEVICES = ("No devices were found\n", 6)
linux_only = pytest.mark.skipif(os.uname().sysname != "Linux", reason="JAX's CUDA wheels are for Linux")


def _pins(path):
    """{normalised name: version} of the ``name==version`` lines of a requirements file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower().strip()] = version.strip()
    return pins


def _extra_pins(extra):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra]
    return {re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", r.split(";")[0].split("==")[0])).lower().strip():
            r.split(";")[0].split("==")[1].strip() for r in requirements}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_is_pinned_in_its_lock_file_in_step_with_requirements_lock(extra):
    lock, base = _pins(REPO / EXTRAS[extra]), _pins(REPO / "requirements.lock")
    for name, version in _extra_pins(extra).items():
        assert lock.get(name) == version, f"{EXTRAS[extra]}: {name} should be =={version}, as pyproject.toml pins it"
    # A lock file adds packages; it never pins one of requirements.lock to another version.
    clashes = {name: (version, base[name]) for name, version in lock.items() if name in base and base[name] != version}
    assert not clashes, f"{EXTRAS[extra]} and requirements.lock disagree: {clashes}"


def test_the_gpu_lock_holds_jaxs_cuda_build():
    lock = _pins(REPO / EXTRAS["gpu"])
    assert lock["jax-cuda12-plugin"] == lock["jax-cuda12-pjrt"] == lock["jax"] == lock["jaxlib"]
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12"} <= set(lock)


def _path_with_nvidia_smi(folder, listing=None):
    """A PATH with the system's tools but no real nvidia-smi; with ``listing`` = (output, status), a stand-in."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = [entry for entry in os.environ["PATH"].split(os.pathsep)
               if entry and not (Path(entry) / "nvidia-smi").exists()]
    if listing is not None:
        output, status = listing
        fake = folder / "nvidia-smi"
        fake.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 2\nprintf '%s' '{output}'\nexit {status}\n")
        fake.chmod(0o755)
        entries.insert(0, str(folder))
    return os.pathsep.join(entries)


def _environment(path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ACCELERATOR", "KERAS_BACKEND")}
    return {**environment, "PATH": path}


def _accelerator(path):
    result = subprocess.run(["sh", str(SCRIPT)], env=_environment(path), capture_output=True, text=True, check=True)
    return result.stdout.strip()


@linux_only
def test_the_script_says_gpu_only_when_nvidia_smi_lists_one(tmp_path):
    assert _accelerator(_path_with_nvidia_smi(tmp_path / "none")) == "cpu"
    assert _accelerator(_path_with_nvidia_smi(tmp_path / "gpu", LISTS_A_GPU)) == "gpu"
    assert _accelerator(_path_with_nvidia_smi(tmp_path / "no_driver", NO_DRIVER)) == "cpu"
    assert _accelerator(_path_with_nvidia_smi(tmp_path / "no_devices", NO_DEVICES)) == "cpu"


def _make_book_commands(path, venv, *arguments):
    """The commands ``make book`` would run (``make -n``: printed, not run)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    result = subprocess.run([make, "-n", "--no-print-directory", "-C", str(REPO), "book", f"VENV={venv}", *arguments],
                            env=_environment(path), capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


@linux_only
def test_make_book_on_a_gpu_machine_installs_the_gpu_extra_and_runs_on_jax(tmp_path):
    venv = tmp_path / "venv"
    commands = _make_book_commands(_path_with_nvidia_smi(tmp_path / "gpu", LISTS_A_GPU), venv)
    installs = [c for c in commands if "pip install" in c]
    assert any("-r requirements-gpu.lock" in c for c in installs), commands
    assert commands[-1].split() == ["KERAS_BACKEND=jax", f"{venv}/bin/dolphin-ae", "report", "--profile", "auto"]
    # The GPU extra goes into the same .venv, after the base install.
    assert installs[0].startswith(f"{venv}/bin/python") and "requirements-gpu.lock" not in installs[0]


def test_make_book_elsewhere_is_unchanged(tmp_path):
    venv = tmp_path / "venv"
    for path, arguments in ((_path_with_nvidia_smi(tmp_path / "none"), ()),
                            (_path_with_nvidia_smi(tmp_path / "no_driver", NO_DRIVER), ()),
                            (_path_with_nvidia_smi(tmp_path / "gpu", LISTS_A_GPU), ("ACCELERATOR=cpu",))):
        commands = _make_book_commands(path, venv, *arguments)
        assert not any("requirements-gpu.lock" in c or "KERAS_BACKEND" in c for c in commands), (arguments, commands)
        assert commands[-1].split() == [f"{venv}/bin/dolphin-ae", "report", "--profile", "auto"]
