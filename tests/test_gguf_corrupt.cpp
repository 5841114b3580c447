// Truncated and corrupted GGUF images: every one must be rejected with a
// flops::Error whose single-line message names the problem. Hand-built images
// (Raw) give exact control over each field; GGUFWriter gives a realistic file
// to truncate and mutate.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fstream>
#include <random>
#include <sys/resource.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/gguf.h"
#include "test_util.h"

using namespace flops;

namespace {

// Little-endian GGUF byte builder with no validation at all.
struct Raw {
  std::vector<uint8_t> b;
  Raw& bytes(const void* p, size_t n) {
    b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n);
    return *this;
  }
  Raw& u8(uint8_t v) { return bytes(&v, 1); }
  Raw& u32(uint32_t v) { return bytes(&v, 4); }
  Raw& u64(uint64_t v) { return bytes(&v, 8); }
  Raw& i64(int64_t v) { return bytes(&v, 8); }
  Raw& f64(double v) { return bytes(&v, 8); }
  Raw& str(std::string_view s) { return u64(s.size()).bytes(s.data(), s.size()); }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return bytes("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& kv_u32(std::string_view key, uint32_t v) { return str(key).u32((uint32_t)GGUFType::U32).u32(v); }
  Raw& tensor(std::string_view name, std::vector<int64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32((uint32_t)dims.size());
    for (auto d : dims) i64(d);
    return u32(type).u64(offset);
  }
  Raw& pad(size_t align = 32) {
    b.resize((b.size() + align - 1) / align * align, 0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Returns the error message, or "<parsed>" when the image is accepted.
std::string parse_error(const std::vector<uint8_t>& b) {
  // A heap copy of exactly the image size, so a sanitizer build catches any over-read.
  std::vector<uint8_t> copy(b);
  try {
    gguf_parse(copy.data(), copy.size(), nullptr, "img");
  } catch (const Error& e) {
    return e.what();
  }
  return "<parsed>";
}

::testing::AssertionResult rejected_with(const std::vector<uint8_t>& b, std::string_view phrase) {
  std::string msg = parse_error(b);
  if (msg == "<parsed>") return ::testing::AssertionFailure() << "image was accepted, expected an error containing '" << phrase << "'";
  if (msg.find('\n') != std::string::npos) return ::testing::AssertionFailure() << "message is not one line: " << msg;
  if (msg.find(phrase) == std::string::npos)
    return ::testing::AssertionFailure() << "message '" << msg << "' does not contain '" << phrase << "'";
  return ::testing::AssertionSuccess() << msg;
}
#define EXPECT_REJECTED(bytes, phrase) EXPECT_TRUE(rejected_with((bytes), (phrase)))

// A small file shaped like a llama model: scalar metadata, a string-array vocab,
// scores and types, F32 and Q8_0 tensors.
std::vector<uint8_t> model_like() {
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "tiny");
  w.set_u32("llama.context_length", 64);
  w.set_u32("llama.embedding_length", 32);
  w.set_u32("llama.block_count", 1);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("general.tied", false);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "bc"});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1.5f, -2.5f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  std::vector<float> emb(32 * 5);
  for (size_t i = 0; i < emb.size(); i++) emb[i] = (float)i * 0.25f;
  w.add_tensor("token_embd.weight", DType::F32, {32, 5}, emb.data(), emb.size() * 4);
  std::vector<BlockQ8_0> q(32 * 32 / QK);
  for (size_t i = 0; i < q.size(); i++) {
    q[i].d = fp32_to_fp16(0.5f);
    for (int j = 0; j < QK; j++) q[i].qs[j] = (int8_t)(j - 16);
  }
  w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, {32, 32}, q.data(), q.size() * sizeof(BlockQ8_0));
  std::vector<float> norm(32, 1.0f);
  w.add_tensor("output_norm.weight", DType::F32, {32}, norm.data(), norm.size() * 4);
  // An odd size last, so the file ends in padding.
  w.add_tensor("rope_freqs.weight", DType::F32, {5}, norm.data(), 5 * 4);
  return w.serialize();
}

