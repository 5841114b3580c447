#pragma once
// The inner loops of a decode step's attention (the kernel variant of core/cpu_features.h): rows
// of an F16 KV cache against float vectors, and the exponentials of the softmax. No FLOPs are
// counted here: attention counts its own.
#include <cstdint>

namespace flops {

// y[j] = scale * sum_i f16(rows[j * ld + i]) * x[i], for j < n_rows, i < n.
void f16_rows_dot(const uint16_t* rows, int64_t ld, int64_t n_rows, const float* x, int64_t n, float scale, float* y);
// y[i] += sum_j p[j] * f16(rows[j * ld + i]), for i < n, j < n_rows.
void f16_rows_axpy(const float* p, const uint16_t* rows, int64_t ld, int64_t n_rows, int64_t n, float* y);
// x[i] = e^(x[i] - shift) for i < n (0 for x[i] = -inf; NaN stays NaN); returns their sum. The
// vector variants evaluate e^t to within 2 float ulps of std::exp (results below 2^-125 are 0).
float exp_shifted_sum(float* x, int64_t n, float shift);

}  // namespace flops
