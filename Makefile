# The two front doors: `make book` and `make test`; `make check` is the quick loop; `make test-backends`
# runs the model and training tests on JAX and PyTorch. All create their virtual environment first.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= auto
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_INSTALL := python -m pip install --quiet --disable-pip-version-check
REPORT_ARGS := --profile $(PROFILE) $(if $(DATA),--data $(DATA)) $(if $(RUN_DIR),--run-dir $(RUN_DIR))

# `gpu` where nvidia-smi lists a GPU (Linux): `make book` then adds JAX's CUDA build to the environment
# and runs Keras on JAX, so `--profile auto` finds the GPU and picks the `gpu` profile. `cpu` anywhere
# else: TensorFlow on the CPU, as always. `make book ACCELERATOR=cpu` keeps a GPU machine on TensorFlow.
ACCELERATOR ?= $(shell sh scripts/accelerator.sh)
ifeq ($(ACCELERATOR),gpu)
BOOK_STAMP := $(VENV)/.installed-gpu
BOOK_BACKEND := KERAS_BACKEND=jax
else
BOOK_STAMP := $(STAMP)
BOOK_BACKEND :=
endif

# The backend matrix: one environment beside .venv (which stays TensorFlow only) with the pinned JAX and
# PyTorch CPU builds, and the tests of everything that touches Keras, run once per backend.
BACKENDS_VENV ?= .venv-backends
BACKENDS_STAMP := $(BACKENDS_VENV)/.installed
BACKENDS ?= jax torch
BACKEND_TESTS ?= tests/test_backends.py tests/test_devices.py tests/models tests/train/test_training.py \
	tests/train/test_heads.py tests/train/test_objectives.py tests/train/test_supervised.py tests/field/test_detect.py
# Of those, every test not marked slow, and the slow ones marked `backends` (checkpoint resume, every model's
# save and load, detect and embed).
BACKEND_MARKS ?= not slow or backends

.PHONY: install book test check test-backends clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) -r requirements.lock
	$(BIN)/$(PIP_INSTALL) --no-deps -e .
	touch $@

$(VENV)/.installed-gpu: $(STAMP) requirements-gpu.lock
	$(BIN)/$(PIP_INSTALL) -r requirements.lock -r requirements-gpu.lock
	touch $@

# Runs every notebook with papermill at the profile that fits the hardware, then builds the HTML book.
book: $(BOOK_STAMP)
	$(BOOK_BACKEND) $(BIN)/dolphin-ae report $(REPORT_ARGS)

# Every test, the `ci` build of the whole book among them (what CI runs).
test: install
	$(BIN)/python -m pytest

# Every test but the slow ones (chapter runs, book builds, longer trainings): a few minutes.
check: install
	$(BIN)/python -m pytest -m "not slow"

$(BACKENDS_STAMP): pyproject.toml requirements.lock requirements-jax.lock requirements-torch.lock
	$(PYTHON) -m venv $(BACKENDS_VENV)
	$(BACKENDS_VENV)/bin/$(PIP_INSTALL) -r requirements.lock -r requirements-jax.lock -r requirements-torch.lock
	$(BACKENDS_VENV)/bin/$(PIP_INSTALL) --no-deps -e .
	touch $@

# Each backend in turn, every one even after a failure; fails if any failed.
test-backends: $(BACKENDS_STAMP)
	@failed=""; for backend in $(BACKENDS); do \
	    echo "== KERAS_BACKEND=$$backend"; \
	    KERAS_BACKEND=$$backend $(BACKENDS_VENV)/bin/python -m pytest -p no:cacheprovider -m "$(BACKEND_MARKS)" \
	        $(BACKEND_TESTS) \
	        || failed="$$failed $$backend"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-backends failed on:$$failed"; exit 1; fi

clean:
	rm -rf runs book/_build .pytest_cache
