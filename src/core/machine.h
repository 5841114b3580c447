#pragma once
// Measured capabilities of the machine, the denominators of the efficiency numbers.
#include <string>

namespace flops {

// Best FLOP/s of OpenBLAS sgemm (1024^3 square, fp32) over repeated runs for about `seconds`,
// with `threads` threads. Restores the previous thread setting.
double measure_sgemm_flops(int threads, double seconds = 0.5);

// Best bytes/s of a large (256 MB -> 256 MB) parallel copy over repeated runs for about `seconds`,
// counting both the bytes read and the bytes written. Restores the previous thread setting.
double measure_copy_bandwidth(int threads, double seconds = 0.5);

// Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise Zen 4 and runs its AVX2
// "Haswell" kernels, about 2.5x slower at sgemm than its AVX-512 "SkylakeX" kernels on the
// same CPU. When the CPU has AVX-512F/BW/DQ/VL, OPENBLAS_CORETYPE is not set and the library
// is a dynamic-arch build, this switches OpenBLAS to SkylakeX. Call it once at program start,
// before any BLAS call and outside parallel regions. Returns the OpenBLAS core name in use.
std::string tune_blas_kernels();

// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", ...), or "unknown".
std::string blas_core_name();

// "model name" of the first processor in /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace flops
