# Front door. `make run` and `make test` create .venv and install the project first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench check-report clean
.DEFAULT_GOAL := run

$(STAMP): pyproject.toml
	@python=$$(tools/find-python) || exit 1; \
	  echo "creating $(VENV) with $$python"; \
	  rm -rf $(VENV) && "$$python" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e '.[test]'
	@# the installed modules' bytecode, on every core (pip writes it on one: 82 s for the install against 70 s),
	@# but not the packages' own test suites, pip's or setuptools' (a third of the files: 20 s against 28 s);
	@# like pip, a file that does not compile is reported and passed over
	$(PY) -m compileall -q -j 0 -x '/tests/|/pip/|/setuptools/' \
	  $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))') || true
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/shopper-bayes run --config config.yaml --output .

test: $(STAMP)
	@tools/find-java >/dev/null
	$(PY) -m pytest

check-report:  # after make run: the report in headless Chromium at 400 and 1,100 px: no element wider than the page
	python3 tools/check-report .

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf models/ figures/ reports/
