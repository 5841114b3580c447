#include "core/attention_kernels.h"

#include "core/kernels.h"

namespace flops {

void f16_rows_dot(const uint16_t* rows, int64_t ld, int64_t n_rows, const float* x, int64_t n, float scale, float* y,
                  const uint16_t* next, int64_t next_rows) {
  kern::active().f16_rows_dot(rows, ld, n_rows, x, n, scale, y, next, next ? next_rows : 0);
}

void f16_rows_axpy(const float* p, const uint16_t* rows, int64_t ld, int64_t n_rows, int64_t n, float* y,
                   const uint16_t* next, int64_t next_rows) {
  kern::active().f16_rows_axpy(p, rows, ld, n_rows, n, y, next, next ? next_rows : 0);
}

}  // namespace flops
