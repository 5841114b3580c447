// The quantizers (every type's error bounds and exact cases) and `flops quantize` (the per-
// tensor plan against llama-quantize's files, byte identity where the rounding rule is the
// format's definition, metadata, fallbacks, refusals).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "core/quant.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/quantize.h"
#include "model/synthetic.h"
#include "test_quant_util.h"
#include "test_util.h"

using namespace flops;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(dtype_row_bytes(t, (int64_t)x.size()));
  quantize_row(t, x.data(), q.data(), (int64_t)x.size());
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), (int64_t)x.size());
  return y;
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); i++) {
    e += (double)(x[i] - y[i]) * (x[i] - y[i]);
    s += (double)x[i] * x[i];
  }
  return std::sqrt(e / s);
}

std::string ref_dir() {
  const std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/llama-reference";
}

}  // namespace

// Relative RMS error on Gaussian weights: the bound for each type is a little above what the
// type's bits allow (and below what llama-quantize reaches on the reference model, see
// QuantizeFile.KQuantsBeatLlamaQuantizeOnSquaredError).
TEST(Quantizers, ErrorOnGaussianRows) {
  const std::map<DType, double> bound = {
      {DType::Q8_0, 0.006}, {DType::Q4_0, 0.09}, {DType::Q4_1, 0.08}, {DType::Q5_0, 0.045},
      {DType::Q5_1, 0.04},  {DType::Q2_K, 0.27}, {DType::Q3_K, 0.145}, {DType::Q4_K, 0.07},
      {DType::Q5_K, 0.035}, {DType::Q6_K, 0.0175}, {DType::IQ4_NL, 0.073}, {DType::IQ4_XS, 0.073},
      {DType::F16, 0.0003}, {DType::BF16, 0.003}};
  const auto x = gaussian(256 * 64, 5);
  for (auto [t, b] : bound) {
    const double e = rel_rmse(x, round_trip(t, x));
    EXPECT_LT(e, b) << dtype_name(t);
    EXPECT_GT(e, b / 4) << dtype_name(t) << ": suspiciously exact";
  }
}

TEST(Quantizers, ZerosConstantsAndScale) {
  for (DType t : kAllDTypes) {
    const int64_t n = 512;
    std::vector<float> zero(n, 0.0f);
    for (float v : round_trip(t, zero)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
    // Scaling the input by a power of two scales the output by the same (no fixed ranges).
    const auto x = gaussian(n, 9);
    std::vector<float> x8(n);
    for (int64_t i = 0; i < n; i++) x8[i] = x[i] * 8.0f;
    const auto y = round_trip(t, x), y8 = round_trip(t, x8);
    for (int64_t i = 0; i < n; i++) ASSERT_FLOAT_EQ(y8[i], 8.0f * y[i]) << dtype_name(t) << " at " << i;
    // A row with one outlier: the other values still come back within the type's coarse error.
    std::vector<float> o = gaussian(n, 10, 0.01f);
    o[17] = 3.0f;
    const auto yo = round_trip(t, o);
    EXPECT_NEAR(yo[17], 3.0f, 0.2f) << dtype_name(t);
  }
}

// Values that a block can represent exactly come back (almost) exactly: the search finds the
// stored scales again.
TEST(Quantizers, RepresentableValuesComeBack) {
  for (DType t : kAllDTypes) {
    if (dtype_is_float(t)) continue;
    std::mt19937 rng(3);
    std::vector<uint8_t> b(dtype_row_bytes(t, 1024));
    test::randomize_blocks(t, b, rng, 0.01f, 0.02f);
    std::vector<float> x(1024);
    dequantize_row(t, b.data(), x.data(), 1024);
    // Q2_K: random blocks have super-block scales and mins of either sign, and a group whose
    // values need a positive offset lies outside the quantizer's x ~ s*q + lo, lo <= 0 search;
    // with 2-bit codes that costs more than with Q4_K/Q5_K's 4 and 5 bits.
    EXPECT_LT(rel_rmse(x, round_trip(t, x)), t == DType::Q2_K ? 0.1 : 0.02) << dtype_name(t);
  }
}

TEST(QuantMix, NamesAndRefusals) {
  EXPECT_EQ(quant_mix("q4_k_m").base, DType::Q4_K);
  EXPECT_EQ(quant_mix("Q4_K").name, "Q4_K_M");
  EXPECT_EQ(quant_mix("Q3_K").name, "Q3_K_M");
  EXPECT_EQ(quant_mix("Q5_K_S").file_type, 16u);
  EXPECT_EQ(quant_mix("IQ4_XS").file_type, 30u);
  EXPECT_EQ(quant_mix("BF16").file_type, 32u);
  try {
    quant_mix("IQ2_XXS");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS is a ggml type flops cannot write"), std::string::npos) << e.what();
  }
  try {
    quant_mix("Q4_K_X");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown quantization type 'Q4_K_X' (types: F32, F16"), std::string::npos)
        << e.what();
  }
}

// The plan gives every tensor of the reference model the type llama-quantize gave it, for
// every mix in the reference set.
TEST(QuantMix, SameTensorTypesAsLlamaQuantize) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  const GGUFFile f32 = gguf_open(dir + "/llama.f32.gguf");
  for (const char* name : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
                           "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"}) {
    std::string lower = name;
    for (auto& c : lower) c = (char)std::tolower((unsigned char)c);
    const GGUFFile ref = gguf_open(dir + "/llama." + lower + ".gguf");
    const auto plan = plan_quantization(f32, quant_mix(name), {});
    ASSERT_EQ(plan.size(), ref.tensors.size());
    for (size_t i = 0; i < plan.size(); i++) {
      EXPECT_EQ(plan[i].name, ref.tensors[i].name);
      EXPECT_EQ(dtype_name(plan[i].to), dtype_name(ref.tensors[i].type)) << name << " " << plan[i].name;
      EXPECT_EQ(plan[i].bytes_out, ref.tensors[i].n_bytes);
    }
    EXPECT_EQ(ref.get_int("general.file_type"), (int64_t)quant_mix(name).file_type) << name;
  }
}

