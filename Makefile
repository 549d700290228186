# bigcompute — developer entry points. `make demo` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean lock

$(PY):
	python3 -m venv $(VENV)

# Dependencies come from the lock (exact versions with their hashes, pip checks them), the package itself
# without any: CI and every checkout install what was tested. `make lock` regenerates it from pyproject.toml
# with uv, keeping the locked versions that still fit; `make lock UPGRADE=1` takes the newest that fit.
LOCK := requirements.lock
UV_VERSION := 0.13.8
$(STAMP): $(PY) pyproject.toml $(LOCK)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet --require-hashes -r $(LOCK)
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

lock: $(PY)
	$(PIP) install --quiet 'uv==$(UV_VERSION)'
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --generate-hashes --universal --python-version 3.11 \
	  --quiet $(if $(UPGRADE),--upgrade) -o $(LOCK)

# Azurite, the storage emulator of the local target, from the npm registry into ./node_modules.
AZURITE := node_modules/.bin/azurite-blob
$(AZURITE): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(AZURITE)

# Real tools of the example workloads (Debian packages), installed when missing: ffmpeg and blender for
# transcode-media and render-frames; Open MPI and mpi4py for heat-mpi (the local nodes' python3 links Debian's
# mpi4py, see bigcompute/emulator/compute/node_python.py).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: tools
tools:
	@command -v ffmpeg >/dev/null && command -v blender >/dev/null && command -v mpirun >/dev/null && \
	  [ -e /usr/lib/python3/dist-packages/mpi4py/__init__.py ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg blender \
	    openmpi-bin python3-mpi4py; }

# The Monte Carlo VaR workload end to end on the local target, which is stopped again afterwards. Time runs
# 30x faster there: the pools' nodes come up in seconds rather than Azure's few minutes (--transitions).
demo: $(STAMP) $(AZURITE)
	$(VENV)/bin/bigcompute validate workloads/ --stack dev
	$(VENV)/bin/bigcompute local up --stack dev --time-scale 30
	@status=0; $(VENV)/bin/bigcompute apply workloads/montecarlo-var.yaml --stack dev --wait --download out/ \
	  || status=$$?; \
	[ $$status -ne 0 ] || $(PY) workloads/montecarlo-var/report.py out/montecarlo-var/merge/var.json || status=$$?; \
	$(VENV)/bin/bigcompute local down; exit $$status

# The run's wall time is recorded (.bigcompute/make-test.json) for the `make test` row of `make bench`.
test: $(STAMP) $(AZURITE) tools
	$(PY) -m bench.record_test_run $(VENV)/bin/pytest -n 2 --maxschedchunk 1 -q

# mypy checks the packages listed in pyproject's [tool.mypy] (the emulator and the local target).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Every row of bench/RESULTS.md from one run; `make bench ARGS='--scale 0.1 emulator'` for a quick subset
# (which does not write RESULTS.md). Needs Azurite.
bench: $(STAMP) $(AZURITE)
	$(PY) -m bench $(ARGS)

# Deliberate bugs, one at a time in a temporary copy of the tree, and the test that catches each.
.PHONY: mutations
mutations: $(STAMP) $(AZURITE)
	$(PY) -m bench.mutations

clean:
	rm -rf $(VENV) .bigcompute out

# Other clients of the Batch API against the emulator (tests/compat): the msrest-based azure-batch 14.x SDK
# and `az batch`. They need their own virtualenv, which cannot hold the project's azure-batch 15.x:
# .venv-compat has azure-batch 14.x with azure-cli 2.68.0 (the last release on that SDK); the current
# azure-cli pins azure-batch 15.0.0b1, so it gets a venv of its own in .venv-compat/az-current.
# The emulator itself runs from $(VENV). uv installs them (pip takes minutes over azure-cli's ~150 packages,
# uv seconds). A missing client fails the run: every test of tests/compat is needed, none is skipped.
COMPAT := .venv-compat
COMPAT_STAMP := $(COMPAT)/.installed
.PHONY: compat
$(COMPAT_STAMP): $(STAMP)
	$(PIP) install --quiet 'uv==$(UV_VERSION)'
	$(VENV)/bin/uv venv --quiet --python python3 $(COMPAT)
	VIRTUAL_ENV=$(COMPAT) $(VENV)/bin/uv pip install --quiet 'azure-batch==14.*' 'azure-cli==2.68.0' pytest
	$(VENV)/bin/uv venv --quiet --python python3 $(COMPAT)/az-current
	VIRTUAL_ENV=$(COMPAT)/az-current $(VENV)/bin/uv pip install --quiet azure-cli
	touch $(COMPAT_STAMP)

compat: $(STAMP) $(COMPAT_STAMP)
	BIGCOMPUTE_PYTHON=$(CURDIR)/$(PY) $(COMPAT)/bin/python -m pytest tests/compat --confcutdir=tests/compat -p no:cacheprovider -q
