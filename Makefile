# imago: build, test, benchmark and lint. `make check` is what CI runs.
GO      ?= go
BENCH   ?= .
# Packages whose behaviour depends on the BLAS build tag.
BLAS_PKGS = ./engine/... ./nn/...
# Packages that hold the CUDA engine, its kernels and their emulator.
CUDA_PKGS = ./cuda/... ./kernels/...
# Packages with tests that run their networks or rollouts on the emulated
# CUDA engine against the CPU engine (files tagged cudaemu); once, in the
# forward order, since the kernels' orders are CUDA_PKGS' concern.
CUDA_USERS = ./nn/ ./algos/mbpo/ ./algos/mve/ ./algos/clearning/
# Thread orders the kernel emulator runs blocks in: a kernel that is only
# right in one order has a race.
EMU_ORDERS = forward reverse random

.PHONY: all build build-openblas build-cuda kernels kernels-fresh gpu-binaries \
	test test-openblas test-oracle test-cudaemu check lint bench bench-openblas clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o bin/imago ./cmd/imago

# Needs Debian's libopenblas-dev.
build-openblas:
	$(GO) build -tags openblas ./...
	$(GO) build -tags openblas -o bin/imago-openblas ./cmd/imago

# Needs the CUDA headers and libcuda (Debian's nvidia-cuda-toolkit); the PTX
# is embedded, so no nvcc. The binary runs only where a GPU and driver are.
build-cuda:
	$(GO) build -tags cuda ./...
	$(GO) test -tags cuda -c -o /dev/null ./cuda

# Regenerates kernels/ptx and kernels/registry.inc with nvcc.
kernels:
	scripts/build-kernels.sh

# Fails when the committed PTX or registry is stale.
kernels-fresh:
	scripts/check-kernels-fresh.sh

# Test binaries and imago for a GPU machine, into .gpu/ (see scripts/).
gpu-binaries:
	scripts/build-gpu.sh

test:
	$(GO) test ./...

test-openblas:
	$(GO) test -tags openblas $(BLAS_PKGS)

# The gorgonia cross-check lives in a nested module to keep gorgonia's
# dependencies out of the library's go.mod.
test-oracle:
	cd internal/oracle && $(GO) test ./...

test-cudaemu:
	@set -e; for o in $(EMU_ORDERS); do \
		echo "IMAGO_EMU_ORDER=$$o"; \
		IMAGO_EMU_ORDER=$$o $(GO) test -count=1 -tags cudaemu $(CUDA_PKGS); \
	done
	$(GO) test -count=1 -tags cudaemu $(CUDA_USERS)

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags openblas ./...
	$(GO) vet -tags cuda ./...
	$(GO) vet -tags cudaemu ./...
	cd internal/oracle && $(GO) vet ./...

# The full test run: lint, both CPU builds, the oracle, the CUDA build, the
# kernels' freshness and the emulated CUDA engine.
check: lint test test-openblas test-oracle build-cuda kernels-fresh test-cudaemu

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./engine/... ./nn/...

bench-openblas:
	$(GO) test -tags openblas -run '^$$' -bench '$(BENCH)' -benchmem ./engine/... ./nn/...

clean:
	rm -rf bin .gpu