// The other layouts' Q4_K_M files (phi3's fused attn_qkv, tied qwen2/gemma2 embeddings,
// gemma2's rows of 128 falling back to Q5_0, bert, gpt2), planned from their F32 or F16 source.
TEST(QuantMix, Q4KMOfEveryLayoutAsLlamaQuantize) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  for (const char* src : {"llama-rope31.f32", "qwen2.f32", "phi3.f32", "gemma2.f16", "bert.f32", "gpt2.f16"}) {
    const std::string model = std::string(src).substr(0, std::string(src).find('.'));
    const GGUFFile in = gguf_open(dir + "/" + src + ".gguf"), ref = gguf_open(dir + "/" + model + ".q4_k_m.gguf");
    const auto plan = plan_quantization(in, quant_mix("Q4_K_M"), {});
    ASSERT_EQ(plan.size(), ref.tensors.size()) << model;
    for (size_t i = 0; i < plan.size(); i++)
      EXPECT_EQ(dtype_name(plan[i].to), dtype_name(ref.tensors[i].type)) << model << " " << plan[i].name;
  }
}

namespace {

// A tiny llama with rows of 96 (not a multiple of 256) in the attention and 256 in the FFN.
ModelConfig tiny_llama() {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.arch_name = "llama";
  c.n_vocab = 300;
  c.n_embd = 96;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 256;
  c.n_ctx_train = 64;
  c.n_rot = 24;
  return c;
}

std::string temp_path(const std::string& name) { return test::temp_dir() + "/" + name; }

}  // namespace

