# Two commands: `make run` opens the app, `make test` runs the whole suite.
# Both set up everything from nothing and are idempotent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := jackd2 libportaudio2 libsndfile1
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test setup system-deps setup-train-audio lint bench clean

run: setup
	$(VENV)/bin/composer

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

setup: system-deps $(STAMP)

# System libraries: installed with apt-get when root, otherwise the line to run is printed.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else \
	    echo "Missing system packages. Run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# torch first and pinned, so nothing else pulls a second (CUDA) build.
# GPU users: create .venv and `pip install` the CUDA torch of their choice first;
# a torch already present in .venv is kept.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

# FluidSynth and the GM soundfont, for the neural instruments' training data only
# (`composer audio-data build`, `composer train renderer|vocoder`); the app and `make test` never need them.
TRAIN_AUDIO_APT := libfluidsynth3 fluid-soundfont-gm
setup-train-audio: setup
	@missing=""; for p in $(TRAIN_AUDIO_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else \
	    echo "Missing system packages. Run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	$(PIP) install -q -e ".[dev,train-audio]"

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