std::vector<uint8_t> prefix(const std::vector<uint8_t>& b, size_t n) { return {b.begin(), b.begin() + (long)n}; }

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

// Offset of the first byte after the length-prefixed string `s` in b.
size_t after_string(const std::vector<uint8_t>& b, std::string_view s) {
  Raw r;
  r.str(s);
  auto it = std::search(b.begin(), b.end(), r.b.begin(), r.b.end());
  if (it == b.end()) ADD_FAILURE() << "string '" << s << "' not found";
  return (size_t)(it - b.begin()) + r.b.size();
}

}  // namespace

TEST(GGUFCorrupt, ModelLikeFileIsValid) {
  auto b = model_like();
  GGUFFile g = gguf_parse(b.data(), b.size());
  EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens").size(), 5u);
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type")[1], 3);
  EXPECT_EQ(g.get_float_array("tokenizer.ggml.scores")[4], -2.5f);
  ASSERT_EQ(g.tensors.size(), 4u);
  const GGUFTensorInfo* q = g.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::Q8_0);
  EXPECT_EQ(q->n_bytes, 32u * 34u);
  EXPECT_EQ(((const BlockQ8_0*)q->data)[3].qs[0], -16);
  // Version 2 has the same layout and is accepted too.
  put_u32(b, 4, 2);
  EXPECT_EQ(gguf_parse(b.data(), b.size()).version, 2u);
}

TEST(GGUFCorrupt, TruncatedAtEveryHeaderOffset) {
  auto b = model_like();
  GGUFFile g = gguf_parse(b.data(), b.size());
  ASSERT_GT(g.data_offset, 200u);
  EXPECT_REJECTED(prefix(b, 0), "empty file");
  for (size_t cut = 1; cut < g.data_offset; cut++) {
    EXPECT_TRUE(rejected_with(prefix(b, cut), "truncated")) << "cut at " << cut;
  }
}