TEST(QuantizeFile, MetadataFallbacksAndOutputThatLoads) {
  GGUFWriter w = synthetic_model(tiny_llama());
  w.set_string("general.name", "tiny");
  w.set_u32("general.file_type", 0);
  w.set_string("zz.custom.key", "kept");
  const std::string in = temp_path("q_in.gguf"), out = temp_path("q_out.gguf");
  w.write(in);
  QuantizeOptions o;
  int64_t last = 0, calls = 0;
  o.progress = [&](int64_t done, int64_t total) {
    EXPECT_GT(done, last);
    EXPECT_LE(done, total);
    last = done;
    calls++;
  };
  const QuantizeResult r = quantize_file(in, out, quant_mix("Q4_K_M"), o);
  const GGUFFile a = gguf_open(in), b = gguf_open(out);
  EXPECT_EQ(calls, (int64_t)a.tensors.size());
  EXPECT_EQ(last, (int64_t)r.n_elements);
  // Every key kept in order; quantization_version and file_type moved to the end.
  std::vector<std::string> want;
  for (auto& k : a.kv_order)
    if (k != "general.file_type") want.push_back(k);
  want.push_back("general.quantization_version");
  want.push_back("general.file_type");
  EXPECT_EQ(b.kv_order, want);
  EXPECT_EQ(b.get_string("zz.custom.key"), "kept");
  EXPECT_EQ(b.get_int("general.file_type"), 15);
  EXPECT_EQ(b.get_int("general.quantization_version"), 2);
  EXPECT_EQ(b.get_string_array("tokenizer.ggml.tokens"), a.get_string_array("tokenizer.ggml.tokens"));
  // Rows of 96: Q4_K falls back to Q5_0 and the plan says why; the 1-D norms stay F32.
  int fallbacks = 0;
  for (const TensorPlan& p : r.tensors) {
    const GGUFTensorInfo* t = b.find_tensor(p.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, p.to);
    if (p.shape.size() == 1) {
      EXPECT_EQ(p.to, DType::F32) << p.name;
    }
    if (p.fallback) {
      fallbacks++;
      EXPECT_NE(p.note.find("rows of 96 are not a multiple of the"), std::string::npos) << p.note;
      EXPECT_EQ(p.shape[0], 96);
    }
  }
  EXPECT_GT(fallbacks, 0);
  EXPECT_EQ(b.find_tensor("blk.0.ffn_down.weight")->type, DType::Q4_K);  // rows of 256 fit
  EXPECT_EQ(b.find_tensor("blk.0.attn_q.weight")->type, DType::Q5_0);
  EXPECT_EQ(r.file_bytes_out, b.size);
  EXPECT_LT(r.bits_per_weight_out(), 6.0);
  EXPECT_NEAR(r.bits_per_weight_in(), 32.0, 1e-9);
  // The output loads and its weights are close to the input's.
  auto m = load_model(out);
  EXPECT_EQ(m->cfg.n_layer, 2);
  for (const auto& t : a.tensors) {
    std::vector<float> x(t.n_elements), y(t.n_elements);
    std::memcpy(x.data(), t.data, t.n_bytes);
    const GGUFTensorInfo* q = b.find_tensor(t.name);
    const int64_t cols = t.shape[0];
    for (uint64_t r0 = 0; r0 < t.n_elements / cols; r0++)
      dequantize_row(q->type, q->data + r0 * dtype_row_bytes(q->type, cols), y.data() + r0 * cols, cols);
    EXPECT_LT(rel_rmse(x, y), 0.1) << t.name;
  }
  // No temporary file is left beside the output.
  for (auto& e : std::filesystem::directory_iterator(test::temp_dir()))
    EXPECT_EQ(e.path().filename().string().find("q_out.gguf.tmp"), std::string::npos);
}

