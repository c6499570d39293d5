//go:build cudaemu

// runtime.h: the interface between the emulator's runtime (runtime.cc), its
// kernel tables (kernels.cc, testkernels.cc) and Go (emu.go). The part inside
// extern "C" is plain C, for cgo.
#ifndef IMAGO_EMU_RUNTIME_H
#define IMAGO_EMU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#include <type_traits>
#include <utility>

#include "../../../kernels/emu/cuda_emu.h"

namespace emu {

// A launchable kernel: its name, a function that calls it with parameters
// unpacked from the launch ABI, and its parameter kinds.
struct KernelEntry {
  const char* name;
  void (*invoke)(const uint64_t* args);
  // One letter per parameter: p pointer, f float, i int, u unsigned,
  // l long long, L unsigned long long.
  const char* params;
};

template <typename T>
constexpr bool kNotAbi = false;

// abi_code and from_abi are the launch ABI of kernels/README.md, read from
// the kernel's own parameter types.
template <typename T>
constexpr char abi_code() {
  if constexpr (std::is_pointer<T>::value) return 'p';
  else if constexpr (std::is_same<T, float>::value) return 'f';
  else if constexpr (std::is_same<T, int>::value) return 'i';
  else if constexpr (std::is_same<T, unsigned>::value) return 'u';
  else if constexpr (std::is_same<T, long long>::value) return 'l';
  else if constexpr (std::is_same<T, unsigned long long>::value) return 'L';
  else static_assert(kNotAbi<T>, "kernel parameter type outside the launch ABI (kernels/README.md)");
}

template <typename T>
inline T from_abi(uint64_t v) {
  if constexpr (std::is_pointer<T>::value) return reinterpret_cast<T>(static_cast<uintptr_t>(v));
  else if constexpr (std::is_same<T, float>::value) return from_bits<float>(v & 0xffffffffu);
  else if constexpr (sizeof(T) == 4) return static_cast<T>(static_cast<uint32_t>(v));
  else return static_cast<T>(v);
}

template <typename... P>
struct Signature {
  static constexpr char codes[] = {abi_code<P>()..., '\0'};

  template <void (*K)(P...), size_t... I>
  static void call([[maybe_unused]] const uint64_t* args, std::index_sequence<I...>) {
    K(from_abi<P>(args[I])...);
  }
  template <void (*K)(P...)>
  static void invoke(const uint64_t* args) {
    call<K>(args, std::index_sequence_for<P...>{});
  }
};

template <auto K, typename... P>
constexpr KernelEntry make_entry(const char* name, void (*)(P...)) {
  return {name, &Signature<P...>::template invoke<K>, Signature<P...>::codes};
}

}  // namespace emu

// One table entry per kernel, deduced from the kernel itself: registry.inc is
// a list of EMU_KERNEL(name) lines.
#define EMU_KERNEL(name) ::emu::make_entry<name>(#name, name),

// The tables, each ending with an entry whose name is null.
extern const emu::KernelEntry imago_emu_kernels[];       // kernels.cc
extern const emu::KernelEntry imago_emu_test_kernels[];  // testkernels.cc

extern "C" {
#endif  // __cplusplus

// Kernel i, counting the production table first; null past the end.
const char* imago_emu_kernel_name(int i);
const char* imago_emu_kernel_params(int i);
// The number of kernels in the production table.
int imago_emu_production_kernels(void);

// Runs kernel i to completion. order: 0 forward, 1 reverse, 2 random. Returns
// 0, or -1 with a message in err.
int imago_emu_launch(int i, const int* grid, const int* block, int shared_bytes,
                     const uint64_t* args, int order, uint64_t seed, char* err, int err_len);

uintptr_t imago_emu_alloc(size_t bytes);
void imago_emu_free(uintptr_t ptr);
void imago_emu_copy(uintptr_t dst, uintptr_t src, size_t bytes);
void imago_emu_copy_in(uintptr_t dst, const void* src, size_t bytes);
void imago_emu_copy_out(void* dst, uintptr_t src, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif  // IMAGO_EMU_RUNTIME_H
