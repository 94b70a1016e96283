# dapp_eval: two commands do everything (see README.md).
#   make report   -> local virtual environment (the package + its `report` extra) + HTML reports in
#                    reports/ from data_synthetic/
#   make test     -> same environment with the `test` extra (notebooks, browser checks) + the whole test
#                    suite except the slow tests, notebooks included (nbval)
# Needs only Python 3.11 and access to PyPI. Both install the versions pinned in requirements-lock.txt.
# CI (.ci/run) also runs: make test-slow, make test-lowest, make dist.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REPORT_STAMP := $(VENV)/.installed-report

.PHONY: report test test-slow test-lowest dist lab notebooks synth lint bench docs clean

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "dapp_eval needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the report extra only: what `dapp-eval report` needs
$(REPORT_STAMP): pyproject.toml requirements-lock.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[report]"
	touch $(REPORT_STAMP)

# everything the tests use (the test extra brings report, spss and notebooks too)
$(STAMP): pyproject.toml requirements-lock.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP) $(REPORT_STAMP)

install: $(STAMP)

## main job: commissioner reports for the shipped synthetic data
report: $(REPORT_STAMP)
	$(BIN)/dapp-eval report data_synthetic --out reports

## every test but the slow ones (pyproject's addopts deselect them), notebooks included (outputs compared by nbval)
# The second pytest run repeats the numerically sensitive part (notebooks and the
# estimator reference tests) with one BLAS/OpenMP thread: a different summation
# order must not change any stored output or break any reference tolerance.
# Both runs use the two cores (pytest-xdist, --dist loadfile: a notebook's cells run in order in
# one kernel, module fixtures are made once); tests/conftest.py splits out a few long
# independent tests as units of their own and hands out the longest units first (UNIT_SECONDS).
XDIST     := -n 2 --dist loadfile
NBVAL     := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env
NUMERICAL := notebooks tests/test_survival.py tests/test_lmm.py tests/test_risk.py tests/test_safety.py \
             tests/test_followup.py tests/test_attrition.py tests/test_cox_ph_test.py tests/test_stats.py

test: $(STAMP)
	$(BIN)/ruff check dapp_eval tests scripts
	$(BIN)/python -m pytest dapp_eval tests notebooks --doctest-modules --ignore=tests/reference --ignore=dapp_eval/templates \
	  $(NBVAL) $(XDIST) -p no:cacheprovider --durations=15
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest $(NUMERICAL) $(NBVAL) $(XDIST) -p no:cacheprovider -q

## only the tests marked slow (simulation-sized release attacks), on both cores
test-slow: $(STAMP)
	$(BIN)/python -m pytest tests -m slow $(XDIST) -p no:cacheprovider -q --durations=5

## the estimator and analysis tests with the LOWEST versions pyproject.toml allows for every direct dependency
# (uv's --resolution lowest-direct, from PyPI; indirect dependencies at their newest compatible versions), in a
# virtual environment of their own; pytest and hypothesis from the lock. Fails if a lower bound is too low.
LOWEST_VENV  := .venv-lowest
LOWEST_TESTS := tests/test_estimators.py tests/test_estimators_gee.py tests/test_estimators_methods.py \
                tests/test_survival.py tests/test_lmm.py \
                tests/test_stats.py tests/test_cox_ph_test.py \
                tests/test_io.py tests/test_data_layer.py tests/test_funnel.py tests/test_attrition.py \
                tests/test_risk.py tests/test_safety.py tests/test_followup.py tests/test_trends.py tests/test_yearly.py \
                tests/test_headlines.py tests/test_verdict.py tests/test_comparators.py tests/test_methods_analyses.py
test-lowest:
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c requirements-lock.txt uv
	$(LOWEST_VENV)/bin/uv pip compile pyproject.toml --extra report --extra spss --resolution lowest-direct \
	  --python $(LOWEST_VENV)/bin/python --no-header --quiet -o $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/uv pip install --python $(LOWEST_VENV)/bin/python --quiet -r $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/uv pip install --python $(LOWEST_VENV)/bin/python --quiet --no-deps -e .
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c $(LOWEST_VENV)/lowest.txt \
	  $$(grep -E '^(pytest|pytest-xdist|hypothesis)==' requirements-lock.txt)
	$(LOWEST_VENV)/bin/python -m pip check
	@grep -E '^(numpy|pandas|scipy|statsmodels|lifelines|matplotlib|pyyaml|openpyxl|pyarrow|jinja2|markupsafe|tqdm|pyreadstat)==' \
	  $(LOWEST_VENV)/lowest.txt | tr '\n' ' '; echo
	$(LOWEST_VENV)/bin/python -m pytest $(LOWEST_TESTS) $(XDIST) -p no:cacheprovider -q

## the sdist and wheel (python -m build), checked by twine; the wheel installed into a fresh environment that
# already holds older numpy and pandas (kept, not replaced), and `import dapp_eval` there without the extras
DIST_VENV := .venv-dist
dist:
	rm -rf dist $(DIST_VENV) $(DIST_VENV)-try
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet -c requirements-lock.txt build twine
	$(DIST_VENV)/bin/python -m build --outdir dist . >/dev/null
	$(DIST_VENV)/bin/twine check --strict dist/*
	$(PYTHON) -m venv $(DIST_VENV)-try
	$(DIST_VENV)-try/bin/python -m pip install --quiet numpy==2.1.3 pandas==2.2.3
	$(DIST_VENV)-try/bin/python -m pip install --quiet dist/*.whl
	$(DIST_VENV)-try/bin/python scripts/check_install.py numpy==2.1.3 pandas==2.2.3
	rm -rf $(DIST_VENV)-try

## JupyterLab on notebooks/ in the project environment
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

## re-execute the notebooks in place (after a deliberate change of outputs)
notebooks: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py

## regenerate data_synthetic/ (default scenario)
synth: $(STAMP)
	$(BIN)/dapp-eval synth --out data_synthetic --referrals 2000 --sites 5 --seed 1

lint: $(STAMP)
	$(BIN)/ruff check dapp_eval tests scripts

## documentation site (user guide + API reference) in docs/_build/html; warnings are errors
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[docs]"
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/dapp-eval bench --referrals 1000,10000,100000 --json bench.json

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(DIST_VENV) dist .pytest_cache .ruff_cache
