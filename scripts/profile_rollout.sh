#!/usr/bin/env bash
# Profiles imago's model rollouts on the GPU with Nsight Compute (ncu) and
# writes a short report of the kernels that take the most GPU time: their
# launches, time, achieved occupancy, DRAM throughput and FP32 FLOP rate.
#
#	scripts/profile_rollout.sh [OUTDIR] [-- BENCH ROLLOUT FLAGS...]
#
# It runs `imago bench rollout --engine cuda --repeats 1` (the warm-up
# rollout and one timed one) at the bench's default shape, or with the
# flags given after --, under ncu. Every launch is profiled, and ncu replays
# a kernel once per pass its metrics need, so a profiled rollout takes
# minutes where an unprofiled one takes well under a second; the timings
# the bench prints under ncu mean nothing. To profile fewer launches, set
# NCU_FLAGS, e.g. NCU_FLAGS='--launch-skip 40 --launch-count 40'.
#
# Environment: IMAGO is the binary (default .gpu/imago, which
# scripts/build-gpu.sh builds), NCU the profiler (default ncu), TOP the
# number of kernels the report lists (default 10), PEAK_GFLOPS the card's
# FP32 peak for the report's fraction of peak (default: what `imago bench
# rollout` reports for the card, if it knows it).
#
# ncu runs with --clock-control none: the card is measured at the clocks it
# runs at, and its settings are left alone (by default ncu locks the clocks
# to base, which changes the card's state and its figures).
#
# Writes OUTDIR (default profile/) ncu.csv, every launch with its raw
# metrics, and report.txt, which it also prints.
set -euo pipefail

