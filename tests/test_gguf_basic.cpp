#include <gtest/gtest.h>
#include "model/gguf.h"
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
