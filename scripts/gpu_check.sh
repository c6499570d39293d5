#!/usr/bin/env bash
# Runs, on a machine with an NVIDIA GPU, every measurement issue 7 asks
# for, from the binaries scripts/build-gpu.sh leaves in .gpu/, and writes
# them under OUT (default gpu-check/):
#
#	summary.txt  the machine, every step with its exit status and wall time,
#	             and the headline figures worked out from bench.json
#	tests.txt    .gpu/cuda.test -test.v (conformance, agreement with the CPU
#	             engine, the SAC update's launch count) and .gpu/nn.test -test.v
#	bench.txt    the text of every bench: imago bench rollout --engine cuda,
#	             imago bench sac-update --engine cuda, scripts/torch_rollout.py
#	bench.json   one JSON object per line: imago's rollout on cuda, the
#	             PyTorch rollout on the same card, imago's rollout on the
#	             CPU engine, imago's SAC update on cuda
#	train.txt    imago train --algo mbpo --env Pendulum-v1 --steps 5000
#	             --engine cuda (with TRAIN_CPU=1 also --engine cpu) and the
#	             run's metrics.csv; the wall times are in summary.txt
#	profile.txt  with PROFILE=1: scripts/profile_rollout.sh's report
#
# Six files at most, within what the device tool returns from $OUT. From a
# machine without a GPU, with the device tool:
#
#	scripts/build-gpu.sh
#	run: command "scripts/gpu_check.sh", carry [".gpu"], timeout_s 600
#
# Every step runs under a time limit, and all of them under BUDGET seconds
# (default 570, inside the device tool's 600-second command), so that a slow
# step leaves time for the rest; a step that fails or runs out of time is
# noted in the summary and the script goes on. The order puts first what
# matters most: the tests, then the rollout and SAC figures, then the
# PyTorch comparison, the CPU reference and the MBPO run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit

out=${OUT:-gpu-check}
bin=${GPU_BIN:-.gpu}
budget=${BUDGET:-570}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
for f in "$bin/imago" "$bin/cuda.test" "$bin/nn.test"; do
	if [[ ! -x $f ]]; then
		echo "gpu_check.sh: no $f: run scripts/build-gpu.sh first and carry $bin" | tee -a "$summary" >&2
		exit 1
	fi
done

# step NAME LIMIT STDOUT STDERR CMD...: runs CMD with its output appended to
# the files STDOUT and STDERR (which may be the same), for at most LIMIT
# seconds or what is left of the budget, and notes in the summary its exit
# status and wall time (rc 124: stopped at its limit).
step() {
	local name=$1 limit=$2 stdout=$3 stderr=$4
	shift 4
	local left=$((budget - SECONDS))
	if ((left < 10)); then
		printf '%-22s skipped: the budget of %s s is spent\n' "$name" "$budget" >>"$summary"
		return 0
	fi
	((limit > left)) && limit=$left
	if [[ $stdout != */bench.json ]]; then
		echo "== $name: $*" >>"$stdout"
	fi
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	if [[ $stdout == "$stderr" ]]; then
		timeout --kill-after=10 "$limit" "$@" >>"$stdout" 2>&1 || rc=$?
	else
		timeout --kill-after=10 "$limit" "$@" >>"$stdout" 2>>"$stderr" || rc=$?
	fi
	t1=$(date +%s.%N)
	printf '%-22s rc %-3s %8.1f s  %s\n' "$name" "$rc" "$(awk "BEGIN { print $t1 - $t0 }")" "$*" >>"$summary"
}

{
	echo "gpu_check.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), budget $budget s"
	nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv 2>&1
	"$bin/imago" engines 2>&1
	echo
	echo "step                   status   wall    command"
} >>"$summary"

imago=$bin/imago
tests=$out/tests.txt
text=$out/bench.txt
json=$out/bench.json
train=$out/train.txt
rm -f "$tests" "$text" "$json" "$train"