out=profile
if [[ $# -gt 0 && $1 != -- ]]; then
	out=$1
	shift
fi
if [[ $# -gt 0 ]]; then
	if [[ $1 != -- ]]; then
		echo "profile_rollout.sh: unexpected argument '$1'; usage: profile_rollout.sh [OUTDIR] [-- BENCH FLAGS...]" >&2
		exit 2
	fi
	shift
fi
imago=${IMAGO:-.gpu/imago}
ncu=${NCU:-ncu}
top=${TOP:-10}
if [[ ! -x $imago ]]; then
	echo "profile_rollout.sh: no imago binary at $imago; build one with scripts/build-gpu.sh or set IMAGO" >&2
	exit 1
fi
if ! command -v "$ncu" >/dev/null; then
	echo "profile_rollout.sh: Nsight Compute ($ncu) is not on the PATH; set NCU" >&2
	exit 1
fi
mkdir -p "$out"

# The card's FP32 peak, from the bench itself unless given.
peak=${PEAK_GFLOPS:-}
if [[ -z $peak ]]; then
	peak=$("$imago" bench rollout --engine cuda --batch 1000 --horizon 1 --repeats 1 --json |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get("peak_gflop_per_second", ""))') || peak=
fi

# Achieved occupancy, DRAM throughput and traffic, SM throughput, and the
# FP32 instructions whose lanes count the FLOPs (an FMA is two).
metrics=gpu__time_duration.sum
metrics+=,sm__warps_active.avg.pct_of_peak_sustained_active
metrics+=,dram__throughput.avg.pct_of_peak_sustained_elapsed
metrics+=,dram__bytes.sum
metrics+=,sm__throughput.avg.pct_of_peak_sustained_elapsed
metrics+=,smsp__sass_thread_inst_executed_op_fadd_pred_on.sum
metrics+=,smsp__sass_thread_inst_executed_op_fmul_pred_on.sum
metrics+=,smsp__sass_thread_inst_executed_op_ffma_pred_on.sum

# NCU_FLAGS is split into words on purpose.
# shellcheck disable=SC2086
"$ncu" --clock-control none --metrics "$metrics" ${NCU_FLAGS:-} \
	--export "$out/rollout" --force-overwrite \
	"$imago" bench rollout --engine cuda --repeats 1 "$@" >"$out/bench.txt"
"$ncu" --import "$out/rollout.ncu-rep" --csv --page raw --print-units base --metrics "$metrics" >"$out/ncu.csv"

python3 - "$out/ncu.csv" "$top" "$peak" >"$out/report.txt" <<'EOF'
"""Sums ncu's raw CSV by kernel name and lists the kernels by GPU time."""
import csv
import sys

path, top, peak = sys.argv[1], int(sys.argv[2]), sys.argv[3]
peak = float(peak) if peak else 0.0
with open(path, newline="") as f:
    rows = [r for r in csv.reader(f) if r]
# The header names the columns; a row of units may follow it.
head = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
cols = {name: j for j, name in enumerate(rows[head])}
first = head + 1
if first < len(rows) and not rows[first][cols["ID"]].strip().isdigit():
    first += 1
launches = rows[first:]


def num(row, metric):
    v = row[cols[metric]].replace(",", "").strip()
    return float(v) if v not in ("", "n/a") else 0.0


kernels = {}
for r in launches:
    name = r[cols["Kernel Name"]].split("(")[0]
    k = kernels.setdefault(name, dict(n=0, ns=0.0, occ=0.0, dram=0.0, bytes=0.0, sm=0.0, flop=0.0))
    ns = num(r, "gpu__time_duration.sum")
    k["n"] += 1
    k["ns"] += ns
    # Percentages are averaged over the kernel's launches weighted by time.
    k["occ"] += ns * num(r, "sm__warps_active.avg.pct_of_peak_sustained_active")
    k["dram"] += ns * num(r, "dram__throughput.avg.pct_of_peak_sustained_elapsed")
    k["sm"] += ns * num(r, "sm__throughput.avg.pct_of_peak_sustained_elapsed")
    k["bytes"] += num(r, "dram__bytes.sum")
    k["flop"] += (num(r, "smsp__sass_thread_inst_executed_op_fadd_pred_on.sum")
                  + num(r, "smsp__sass_thread_inst_executed_op_fmul_pred_on.sum")
                  + 2 * num(r, "smsp__sass_thread_inst_executed_op_ffma_pred_on.sum"))

total_ns = sum(k["ns"] for k in kernels.values()) or 1.0
total_flop = sum(k["flop"] for k in kernels.values())
print(f"{len(launches)} launches of {len(kernels)} kernels, {total_ns / 1e6:.3f} ms of GPU time, "
      f"{total_flop / total_ns:.1f} GFLOP/s FP32 over it"
      + (f" ({100 * total_flop / total_ns / peak:.1f}% of the {peak:.4g} GFLOP/s peak)" if peak else ""))
print("occupancy: achieved, % of the SM's warps; DRAM and SM: % of peak throughput; "
      "GFLOP/s: FP32 add, mul and 2·FMA lanes over the kernel's time")
print()
print(f"{'kernel':<32} {'launches':>8} {'ms':>9} {'% time':>7} {'µs each':>9} {'occup %':>8} "
      f"{'DRAM %':>7} {'DRAM GB/s':>10} {'SM %':>6} {'GFLOP/s':>9}" + (f" {'% peak':>7}" if peak else ""))
for name, k in sorted(kernels.items(), key=lambda kv: -kv[1]["ns"])[:top]:
    ns = k["ns"] or 1.0
    line = (f"{name[:32]:<32} {k['n']:>8} {k['ns'] / 1e6:>9.3f} {100 * k['ns'] / total_ns:>7.1f} "
            f"{k['ns'] / k['n'] / 1e3:>9.1f} {k['occ'] / ns:>8.1f} {k['dram'] / ns:>7.1f} "
            f"{k['bytes'] / ns:>10.1f} {k['sm'] / ns:>6.1f} {k['flop'] / ns:>9.1f}")
    if peak:
        line += f" {100 * k['flop'] / ns / peak:>7.1f}"
    print(line)
EOF
cat "$out/report.txt"
