#!/usr/bin/env bash
# Fails unless kernels/ptx/ and kernels/registry.inc are what
# scripts/build-kernels.sh makes from the current kernels/*.cu and the
# kernels/*.cuh headers they include: it builds every module afresh into a
# temporary directory and compares, so an edited header is checked through
# each module that includes it. Needs nvcc; the committed PTX
# comes from CUDA 11.8 (Debian's nvidia-cuda-toolkit), and another nvcc
# release writes different PTX, which this reports as such.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
NVCC=${NVCC:-nvcc}
if ! command -v "$NVCC" >/dev/null 2>&1; then
	echo "check-kernels-fresh: $NVCC not found; install Debian's nvidia-cuda-toolkit (CUDA 11.8) to check the kernels" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/build-kernels.sh" "$tmp"

release() { grep -m1 -o 'Cuda compilation tools, release [0-9.]*' "$1" 2>/dev/null || echo "unknown release"; }
if ! diff -r -q "$root/kernels/ptx" "$tmp/ptx" >"$tmp/ptx.diff" || ! cmp -s "$root/kernels/registry.inc" "$tmp/registry.inc"; then
	echo "check-kernels-fresh: kernels/ptx or kernels/registry.inc is stale; run 'make kernels' and commit the result:" >&2
	sed 's/^/  /' "$tmp/ptx.diff" >&2
	cmp -s "$root/kernels/registry.inc" "$tmp/registry.inc" || diff -u "$root/kernels/registry.inc" "$tmp/registry.inc" | sed 's/^/  /' >&2 || true
	committed=$(release "$(ls "$root"/kernels/ptx/*.ptx | head -1)")
	local_=$(release "$(ls "$tmp"/ptx/*.ptx | head -1)")
	if [ "$committed" != "$local_" ]; then
		echo "check-kernels-fresh: note: the committed PTX comes from '$committed', this nvcc is '$local_'; PTX differs between releases, so compare with the release the committed files name" >&2
	fi
	exit 1
fi
echo "check-kernels-fresh: kernels/ptx and kernels/registry.inc are up to date"
