// The block formats: dequantization of every type, bit for bit, against the values llama.cpp's
// own dequantization gives (../shared/data/llama-reference/dequant_vectors.json), and every
// kernel variant against the scalar one on random blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/quant.h"
#include "model/gguf.h"
#include "test_quant_util.h"
#include "test_util.h"

using namespace flops;

namespace {

uint32_t f_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

using test::for_each_variant;

std::vector<uint8_t> from_hex(const std::string& s) {
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); i++) out[i] = (uint8_t)std::stoi(s.substr(2 * i, 2), nullptr, 16);
  return out;
}

// Random blocks (every code pattern) with scales between 2^-14 and 64.
std::vector<uint8_t> random_blocks(DType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(dtype_row_bytes(t, n));
  test::randomize_blocks(t, b, rng, 1.0f / 16384, 64.0f);
  return b;
}

}  // namespace

TEST(DType, TableOfTypes) {
  struct Row {
    DType t;
    const char* name;
    int block;
    size_t bytes;
    double bpw;
  };
  const Row rows[] = {{DType::F32, "F32", 1, 4, 32},         {DType::F16, "F16", 1, 2, 16},
                      {DType::BF16, "BF16", 1, 2, 16},       {DType::Q8_0, "Q8_0", 32, 34, 8.5},
                      {DType::Q4_0, "Q4_0", 32, 18, 4.5},    {DType::Q4_1, "Q4_1", 32, 20, 5},
                      {DType::Q5_0, "Q5_0", 32, 22, 5.5},    {DType::Q5_1, "Q5_1", 32, 24, 6},
                      {DType::Q2_K, "Q2_K", 256, 84, 2.625}, {DType::Q3_K, "Q3_K", 256, 110, 3.4375},
                      {DType::Q4_K, "Q4_K", 256, 144, 4.5},  {DType::Q5_K, "Q5_K", 256, 176, 5.5},
                      {DType::Q6_K, "Q6_K", 256, 210, 6.5625}, {DType::IQ4_NL, "IQ4_NL", 32, 18, 4.5},
                      {DType::IQ4_XS, "IQ4_XS", 256, 136, 4.25}};
  EXPECT_EQ(std::size(rows), std::size(kAllDTypes));
  for (const Row& r : rows) {
    EXPECT_TRUE(dtype_known((uint32_t)r.t));
    EXPECT_EQ(dtype_name(r.t), r.name);
    EXPECT_EQ(dtype_block_elems(r.t), r.block) << r.name;
    EXPECT_EQ(dtype_block_bytes(r.t), r.bytes) << r.name;
    EXPECT_DOUBLE_EQ(dtype_bits_per_weight(r.t), r.bpw) << r.name;
    DType back;
    std::string lower = r.name;
    for (auto& c : lower) c = (char)std::tolower((unsigned char)c);
    ASSERT_TRUE(dtype_from_name(lower, back)) << lower;
    EXPECT_EQ(back, r.t);
  }
  // ggml types flops does not support still have their names (for error messages).
  EXPECT_FALSE(dtype_known(16));
  EXPECT_EQ(dtype_name_of(16), "IQ2_XXS");
  EXPECT_EQ(dtype_name_of(15), "Q8_K");
  EXPECT_EQ(dtype_name_of(29), "IQ1_M");
  EXPECT_EQ(dtype_name_of(4), "type 4");
  EXPECT_EQ(dtype_name_of(1000), "type 1000");
  DType unused;
  EXPECT_FALSE(dtype_from_name("IQ2_XXS", unused));
  EXPECT_FALSE(dtype_from_name("Q4_K_M", unused));
}