TEST(GGUFCorrupt, TruncatedInTensorDataNamesTheTensor) {
  auto b = model_like();
  GGUFFile g = gguf_parse(b.data(), b.size());
  for (auto& t : g.tensors) {
    size_t start = g.data_offset + t.offset;
    for (size_t cut : {start, start + t.n_bytes / 2, start + t.n_bytes - 1}) {
      std::string msg = parse_error(prefix(b, cut));
      EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
      EXPECT_NE(msg.find("'" + t.name + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("extends past the end"), std::string::npos) << msg;
    }
  }
  // The padding after the last tensor is optional: a file ending right after its data is valid.
  const auto& last = g.tensors.back();
  size_t end = g.data_offset + last.offset + last.n_bytes;
  ASSERT_LT(end, b.size());
  EXPECT_EQ(parse_error(prefix(b, end)), "<parsed>");
}

TEST(GGUFCorrupt, BadMagic) {
  auto b = model_like();
  b[3] = 'X';
  EXPECT_REJECTED(b, "bad magic 47 47 55 58");
  std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  EXPECT_REJECTED(elf, "not a GGUF file (bad magic 7f 45 4c 46");
  EXPECT_REJECTED(std::vector<uint8_t>({'P', 'K'}), "bad magic");
  EXPECT_REJECTED(std::vector<uint8_t>({'G', 'G'}), "truncated GGUF file: 2 bytes");
}

TEST(GGUFCorrupt, Versions) {
  EXPECT_REJECTED(Raw().header(0, 0, 1).b, "GGUF version 1 is not supported");
  EXPECT_REJECTED(Raw().header(0, 0, 4).b, "unsupported GGUF version 4");
  EXPECT_REJECTED(Raw().header(0, 0, 0).b, "unsupported GGUF version 0");
  EXPECT_REJECTED(Raw().header(0, 0, 0x03000000).b, "big-endian");
  EXPECT_EQ(parse_error(Raw().header(0, 0, 3).b), "<parsed>");
}

TEST(GGUFCorrupt, HugeCounts) {
  EXPECT_REJECTED(Raw().header(uint64_t(1) << 60, 0).zeros(64).b, "tensor count 1152921504606846976");
  EXPECT_REJECTED(Raw().header(0, uint64_t(1) << 60).zeros(64).b, "metadata count 1152921504606846976");
  EXPECT_REJECTED(Raw().header(0, UINT64_MAX).b, "truncated or corrupt");
  EXPECT_REJECTED(Raw().header(UINT64_MAX, 0).b, "truncated or corrupt");
  // Counts that fit the bound but not the actual content still end in a truncation.
  EXPECT_REJECTED(Raw().header(0, 2).kv_u32("a", 1).u64(100).zeros(6).b, "metadata key 1 needs 100 bytes");
}

TEST(GGUFCorrupt, HugeStringLengths) {
  EXPECT_REJECTED(Raw().header(0, 1).u64(uint64_t(1) << 63).zeros(16).b, "metadata key 0 needs 9223372036854775808 bytes");
  EXPECT_REJECTED(Raw().header(0, 1).str("k").u32((uint32_t)GGUFType::STRING).u64(uint64_t(1) << 63).b,
                  "metadata 'k' needs 9223372036854775808 bytes");
  EXPECT_REJECTED(Raw().header(0, 1).str("k").u32((uint32_t)GGUFType::STRING).u64(UINT64_MAX).b, "truncated");
  EXPECT_REJECTED(Raw().header(1, 0).u64(uint64_t(1) << 63).zeros(32).b, "tensor 0 name needs");
  // A string array whose element lengths lie.
  EXPECT_REJECTED(Raw().header(0, 1).str("v").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)GGUFType::STRING).u64(2).str("a")
                      .u64(uint64_t(1) << 62).zeros(8).b,
                  "metadata 'v' needs 4611686018427387904 bytes");
}

TEST(GGUFCorrupt, HugeArrayCounts) {
  auto arr = [](GGUFType et, uint64_t n) {
    return Raw().header(0, 1).str("arr").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)et).u64(n).zeros(64).b;
  };
  EXPECT_REJECTED(arr(GGUFType::U32, uint64_t(1) << 62), "metadata 'arr': u32 array count 4611686018427387904");
  EXPECT_REJECTED(arr(GGUFType::F64, UINT64_MAX), "f64 array count");
  EXPECT_REJECTED(arr(GGUFType::STRING, uint64_t(1) << 61), "string array count");
  EXPECT_REJECTED(arr(GGUFType::ARRAY, uint64_t(1) << 40), "nested array count");
  EXPECT_REJECTED(arr(GGUFType::U8, 65), "truncated or corrupt");
  EXPECT_EQ(parse_error(arr(GGUFType::U8, 64)), "<parsed>");
}

// A big file with a corrupt count must still fail with flops::Error: sizing a vector
// from the count (2x the file for string views) would throw std::bad_alloc instead
// once memory is tight. The child runs under an address-space limit to make it so.
namespace {
[[noreturn]] void parse_big_corrupt_file_under_memory_limit() {
  const size_t kBody = size_t(64) << 20;
  std::vector<uint8_t> b =
      Raw().header(0, 1).str("v").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)GGUFType::STRING).u64(kBody / 8).b;
  b.resize(b.size() + kBody, 0xff);  // the first string length is 2^64-1: reading stops at once
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  size_t limit = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE) + (size_t(96) << 20);  // < the 128 MB a full reserve needs
  rlimit lim{limit, limit};
  setrlimit(RLIMIT_AS, &lim);
  try {
    gguf_parse(b.data(), b.size());
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::_Exit(0);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "std::bad_alloc\n");
    std::_Exit(3);
  }
  std::_Exit(4);
}
}  // namespace

