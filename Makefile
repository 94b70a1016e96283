# dapp_eval: two commands do everything (see README.md).
#   make report   -> local virtual environment + HTML reports in reports/ from data_synthetic/
#   make test     -> same environment + the whole test suite, notebooks included (nbval)
# Needs only Python 3.11 and access to PyPI.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test lab notebooks synth lint bench docs clean

$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "dapp_eval needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

## main job: commissioner reports for the shipped synthetic data
report: $(STAMP)
	$(BIN)/dapp-eval report data_synthetic --out reports

## every test, notebooks included (outputs compared by nbval)
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
	rm -rf $(VENV) .pytest_cache .ruff_cache
