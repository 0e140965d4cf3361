# The two commands of the README: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-tools demo test bench protos lint clean

setup: $(VENV)/.installed node_modules/.installed system-tools

# Debian tools the tests run for real: redis-server (gateway replicas' shared state), promtool
# (package prometheus, checks the metrics output) and sound-theme-freedesktop (real Ogg Vorbis
# sounds for the content tests). Installed only when missing (root, as on the machines the README
# names).
SOUNDS := /usr/share/sounds/freedesktop/stereo
system-tools:
	@command -v redis-server >/dev/null && command -v promtool >/dev/null && test -d $(SOUNDS) || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    redis-server prometheus sound-theme-freedesktop >/dev/null; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The Khronos glTF validator the bridge runs on every conversion.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/mmmfed demo --out demo-out

# Lint first, so CI (which runs `make test`) checks ruff and mypy strict too.
test: setup lint
	$(BIN)/python -m pytest

bench: setup
	@command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
	$(BIN)/python bench/migrate.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/convert.py --quick
	$(BIN)/python bench/resolve.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/sync_channels.py --quick
	$(BIN)/python bench/soak.py --quick

protos: setup
	$(BIN)/python scripts/gen_protos.py

# ruff, then mypy strict over the hand-written code ([tool.mypy] in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules demo-out
