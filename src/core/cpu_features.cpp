#include "core/cpu_features.h"

#include <atomic>
#include <cpuid.h>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "core/error.h"
#include "core/kernels.h"
#include "core/log.h"
#include "core/machine.h"

namespace flops {

namespace {

uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d)) f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const int base_family = (int)((a >> 8) & 0xf);
  f.family = base_family == 0xf ? base_family + (int)((a >> 20) & 0xff) : base_family;
  f.model = (int)((a >> 4) & 0xf);
  if (base_family == 0xf || base_family == 0x6) f.model += (int)((a >> 16) & 0xf) << 4;
  f.sse42 = c & (1u << 20);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  f.avx = c & (1u << 28);
  const bool osxsave = c & (1u << 27);
  if (osxsave) {
    const uint64_t xcr0 = read_xcr0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;
    f.os_zmm = f.os_ymm && (xcr0 & 0xe0) == 0xe0;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
    f.avx512vbmi = c & (1u << 1);
  }
  return f;
}

const kern::Table& table_of(KernelVariant v) {
  switch (v) {
    case KernelVariant::AVX512: return kern::table_avx512();
    case KernelVariant::AVX2: return kern::table_avx2();
    case KernelVariant::Scalar: break;
  }
  return kern::table_scalar();
}

std::atomic<const kern::Table*> g_table{nullptr};
std::atomic<int> g_variant{0};

KernelVariant best_variant() {
  KernelVariant best = KernelVariant::Scalar;
  for (KernelVariant v : supported_kernel_variants()) best = v;
  return best;
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    KernelVariant v = best_variant();
    if (const char* e = std::getenv("FLOPS_KERNELS"); e && *e) {
      KernelVariant want;
      if (!kernel_variant_from_name(e, want))
        log::warn("FLOPS_KERNELS={} is not one of scalar, avx2, avx512; using {}", e, kernel_variant_name(v));
      else if (!kernel_variant_supported(want))
        log::warn("FLOPS_KERNELS={}: this CPU cannot run it; using {}", e, kernel_variant_name(v));
      else
        v = want;
    }
    g_variant.store((int)v);
    g_table.store(&table_of(v));
  });
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string cpu_description() {
  const CpuFeatures& f = cpu_features();
  return cpu_model_name() + " (family " + std::to_string(f.family) + ", model " + std::to_string(f.model) + ")";
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.sse42, "SSE4.2");
  add(f.avx && f.os_ymm, "AVX");
  add(f.avx2 && f.os_ymm, "AVX2");
  add(f.fma, "FMA");
  add(f.f16c, "F16C");
  add(f.avx512f && f.os_zmm, "AVX512F");
  add(f.avx512bw && f.os_zmm, "AVX512BW");
  add(f.avx512vl && f.os_zmm, "AVX512VL");
  add(f.avx512dq && f.os_zmm, "AVX512DQ");
  add(f.avx512vnni && f.os_zmm, "AVX512_VNNI");
  add(f.avx512vbmi && f.os_zmm, "AVX512_VBMI");
  return s.empty() ? "none of SSE4.2/AVX/AVX2/AVX-512" : s;
}

const char* kernel_variant_name(KernelVariant v) {
  switch (v) {
    case KernelVariant::AVX512: return "avx512";
    case KernelVariant::AVX2: return "avx2";
    case KernelVariant::Scalar: break;
  }
  return "scalar";
}

bool kernel_variant_from_name(const std::string& name, KernelVariant& out) {
  for (KernelVariant v : {KernelVariant::Scalar, KernelVariant::AVX2, KernelVariant::AVX512}) {
    if (name == kernel_variant_name(v)) {
      out = v;
      return true;
    }
  }
  return false;
}

bool kernel_variant_supported(KernelVariant v) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx && f.avx2 && f.fma && f.f16c && f.os_ymm;
  switch (v) {
    case KernelVariant::Scalar: return true;
    case KernelVariant::AVX2: return avx2;
    case KernelVariant::AVX512:
      return avx2 && f.os_zmm && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  }
  return false;
}

std::vector<KernelVariant> supported_kernel_variants() {
  std::vector<KernelVariant> out;
  for (KernelVariant v : {KernelVariant::Scalar, KernelVariant::AVX2, KernelVariant::AVX512})
    if (kernel_variant_supported(v)) out.push_back(v);
  return out;
}

KernelVariant kernel_variant() {
  init_once();
  return (KernelVariant)g_variant.load();
}

void set_kernel_variant(KernelVariant v) {
  init_once();
  if (!kernel_variant_supported(v))
    fail("this CPU cannot run the {} kernels (it has: {})", kernel_variant_name(v), cpu_features_string());
  g_variant.store((int)v);
  g_table.store(&table_of(v));
}

namespace kern {
const Table& active() {
  const Table* t = g_table.load(std::memory_order_acquire);
  if (!t) {
    init_once();
    t = g_table.load();
  }
  return *t;
}
}  // namespace kern

}  // namespace flops
