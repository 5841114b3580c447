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

// The OpenBLAS kernel set in use ("Haswell", "Cooperlake", ...), or "unknown". OpenBLAS
// picks it at load time from the CPU, unless OPENBLAS_CORETYPE names one.
std::string blas_core_name();

// "model name" of the first processor in /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace flops
