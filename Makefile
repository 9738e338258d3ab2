# The README's two commands: `make demo` and `make test`. Both set everything up from scratch
# on a fresh machine with Python 3.11 (a venv in .venv, npm packages in viewer/ and benchmarks/).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo serve test sample clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

viewer/node_modules/.package-lock.json: viewer/package-lock.json
	npm ci --prefix viewer --no-audit --no-fund --loglevel=error

setup: $(STAMP) viewer/node_modules/.package-lock.json

demo: setup
	$(VENV)/bin/twin demo ifc_models/sample_community -o out
	$(VENV)/bin/twin serve ifc_models/sample_community

serve: setup
	$(VENV)/bin/twin serve ifc_models/sample_community

test: setup
	$(PY) -m pytest -q

sample: $(STAMP)
	$(PY) ifc_models/build_sample.py --out ifc_models/sample_community

clean:
	rm -rf $(VENV) viewer/node_modules benchmarks/node_modules out
