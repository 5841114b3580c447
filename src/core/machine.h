#pragma once
// Measured capabilities of the machine, the denominators of the efficiency numbers.
#include <string>

namespace flops {

// Best FLOP/s of OpenBLAS sgemm (1024^3 square, fp32) over repeated runs for about `seconds`,
// with `threads` threads. Restores the previous thread setting.
double measure_sgemm_flops(int threads, double seconds = 0.5);

// Bytes/s of a parallel copy between two 256 MB buffers, counting both the bytes read and the
// bytes written: the best of many timed 16 MB pieces over about `seconds` (short pieces dodge
// the interruptions of a shared machine; 256 MB is past most L3s, not all: see below).
// Restores the previous thread setting.
double measure_copy_bandwidth(int threads, double seconds = 0.5);

// Bytes/s of reading a buffer (256 MB unless `bytes` says otherwise, rounded up to whole 16 MB
// pieces) with a read-only streaming kernel (no stores), split over `threads` threads of a
// ThreadPool, timed in 16 MB pieces like measure_copy_bandwidth: the ceiling for weight
// streaming in matvec, which only reads. A buffer the size of a model's weights measures what
// the memory hierarchy gives that working set, the caches included: a 480 MB L3 keeps a 256 MB
// buffer, and M's quantized weights, between passes.
double measure_read_bandwidth(int threads, double seconds = 0.5, size_t bytes = (size_t)256 << 20);

// The last-level cache's size in bytes (sysfs, else sysconf), or 0 when neither tells.
size_t last_level_cache_bytes();

// The OpenBLAS kernel set in use ("Haswell", "Cooperlake", ...), or "unknown". OpenBLAS
// picks it at load time from the CPU, unless OPENBLAS_CORETYPE names one.
std::string blas_core_name();

// "model name" of the first processor in /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace flops
