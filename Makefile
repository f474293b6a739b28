# The two front doors: `make book` and `make test`; `make check` is the quick loop. All create the virtual
# environment first.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= auto
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REPORT_ARGS := --profile $(PROFILE) $(if $(DATA),--data $(DATA)) $(if $(RUN_DIR),--run-dir $(RUN_DIR))

.PHONY: install book test check clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Runs every notebook with papermill at the profile that fits the hardware, then builds the HTML book.
book: install
	$(BIN)/dolphin-ae report $(REPORT_ARGS)

# Every test, the `ci` build of the whole book among them (what CI runs).
test: install
	$(BIN)/python -m pytest

# Every test but the slow ones (chapter runs, book builds, longer trainings): a few minutes.
check: install
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf runs book/_build .pytest_cache
