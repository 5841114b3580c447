#include "core/flop_counter.h"

namespace flops::counter {
namespace {
std::atomic<uint64_t> g_matmul{0}, g_attention{0}, g_other{0};
}
void add_matmul(uint64_t n) { g_matmul.fetch_add(n, std::memory_order_relaxed); }
void add_attention(uint64_t n) { g_attention.fetch_add(n, std::memory_order_relaxed); }
void add_other(uint64_t n) { g_other.fetch_add(n, std::memory_order_relaxed); }
Totals read() {
  return {g_matmul.load(std::memory_order_relaxed), g_attention.load(std::memory_order_relaxed),
          g_other.load(std::memory_order_relaxed)};
}
void reset() {
  g_matmul = 0;
  g_attention = 0;
  g_other = 0;
}
}  // namespace flops::counter
