#!/usr/bin/env bash
# Builds everything a GPU check needs into .gpu/ (ignored by git), on a
# machine with the CUDA headers and libcuda (Debian's nvidia-cuda-toolkit)
# but no GPU: the -tags cuda test binaries of every package that has CUDA
# tests, and imago itself. The binaries link only libcuda, which the NVIDIA
# driver provides, so they run on a GPU machine with nothing else installed:
#
#	./.gpu/cuda.test -test.v            # conformance suite, CPU agreement, SAC update launches
#	./.gpu/nn.test -test.v              # the networks' gradient checks on the GPU
#	./.gpu/cuda.test -test.run '^$' -test.bench .   # GEMM and op benchmarks
#	./.gpu/imago engines
#
# scripts/gpu_check.sh runs all of issue 7's measurements from them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu}
mkdir -p "$out"
go test -tags cuda -c -o "$out/cuda.test" ./cuda
go test -tags cuda -c -o "$out/cpu.test" ./engine/cpu
go test -tags cuda -c -o "$out/nn.test" ./nn
go build -tags cuda -o "$out/imago" ./cmd/imago
ls -l "$out"
