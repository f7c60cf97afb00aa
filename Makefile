# One-command entry points. Each creates the virtual environment (.venv) on first use, installs
# numbagrad with its dependencies into it, then runs. Needs only python3 (>= 3.10) and network access
# to PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench graph graphviz browser screenshots notebooks lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m autograd.warmup
	touch $(STAMP)

setup: $(STAMP) graphviz

demo: $(STAMP) graphviz
	$(BIN)/python demo.py

test: $(STAMP) graphviz browser
	$(BIN)/python -m pytest -q

# $(call apt_install,PACKAGES): install Debian packages quietly where we can (as root or with
# passwordless sudo); elsewhere do nothing (the target then says how).
apt_install = SUDO=none; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi; \
	  fi; \
	  if [ "$$SUDO" != none ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $$SUDO apt-get install -y -qq $(1) >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq $(1) >/dev/null 2>&1; }; \
	  fi

# Graphviz's `dot` renders the backprop drawings (autograd.draw_graph). Install Debian's package where
# we can (as root or with passwordless sudo); elsewhere say how and go on: only rendering needs it.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  $(call apt_install,graphviz); \
	  if command -v dot >/dev/null 2>&1; then echo "installed Graphviz (dot), which renders the graph drawings"; \
	  else echo "note: Graphviz's dot is not installed: drawings build but cannot render (install the system" \
	    "package: sudo apt-get install graphviz, brew install graphviz, or conda install graphviz)"; fi; \
	}

# Headless Chromium plays the backprop step player in tests/test_step_player_browser.py and takes the
# README's screenshots. Install Debian's package where we can; elsewhere say how and go on: those tests
# skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  command -v google-chrome >/dev/null 2>&1 || { \
	  $(call apt_install,--no-install-recommends chromium); \
	  if command -v chromium >/dev/null 2>&1; then echo "installed Chromium, which the step player's browser tests use"; \
	  else echo "note: Chromium is not installed: the step player's browser tests skip (install it: sudo" \
	    "apt-get install chromium, or set CHROMIUM to a Chrome or Chromium binary)"; fi; \
	}

# The README's drawings, made with the project's own command (python -m autograd.drawings --help).
graph: $(STAMP) graphviz
	mkdir -p docs/images
	$(BIN)/python -m autograd.drawings neuron -o docs/images/neuron.svg --steps docs/images/neuron_backprop.svg
	$(BIN)/python -m autograd.drawings mlp -o docs/images/mlp.svg --rankdir TB

# The README's screenshots of the backprop step player, taken in headless Chromium (tools/screenshots.py).
screenshots: $(STAMP) graphviz browser
	$(BIN)/python -m tools.screenshots --out docs/images

# Re-run every notebook top to bottom and save it with its outputs, as the repository shows them
# (without per-cell timestamps, so a re-run changes only what the cells print).
notebooks: $(STAMP) graphviz
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 \
	  --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.record_timing=False notebooks/*.ipynb

# Open the notebooks in JupyterLab, in this checkout's environment.
lab: $(STAMP) graphviz
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
