#pragma once
// GGUF v2/v3 reader (memory-mapped, every field validated before use) and writer.
// Spec: ggml's docs/gguf.md. Little-endian only.
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mmap_file.h"

namespace flops {

enum class GGUFType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view gguf_type_name(GGUFType t);

struct GGUFValue {
  GGUFType type = GGUFType::U8;
  // Scalars: integers in i (signed) / u (unsigned view), floats in f, bool in u.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string_view str;  // STRING: points into the mapped file (or owned storage)
  // ARRAY: element type, count; numeric elements are raw little-endian bytes
  // at arr_data; string elements are in arr_strings.
  GGUFType arr_type = GGUFType::U8;
  uint64_t arr_count = 0;
  const uint8_t* arr_data = nullptr;
  std::vector<std::string_view> arr_strings;

  bool is_integer() const;
  bool is_float() const { return type == GGUFType::F32 || type == GGUFType::F64; }
};

struct GGUFTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ne[0] is the contiguous (row) dimension, as in ggml
  DType type = DType::F32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapped file
};

struct GGUFFile {
  uint32_t version = 0;
  uint32_t alignment = 32;
  uint64_t data_offset = 0;
  std::map<std::string, GGUFValue, std::less<>> kv;
  std::vector<std::string> kv_order;  // keys in file order
  std::vector<GGUFTensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> tensor_index;
  // Keeps the bytes the views point into alive: the MappedFile of gguf_open, or the vector of
  // gguf_parse_owned. Null when the caller of gguf_parse guarantees their lifetime.
  std::shared_ptr<const void> owner;
  const uint8_t* image = nullptr;  // the whole file image
  bool file_mapped = false;        // image is a read-only map of a file (gguf_open)
  uint64_t size = 0;               // its bytes

  const GGUFValue* find(std::string_view key) const;
  const GGUFTensorInfo* find_tensor(std::string_view name) const;

  // Typed getters: throw flops::Error naming the key on a missing key or wrong type.
  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t def) const;
  double get_float(std::string_view key) const;
  double get_float(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, std::string def) const;
  const std::vector<std::string_view>& get_string_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<int32_t> get_int_array(std::string_view key) const;
  uint64_t array_size(std::string_view key) const;
};

// Parses a GGUF image already in memory (used by the fuzzer and by gguf_open).
// `owner` keeps the bytes alive; may be null when the caller guarantees lifetime.
GGUFFile gguf_parse(const uint8_t* data, size_t size, std::shared_ptr<const void> owner = nullptr,
                    const std::string& name = "<memory>");
// Parses an in-memory image and keeps it alive for as long as the result (or a model loaded
// from it) lives.
GGUFFile gguf_parse_owned(std::vector<uint8_t> bytes, const std::string& name = "<memory>");
GGUFFile gguf_open(const std::string& path);

// Builds a GGUF file in memory and writes it atomically.
struct GGUFWriter {
  uint32_t alignment = 32;

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // shape in ggml order (ne[0] contiguous); data must be dtype_row_bytes(type, ne0) * rows bytes.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> shape, const void* data, size_t bytes);

  // Copies a metadata value read from another file, keeping its exact type (arrays of
  // arrays, which no real file has, are refused).
  void set_value(const std::string& key, const GGUFValue& v);
  // A tensor whose bytes are produced during write_streaming (files larger than memory).
  void add_tensor_info(const std::string& name, DType type, std::vector<int64_t> shape);

  std::vector<uint8_t> serialize() const;
  void write(const std::string& path) const;  // atomic
  // Writes atomically, asking fill(i, dst) for the bytes of each tensor i (in the order added)
  // that came from add_tensor_info; dst holds exactly its size. Peak memory: one tensor.
  void write_streaming(const std::string& path, const std::function<void(size_t, uint8_t*)>& fill) const;

 private:
  struct KV {
    std::string key;
    std::vector<uint8_t> bytes;  // type tag + value, already encoded
  };
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
    uint64_t bytes = 0;
    bool deferred = false;  // add_tensor_info: bytes come from write_streaming
  };
  std::vector<KV> kvs_;
  std::vector<Tensor> tensors_;
  void put(const std::string& key, std::vector<uint8_t> bytes);
  uint64_t check_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape) const;
  // Header bytes (up to the aligned start of the data) and each tensor's offset in the data.
  std::vector<uint8_t> header(std::vector<uint64_t>& offsets, uint64_t& data_bytes) const;
};

}  // namespace flops
