#include "core/dtype.h"

#include <cctype>

#include "core/error.h"

namespace flops {

namespace {

struct TypeInfo {
  const char* name;
  int block;     // elements per block; 0 = not supported by flops
  int bytes;     // bytes per block
};

// ggml's type ids (ggml.h, enum ggml_type). Ids 4, 5 and 31-33, 36-38 were removed from ggml.
const TypeInfo kTypes[] = {
    {"F32", 1, 4},       {"F16", 1, 2},     {"Q4_0", 32, 18},   {"Q4_1", 32, 20},  {"Q4_2", 0, 0},
    {"Q4_3", 0, 0},      {"Q5_0", 32, 22},  {"Q5_1", 32, 24},   {"Q8_0", 32, 34},  {"Q8_1", 0, 0},
    {"Q2_K", 256, 84},   {"Q3_K", 256, 110}, {"Q4_K", 256, 144}, {"Q5_K", 256, 176}, {"Q6_K", 256, 210},
    {"Q8_K", 0, 0},      {"IQ2_XXS", 0, 0}, {"IQ2_XS", 0, 0},   {"IQ3_XXS", 0, 0}, {"IQ1_S", 0, 0},
    {"IQ4_NL", 32, 18},  {"IQ3_S", 0, 0},   {"IQ2_S", 0, 0},    {"IQ4_XS", 256, 136}, {"I8", 0, 0},
    {"I16", 0, 0},       {"I32", 0, 0},     {"I64", 0, 0},      {"F64", 0, 0},     {"IQ1_M", 0, 0},
    {"BF16", 1, 2},      {"Q4_0_4_4", 0, 0}, {"Q4_0_4_8", 0, 0}, {"Q4_0_8_8", 0, 0}, {"TQ1_0", 0, 0},
    {"TQ2_0", 0, 0},     {"IQ4_NL_4_4", 0, 0}, {"IQ4_NL_4_8", 0, 0}, {"IQ4_NL_8_8", 0, 0}, {"MXFP4", 0, 0},
};
constexpr uint32_t kNumIds = sizeof(kTypes) / sizeof(kTypes[0]);
static_assert(kDTypeIdLimit <= kNumIds);

const TypeInfo& info(DType t) {
  uint32_t id = (uint32_t)t;
  if (id >= kDTypeIdLimit || kTypes[id].block == 0) fail("unsupported tensor type {}", dtype_name_of(id));
  return kTypes[id];
}

}  // namespace

bool dtype_known(uint32_t id) { return id < kDTypeIdLimit && kTypes[id].block != 0; }

std::string_view dtype_name(DType t) {
  uint32_t id = (uint32_t)t;
  return id < kNumIds ? kTypes[id].name : "?";
}

std::string dtype_name_of(uint32_t id) {
  if (id < kNumIds && id != 4 && id != 5) return kTypes[id].name;
  return fmt::format("type {}", id);
}

std::string supported_dtype_list() {
  std::string s;
  for (DType t : kAllDTypes) {
    if (!s.empty()) s += ", ";
    s += dtype_name(t);
  }
  return s;
}

bool dtype_from_name(std::string_view name, DType& out) {
  for (uint32_t id = 0; id < kDTypeIdLimit; id++) {
    if (kTypes[id].block == 0) continue;
    std::string_view n = kTypes[id].name;
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; i++) same = std::toupper((unsigned char)name[i]) == n[i];
    if (same) {
      out = (DType)id;
      return true;
    }
  }
  return false;
}

int dtype_block_elems(DType t) { return info(t).block; }

size_t dtype_block_bytes(DType t) { return (size_t)info(t).bytes; }

size_t dtype_row_bytes(DType t, int64_t n) {
  int be = dtype_block_elems(t);
  if (n % be != 0) fail("row of {} elements is not a multiple of the {} block size {}", n, dtype_name(t), be);
  return (size_t)(n / be) * dtype_block_bytes(t);
}

}  // namespace flops
