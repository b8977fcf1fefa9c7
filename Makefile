# Two commands on a fresh machine (see README):
#   make app    install into .venv and open the explorer on the shipped sample
#   make test   install everything (Debian chromium + playwright included) and run every test
VENV    ?= .venv
PY      := $(VENV)/bin/python
PORT    ?= 5006
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install app test test-fast browser clean

$(PY):
	python3 -m venv $(VENV)

# torch first, the CPU build: pyproject.toml asks for any torch>=2.1, and without this line pip
# pulls several GB of CUDA packages. The +cpu wheel comes from pip's configured indexes (this
# project's machines carry it); elsewhere add PyTorch's CPU index:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
# A GPU machine: `make install TORCH=torch`.
TORCH       ?= torch==2.13.0+cpu
TORCH_INDEX ?=

$(VENV)/.installed: $(PY) pyproject.toml
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Debian chromium for the browser tests (Playwright's own browser download fails offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

app: install
	$(VENV)/bin/anchoral serve sample --port $(PORT) --show

test: install browser
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -m "not slow and not ui"

clean:
	rm -rf $(VENV) .pytest_cache