TEST(GGUFCorruptDeathTest, CorruptCountInBigFileIsNotBadAlloc) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(parse_big_corrupt_file_under_memory_limit(), ::testing::ExitedWithCode(0),
              "metadata 'v' needs 18446744073709551615 bytes");
}

TEST(GGUFCorrupt, UnknownValueTypes) {
  EXPECT_REJECTED(Raw().header(0, 1).str("k").u32(13).zeros(8).b, "metadata 'k': unknown value type 13");
  EXPECT_REJECTED(Raw().header(0, 1).str("k").u32(0xffffffff).zeros(8).b, "unknown value type 4294967295");
  EXPECT_REJECTED(Raw().header(0, 1).str("k").u32((uint32_t)GGUFType::ARRAY).u32(13).u64(0).b, "unknown array element type 13");
}

TEST(GGUFCorrupt, BoolNotZeroOrOne) {
  EXPECT_REJECTED(Raw().header(0, 1).str("b").u32((uint32_t)GGUFType::BOOL).u8(2).b, "metadata 'b': bool value 2 is not 0 or 1");
  EXPECT_REJECTED(Raw().header(0, 1).str("b").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)GGUFType::BOOL).u64(3).u8(1).u8(255).u8(0).b,
                  "bool array element 1 has value 255");
  // 0 and 1 are fine.
  EXPECT_EQ(parse_error(Raw().header(0, 1).str("b").u32((uint32_t)GGUFType::BOOL).u8(1).b), "<parsed>");
}

TEST(GGUFCorrupt, NestedArrayBombs) {
  auto nest = [](int levels) {
    Raw r;
    r.header(0, 1).str("n").u32((uint32_t)GGUFType::ARRAY);
    for (int i = 0; i < levels - 1; i++) r.u32((uint32_t)GGUFType::ARRAY).u64(1);
    return r.u32((uint32_t)GGUFType::U8).u64(0).b;
  };
  EXPECT_EQ(parse_error(nest(3)), "<parsed>");
  EXPECT_REJECTED(nest(4), "arrays nested too deeply");
  EXPECT_REJECTED(nest(1000), "arrays nested too deeply");
  // Wide but shallow: 10000 empty inner arrays is legal and must stay fast.
  Raw wide;
  wide.header(0, 1).str("w").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)GGUFType::ARRAY).u64(10000);
  for (int i = 0; i < 10000; i++) wide.u32((uint32_t)GGUFType::U8).u64(0);
  EXPECT_EQ(parse_error(wide.b), "<parsed>");
  // An inner array claiming more elements than the file holds.
  EXPECT_REJECTED(Raw().header(0, 1).str("n").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)GGUFType::ARRAY).u64(1)
                      .u32((uint32_t)GGUFType::STRING).u64(uint64_t(1) << 59).b,
                  "string array count");
}

TEST(GGUFCorrupt, EmptyNames) {
  EXPECT_REJECTED(Raw().header(0, 1).str("").u32((uint32_t)GGUFType::U8).u8(0).zeros(8).b, "metadata key 0 is empty");
  EXPECT_REJECTED(Raw().header(1, 0).tensor("", {4}, 0, 0).pad().zeros(16).b, "tensor 0 has an empty name");
}

TEST(GGUFCorrupt, HostileNamesStayOneLine) {
  // rejected_with() also fails on a multi-line message.
  EXPECT_REJECTED(Raw().header(0, 2).kv_u32("a\nb", 1).kv_u32("a\nb", 2).b, "duplicate metadata key 'a\\x0ab'");
  std::string long_name(1000, 'n');
  std::string msg = parse_error(Raw().header(1, 0).tensor(long_name, {0}, 0, 0).b);
  EXPECT_NE(msg.find("...(1000 bytes)' has invalid dimension 0"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 200u) << msg;
  // Getters called with a key taken from the file (e.g. when listing metadata) escape it too.
  auto b = Raw().header(0, 1).kv_u32("x\ny", 1).b;
  GGUFFile g = gguf_parse(b.data(), b.size());
  try {
    g.get_string(g.kv_order[0]);
    ADD_FAILURE() << "u32 read as a string";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x\\x0ay' is u32, expected a string"), std::string::npos) << e.what();
  }
}

TEST(GGUFCorrupt, DuplicateKeyAndTensor) {
  EXPECT_REJECTED(Raw().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).b, "duplicate metadata key 'a'");
  EXPECT_REJECTED(Raw().header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad().zeros(64).b, "duplicate tensor name 'w'");
}

