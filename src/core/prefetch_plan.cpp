#include "core/prefetch_plan.h"

#include <cstdlib>
#include <sstream>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/log.h"

namespace flops::kern {
namespace {

PrefetchPlan default_plan() {
  const CpuFeatures& f = cpu_features();
  PrefetchPlan p;  // the defaults: AMD Zen 4 (family 25), where into L1 cost 40% of a decode step
  if (f.amd && f.family >= 26) {
    // Zen 5: the hardware prefetcher keeps too few lines in flight; into L1 for every kernel
    // (S F32 tg64 on one thread 376-507 tok/s with the prefetch on large matrices only, 606-661
    // on all; the coded dot loses 28% without).
    p.f32 = p.f16 = p.f16_stream = p.q8_0 = p.q4_0 = p.k_quant = p.f32_coded = kPrefetchL1;
  } else if (!f.amd) {
    // Intel (measured on a 2-core Xeon VM with AMX, 2 MB L2, 480 MB L3), M tg64 alternating:
    // into L2 for F32 and the 32-element blocks. F32 coded, 2 threads: none 55, L1 64, L2 82
    // tok/s; Q8_0 1 thread: none 156, L1 222, L2 230 (2 threads 335, 419, 431); Q4_0 1 thread
    // 407, 423, 423. F16 (L2 for large matrices only, as Zen 4) and the K-quants measured the
    // same either way; the coded dot's distance 4, 8 and 16 KB the same.
    p.f32 = p.q8_0 = p.q4_0 = p.f32_coded = kPrefetchL2;
  }
  return p;
}

int parse_level(const std::string& v) {
  if (v == "l1") return kPrefetchL1;
  if (v == "l2") return kPrefetchL2;
  if (v == "none") return kPrefetchNone;
  fail("prefetch level '{}' is not one of l1, l2, none", v);
}

const char* level_name(int h) { return h == kPrefetchL1 ? "l1" : h == kPrefetchL2 ? "l2" : "none"; }

}  // namespace

PrefetchPlan parse_prefetch_plan(const std::string& spec, PrefetchPlan p) {
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) fail("prefetch setting '{}' is not field=level", item);
    const std::string key = item.substr(0, eq);
    const int level = parse_level(item.substr(eq + 1));
    if (key == "f32") p.f32 = level;
    else if (key == "f16") p.f16 = level;
    else if (key == "f16_stream") p.f16_stream = level;
    else if (key == "q8_0") p.q8_0 = level;
    else if (key == "q4_0") p.q4_0 = level;
    else if (key == "k_quant") p.k_quant = level;
    else if (key == "f32_coded") p.f32_coded = level;
    else fail("prefetch field '{}' is not one of f32, f16, f16_stream, q8_0, q4_0, k_quant, f32_coded", key);
  }
  return p;
}

std::string describe(const PrefetchPlan& p) {
  return fmt::format("f32={},f16={},f16_stream={},q8_0={},q4_0={},k_quant={},f32_coded={}", level_name(p.f32),
                     level_name(p.f16), level_name(p.f16_stream), level_name(p.q8_0), level_name(p.q4_0),
                     level_name(p.k_quant), level_name(p.f32_coded));
}

const PrefetchPlan& prefetch_plan() {
  static const PrefetchPlan plan = [] {
    PrefetchPlan p = default_plan();
    if (const char* e = std::getenv("FLOPS_PREFETCH"); e && *e) {
      try {
        p = parse_prefetch_plan(e, p);
      } catch (const Error& err) {
        log::warn("FLOPS_PREFETCH: {}; using {}", err.what(), describe(p));
      }
    }
    return p;
  }();
  return plan;
}

}  // namespace flops::kern
