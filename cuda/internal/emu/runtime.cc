//go:build cudaemu

// runtime.cc: runs a launch. The blocks run one after another on the calling
// OS thread; the threads of a block are fibers, each with its own stack, that
// run in passes: in a pass every runnable fiber runs, in the launch's order,
// until it reaches a barrier, a warp-synchronous op or its end. Between
// passes the runtime releases every barrier whose threads have all arrived,
// and computes the results of the warp ops it releases. The order is the
// point: forward order hides most missing barriers, reverse and random
// orders expose them.
#include "runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

// ---- Context switching --------------------------------------------------------
// glibc's swapcontext makes a sigprocmask system call on every switch; the
// switch below saves only the callee-saved general registers, as
// Boost.Context does. It leaves out the floating-point control registers
// (MXCSR, the x87 control word, FPCR), which the ABI also has the callee
// preserve: device code cannot change them, so every fiber runs with the
// launching thread's. Dropping them took gemm_f32 at 257³ from 75 to 62 ms
// and a 10⁵-thread launch without barriers from 5.3 to 4.1 ms
// (BenchmarkGemm257, BenchmarkLaunch; 2-core Xeon VM). Other platforms use
// ucontext.
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define IMAGO_EMU_ASM_SWITCH 1
#else
#define IMAGO_EMU_ASM_SWITCH 0
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700  // macOS declares the ucontext functions only then
#endif
#include <ucontext.h>
#endif

#if IMAGO_EMU_ASM_SWITCH
// Saves the callee-saved registers on the current stack, stores the stack
// pointer in *save_sp, switches to sp and restores what is saved there.
extern "C" void imago_emu_switch(void** save_sp, void* sp);
// A new fiber's first switch returns here, with the entry function in a
// callee-saved register.
extern "C" void imago_emu_trampoline();

#if defined(__x86_64__)
// Frame, from the saved stack pointer up: r15, r14, r13, r12, rbx, rbp,
// return address.
__asm__(R"(
  .text
  .globl imago_emu_switch
  .hidden imago_emu_switch
  .type imago_emu_switch, @function
  .p2align 4
imago_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size imago_emu_switch, .-imago_emu_switch

  .globl imago_emu_trampoline
  .hidden imago_emu_trampoline
  .type imago_emu_trampoline, @function
  .p2align 4
imago_emu_trampoline:
  callq *%r12
  ud2
  .size imago_emu_trampoline, .-imago_emu_trampoline
)");
#else
// Frame, from the saved stack pointer up: x19..x28, x29, x30 (the return
// address), d8..d15: the registers AAPCS64 has the callee preserve.
__asm__(R"(
  .text
  .globl imago_emu_switch
  .hidden imago_emu_switch
  .type imago_emu_switch, %function
  .p2align 4
imago_emu_switch:
  sub sp, sp, #160
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #160
  ret
  .size imago_emu_switch, .-imago_emu_switch

  .globl imago_emu_trampoline
  .hidden imago_emu_trampoline
  .type imago_emu_trampoline, %function
  .p2align 4
imago_emu_trampoline:
  blr x19
  brk #0
  .size imago_emu_trampoline, .-imago_emu_trampoline
)");
#endif
#endif  // IMAGO_EMU_ASM_SWITCH