TEST(GGUFCorrupt, TensorDims) {
  auto one = [](std::vector<int64_t> dims, uint32_t type = 0) { return Raw().header(1, 0).tensor("t", dims, type, 0).pad().zeros(256).b; };
  EXPECT_REJECTED(one({}), "tensor 't' has 0 dimensions");
  EXPECT_REJECTED(one({1, 1, 1, 1, 1}), "tensor 't' has 5 dimensions");
  EXPECT_REJECTED(one({4, 0}), "invalid dimension 0");
  EXPECT_REJECTED(one({-4}), "invalid dimension -4");
  EXPECT_REJECTED(one({INT64_MIN}), "invalid dimension");
  EXPECT_REJECTED(one({int64_t(1) << 41}), "invalid dimension 2199023255552");
  // 2^32 * 2^32 wraps to 0 in 64 bits: must be caught before it does.
  EXPECT_REJECTED(one({int64_t(1) << 32, int64_t(1) << 32}), "too many elements");
  EXPECT_REJECTED(one({int64_t(1) << 40, 8}), "too many elements");
  EXPECT_EQ(parse_error(one({4, 4, 2, 2})), "<parsed>");
  // n_dims huge: rejected on the count, not by reading 2^32 dims.
  EXPECT_REJECTED(Raw().header(1, 0).str("t").u32(0xffffffff).zeros(64).b, "has 4294967295 dimensions");
}

TEST(GGUFCorrupt, TensorTypes) {
  auto one = [](uint32_t type, int64_t ne0) { return Raw().header(1, 0).tensor("t", {ne0}, type, 0).pad().zeros(256).b; };
  EXPECT_REJECTED(one(16, 32), "tensor 't' has unsupported type IQ2_XXS (ggml type 16;");
  EXPECT_REJECTED(one(4, 32), "tensor 't' has unknown type 4 (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1");
  EXPECT_REJECTED(one(0xffffffff, 32), "unknown type 4294967295");
  EXPECT_REJECTED(one((uint32_t)DType::Q4_K, 128), "row of 128 is not a multiple of the Q4_K block size");
  EXPECT_EQ(parse_error(one((uint32_t)DType::Q4_K, 256)), "<parsed>");
  EXPECT_REJECTED(one((uint32_t)DType::Q8_0, 33), "row of 33 is not a multiple of the Q8_0 block size");
  EXPECT_REJECTED(one((uint32_t)DType::Q4_0, 16), "Q4_0 block size");
  EXPECT_EQ(parse_error(one((uint32_t)DType::Q8_0, 64)), "<parsed>");
  EXPECT_EQ(parse_error(one((uint32_t)DType::BF16, 7)), "<parsed>");
}