TEST(QuantizeFile, RefusesRequantizingUnlessAllowed) {
  SyntheticOptions so;
  so.matrix_type = DType::Q8_0;
  GGUFWriter w = synthetic_model(tiny_llama(), so);
  const std::string in = temp_path("q8_in.gguf"), out = temp_path("q8_out.gguf");
  std::filesystem::remove(out);
  w.write(in);
  try {
    quantize_file(in, out, quant_mix("Q4_0"), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is already Q8_0: quantizing it again to Q4_0 loses accuracy; pass "
                                         "--allow-requantize"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  QuantizeOptions o;
  o.allow_requantize = true;
  const QuantizeResult r = quantize_file(in, out, quant_mix("Q4_0"), o);
  EXPECT_EQ(gguf_open(out).find_tensor("blk.1.ffn_up.weight")->type, DType::Q4_0);
  // Same type as the input: copied, not requantized.
  const QuantizeResult same = quantize_file(in, out, quant_mix("Q8_0"), {});
  const GGUFFile a = gguf_open(in), b = gguf_open(out);
  for (const auto& t : a.tensors)
    if (t.type == DType::Q8_0) {
      EXPECT_EQ(std::memcmp(t.data, b.find_tensor(t.name)->data, t.n_bytes), 0) << t.name;
    }
  (void)r;
  (void)same;
}

TEST(QuantizeFile, PureGivesEveryWeightTheBaseType) {
  GGUFWriter w = synthetic_model(tiny_llama());
  const std::string in = temp_path("p_in.gguf"), out = temp_path("p_out.gguf");
  w.write(in);
  QuantizeOptions o;
  o.pure = true;
  const QuantizeResult r = quantize_file(in, out, quant_mix("Q6_K"), o);
  for (const TensorPlan& p : r.tensors) {
    if (p.shape.size() == 1) continue;
    EXPECT_EQ(p.to, p.shape[0] % 256 == 0 ? DType::Q6_K : DType::Q8_0) << p.name;
  }
}

// Must-show 3 (bytes): from llama.f32.gguf, flops writes F16, BF16 and Q8_0 files byte for byte
// equal to llama-quantize's, and the Q4_0/Q4_1/Q5_0/Q5_1 tensors of those mixes too (their
// rounding rule is the format's definition). K-quant and IQ4 bytes differ (a different scale
// search) and their squared error is lower than llama-quantize's on every mix.
TEST(QuantizeFile, AgreementWithLlamaQuantize) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  const GGUFFile src = gguf_open(dir + "/llama.f32.gguf");
  for (const char* name : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S",
                           "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"}) {
    std::string lower = name;
    for (auto& c : lower) c = (char)std::tolower((unsigned char)c);
    const std::string out = temp_path("agree." + lower + ".gguf");
    quantize_file(dir + "/llama.f32.gguf", out, quant_mix(name), {});
    const GGUFFile mine = gguf_open(out), ref = gguf_open(dir + "/llama." + lower + ".gguf");
    ASSERT_EQ(mine.size, ref.size) << name;
    EXPECT_EQ(mine.data_offset, ref.data_offset) << name;
    EXPECT_EQ(std::memcmp(mine.image, ref.image, mine.data_offset), 0) << name << ": headers differ";
    uint64_t same = 0, total = 0;
    double err_mine = 0, err_ref = 0;
    for (size_t i = 0; i < ref.tensors.size(); i++) {
      const GGUFTensorInfo &a = mine.tensors[i], &b = ref.tensors[i], &x = src.tensors[i];
      ASSERT_EQ(a.type, b.type) << name << " " << a.name;
      uint64_t s = 0;
      for (uint64_t k = 0; k < a.n_bytes; k++) s += a.data[k] == b.data[k];
      same += s;
      total += a.n_bytes;
      const bool legacy = a.type == DType::Q4_0 || a.type == DType::Q4_1 || a.type == DType::Q5_0 ||
                          a.type == DType::Q5_1 || a.type == DType::Q8_0 || dtype_is_float(a.type);
      if (legacy) {
        EXPECT_EQ(s, a.n_bytes) << name << " " << a.name << " (" << dtype_name(a.type) << ")";
      }
      const int64_t cols = x.shape[0];
      std::vector<float> ya(cols), yb(cols);
      for (uint64_t r = 0; r < x.n_elements / cols; r++) {
        dequantize_row(a.type, a.data + r * dtype_row_bytes(a.type, cols), ya.data(), cols);
        dequantize_row(b.type, b.data + r * dtype_row_bytes(b.type, cols), yb.data(), cols);
        const float* xv = (const float*)x.data + r * cols;
        for (int64_t c = 0; c < cols; c++) {
          err_mine += (double)(ya[c] - xv[c]) * (ya[c] - xv[c]);
          err_ref += (double)(yb[c] - xv[c]) * (yb[c] - xv[c]);
        }
      }
    }
    std::printf("%-7s bytes equal to llama-quantize's: %6.2f%%   squared error flops/llama-quantize: %.4f\n", name,
                100.0 * (double)same / (double)total, err_ref > 0 ? err_mine / err_ref : 1.0);
    if (std::string(name) == "F16" || std::string(name) == "BF16" || std::string(name) == "Q8_0") {
      EXPECT_EQ(same, total) << name;
    }
    EXPECT_LE(err_mine, err_ref * 1.0001) << name;
    std::filesystem::remove(out);
  }
}
