#pragma once
// Measured capabilities of the machine, the denominators of the efficiency numbers.
#include <string>

namespace flops {

// Best FLOP/s of OpenBLAS sgemm (1024^3 square, fp32) over repeated runs for about `seconds`,
// with `threads` threads. Restores the previous thread setting.
double measure_sgemm_flops(int threads, double seconds = 0.5);

// Bytes/s of a parallel copy between two 256 MB buffers, counting both the bytes read and the
// bytes written: the best of many timed 16 MB pieces over about `seconds` (short pieces dodge
// the interruptions of a shared machine; 256 MB is 8x the L3, so they stream from DRAM).
// Restores the previous thread setting.
double measure_copy_bandwidth(int threads, double seconds = 0.5);

// Bytes/s of reading a 256 MB buffer with a read-only streaming kernel (no stores), split over
// `threads` threads of a ThreadPool, timed in 16 MB pieces like measure_copy_bandwidth: the
// ceiling for weight streaming in matvec, which only reads.
double measure_read_bandwidth(int threads, double seconds = 0.5);

// The OpenBLAS kernel set in use ("Haswell", "Cooperlake", ...), or "unknown". OpenBLAS
// picks it at load time from the CPU, unless OPENBLAS_CORETYPE names one.
std::string blas_core_name();

// "model name" of the first processor in /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace flops
