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

# torch first, a CPU build: pyproject.toml asks for any torch>=2.1, and without this step pip
# pulls several GB of CUDA packages. .ci/install_torch.py skips it when torch already imports,
# else takes the first that works: torch==2.13.0+cpu from pip's indexes (TORCH_INDEX=URL adds
# one), PyTorch's CPU index, plain torch; the first two with no retries and a 15 s timeout.
# TORCH=SPEC installs exactly SPEC, no fallback; a GPU machine: `make install TORCH=torch`.
TORCH       ?=
TORCH_INDEX ?=

$(VENV)/.installed: $(PY) pyproject.toml .ci/install_torch.py
	$(PY) .ci/install_torch.py $(if $(TORCH),--torch "$(TORCH)") $(if $(TORCH_INDEX),--extra-index-url "$(TORCH_INDEX)")
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Debian chromium for the browser tests (Playwright's own browser download fails offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

app: install
	$(VENV)/bin/anchoral serve sample --port $(PORT) --show

test: install browser
	$(PY) -m pytest -q -rsR

test-fast: install
	$(PY) -m pytest -q -m "not slow and not ui"

clean:
	rm -rf $(VENV) .pytest_cache
