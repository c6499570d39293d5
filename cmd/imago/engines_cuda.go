//go:build cuda || cudaemu

package main

// Building with the tag cuda (or cudaemu, the emulator for tests) compiles
// the CUDA engine in; its backend's description names the device.
import _ "github.com/imago-rl/imago/cuda"