TEST(GGUFCorrupt, OffsetsAndAlignment) {
  EXPECT_REJECTED(Raw().header(1, 0).tensor("t", {4}, 0, 4).pad().zeros(64).b, "tensor 't' offset 4 is not aligned to 32");
  // A custom alignment applies to tensor offsets.
  EXPECT_REJECTED(Raw().header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, 0, 32).pad(64).zeros(128).b,
                  "offset 32 is not aligned to 64");
  EXPECT_EQ(parse_error(Raw().header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, 0, 64).pad(64).zeros(128).b), "<parsed>");
  for (uint32_t a : {0u, 3u, 48u, 1u << 21}) {
    EXPECT_REJECTED(Raw().header(0, 1).kv_u32("general.alignment", a).b,
                    "general.alignment " + std::to_string(a) + " is not a power of two");
  }
  EXPECT_REJECTED(Raw().header(0, 1).str("general.alignment").u32((uint32_t)GGUFType::I32).u32((uint32_t)-32).b,
                  "general.alignment -32 is not a power of two");
  EXPECT_REJECTED(Raw().header(0, 1).str("general.alignment").u32((uint32_t)GGUFType::STRING).str("32").b,
                  "general.alignment is string, expected an integer");
  EXPECT_EQ(parse_error(Raw().header(0, 1).kv_u32("general.alignment", 1).b), "<parsed>");
}

TEST(GGUFCorrupt, TensorDataPastEndOfFile) {
  auto at = [](uint64_t off) { return Raw().header(1, 0).tensor("t", {8}, 0, off).pad().zeros(64).b; };
  EXPECT_EQ(parse_error(at(32)), "<parsed>");
  EXPECT_REJECTED(at(64), "tensor 't' data (32 bytes at offset 128) extends past the end of the file (128 bytes)");
  EXPECT_REJECTED(at(uint64_t(1) << 62), "extends past the end");
  // Offsets near 2^64 must not wrap around the bounds check.
  EXPECT_REJECTED(at(UINT64_MAX - 31), "extends past the end");
  // Big tensor in a small file.
  EXPECT_REJECTED(Raw().header(1, 0).tensor("big", {1 << 20, 1 << 20}, 0, 0).pad().zeros(64).b, "tensor 'big' data (4398046511104 bytes");
}

TEST(GGUFCorrupt, OverlappingTensors) {
  EXPECT_REJECTED(Raw().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128).b,
                  "tensor 'b' data overlaps tensor 'a'");
  EXPECT_REJECTED(Raw().header(2, 0).tensor("a", {8}, 0, 64).tensor("b", {8}, 0, 64).pad().zeros(128).b, "overlaps");
  EXPECT_EQ(parse_error(Raw().header(2, 0).tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 0).pad().zeros(128).b), "<parsed>");
}

TEST(GGUFCorrupt, PatchedModelLikeFile) {
  const auto base = model_like();
  {  // tensor count bigger than the infos present
    auto b = base;
    put_u64(b, 8, 5);
    EXPECT_REJECTED(b, "tensor 4");
  }
  {  // vocab count patched huge
    auto b = base;
    size_t at = after_string(b, "tokenizer.ggml.tokens") + 8;  // skip value type and element type
    put_u64(b, at, uint64_t(1) << 40);
    EXPECT_REJECTED(b, "metadata 'tokenizer.ggml.tokens': string array count 1099511627776");
  }
  {  // Q8_0 tensor type patched to a type flops does not read
    auto b = base;
    size_t at = after_string(b, "blk.0.attn_q.weight") + 4 + 2 * 8;
    put_u32(b, at, 16);
    EXPECT_REJECTED(b, "tensor 'blk.0.attn_q.weight' has unsupported type IQ2_XXS");
  }
  {  // block count value type patched to an unknown type
    auto b = base;
    put_u32(b, after_string(b, "llama.block_count"), 99);
    EXPECT_REJECTED(b, "metadata 'llama.block_count': unknown value type 99");
  }
  {  // a tensor offset patched misaligned
    auto b = base;
    size_t at = after_string(b, "output_norm.weight") + 4 + 8 + 4;
    put_u64(b, at, 33);
    EXPECT_REJECTED(b, "tensor 'output_norm.weight' offset 33 is not aligned to 32");
  }
}

