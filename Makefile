# distlab: the book and its library.
#   make book   build the HTML book into _build/html (warnings are errors)
#   make pdf    the book as one PDF, _build/pdf/distlab-book.pdf (offline, with Chromium)
#   make test   run every test: library, notebooks (nbval), book build, browser
#   make lab    open JupyterLab on the book
#   make bench  run the benchmarks
#   make soak   run every protocol and lab solution under 1,000 random fault schedules each
#               (SOAK_RUNS=... to change; one line per protocol: runs, violations, time)
#   make grade SUBMISSIONS=submitted/   grade a class's lab notebooks into gradebook/
#   make labs   regenerate labs/ from solutions/
#   make labs-check   (or make labs CHECK=1) write nothing; fail if labs/ is stale or a lab
#               lacks its notebook, its module (src/distlab/labs/) or its tests (tests/labs/)
# Every target creates the virtual environment .venv first when it is missing, and reinstalls
# the package when pyproject.toml has changed since the last install.
# Conda users: `conda env create -f environment.yml && conda activate distlab`, then
# `make book VENV=$CONDA_PREFIX` (and the same for the other targets).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := book,test,bench,engines
INSTALLED := $(VENV)/.distlab-installed
PYTEST_ARGS ?=
# processes for make test (pytest-xdist): auto is one per core; TEST_JOBS=0 runs all in one
TEST_JOBS ?= auto
SOAK_RUNS ?= 1000

.PHONY: help venv system-packages assets book pdf test lab bench soak grade labs labs-check execute clean \
	distclean

help:
	@sed -n '2,11p' Makefile

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	@touch $(INSTALLED)

# System packages, installed with apt when missing (as root, or with sudo when it needs no
# password; otherwise the exact command is printed): npm for the book's JavaScript, and
# for the tests Debian's Chromium (the browser tests), etcd and ZooKeeper (page 04.06).
system-packages:
	@tools/system_packages.sh npm $(if $(filter test pdf,$(MAKECMDGOALS)),chromium) \
		$(if $(filter test,$(MAKECMDGOALS)),etcd-server zookeeperd)

# Local copies of require.js, the widget manager and MathJax (see tools/js_assets.py).
assets: venv system-packages
	@$(PY) tools/js_assets.py

book: venv assets
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --all
	@echo
	@echo "The book is built. Open file://$(CURDIR)/_build/html/index.html"

# Every page of the built book printed by Debian's Chromium in the order of _toc.yml, joined
# with a contents page, bookmarks and page numbers (tools/make_pdf.py). Nothing is downloaded.
pdf: book
	$(PY) tools/make_pdf.py _build/html _build/pdf/distlab-book.pdf

# One pytest run: tests/ (library and pipeline tests, including the book build and the browser
# test) and every notebook in book/ and solutions/ under strict nbval; pyproject.toml holds the
# options. Pass more with PYTEST_ARGS, e.g. make test PYTEST_ARGS="-m 'not browser' -x".
# The tests run on every core, one file to a process at a time (see conftest.py).
test: venv assets
	@$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no test at all"; fi; \
	exit $$status

# JupyterLab at the repository root, showing book/; it never calls out (no news feed, no update
# check, no extension catalogue). As root (containers, CI machines) it needs --allow-root.
LAB_OPTIONS := --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/book \
	--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	--LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root)

lab: venv
	$(VENV)/bin/jupyter lab $(LAB_OPTIONS) $(LAB_ARGS)

bench: venv
	@if [ -f bench/run.py ]; then \
		$(PY) bench/run.py; \
	else \
		shopt -s nullglob; scripts=(bench/*.py); \
		if [ $${#scripts[@]} -eq 0 ]; then echo "make bench: no benchmark in bench/ yet"; exit 1; fi; \
		for script in "$${scripts[@]}"; do echo "== $$script"; $(PY) "$$script" || exit 1; done; \
	fi

# The soak: each reference implementation of the library and each lab's reference solution over
# SOAK_RUNS seeds, each with a nemesis of the faults its guarantees cover, on two worker
# processes; exit status 1 if any run violated an invariant or a property (its seed and the
# command that replays it are printed). make test runs a few seeds of each (tests/soak/).
soak: venv
	$(PY) -m distlab.soak --runs $(SOAK_RUNS) --jobs 2

# A class's submissions (nbgrader's submitted/ folder, or a folder of <student>.ipynb with
# LAB=labNN-name) graded in parallel into gradebook/ (see the README, "Grading a whole class").
grade: venv
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path/to/submitted [LAB=lab00-example]"; exit 2; }
	$(PY) -m distlab.grading "$(SUBMISSIONS)" --out gradebook $(if $(LAB),--lab $(LAB))

# A lab is solutions/labNN-name.ipynb + src/distlab/labs/labNN_name.py +
# tests/labs/test_labNN_name.py; --check verifies that, and that labs/ is what would be written.
labs: venv
	$(PY) -m distlab.grading.make_labs $(if $(CHECK),--check)

labs-check: venv
	$(PY) -m distlab.grading.make_labs --check

# Execute notebooks in place, top to bottom, as they must be committed:
#   make execute NB=book/00-toolbox/00.01-the-simulator.ipynb   (several: NB="a.ipynb b.ipynb")
execute: venv
	@test -n "$(NB)" || { echo "usage: make execute NB=path/to/notebook.ipynb"; exit 2; }
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=120 --ExecutePreprocessor.record_timing=False $(NB)

clean:
	rm -rf _build _assets/vendor .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
