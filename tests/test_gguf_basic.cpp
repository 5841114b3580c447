#include <gtest/gtest.h>
#include "model/gguf.h"
#include "core/mmap_file.h"
#include <cstring>
#include "core/error.h"
#include "test_util.h"

using namespace flops;

TEST(GGUF, RoundTripMetadataAndTensors) {
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 3);
  w.set_f32("x.eps", 1e-5f);
  w.set_bool("b", true);
  w.set_string_array("toks", {"a", "bc", ""});
  w.set_i32_array("ints", {1, -2, 3});
  std::vector<float> t(8 * 3);
  for (size_t i = 0; i < t.size(); i++) t[i] = (float)i;
  w.add_tensor("w", DType::F32, {8, 3}, t.data(), t.size() * 4);
  auto bytes = w.serialize();
  GGUFFile g = gguf_parse(bytes.data(), bytes.size());
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 3);
  EXPECT_FLOAT_EQ((float)g.get_float("x.eps"), 1e-5f);
  EXPECT_TRUE(g.get_bool("b", false));
  auto sa = g.get_string_array("toks");
  ASSERT_EQ(sa.size(), 3u);
  EXPECT_EQ(sa[1], "bc");
  EXPECT_EQ(g.get_int_array("ints")[1], -2);
  auto* ti = g.find_tensor("w");
  ASSERT_NE(ti, nullptr);
  EXPECT_EQ(ti->shape[0], 8);
  EXPECT_EQ(ti->data - bytes.data(), (long)g.data_offset);
  EXPECT_EQ(g.data_offset % 32, 0u);
  EXPECT_EQ(((const float*)ti->data)[5], 5.0f);
}

TEST(GGUF, OwnedImageOutlivesTheCallersBytes) {
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  std::vector<float> t = {1.5f, -2.0f, 3.25f, 4.0f};
  w.add_tensor("w", DType::F32, {4}, t.data(), t.size() * 4);
  GGUFFile g;
  size_t n = 0;
  {
    auto bytes = w.serialize();
    n = bytes.size();
    g = gguf_parse_owned(std::move(bytes), "img");
  }  // the caller's vector is gone; the views must point into the file's own copy
  EXPECT_EQ(g.size, n);
  ASSERT_NE(g.owner, nullptr);
  auto* ti = g.find_tensor("w");
  ASSERT_NE(ti, nullptr);
  EXPECT_EQ(((const float*)ti->data)[2], 3.25f);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_THROW(gguf_parse_owned({'G', 'G'}, "short"), Error);
}

TEST(GGUF, KnownHeaderBytes) {
  GGUFWriter w;
  w.set_u32("k", 7);
  auto b = w.serialize();
  // magic, version 3, 0 tensors, 1 kv, key len 1, 'k', type u32 (4), value 7
  const uint8_t expect[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                            1, 0, 0, 0, 0, 0, 0, 0, 'k', 4, 0, 0, 0, 7, 0, 0, 0};
  ASSERT_GE(b.size(), sizeof(expect));
  EXPECT_EQ(0, memcmp(b.data(), expect, sizeof(expect)));
}

TEST(GGUF, ReadsRealModelHeader) {
  std::string d = test::shared_data_dir();
  if (d.empty()) GTEST_SKIP() << "../shared/data not present";
  GGUFFile g = gguf_open(d + "/models/stories260K.gguf");
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.context_length"), 512);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "llama");
}

// Re-writing llama.cpp's own file with our writer (same keys and tensors, in the same
// order) must give the same bytes: the writer lays files out exactly as llama.cpp does.
TEST(GGUF, WriterReproducesLlamaCppFileByteForByte) {
  std::string d = test::shared_data_dir();
  if (d.empty()) GTEST_SKIP() << "../shared/data not present";
  MappedFile orig(d + "/models/stories260K.gguf");
  GGUFFile g = gguf_parse(orig.data, orig.size);
  GGUFWriter w;
  for (auto& k : g.kv_order) {
    const GGUFValue& v = g.kv.at(k);
    switch (v.type) {
      case GGUFType::STRING: w.set_string(k, std::string(v.str)); break;
      case GGUFType::U32: w.set_u32(k, (uint32_t)v.u); break;
      case GGUFType::F32: w.set_f32(k, (float)v.f); break;
      case GGUFType::ARRAY:
        if (v.arr_type == GGUFType::STRING) {
          std::vector<std::string> s(v.arr_strings.begin(), v.arr_strings.end());
          w.set_string_array(k, s);
        } else if (v.arr_type == GGUFType::F32) {
          w.set_f32_array(k, g.get_float_array(k));
        } else if (v.arr_type == GGUFType::I32) {
          w.set_i32_array(k, g.get_int_array(k));
        } else {
          FAIL() << "unexpected array type in " << k;
        }
        break;
      default: FAIL() << "unexpected type in " << k;
    }
  }
  for (auto& t : g.tensors) w.add_tensor(t.name, t.type, t.shape, t.data, t.n_bytes);
  std::vector<uint8_t> b = w.serialize();
  ASSERT_EQ(b.size(), orig.size);
  EXPECT_EQ(0, memcmp(b.data(), orig.data, b.size()));
}