// Deterministic byte-level mutations of a valid file: each result is either
// accepted or rejected with flops::Error; nothing else may escape.
TEST(GGUFCorrupt, RandomMutationsOnlyThrowFlopsError) {
  const auto base = model_like();
  GGUFFile g = gguf_parse(base.data(), base.size());
  std::mt19937_64 rng(12345);
  int rejected = 0;
  const int kRuns = 3000;
  for (int run = 0; run < kRuns; run++) {
    auto b = base;
    int n = 1 + (int)(rng() % 4);
    for (int k = 0; k < n; k++) {
      // Bias toward the header, where the structure is.
      size_t at = rng() % (rng() % 4 ? g.data_offset : b.size());
      switch (rng() % 3) {
        case 0: b[at] = (uint8_t)rng(); break;
        case 1: b[at] ^= (uint8_t)(1u << (rng() % 8)); break;
        default: b[at] = (uint8_t)(rng() % 2 ? 0xff : 0x00); break;
      }
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    try {
      std::string msg = parse_error(b);
      if (msg != "<parsed>") {
        rejected++;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "run " << run << ": non-flops exception " << e.what();
    }
  }
  EXPECT_GT(rejected, kRuns / 4);
}

// Getters on accepted files: values outside the caller's type are errors, not wrap-arounds.
TEST(GGUFCorrupt, GetterRangeChecks) {
  auto one = [](GGUFType et, const void* elems, size_t n, size_t es) {
    return Raw().header(0, 1).str("a").u32((uint32_t)GGUFType::ARRAY).u32((uint32_t)et).u64(n).bytes(elems, n * es).b;
  };
  auto expect_error = [](const std::vector<uint8_t>& b, auto get, std::string_view phrase) {
    GGUFFile g = gguf_parse(b.data(), b.size());
    try {
      get(g);
      ADD_FAILURE() << "no error, expected '" << phrase << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
    }
  };
  int64_t i64s[] = {5, int64_t(1) << 40};
  expect_error(one(GGUFType::I64, i64s, 2, 8), [](auto& g) { g.get_int_array("a"); }, "'a' element 1 does not fit in a 32-bit integer");
  uint32_t u32s[] = {0x80000000u};
  expect_error(one(GGUFType::U32, u32s, 1, 4), [](auto& g) { g.get_int_array("a"); }, "element 0 does not fit");
  uint64_t u64s[] = {7, UINT64_MAX};
  expect_error(one(GGUFType::U64, u64s, 2, 8), [](auto& g) { g.get_int_array("a"); }, "element 1 does not fit");
  int64_t ok[] = {-5, INT32_MIN, INT32_MAX};
  {
    auto b = one(GGUFType::I64, ok, 3, 8);
    auto v = gguf_parse(b.data(), b.size()).get_int_array("a");
    EXPECT_EQ(v, (std::vector<int32_t>{-5, INT32_MIN, INT32_MAX}));
  }
  double f64s[] = {1.0, 1e300};
  expect_error(one(GGUFType::F64, f64s, 2, 8), [](auto& g) { g.get_float_array("a"); }, "element 1 value 1e+300 is out of float range");
  double inf[] = {-INFINITY};
  {
    auto b = one(GGUFType::F64, inf, 1, 8);
    EXPECT_EQ(gguf_parse(b.data(), b.size()).get_float_array("a")[0], -INFINITY);
  }
  expect_error(one(GGUFType::F64, f64s, 2, 8), [](auto& g) { g.get_int_array("a"); }, "array of f64, expected integers");
  expect_error(one(GGUFType::I64, ok, 3, 8), [](auto& g) { g.get_float_array("a"); }, "array of i64, expected floats");
  expect_error(one(GGUFType::I64, ok, 3, 8), [](auto& g) { g.get_string_array("a"); }, "not an array of strings");
  auto big = Raw().header(0, 1).str("n").u32((uint32_t)GGUFType::U64).u64(uint64_t(1) << 63).b;
  expect_error(big, [](auto& g) { g.get_int("n"); }, "'n' value 9223372036854775808 is too large");
}

TEST(GGUFCorrupt, WriterRejectsWhatTheReaderWould) {
  auto msg = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "<ok>";
  };
  float x[4] = {};
  EXPECT_NE(msg([] { GGUFWriter w; w.set_u32("", 1); }).find("key must not be empty"), std::string::npos);
  EXPECT_NE(msg([&] { GGUFWriter w; w.add_tensor("", DType::F32, {4}, x, 16); }).find("name must not be empty"), std::string::npos);
  EXPECT_NE(msg([&] { GGUFWriter w; w.add_tensor("t", (DType)16, {4}, x, 16); }).find("unsupported type IQ2_XXS"), std::string::npos);
  EXPECT_NE(msg([&] { GGUFWriter w; w.add_tensor("t", DType::F32, {int64_t(1) << 32, int64_t(1) << 32}, x, 16); }).find("too many elements"),
            std::string::npos);
  for (uint32_t a : {0u, 3u, 1u << 21}) {
    EXPECT_NE(msg([&] { GGUFWriter w; w.alignment = a; w.serialize(); }).find("not a power of two"), std::string::npos) << a;
  }
  // A non-default alignment round-trips and is honoured.
  GGUFWriter w;
  w.alignment = 64;
  w.add_tensor("a", DType::F32, {3}, x, 12);
  w.add_tensor("b", DType::F32, {4}, x, 16);
  auto b = w.serialize();
  GGUFFile g = gguf_parse(b.data(), b.size());
  EXPECT_EQ(g.alignment, 64u);
  EXPECT_EQ(g.data_offset % 64, 0u);
  EXPECT_EQ(g.find_tensor("b")->offset, 64u);
}

TEST(GGUFCorrupt, OpenMissingFileAndDirectory) {
  auto open_error = [](const std::string& p) -> std::string {
    try {
      gguf_open(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "<opened>";
  };
  std::string dir = test::temp_dir();
  std::string missing = open_error(dir + "/no_such_model.gguf");
  EXPECT_NE(missing.find("cannot open"), std::string::npos) << missing;
  EXPECT_NE(missing.find("no_such_model.gguf"), std::string::npos) << missing;
  EXPECT_NE(missing.find("No such file"), std::string::npos) << missing;
  std::string isdir = open_error(dir);
  EXPECT_NE(isdir.find("is a directory"), std::string::npos) << isdir;
  std::string empty_path = dir + "/empty.gguf";
  { std::ofstream(empty_path, std::ios::binary); }
  std::string empty = open_error(empty_path);
  EXPECT_NE(empty.find("empty.gguf: empty file"), std::string::npos) << empty;
  // A truncated file on disk names its path.
  auto b = model_like();
  std::string cut_path = dir + "/cut.gguf";
  write_file_atomic(cut_path, b.data(), 100);
  std::string cut = open_error(cut_path);
  EXPECT_NE(cut.find("cut.gguf: truncated"), std::string::npos) << cut;
  std::filesystem::remove_all(dir);
}

TEST(GGUFCorrupt, RealModelParsesAndItsPrefixesDoNot) {
  std::string d = test::shared_data_dir();
  if (d.empty()) GTEST_SKIP() << "../shared/data not present";
  std::string path = d + "/models/stories260K.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  GGUFFile g = gguf_open(path);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_GT(g.get_string_array("tokenizer.ggml.tokens").size(), 100u);
  ASSERT_FALSE(g.tensors.empty());
  uint64_t total = 0;
  for (auto& t : g.tensors) {
    EXPECT_GE(t.data, g.image + g.data_offset) << t.name;
    EXPECT_LE(t.data + t.n_bytes, g.image + g.size) << t.name;
    total += t.n_bytes;
  }
  EXPECT_LE(g.data_offset + total, g.size);
  std::vector<uint8_t> bytes(g.image, g.image + g.size);
  for (size_t cut : {size_t(3), size_t(24), size_t(1000), (size_t)g.data_offset - 1, (size_t)g.data_offset + 1, bytes.size() / 2}) {
    EXPECT_REJECTED(prefix(bytes, cut), "truncated");
  }
}
