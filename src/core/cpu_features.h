#pragma once
// Which instruction sets the CPU (and the OS, for the vector register state) supports, and
// which kernel variant the quantized and float matrix kernels use.
//
// The variant is chosen once, at first use, from CPUID: AVX-512 (F, BW, VL, DQ and VNNI, with
// the OS saving ZMM state), else AVX2 (with FMA and F16C), else scalar. The environment
// variable FLOPS_KERNELS=scalar|avx2|avx512 picks a lower variant (a variant the CPU lacks is
// refused with a warning). set_kernel_variant switches it at run time; tests use it to run
// every variant against the same references. Every variant computes the same function; the
// variants differ only in the order of float additions.
#include <string>
#include <vector>

namespace flops {

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx512vbmi = false;  // byte permutes: only the coded F32 row dot needs it
  bool os_ymm = false, os_zmm = false;  // XCR0 enables the YMM / ZMM register state
  bool amd = false;
  int family = 0, model = 0;  // CPUID's, extended fields included (AMD Zen 4: family 25, Zen 5: 26)
};
const CpuFeatures& cpu_features();
// "AMD EPYC (family 25, model 17)": /proc/cpuinfo's model name with CPUID's family and model,
// which tell the generations apart where the name does not (a VM's "AMD EPYC").
std::string cpu_description();
// "AVX2 FMA F16C" etc.: the features above that are present.
std::string cpu_features_string();

enum class KernelVariant { Scalar = 0, AVX2 = 1, AVX512 = 2 };
const char* kernel_variant_name(KernelVariant v);
bool kernel_variant_from_name(const std::string& name, KernelVariant& out);
bool kernel_variant_supported(KernelVariant v);
// Every variant this CPU runs, scalar first.
std::vector<KernelVariant> supported_kernel_variants();
KernelVariant kernel_variant();
// Fails (flops::Error) when the CPU cannot run v. Not to be called while kernels run on
// other threads.
void set_kernel_variant(KernelVariant v);

}  // namespace flops
