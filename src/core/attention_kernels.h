#pragma once
// The inner loops of a decode step's attention over an F16 KV cache (the kernel variant of
// core/cpu_features.h): its rows against float vectors. No FLOPs are counted here: attention
// counts its own. (The softmax's exponentials are core/ops.h's exp_sum on main.)
#include <cstdint>

namespace flops {

//
// `next`, when given, is the next_rows rows (same ld and n) the caller reads after these: the
// next head's keys or values. Decoding several sequences reads each head's few kilobytes of a
// large cache once, from DRAM; fetching the next head's rows while this one's are read keeps
// more of DRAM's latency behind the arithmetic (1.4-1.7x in a 134-key, 64-wide measurement).
// No result depends on it.

// y[j] = scale * sum_i f16(rows[j * ld + i]) * x[i], for j < n_rows, i < n.
void f16_rows_dot(const uint16_t* rows, int64_t ld, int64_t n_rows, const float* x, int64_t n, float scale, float* y,
                  const uint16_t* next = nullptr, int64_t next_rows = 0);
// y[i] += sum_j p[j] * f16(rows[j * ld + i]), for i < n, j < n_rows.
void f16_rows_axpy(const float* p, const uint16_t* rows, int64_t ld, int64_t n_rows, int64_t n, float* y,
                   const uint16_t* next = nullptr, int64_t next_rows = 0);

}  // namespace flops
