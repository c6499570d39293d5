// Package cuda is imago's GPU engine: an engine.Engine whose ops run as the
// CUDA kernels of kernels/*.cu, with a caching allocator for device memory.
//
// The package is compiled in only with a build tag, so the default build of
// imago stays pure Go:
//
//   - cuda: the kernels run on an NVIDIA GPU through the CUDA driver API
//     (gorgonia.org/cu, which needs libcuda at link time). The PTX the
//     kernels compile to is embedded in the binary and loaded at Open, so
//     no CUDA toolkit is needed to build or run. Registers the backend
//     "cuda".
//   - cudaemu: the same kernel sources compiled as C++ for the CPU
//     (cuda/internal/emu), for testing the engine and its kernels without a
//     GPU. Registers the backend "cudaemu".
//
// Everything above the device is the same Go code under both tags: the
// unexported interface device (device.go) is all the engine knows of the
// hardware, namely allocation, copies, kernel launch by name with every
// parameter passed as 8 bytes (kernels/README.md), and synchronisation.
//
// Ops are launched asynchronously, in order, on one stream; only Download,
// DownloadInt32 and Sync wait for the device. Shapes are checked on the host
// with the engine package's Check functions before anything is launched.
package cuda
