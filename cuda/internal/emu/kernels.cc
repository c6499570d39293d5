//go:build cudaemu

// kernels.cc: imago's kernels (kernels/*.cu), compiled for the CPU through
// cuda_emu.h, and their launch table from kernels/registry.inc. A new kernel
// file is added to the list below; a new kernel in a listed file needs only
// its registry.inc line, which `make kernels` writes.
#include "runtime.h"

#include "../../../kernels/activate.cu"
#include "../../../kernels/adam.cu"
#include "../../../kernels/axpby.cu"
#include "../../../kernels/binary.cu"
#include "../../../kernels/clamp.cu"
#include "../../../kernels/copy_cols.cu"
#include "../../../kernels/ensemble_row.cu"
#include "../../../kernels/fill.cu"
#include "../../../kernels/gather.cu"
#include "../../../kernels/gemm.cu"
#include "../../../kernels/polyak.cu"
#include "../../../kernels/rand_int.cu"
#include "../../../kernels/rand_normal.cu"
#include "../../../kernels/rand_uniform.cu"
#include "../../../kernels/reduce_cols.cu"
#include "../../../kernels/reduce_rows.cu"
#include "../../../kernels/rollout_compact.cu"
#include "../../../kernels/rollout_sample.cu"
#include "../../../kernels/scale.cu"
#include "../../../kernels/unary.cu"

const emu::KernelEntry imago_emu_kernels[] = {
#include "../../../kernels/registry.inc"
    {nullptr, nullptr, nullptr},
};