// Must-show 1: every type's dequantization equals llama.cpp's values bit for bit, in every
// kernel variant this CPU runs.
TEST(Dequant, BitExactAgainstLlamaCpp) {
  const std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  const std::string ref = dir + "/llama-reference/dequant_vectors.json";
  std::ifstream in(ref);
  if (!in) GTEST_SKIP() << ref << " not present";
  const nlohmann::json j = nlohmann::json::parse(in);
  std::set<std::string> types_seen;
  for (const auto& e : j["vectors"]) {
    const std::string file = e["file"], tensor = e["tensor"], tname = e["ggml_type"];
    SCOPED_TRACE(file + " " + tensor + " " + tname);
    GGUFFile g = gguf_open(dir + "/llama-reference/" + file);
    const GGUFTensorInfo* ti = g.find_tensor(tensor);
    ASSERT_NE(ti, nullptr);
    ASSERT_EQ(dtype_name(ti->type), tname);
    EXPECT_EQ(ti->data - g.image, (int64_t)e["data_offset"]);
    EXPECT_EQ((int)e["block_size"], dtype_block_elems(ti->type));
    EXPECT_EQ((size_t)e["type_size"], dtype_block_bytes(ti->type));
    const std::vector<uint8_t> raw = from_hex(e["raw_hex_first_512"]);
    const int64_t n = (int64_t)e["values"].size();
    ASSERT_EQ(raw.size(), dtype_row_bytes(ti->type, n));
    ASSERT_EQ(std::memcmp(raw.data(), ti->data, raw.size()), 0);
    std::vector<float> want(n);
    for (int64_t i = 0; i < n; i++) want[i] = (float)(double)e["values"][i];
    for_each_variant([&](KernelVariant v) {
      std::vector<float> y(n, -1.0f);
      dequantize_row(ti->type, ti->data, y.data(), n);
      int64_t bad = 0;
      for (int64_t i = 0; i < n; i++) bad += f_bits(y[i]) != f_bits(want[i]);
      EXPECT_EQ(bad, 0) << kernel_variant_name(v) << ": first value " << y[0] << " vs " << want[0];
    });
    types_seen.insert(tname);
  }
  // Every supported non-F32 type is covered by the reference file.
  for (DType t : kAllDTypes) {
    if (t == DType::F32) continue;
    EXPECT_TRUE(types_seen.count(std::string(dtype_name(t)))) << dtype_name(t);
  }
}

TEST(Dequant, VariantsAgreeBitExactOnRandomBlocks) {
  for (DType t : kAllDTypes) {
    if (dtype_is_float(t)) continue;
    const int64_t n = 256 * 9;
    auto b = random_blocks(t, n, 100 + (uint32_t)t);
    std::vector<float> ref(n), y(n);
    const KernelVariant prev = kernel_variant();
    set_kernel_variant(KernelVariant::Scalar);
    dequantize_row(t, b.data(), ref.data(), n);
    set_kernel_variant(prev);
    for (float v : ref) ASSERT_TRUE(std::isfinite(v)) << dtype_name(t);
    for_each_variant([&](KernelVariant v) {
      dequantize_row(t, b.data(), y.data(), n);
      for (int64_t i = 0; i < n; i++)
        ASSERT_EQ(f_bits(y[i]), f_bits(ref[i])) << dtype_name(t) << " " << kernel_variant_name(v) << " at " << i;
      // A part of a row (whole blocks) gives the same values as the start of the full row.
      std::vector<float> part(dtype_block_elems(t) * 2);
      dequantize_row(t, b.data(), part.data(), (int64_t)part.size());
      for (size_t i = 0; i < part.size(); i++) ASSERT_EQ(f_bits(part[i]), f_bits(ref[i]));
    });
  }
}

TEST(Dequant, AVX512VariantCompiledButNeedsTheCpu) {
  if (!kernel_variant_supported(KernelVariant::AVX512)) {
    try {
      set_kernel_variant(KernelVariant::AVX512);
      FAIL() << "set_kernel_variant accepted AVX-512 on a CPU without it";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot run the avx512 kernels"), std::string::npos) << e.what();
    }
    GTEST_SKIP() << "this CPU lacks AVX-512 F/BW/VL/DQ/VNNI (" << cpu_features_string()
                 << "): the avx512 kernels are compiled into this binary but cannot run here";
  }
  EXPECT_EQ(supported_kernel_variants().back(), KernelVariant::AVX512);
}

// CPUID's family and model, which pick the prefetch hint of the streaming kernels, are the
// ones Linux reports ("cpu family", "model" in /proc/cpuinfo).
TEST(CpuFeatures, FamilyAndModelAsLinuxReportsThem) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  int family = -1, model = -1;
  for (std::string line; std::getline(in, line) && (family < 0 || model < 0);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key == "cpu family") family = std::stoi(line.substr(colon + 1));
    if (key == "model") model = std::stoi(line.substr(colon + 1));
  }
  if (family < 0 || model < 0) GTEST_SKIP() << "/proc/cpuinfo names no cpu family and model (not x86?)";
  EXPECT_EQ(cpu_features().family, family);
  EXPECT_EQ(cpu_features().model, model);
  EXPECT_NE(cpu_description().find("(family " + std::to_string(family) + ", model " + std::to_string(model) + ")"),
            std::string::npos)
      << cpu_description();
}
