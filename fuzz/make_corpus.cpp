// Writes the fuzzer's seed corpus: a few small valid GGUF images covering every
// value type, dtype and layout feature, plus near-miss invalid ones.
// Usage: fuzz_make_corpus <dir>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mmap_file.h"
#include "model/gguf.h"

using namespace flops;

namespace {

// Raw little-endian builder for what GGUFWriter deliberately cannot express.
struct Raw {
  std::vector<uint8_t> b;
  Raw& bytes(const void* p, size_t n) {
    b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n);
    return *this;
  }
  template <typename T>
  Raw& put(T v) { return bytes(&v, sizeof(T)); }
  Raw& str(const std::string& s) { return put<uint64_t>(s.size()).bytes(s.data(), s.size()); }
  Raw& header(uint64_t nt, uint64_t nkv, uint32_t version = 3) { return bytes("GGUF", 4).put(version).put(nt).put(nkv); }
  Raw& key(const std::string& k, GGUFType t) { return str(k).put((uint32_t)t); }
  Raw& arr(GGUFType et, uint64_t n) { return put((uint32_t)et).put(n); }
  Raw& tensor(const std::string& name, std::vector<int64_t> dims, DType t, uint64_t off) {
    str(name).put((uint32_t)dims.size());
    for (auto d : dims) put(d);
    return put((uint32_t)t).put(off);
  }
  Raw& pad(size_t a = 32) {
    b.resize((b.size() + a - 1) / a * a, 0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

std::vector<uint8_t> model_like() {
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.context_length", 64);
  w.set_u32("llama.embedding_length", 32);
  w.set_u32("llama.block_count", 1);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("general.tied", false);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "bc"});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1.5f, -2.5f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  std::vector<float> emb(32 * 5, 0.5f);
  w.add_tensor("token_embd.weight", DType::F32, {32, 5}, emb.data(), emb.size() * 4);
  std::vector<BlockQ8_0> q(16, BlockQ8_0{fp32_to_fp16(0.25f), {1, -1, 2, -2}});
  w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, {32, 16}, q.data(), q.size() * sizeof(BlockQ8_0));
  w.add_tensor("output_norm.weight", DType::F32, {5}, emb.data(), 5 * 4);
  return w.serialize();
}

std::vector<uint8_t> all_value_types() {
  Raw r;
  r.header(0, 17, 2);
  r.key("t.u8", GGUFType::U8).put<uint8_t>(200);
  r.key("t.i8", GGUFType::I8).put<int8_t>(-100);
  r.key("t.u16", GGUFType::U16).put<uint16_t>(60000);
  r.key("t.i16", GGUFType::I16).put<int16_t>(-30000);
  r.key("t.u32", GGUFType::U32).put<uint32_t>(4000000000u);
  r.key("t.i32", GGUFType::I32).put<int32_t>(-2000000000);
  r.key("t.f32", GGUFType::F32).put<float>(3.5f);
  r.key("t.bool", GGUFType::BOOL).put<uint8_t>(1);
  r.key("t.str", GGUFType::STRING).str("hello");
  r.key("t.u64", GGUFType::U64).put<uint64_t>(1ull << 40);
  r.key("t.i64", GGUFType::I64).put<int64_t>(-(1ll << 40));
  r.key("t.f64", GGUFType::F64).put<double>(-0.125);
  r.key("a.u16", GGUFType::ARRAY).arr(GGUFType::U16, 3).put<uint16_t>(1).put<uint16_t>(2).put<uint16_t>(3);
  r.key("a.f64", GGUFType::ARRAY).arr(GGUFType::F64, 2).put<double>(1.0).put<double>(1e300);
  r.key("a.bool", GGUFType::ARRAY).arr(GGUFType::BOOL, 2).put<uint8_t>(0).put<uint8_t>(1);
  r.key("a.str", GGUFType::ARRAY).arr(GGUFType::STRING, 2).str("x").str("");
  // Three levels: the deepest the reader accepts.
  r.key("a.nested", GGUFType::ARRAY).arr(GGUFType::ARRAY, 2).arr(GGUFType::ARRAY, 1).arr(GGUFType::I64, 1).put<int64_t>(7)
      .arr(GGUFType::U8, 2).put<uint8_t>(1).put<uint8_t>(2);
  return r.b;
}

std::vector<uint8_t> dtypes_align64() {
  GGUFWriter w;
  w.alignment = 64;
  w.set_string("general.architecture", "llama");
  std::vector<uint16_t> h(2 * 3 * 2 * 2, fp32_to_fp16(1.0f));
  w.add_tensor("f16", DType::F16, {2, 3, 2, 2}, h.data(), h.size() * 2);
  std::vector<uint16_t> bf(7, fp32_to_bf16(-2.0f));
  w.add_tensor("bf16", DType::BF16, {7}, bf.data(), bf.size() * 2);
  std::vector<BlockQ4_0> q4(2, BlockQ4_0{fp32_to_fp16(0.5f), {0x12, 0x34}});
  w.add_tensor("q4", DType::Q4_0, {64}, q4.data(), q4.size() * sizeof(BlockQ4_0));
  std::vector<BlockQ8_0> q8(1, BlockQ8_0{fp32_to_fp16(0.5f), {3}});
  w.add_tensor("q8", DType::Q8_0, {32, 1}, q8.data(), q8.size() * sizeof(BlockQ8_0));
  return w.serialize();
}

