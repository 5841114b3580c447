#pragma once
// The one global counter of the project: every kernel that does arithmetic on
// model data adds the FLOPs it performs here (a multiply-add counts as 2).
// Matmuls and attention go to `matmul`/`attention`; the rest (norms,
// activations, softmax) to `other`, so the matmul+attention total can be
// compared with the analytic 2N-per-token formula.
#include <atomic>
#include <cstdint>

namespace flops::counter {

struct Totals {
  uint64_t matmul = 0;
  uint64_t attention = 0;
  uint64_t other = 0;
  uint64_t total() const { return matmul + attention + other; }
  uint64_t model() const { return matmul + attention; }
};

void add_matmul(uint64_t n);
void add_attention(uint64_t n);
void add_other(uint64_t n);
Totals read();
void reset();

// Counts what one scope executed: Scope s; ...; s.elapsed().
struct Scope {
  Totals start = read();
  Totals elapsed() const {
    Totals now = read();
    return {now.matmul - start.matmul, now.attention - start.attention, now.other - start.other};
  }
};

}  // namespace flops::counter
