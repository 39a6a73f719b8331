# Studio: `make run` starts everything, `make test` runs the whole suite.
# Both install into $(VENV) first when pyproject.toml changed (or on first use).
# VENV can live outside the clone (CI keeps one per pyproject hash): the project
# itself is never pip-installed, only its dependencies, so a venv fits any clone.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: install deps deps-hash vendor run test test-accuracy test-fast lint format bench schemas clean

install: deps vendor

# The venv is keyed by the dependency list only: editing tool settings in pyproject.toml
# must not rebuild a 6 GB venv.
REQUIREMENTS = $(PYTHON) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))"

deps-hash:
	@$(REQUIREMENTS) | sha256sum | cut -c1-64

deps:
	@want=$$($(REQUIREMENTS) | sha256sum | cut -c1-64); \
	have=$$(cat $(VENV)/.studio-deps 2>/dev/null || true); \
	if [ "$$want" != "$$have" ]; then \
	  echo "Installing Python dependencies into $(VENV) (first time: a few minutes) …"; \
	  [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install -q --upgrade pip; \
	  $(REQUIREMENTS) > $(VENV)/requirements.txt; \
	  $(PY) -m pip install -q -r $(VENV)/requirements.txt && echo "$$want" > $(VENV)/.studio-deps; \
	fi

vendor:
	@want=$$(sha256sum package-lock.json | cut -c1-64); \
	have=$$(cat node_modules/.studio-deps 2>/dev/null || true); \
	if [ "$$want" != "$$have" ] || [ ! -f static/vendor/htmx.min.js ] \
	   || [ ! -f static/vendor/swagger-ui/favicon-32x32.png ]; then \
	  echo "Installing front-end libraries (npm ci) …"; \
	  npm ci --no-audit --no-fund --silent && echo "$$want" > node_modules/.studio-deps; \
	  mkdir -p static/vendor; \
	  cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js; \
	  cp node_modules/@alpinejs/collapse/dist/cdn.min.js static/vendor/alpine-collapse.min.js; \
	  cp node_modules/@alpinejs/csp/dist/cdn.min.js static/vendor/alpine-csp.min.js; \
	  mkdir -p static/vendor/swagger-ui; \
	  cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	     node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js \
	     node_modules/swagger-ui-dist/favicon-32x32.png static/vendor/swagger-ui/; \
	  cp node_modules/chart.js/dist/chart.umd.js static/vendor/chart.umd.js; \
	fi

run: install
	$(PY) manage.py studio

test: install
	$(PY) -m pytest -m "not accuracy" $(PYTEST_ARGS)

# ResNet-18 from scratch must reach >= 97 % on digits in 10 epochs (several minutes).
test-accuracy: install
	$(PY) -m pytest -m accuracy $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not browser and not worker and not slow" $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy studio apps tests
	$(VENV)/bin/lint-imports

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) -m bench

schemas: install
	$(PY) manage.py export_schemas

clean:
	rm -rf static/vendor node_modules .pytest_cache .mypy_cache .ruff_cache