namespace emu {
namespace {

#if IMAGO_EMU_ASM_SWITCH
struct Context {
  void* sp;
};

// Lays out a frame on the new stack that imago_emu_switch will "return"
// through into the trampoline, which calls entry with an aligned stack.
void context_init(Context* c, char* stack, size_t size, void (*entry)()) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t{15};
#if defined(__x86_64__)
  uint64_t* f = reinterpret_cast<uint64_t*>(top - 72);
  for (int i = 0; i < 6; i++) f[i] = 0;                      // r15 r14 r13 r12 rbx rbp
  f[3] = reinterpret_cast<uint64_t>(entry);                  // r12
  f[6] = reinterpret_cast<uint64_t>(&imago_emu_trampoline);  // return address
  f[7] = f[8] = 0;                                           // the trampoline's stack, 16-aligned
#else
  uint64_t* f = reinterpret_cast<uint64_t*>(top - 160);
  for (int i = 0; i < 20; i++) f[i] = 0;
  f[0] = reinterpret_cast<uint64_t>(entry);                   // x19
  f[11] = reinterpret_cast<uint64_t>(&imago_emu_trampoline);  // x30
#endif
  c->sp = f;
}

inline void context_switch(Context* from, Context* to) { imago_emu_switch(&from->sp, to->sp); }
#else
struct Context {
  ucontext_t uc;
};

void context_init(Context* c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = stack;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = nullptr;
  makecontext(&c->uc, entry, 0);
}

inline void context_switch(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }
#endif

// ---- Stacks -------------------------------------------------------------------

// Kernels need a few hundred bytes of stack; 64 KiB leaves room for printf.
constexpr size_t kStackBytes = 64 << 10;
// The lowest KiB of each stack holds a pattern that the runtime checks after
// each launch, so that a thread that came close to the end is an error rather
// than a crash next time; below it a guard page turns a real overflow into a
// segmentation fault instead of silent corruption.
constexpr size_t kCanaryBytes = 1 << 10;
constexpr uint64_t kCanary = 0x5ca1ab1e0ddba115ull;

size_t page_size() {
  static const size_t n = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return n;
}

char* new_stack() {
  size_t guard = page_size();
  void* m = mmap(nullptr, guard + kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  mprotect(m, guard, PROT_NONE);
  char* s = static_cast<char*>(m) + guard;
  uint64_t* w = reinterpret_cast<uint64_t*>(s);
  for (size_t i = 0; i < kCanaryBytes / 8; i++) w[i] = kCanary;
  return s;
}

bool canary_intact(char* s) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(s);
  for (size_t i = 0; i < kCanaryBytes / 8; i++)
    if (w[i] != kCanary) return false;
  return true;
}

// ---- Fibers and the scheduler ----------------------------------------------------

enum State { kReady, kRunning, kAtBlockBarrier, kAtWarpOp, kDone, kTrapped };

struct Fiber {
  ThreadRegs regs;
  Context ctx;
  State state;
  int warp;
  // What the fiber brought to the barrier it waits at.
  Collective op;
  unsigned mask;
  uint64_t value;
  int src;
  int pred;
};

struct Warp {
  unsigned live;     // lanes that exist and have not exited
  unsigned waiting;  // lanes at a warp op
  unsigned named;    // lanes named in their masks
};

const char* op_name(Collective op) {
  switch (op) {
    case kSyncWarp: return "__syncwarp";
    case kShfl: return "__shfl_*_sync";
    case kBallot: return "__ballot_sync/__any_sync/__all_sync";
    default: return "__reduce_*_sync";
  }
}

uint64_t splitmix64(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The state of one launch on one OS thread. Runners are pooled so that the
// stacks are reused from launch to launch.
struct Runner {
  std::vector<char*> stacks;
  Fiber fibers[kMaxThreadsPerBlock];
  int order_buf[kMaxThreadsPerBlock];
  Warp warps[kMaxThreadsPerBlock / 32];
  Context sched;
  Fiber* cur = nullptr;

  const KernelEntry* kernel = nullptr;
  const uint64_t* args = nullptr;
  int order = 0;
  uint64_t seed = 0;
  int n = 0, nwarps = 0, live = 0, at_block = 0;
  uint3 bidx{};
  char* err = nullptr;
  int err_len = 0;

  bool fail(const char* format, ...) __attribute__((format(printf, 2, 3)));
  bool run_block();
  bool release_warp(int w, bool* released);
  void release_block();
};

thread_local Runner* running;

std::mutex pool_mu;
std::vector<Runner*> pool;

Runner* acquire_runner() {
  std::lock_guard<std::mutex> lock(pool_mu);
  if (pool.empty()) return new Runner;
  Runner* r = pool.back();
  pool.pop_back();
  return r;
}

void release_runner(Runner* r) {
  std::lock_guard<std::mutex> lock(pool_mu);
  pool.push_back(r);
}

bool Runner::fail(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  int k = snprintf(err, err_len, "block (%u,%u,%u): ", bidx.x, bidx.y, bidx.z);
  if (k >= 0 && k < err_len) vsnprintf(err + k, err_len - k, format, ap);
  va_end(ap);
  return false;
}

void fiber_main() {
  Runner* r = running;
  r->kernel->invoke(r->args);
  Fiber* f = r->cur;
  f->state = kDone;
  r->live--;
  r->warps[f->warp].live &= ~(1u << f->regs.lane);
  context_switch(&f->ctx, &r->sched);
  __builtin_trap();  // a finished fiber is never resumed
}

// Releases warp w if every live lane that a waiting lane's mask names has
// arrived, computing the results of the op.
bool Runner::release_warp(int w, bool* released) {
  Warp& W = warps[w];
  if (W.named & W.live & ~W.waiting) return true;  // still waiting for someone
  Fiber* lanes = &fibers[32 * w];
  Collective op = kSyncWarp;
  bool first = true;
  unsigned ballot = 0;
  for (int l = 0; l < 32; l++) {
    if (!(W.waiting >> l & 1)) continue;
    if (first) op = lanes[l].op, first = false;
    if (lanes[l].op != op)
      return fail("warp %d: lanes meet at different warp-synchronous ops (%s and %s)", w,
                  op_name(op), op_name(lanes[l].op));
    if (lanes[l].pred) ballot |= 1u << l;
  }
  for (int l = 0; l < 32; l++) {
    if (!(W.waiting >> l & 1)) continue;
    Fiber& f = lanes[l];
    unsigned members = W.waiting & f.mask;
    f.regs.members = members;
    f.regs.ballot = ballot & f.mask;
    if (op == kShfl) {
      bool ok = f.src >= 0 && f.src < 32 && (W.waiting >> f.src & 1);
      f.regs.value = ok ? lanes[f.src].value : f.value;
    } else if (op >= kReduceAdd) {
      uint64_t acc = f.value;
      for (int m = 0; m < 32; m++) {
        if (m == l || !(members >> m & 1)) continue;
        uint64_t v = lanes[m].value;
        switch (op) {
          case kReduceAdd: acc = static_cast<uint32_t>(acc + v); break;
          case kReduceMin: acc = (int64_t)v < (int64_t)acc ? v : acc; break;
          case kReduceMax: acc = (int64_t)v > (int64_t)acc ? v : acc; break;
          case kReduceUMin: acc = v < acc ? v : acc; break;
          case kReduceUMax: acc = v > acc ? v : acc; break;
          case kReduceAnd: acc &= v; break;
          case kReduceOr: acc |= v; break;
          case kReduceXor: acc ^= v; break;
          default: break;
        }
      }
      f.regs.value = acc;
    }
    f.state = kReady;
  }
  W.waiting = W.named = 0;
  *released = true;
  return true;
}

void Runner::release_block() {
  int count = 0;
  for (int i = 0; i < n; i++)
    if (fibers[i].state == kAtBlockBarrier) count += fibers[i].pred;
  for (int i = 0; i < n; i++) {
    Fiber& f = fibers[i];
    if (f.state != kAtBlockBarrier) continue;
    f.regs.count = count;
    f.regs.block_threads = at_block;
    f.state = kReady;
  }
  at_block = 0;
}

bool Runner::run_block() {
  const unsigned bx = block_dim.x, by = block_dim.y;
  for (int i = 0; i < n; i++) {
    Fiber& f = fibers[i];
    unsigned u = static_cast<unsigned>(i);
    f.regs.idx = {u % bx, u / bx % by, u / (bx * by)};
    f.regs.lane = u % 32;
    f.warp = i / 32;
    f.state = kReady;
    context_init(&f.ctx, stacks[i], kStackBytes, fiber_main);
  }
  for (int w = 0; w < nwarps; w++) {
    int lanes = n - 32 * w < 32 ? n - 32 * w : 32;
    warps[w] = {lanes == 32 ? ~0u : (1u << lanes) - 1, 0, 0};
  }
  live = n;
  at_block = 0;
  uint64_t block_linear = (uint64_t(bidx.z) * grid_dim.y + bidx.y) * grid_dim.x + bidx.x;
  for (uint64_t pass = 0;; pass++) {
    if (order == 2) {
      // A fresh permutation each pass (Fisher-Yates), a function of the seed,
      // the block and the pass only, so that a failure reproduces.
      uint64_t s = seed ^ (block_linear * 0xd1342543de82ef95ull) ^ (pass * 0x9e3779b97f4a7c15ull);
      for (int i = 0; i < n; i++) order_buf[i] = i;
      for (int i = n - 1; i > 0; i--) {
        int j = static_cast<int>(splitmix64(&s) % uint64_t(i + 1));
        int t = order_buf[i];
        order_buf[i] = order_buf[j];
        order_buf[j] = t;
      }
    }
    for (int k = 0; k < n; k++) {
      int i = order == 0 ? k : order == 1 ? n - 1 - k : order_buf[k];
      Fiber& f = fibers[i];
      if (f.state != kReady) continue;
      f.state = kRunning;
      cur = &f;
      self = &f.regs;
      context_switch(&sched, &f.ctx);
      if (f.state == kTrapped)
        return fail("thread (%u,%u,%u) called __trap", f.regs.idx.x, f.regs.idx.y, f.regs.idx.z);
    }
    if (live == 0) return true;
    bool released = false;
    for (int w = 0; w < nwarps; w++)
      if (warps[w].waiting && !release_warp(w, &released)) return false;
    if (released) continue;
    if (at_block == live) {
      release_block();
      continue;
    }
    for (int w = 0; w < nwarps; w++) {
      const Warp& W = warps[w];
      if (W.waiting)
        return fail(
            "deadlock: %d of %d running threads wait at __syncthreads, and lanes 0x%08x of "
            "warp %d wait at a warp-synchronous op for lanes 0x%08x",
            at_block, live, W.waiting, w, W.named & W.live & ~W.waiting);
    }
    return fail("deadlock");  // unreachable: every blocked fiber is at one of the two
  }
}

}  // namespace

// ---- What cuda_emu.h declares -------------------------------------------------

void syncthreads(int pred) {
  Runner* r = running;
  Fiber* f = r->cur;
  f->state = kAtBlockBarrier;
  f->pred = pred;
  r->at_block++;
  context_switch(&f->ctx, &r->sched);
}

void warp_collective(Collective op, unsigned mask, uint64_t value, int src, int pred) {
  Runner* r = running;
  Fiber* f = r->cur;
  unsigned bit = 1u << f->regs.lane;
  f->state = kAtWarpOp;
  f->op = op;
  f->mask = mask | bit;
  f->value = value;
  f->src = src;
  f->pred = pred;
  Warp& w = r->warps[f->warp];
  w.waiting |= bit;
  w.named |= f->mask;
  context_switch(&f->ctx, &r->sched);
}

void trap() {
  Runner* r = running;
  Fiber* f = r->cur;
  f->state = kTrapped;
  context_switch(&f->ctx, &r->sched);
  __builtin_trap();  // a trapped fiber is never resumed
}

unsigned live_lanes() {
  Runner* r = running;
  return r->warps[r->cur->warp].live;
}

}  // namespace emu

