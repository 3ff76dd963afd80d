# kubectl tke-net: `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN := $(BIN)/kubectl-tke_net
DEMO := examples/demo-cluster.yaml

.DEFAULT_GOAL := help
.PHONY: help install system-deps lint-deps sarif-deps browser-deps js-deps datapath-deps lab demo test lint e2e bench docs i18n lock clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,cloud]'
	touch $@

# Message catalogues (--lang zh): the .po files are the source, the .mo files build output (also made by the
# editable install's build hook, setup.py, and by packaging/build_binary.py, all with tools/i18n_catalog.py).
PO := $(wildcard kubectl_tke_net/locale/*/LC_MESSAGES/kubectl-tke-net.po)
MO := $(PO:.po=.mo)
$(MO): %.mo: %.po tools/i18n_catalog.py $(STAMP)
	$(BIN)/python -m tools.i18n_catalog compile
	touch $(MO)

install: $(STAMP) $(MO) ## install the plugin and its test tools into .venv

demo: $(STAMP) $(MO) ## run the plugin on the bundled example cluster snapshot
	@echo '$$ kubectl tke-net svc -A --snapshot $(DEMO)'
	@$(PLUGIN) svc -A --snapshot $(DEMO) --fail-on never
	@echo
	@echo '$$ kubectl tke-net ingress -A --snapshot $(DEMO)'
	@$(PLUGIN) ingress -A --snapshot $(DEMO) --fail-on never
	@echo
	@echo '$$ kubectl tke-net loopback -A --snapshot $(DEMO)'
	@$(PLUGIN) loopback -A --snapshot $(DEMO) --fail-on never
	@echo
	@echo '$$ kubectl tke-net trace ing/portal -n edge --snapshot $(DEMO)'
	@$(PLUGIN) trace ing/portal -n edge --snapshot $(DEMO) --fail-on never

system-deps: ## Debian packages the probe script's tests run under: busybox and dnsmasq (installed if root)
	@if ! command -v busybox >/dev/null || ! command -v dnsmasq >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends busybox dnsmasq-base >/dev/null; \
	  else echo "make: the tests need busybox and dnsmasq: sudo apt-get install busybox dnsmasq-base" >&2; exit 1; fi; \
	fi

lint-deps: ## Debian package the workflow lint needs: shellcheck, for the run: scripts (installed if root)
	@if ! command -v shellcheck >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; \
	  else echo "make: the workflow lint needs shellcheck: sudo apt-get install shellcheck" >&2; exit 1; fi; \
	fi

# The browser that tests `trace -o html` (tests/test_trace.py, tests/browser.py): Debian's headless Chromium, and a
# CJK font for the zh page, pinned to what they were proven with (Debian 12); if no longer served, the current ones.
BROWSER_DEBS := chromium-headless-shell=156.0.8078.114-1~deb12u1 fonts-wqy-microhei=0.2.0-beta-3.1
BROWSER_PKGS := $(foreach p,$(BROWSER_DEBS),$(firstword $(subst =, ,$(p))))
browser-deps: ## Debian packages of the HTML tests: chromium-headless-shell and a CJK font (installed if root)
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(BROWSER_PKGS) 2>/dev/null | grep -c 'install ok installed')" = $(words $(BROWSER_PKGS)) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_DEBS) >/dev/null \
	    || { echo "make: pinned versions unavailable; installing Debian's current ones" >&2; \
	         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS) >/dev/null; }; }; \
	else echo "make: the HTML tests need a headless Chromium: sudo apt-get install $(BROWSER_PKGS)" >&2; exit 1; fi

# The Mermaid parser that tests `trace -o mermaid`: the mermaid npm package under Node.js, exact versions in
# tests/js/package-lock.json (npm ci); Node.js and npm from Debian when the machine has none.
JS_STAMP := tests/js/node_modules/.installed
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else echo "make: the Mermaid tests need Node.js and npm: sudo apt-get install nodejs npm" >&2; exit 1; fi; \
	fi
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@
js-deps: $(JS_STAMP) ## the Mermaid parser of the trace tests (npm ci in tests/js)
# Microsoft's SARIF Multitool (npm), which tests/test_lint.py runs to validate -o sarif: pinned in
# tools/sarif/package-lock.json, installed with `npm ci` where Node.js is (else that test is skipped, and says why).
SARIF_TOOL := tools/sarif/node_modules/@microsoft/sarif-multitool/package.json
$(SARIF_TOOL): tools/sarif/package.json tools/sarif/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tools/sarif --no-audit --no-fund --loglevel=error >/dev/null && touch $@; \
	else echo "make: no npm (Node.js): the SARIF validation test will be skipped" >&2; fi

sarif-deps: $(SARIF_TOOL) ## the SARIF Multitool (npm, pinned) that validates -o sarif in the tests

# The real data path of tests/e2e/datapath and `make lab`: containerd, runc, the CNI plugins and the netfilter tools,
# and mmdebstrap, which makes the Debian base of the plugin's image (deploy/cronjob) there is no registry to pull;
# pinned to what they were proven with (Debian 12); if Debian no longer serves a pinned version, its current one.
# (busybox-static is not installed: it would remove busybox; tests/e2e/datapath/image.py downloads and unpacks it.)
DATAPATH_DEBS := containerd=1.6.20~ds1-1+deb12u3 runc=1.1.5+ds1-1+deb12u1 \
	containernetworking-plugins=1.1.1+ds1-3+b5 iptables=1.8.9-2 nftables=1.0.6-2+deb12u2 conntrack=1:1.4.7-1+b2 \
	mmdebstrap=1.3.5-7
DATAPATH_PKGS := $(foreach p,$(DATAPATH_DEBS),$(firstword $(subst =, ,$(p))))
datapath-deps: ## Debian packages of the real data path tests: containerd, runc, CNI plugins, iptables, nftables, conntrack, mmdebstrap (if root)
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make: not root on Debian: the real data path tests (tests/e2e/datapath) will be skipped" >&2; \
	elif [ -x /usr/lib/cni/ptp ] && apt-cache show busybox-static >/dev/null 2>&1 \
	    && [ "$$(dpkg-query -W -f='$${Status}\n' $(DATAPATH_PKGS) 2>/dev/null | grep -c 'install ok installed')" = $(words $(DATAPATH_PKGS)) ]; then :; \
	else \
	  apt-get update -qq && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DATAPATH_DEBS) >/dev/null \
	    || { echo "make: pinned versions unavailable; installing Debian's current ones" >&2; \
	         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DATAPATH_PKGS) >/dev/null; }; }; \
	fi

lab: $(STAMP) $(MO) datapath-deps ## a two-node lab with a real kubelet, kube-proxy, CoreDNS and a looping CLB (root, Linux; Ctrl-C stops it)
	$(BIN)/python tests/e2e/datapath/lab.py $(LAB_ARGS)

test: $(STAMP) $(MO) system-deps sarif-deps browser-deps js-deps ## unit and CLI tests (no network, no cluster)
	$(BIN)/pytest -q tests --ignore=tests/e2e

lint: $(STAMP) lint-deps ## ruff, mypy --strict (package, tests, tools/), actionlint with shellcheck on the workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy kubectl_tke_net tests tools
	shellcheck -x tools/actionlint.sh
	bash tools/actionlint.sh

e2e: $(STAMP) $(MO) system-deps datapath-deps ## end to end: real kube-apiserver and etcd; kubelet, kube-proxy, CoreDNS (built once, cached outside the repo)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP) ## realistic clusters of N=1,000 and 10,000 Services (real control plane) and a 150k-Pod snapshot, against their floors
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

docs: $(STAMP) ## regenerate docs/checks/*.md and the README's checks table from the check docstrings
	$(BIN)/python -m tools.docsgen

i18n: $(STAMP) ## re-extract the messages into the .po files; then translate the entries it lists as missing
	$(BIN)/python -m tools.i18n_catalog update
	@$(BIN)/python -m tools.i18n_catalog check || echo "make i18n: translate these in $(PO), then make install" >&2

lock: ## re-pin constraints.txt from a fresh install of the ranges in pyproject.toml
	rm -rf /tmp/tke-net-lock && $(PY) -m venv /tmp/tke-net-lock
	/tmp/tke-net-lock/bin/pip install -q '.[dev,release,cloud]'
	{ echo "# Exact versions that \`make\` installs (pyproject.toml keeps the ranges users get). Regenerate with \`make lock\`."; \
	  /tmp/tke-net-lock/bin/pip freeze --exclude-editable | grep -v '^kubectl-tke-net' | sort -f; } > constraints.txt

# The executable is frozen from a venv of its own: runtime dependencies and PyInstaller, no test tools.
RELEASE_VENV := build/release-venv
RELEASE_STAMP := $(RELEASE_VENV)/.installed
BINARY := dist/kubectl-tke_net
PLUGIN_SOURCES := $(shell find kubectl_tke_net -type f -not -path '*/__pycache__/*')
.PHONY: binary krew bench-binary

$(RELEASE_STAMP): pyproject.toml constraints.txt
	rm -rf $(RELEASE_VENV)
	$(PY) -m venv $(RELEASE_VENV)
	$(RELEASE_VENV)/bin/pip install -q -c constraints.txt '.[release,cloud]'
	$(RELEASE_VENV)/bin/pip uninstall -q -y kubectl-tke-net  # frozen from the source tree, never a stale copy
	touch $@

$(BINARY): $(RELEASE_STAMP) $(PLUGIN_SOURCES) packaging/build_binary.py tools/i18n_catalog.py
	$(RELEASE_VENV)/bin/python packaging/build_binary.py

binary: $(BINARY) ## single-file executable dist/kubectl-tke_net (PyInstaller); runs without Python

krew: $(BINARY) ## release archive dist/kubectl-tke_net_<version>_<os>_<arch>.tar.gz, krew/tke-net.yaml, dist/krew-index
	$(PY) packaging/release.py archive
	$(PY) packaging/release.py manifest
	$(PY) packaging/release.py index

bench-binary: $(RELEASE_STAMP) $(STAMP) ## build one-file and one-folder executables; compare size and start time
	$(RELEASE_VENV)/bin/python packaging/measure_binary.py

clean: ## remove .venv and build output
	rm -rf $(VENV) build dist *.egg-info
