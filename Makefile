# Two commands: `make run` opens the app, `make test` runs the whole suite.
# Both set up everything from nothing and are idempotent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := jackd2 libportaudio2 libsndfile1
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# Every dependency but torch, pinned (pip-tools' pip-compile; `make lock` regenerates it).
LOCK := requirements.lock
LOCK_ARGS ?=
# The transcriber of benchmarks/neural_fidelity.py (and its tests): Spotify's basic-pitch, its ONNX model inside the
# wheel, run by onnxruntime on the CPU. Its metadata pulls tensorflow on Linux; what its ONNX inference imports comes
# with the lock (the bench extra), so basic-pitch itself goes in pinned, with --no-deps. Nothing is downloaded at run time.
BASIC_PITCH_SPEC := basic-pitch==0.4.0

.PHONY: run test setup system-deps setup-train-audio setup-bench lint lock bench clean

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
# Then everything else from the lock, exactly, and the package itself without resolving again.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -r $(LOCK)
	$(PIP) install -q --no-deps "$(BASIC_PITCH_SPEC)"
	$(PIP) install -q --no-deps -e .
	touch $(STAMP)

# Regenerate the lock from pyproject.toml (all extras), resolved against the pinned torch, which it leaves out.
# Upgrade: `make lock LOCK_ARGS=--upgrade` (everything) or `LOCK_ARGS="--upgrade-package textual"` (one).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q pip-tools
	echo "$(TORCH_SPEC)" > $(VENV)/torch-pin.txt
	$(VENV)/bin/pip-compile -q $(LOCK_ARGS) --extra=dev --extra=train-audio --extra=bench --constraint=$(VENV)/torch-pin.txt \
	  --unsafe-package=torch --no-allow-unsafe --no-emit-index-url --no-emit-find-links --strip-extras \
	  --output-file=$(LOCK) pyproject.toml

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
	@echo "pyfluidsynth comes with the lock; FluidSynth and FluidR3 GM are installed."

# basic-pitch comes with `setup` (see BASIC_PITCH_SPEC); kept as a name for the benchmarks' docs.
setup-bench: setup

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