step cuda.test 150 "$tests" "$tests" "$bin/cuda.test" -test.v -test.timeout 140s
step nn.test 60 "$tests" "$tests" "$bin/nn.test" -test.v -test.timeout 50s
step "rollout cuda" 60 "$text" "$text" "$imago" bench rollout --engine cuda
step "rollout cuda json" 60 "$json" "$text" "$imago" bench rollout --engine cuda --json
step "sac-update cuda" 60 "$text" "$text" "$imago" bench sac-update --engine cuda
step "sac-update cuda json" 60 "$json" "$text" "$imago" bench sac-update --engine cuda --json
step "torch rollout" 90 "$text" "$text" python3 scripts/torch_rollout.py
step "torch rollout json" 90 "$json" "$text" python3 scripts/torch_rollout.py --json
step "rollout cpu json" 150 "$json" "$text" "$imago" bench rollout --engine cpu --json
runs=$(mktemp -d)
step "train mbpo cuda" "${TRAIN_TIMEOUT:-400}" "$train" "$train" \
	"$imago" train --algo mbpo --env Pendulum-v1 --steps 5000 --engine cuda --out "$runs/cuda"
cat "$runs/cuda/metrics.csv" >>"$train" 2>/dev/null
if [[ ${TRAIN_CPU:-0} == 1 ]]; then
	step "train mbpo cpu" "${TRAIN_TIMEOUT:-400}" "$train" "$train" \
		"$imago" train --algo mbpo --env Pendulum-v1 --steps 5000 --engine cpu --out "$runs/cpu"
	cat "$runs/cpu/metrics.csv" >>"$train" 2>/dev/null
fi
if [[ ${PROFILE:-0} == 1 ]]; then
	step "profile rollout" 240 "$out/profile.txt" "$out/profile.txt" \
		env NCU_FLAGS="${NCU_FLAGS:---launch-count 100}" IMAGO="$imago" scripts/profile_rollout.sh "$runs/profile"
fi

# The headline figures, from bench.json.
python3 - "$json" >>"$summary" 2>&1 <<'EOF'
import json
import sys

res = {}
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    kind = "sac" if "updates_per_second" in r else "rollout"
    res[(r["engine"], kind)] = r
print()
cuda, torch, cpu, sac = (res.get(k) for k in [("cuda", "rollout"), ("torch", "rollout"), ("cpu", "rollout"), ("cuda", "sac")])
peak = cuda.get("peak_gflop_per_second") if cuda else None
for name, r in [("imago cuda", cuda), ("pytorch", torch), ("imago cpu", cpu)]:
    if not r:
        print(f"rollout {name}: no result")
        continue
    frac = ""
    if peak and name != "imago cpu":
        frac = f", {100 * r['gflop_per_second'] / peak:.1f}% of the card's {peak:.4g} GFLOP/s FP32 peak"
    print(f"rollout {name:<11} {r['median_seconds']:.4g} s a rollout, {r['rows_per_second']:.4g} rows/s, "
          f"{r['transitions_per_second']:.4g} transitions/s, {r['gflop_per_second']:.4g} GFLOP/s{frac}, "
          f"{r['step_seconds'] * 1e3:.4g} ms a step ({r['description']})")
if cuda and cuda.get("launches_per_rollout"):
    print(f"  launches: {cuda['launches_per_rollout']:g} per rollout of {cuda['horizon']} steps")
if cuda and peak:
    print(f"  fraction of peak: {100 * cuda['gflop_per_second'] / peak:.1f}% (issue 7 asks at least 40%)")
if cuda and torch:
    ratio = cuda["transitions_per_second"] / torch["transitions_per_second"]
    print(f"  imago over PyTorch on this card: {ratio:.2f}x (issue 7 asks at least 10x)")
if sac:
    launches = sac.get("launches_per_update")
    print(f"sac update cuda: {sac['median_seconds'] * 1e3:.4g} ms per update at batch {sac['batch']}, "
          f"policy {sac['policy_layers']}, critics {sac['critic_layers']}, "
          + (f"{launches:g} launches per update" if launches else "launches not counted"))
EOF

cat "$summary"