// ---- The C interface for Go ------------------------------------------------------

using emu::KernelEntry;

namespace {

int table_len(const KernelEntry* t) {
  int n = 0;
  while (t[n].name) n++;
  return n;
}

const KernelEntry* kernel_at(int i) {
  static const int np = table_len(imago_emu_kernels);
  static const int nt = table_len(imago_emu_test_kernels);
  if (i < 0) return nullptr;
  if (i < np) return &imago_emu_kernels[i];
  if (i < np + nt) return &imago_emu_test_kernels[i - np];
  return nullptr;
}

}  // namespace

extern "C" {

const char* imago_emu_kernel_name(int i) {
  const KernelEntry* k = kernel_at(i);
  return k ? k->name : nullptr;
}

const char* imago_emu_kernel_params(int i) {
  const KernelEntry* k = kernel_at(i);
  return k ? k->params : nullptr;
}

int imago_emu_production_kernels(void) { return table_len(imago_emu_kernels); }

int imago_emu_launch(int i, const int* grid, const int* block, int shared_bytes, const uint64_t* args,
                     int order, uint64_t seed, char* err, int err_len) {
  using namespace emu;
  const KernelEntry* k = kernel_at(i);
  if (!k) {
    snprintf(err, err_len, "no kernel %d", i);
    return -1;
  }
  Runner* r = acquire_runner();
  r->n = block[0] * block[1] * block[2];
  r->nwarps = (r->n + 31) / 32;
  while (static_cast<int>(r->stacks.size()) < r->n) {
    char* s = new_stack();
    if (!s) {
      release_runner(r);
      snprintf(err, err_len, "cannot map fiber stacks");
      return -1;
    }
    r->stacks.push_back(s);
  }
  r->kernel = k;
  r->args = args;
  r->order = order;
  r->seed = seed;
  r->err = err;
  r->err_len = err_len;
  running = r;
  grid_dim = dim3(grid[0], grid[1], grid[2]);
  block_dim = dim3(block[0], block[1], block[2]);

  // Blocks run in the thread order too: forward, reverse, or an affine
  // permutation b = (a*k + c) mod total with a coprime to total, which is
  // enough to break a kernel that assumes an order among its blocks.
  const uint64_t total = uint64_t(grid[0]) * grid[1] * grid[2];
  uint64_t a = 1, c = 0;
  if (order == 2) {
    uint64_t s = seed;
    c = splitmix64(&s) % total;
    for (;;) {
      a = splitmix64(&s) % total | 1;
      uint64_t x = a, y = total;
      while (y) x %= y, std::swap(x, y);
      if (x == 1) break;
    }
  }
  bool ok = true;
  for (uint64_t kb = 0; kb < total && ok; kb++) {
    uint64_t b = order == 0 ? kb : order == 1 ? total - 1 - kb
                                               : uint64_t((unsigned __int128)a * kb % total + c) % total;
    r->bidx = {unsigned(b % grid[0]), unsigned(b / grid[0] % grid[1]), unsigned(b / (uint64_t(grid[0]) * grid[1]))};
    block_idx = r->bidx;
    memset(::smem, 0xff, shared_bytes < kMaxDynamicShared ? shared_bytes : kMaxDynamicShared);
    ok = r->run_block();
  }
  bool intact = true;
  for (int t = 0; t < r->n; t++) intact = intact && canary_intact(r->stacks[t]);
  if (!intact) {
    if (ok) snprintf(err, err_len, "a thread used nearly all of its %zu KiB stack (the emulator's limit)", kStackBytes >> 10);
    ok = false;
    // Stacks that were written past their canary are not to be trusted.
    for (char* s : r->stacks) munmap(s - page_size(), page_size() + kStackBytes);
    r->stacks.clear();
  }
  self = nullptr;
  running = nullptr;
  release_runner(r);
  return ok ? 0 : -1;
}

// 256-byte alignment, as cuMemAlloc guarantees. The memory is filled with
// 0xFF bytes, not zeroed: cuMemAlloc does not zero either, and a NaN in every
// float makes a read of memory nobody wrote visible.
uintptr_t imago_emu_alloc(size_t bytes) {
  size_t n = (bytes + 255) & ~size_t{255};
  void* p = aligned_alloc(256, n);
  if (!p) return 0;
  memset(p, 0xff, n);
  return reinterpret_cast<uintptr_t>(p);
}

void imago_emu_free(uintptr_t ptr) { free(reinterpret_cast<void*>(ptr)); }

void imago_emu_copy(uintptr_t dst, uintptr_t src, size_t bytes) {
  memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
}

void imago_emu_copy_in(uintptr_t dst, const void* src, size_t bytes) {
  memcpy(reinterpret_cast<void*>(dst), src, bytes);
}

void imago_emu_copy_out(void* dst, uintptr_t src, size_t bytes) {
  memcpy(dst, reinterpret_cast<const void*>(src), bytes);
}

}  // extern "C"