// One tensor of every supported type (one block's worth of elements: 32, or 256 for the
// super-block types, so that the seed stays under fuzz.sh's -max_len of 4096), blocks filled
// with a byte pattern, so that the fuzzer mutates real layouts of every type. The first two
// bytes of each block are a finite fp16 (the scale in most layouts; any bytes are valid blocks).
std::vector<uint8_t> every_quant_type() {
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  for (DType t : kAllDTypes) {
    const int64_t n = std::max<int64_t>(32, dtype_block_elems(t));
    std::vector<uint8_t> b(dtype_row_bytes(t, n));
    for (size_t i = 0; i < b.size(); i++) b[i] = (uint8_t)(i * 37 + 11);
    const uint16_t h = fp32_to_fp16(0.125f);
    for (size_t blk = 0; !dtype_is_float(t) && blk < b.size() / dtype_block_bytes(t); blk++)
      std::memcpy(b.data() + blk * dtype_block_bytes(t), &h, 2);
    w.add_tensor(std::string("t.") + std::string(dtype_name(t)), t, {n}, b.data(), b.size());
  }
  return w.serialize();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  struct Seed {
    const char* name;
    std::vector<uint8_t> bytes;
    bool valid;
  };
  auto model = model_like();
  auto quant = every_quant_type();
  std::vector<Seed> seeds = {
      {"valid_model.gguf", model, true},
      {"valid_empty.gguf", Raw().header(0, 0).b, true},
      {"valid_v2_all_value_types.gguf", all_value_types(), true},
      {"valid_align64_dtypes.gguf", dtypes_align64(), true},
      // Regression seed: a key with a newline once made a getter's error message two lines.
      {"valid_odd_keys.gguf",
       Raw().header(0, 3).key("a\nb", GGUFType::U8).put<uint8_t>(1).key("back\\slash\x7f", GGUFType::STRING).str("v")
           .key(std::string(100, 'k'), GGUFType::I8).put<int8_t>(-1).b,
       true},
      {"invalid_truncated_model.gguf", std::vector<uint8_t>(model.begin(), model.begin() + (long)model.size() / 3), false},
      {"invalid_dup_key.gguf", Raw().header(0, 2).key("a", GGUFType::U8).put<uint8_t>(1).key("a", GGUFType::U8).put<uint8_t>(2).b, false},
      {"invalid_nested_deep.gguf",
       Raw().header(0, 1).key("n", GGUFType::ARRAY).arr(GGUFType::ARRAY, 1).arr(GGUFType::ARRAY, 1).arr(GGUFType::ARRAY, 1)
           .arr(GGUFType::U8, 0).b,
       false},
      {"invalid_overlap.gguf",
       Raw().header(2, 0).tensor("a", {16}, DType::F32, 0).tensor("b", {8}, DType::F32, 32).pad().zeros(96).b, false},
      {"invalid_bool.gguf", Raw().header(0, 1).key("b", GGUFType::BOOL).put<uint8_t>(2).b, false},
      {"invalid_huge_array.gguf", Raw().header(0, 1).key("s", GGUFType::ARRAY).arr(GGUFType::STRING, 1ull << 60).str("x").b, false},
      {"invalid_tensor_type.gguf", Raw().header(1, 0).tensor("t", {32, 2}, (DType)16, 0).pad().zeros(256).b, false},
      {"valid_every_quant_type.gguf", quant, true},
      {"invalid_truncated_quant.gguf", std::vector<uint8_t>(quant.begin(), quant.end() - 100), false},
      {"invalid_k_row.gguf", Raw().header(1, 0).tensor("t", {128, 2}, DType::Q4_K, 0).pad().zeros(512).b, false},
  };
  int bad = 0;
  for (auto& s : seeds) {
    bool ok = true;
    try {
      gguf_parse(s.bytes.data(), s.bytes.size());
    } catch (const Error& e) {
      ok = false;
      if (s.valid) std::fprintf(stderr, "%s: %s\n", s.name, e.what());
    }
    if (ok != s.valid) {
      std::fprintf(stderr, "%s: expected %s\n", s.name, s.valid ? "valid" : "invalid");
      bad++;
    }
    write_file_atomic(dir + "/" + s.name, s.bytes.data(), s.bytes.size());
    std::printf("%-32s %5zu bytes  %s\n", s.name, s.bytes.size(), s.valid ? "valid" : "invalid");
  }
  return bad ? 1 : 0;
}
