# The two commands of the README. Both create .venv on first use and reuse it after.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.glalign-installed
TMPBASE := $(CURDIR)/.venv/tmp

# Never reach a model hub; keep Jupyter/matplotlib state out of the home folder.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export IPYTHONDIR := $(TMPBASE)/ipython
export JUPYTER_RUNTIME_DIR := $(TMPBASE)/jupyter-runtime
export MPLCONFIGDIR := $(TMPBASE)/matplotlib
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: test reproduce venv clean

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: a looser request would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e '.[dev]'
	# bytecode compiled once, on both cores (pip compiles on one); PYTHONDONTWRITEBYTECODE may forbid it later
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true  # a file that does not compile only stays uncompiled
	mkdir -p $(IPYTHONDIR) $(JUPYTER_RUNTIME_DIR) $(MPLCONFIGDIR)
	touch $(STAMP)

test: $(STAMP)
	mkdir -p $(IPYTHONDIR) $(JUPYTER_RUNTIME_DIR) $(MPLCONFIGDIR)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile --durations=25 tests  # two single-thread workers: faster than one on both cores
	$(PY) -m pytest --nbval-lax -p no:cacheprovider notebooks

reproduce: $(STAMP)
	mkdir -p $(IPYTHONDIR) $(JUPYTER_RUNTIME_DIR) $(MPLCONFIGDIR)
	$(VENV)/bin/glalign reproduce --profile synthpedes

clean:
	rm -rf $(VENV) work
