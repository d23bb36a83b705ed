# The README's two commands: `make run` and `make test`.  Both bootstrap what they need first:
# the Debian packages that are missing, a virtual environment in .venv, and the project installed into it.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped

.PHONY: run test bootstrap demo bench clean visit-table matrix cage-session

run: $(STAMP)
	scripts/run-dev.sh

test: $(STAMP)
	scripts/run-tests.sh

demo: $(STAMP)
	scripts/run-dev.sh --scenario scenarios/demo-residence-record.toml

bench: $(STAMP)
	$(PY) tests/bench/bench_visit.py
	$(PY) tests/bench/bench_print_pipeline.py
	$(PY) tests/bench/bench_server.py --workers 2

bootstrap: $(STAMP)

# the whole power-cut matrix: every visit of tests/support/powercut_cases.py cut at every journal commit and at
# random times (about 14 min on 2 cores); prints the README's table
matrix: $(STAMP)
	$(PY) scripts/powercut_matrix.py

# the app full screen under cage (wlroots' X11 backend in an Xvfb of its own), screenshot in var/screenshots/cage/;
# part of `make test` too; about 10 s
cage-session: $(STAMP)
	$(PY) -m pytest -q tests/screens/test_cage_session.py

# docs/visit-table.md is firmware/visit_table.py for people (tests/firmware/test_visit_table.py checks it is current)
visit-table: $(STAMP)
	$(PY) -m firmware.visit_table > docs/visit-table.md

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	touch $@

clean:
	rm -rf $(VENV) var .pytest_cache
