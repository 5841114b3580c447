// libFuzzer target: any byte string given to gguf_parse must either parse or
// throw flops::Error with a one-line message. Sanitizers catch the rest
// (over-reads, UB, leaks, runaway allocation).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <vector>

#include "core/error.h"
#include "core/kernels.h"
#include "model/gguf.h"

namespace {

void check_message(const flops::Error& e) {
  const char* m = e.what();
  size_t n = std::strlen(m);
  if (n == 0 || std::strchr(m, '\n') || n > 600) {
    std::fprintf(stderr, "bad error message (%zu bytes): %s\n", n, m);
    std::abort();
  }
}

// Every getter on every key: they read arrays back out of the image, so they
// are part of the attack surface too.
void exercise_getters(const flops::GGUFFile& g) {
  for (const std::string& key : g.kv_order) {
    auto attempt = [&](auto f) {
      try {
        f();
      } catch (const flops::Error& e) {
        check_message(e);
      }
    };
    attempt([&] { (void)g.get_int(key); });
    attempt([&] { (void)g.get_float(key); });
    attempt([&] { (void)g.get_bool(key, false); });
    attempt([&] { (void)g.get_string(key); });
    attempt([&] { (void)g.get_string_array(key); });
    attempt([&] { (void)g.get_float_array(key); });
    attempt([&] { (void)g.get_int_array(key); });
    attempt([&] { (void)g.array_size(key); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    flops::GGUFFile g = flops::gguf_parse(data, size);
    // Touch the first and last byte of every tensor: ASan flags data outside the input.
    unsigned sum = 0;
    for (const auto& t : g.tensors) {
      if (!t.data || t.n_bytes == 0) std::abort();
      sum += t.data[0] + t.data[t.n_bytes - 1];
      // Dequantize the first rows (the scalar kernels: any bytes are a valid block).
      const int64_t n = std::min<int64_t>((int64_t)t.n_elements, 4096) / t.shape[0] * t.shape[0];
      if (n > 0) {
        std::vector<float> y((size_t)n);
        flops::kern::table_scalar().dequant[(uint32_t)t.type](t.data, y.data(), n);
        sum += y[0] == y[0];
      }
    }
    for (const auto& [name, idx] : g.tensor_index)
      if (idx >= g.tensors.size() || g.tensors[idx].name != name) std::abort();
    if (g.kv.size() != g.kv_order.size()) std::abort();
    exercise_getters(g);
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const flops::Error& e) {
    check_message(e);
  }
  return 0;
}
