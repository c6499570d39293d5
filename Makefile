# imago: build, test, benchmark and lint. `make check` is what CI runs.
GO      ?= go
BENCH   ?= .
# Packages whose behaviour depends on the BLAS build tag.
BLAS_PKGS = ./engine/... ./nn/...

.PHONY: all build build-openblas test test-openblas test-oracle check lint bench bench-openblas clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o bin/imago ./cmd/imago

# Needs Debian's libopenblas-dev.
build-openblas:
	$(GO) build -tags openblas ./...
	$(GO) build -tags openblas -o bin/imago-openblas ./cmd/imago

test:
	$(GO) test ./...

test-openblas:
	$(GO) test -tags openblas $(BLAS_PKGS)

# The gorgonia cross-check lives in a nested module to keep gorgonia's
# dependencies out of the library's go.mod.
test-oracle:
	cd internal/oracle && $(GO) test ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags openblas ./...
	cd internal/oracle && $(GO) vet ./...

# The full test run: lint, both CPU builds, and the oracle.
check: lint test test-openblas test-oracle

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./engine/... ./nn/...

bench-openblas:
	$(GO) test -tags openblas -run '^$$' -bench '$(BENCH)' -benchmem ./engine/... ./nn/...

clean:
	rm -rf bin
