# taps: `make run` (set up, build release, start the dashboard) and `make test` (set up, whole suite).
SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)
APT_PACKAGES = libopenblas-dev libncursesw5-dev zlib1g-dev libpng-dev libturbojpeg0-dev librsvg2-dev libisal-dev pkg-config tmux
ARGS ?=

.PHONY: run test bench setup build clean e2e

# Install missing Debian packages (root or sudo); a no-op when everything is present.
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: setup
	$(SWIFT) build -c $(CONFIG)

run: build
	$(BIN)/taps-tui $(ARGS)

test: setup
	$(SWIFT) build -c $(CONFIG) --build-tests
	$(SWIFT) test -c $(CONFIG) --skip-build
	bash scripts/cli_smoke.sh $(BIN)
	bash scripts/resilience.sh $(BIN)
	bash scripts/e2e_tmux.sh $(BIN)

bench: build
	$(BIN)/taps bench

clean:
	rm -rf .build
