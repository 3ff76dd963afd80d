# kubectl tke-net: `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN := $(BIN)/kubectl-tke_net
DEMO := examples/demo-cluster.yaml

.DEFAULT_GOAL := help
.PHONY: help install demo test lint e2e bench docs lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP) ## install the plugin and its test tools into .venv

demo: $(STAMP) ## run the plugin on the bundled example cluster snapshot
	@echo '$$ kubectl tke-net svc -A --snapshot $(DEMO)'
	@$(PLUGIN) svc -A --snapshot $(DEMO) --fail-on never
	@echo
	@echo '$$ kubectl tke-net ingress -A --snapshot $(DEMO)'
	@$(PLUGIN) ingress -A --snapshot $(DEMO) --fail-on never
	@echo
	@echo '$$ kubectl tke-net loopback -A --snapshot $(DEMO)'
	@$(PLUGIN) loopback -A --snapshot $(DEMO) --fail-on never

test: $(STAMP) ## unit and CLI tests (no network, no cluster)
	$(BIN)/pytest -q tests --ignore=tests/e2e

lint: $(STAMP) ## ruff, and mypy --strict on the package
	$(BIN)/ruff check .
	$(BIN)/mypy kubectl_tke_net

e2e: $(STAMP) ## end to end against a real kube-apiserver and etcd (built once, cached outside the repo)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP) ## the plugin against kubectl on synthetic clusters of N=1,000 and 10,000 Services (real control plane)
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

docs: $(STAMP) ## regenerate docs/checks/*.md and the README's checks table from the check docstrings
	$(BIN)/python -m kubectl_tke_net.docsgen

lock: ## re-pin constraints.txt from a fresh install of the ranges in pyproject.toml
	rm -rf /tmp/tke-net-lock && $(PY) -m venv /tmp/tke-net-lock
	/tmp/tke-net-lock/bin/pip install -q '.[dev]'
	{ echo "# Exact versions that \`make\` installs (pyproject.toml keeps the ranges users get). Regenerate with \`make lock\`."; \
	  /tmp/tke-net-lock/bin/pip freeze --exclude-editable | grep -v '^kubectl-tke-net' | sort -f; } > constraints.txt

clean: ## remove .venv and build output
	rm -rf $(VENV) build dist *.egg-info
