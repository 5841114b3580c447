#include "model/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace flops {

std::string_view gguf_type_name(GGUFType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = (uint32_t)t;
  return i < 13 ? names[i] : "unknown";
}

bool GGUFValue::is_integer() const {
  switch (type) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::U16: case GGUFType::I16:
    case GGUFType::U32: case GGUFType::I32: case GGUFType::U64: case GGUFType::I64:
      return true;
    default:
      return false;
  }
}

namespace {

size_t scalar_size(GGUFType t) {
  switch (t) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::BOOL: return 1;
    case GGUFType::U16: case GGUFType::I16: return 2;
    case GGUFType::U32: case GGUFType::I32: case GGUFType::F32: return 4;
    case GGUFType::U64: case GGUFType::I64: case GGUFType::F64: return 8;
    default: return 0;
  }
}

// Arrays may hold arrays; real files never nest, so a small bound stops stack/time bombs.
constexpr int kMaxArrayDepth = 3;
// Beyond this a "dimension" is certainly corruption, and the product bound keeps
// n_bytes (elements * at most 4 bytes) far from overflowing 64 bits.
constexpr int64_t kMaxDim = int64_t(1) << 40;
constexpr uint64_t kMaxElements = uint64_t(1) << 42;
constexpr uint64_t kMaxAlignment = uint64_t(1) << 20;
// Counts are only bounded by the file size, and a multi-GB model with a corrupt
// count would make reserve() throw std::bad_alloc instead of flops::Error; beyond
// this, vectors grow as real entries are actually read.
constexpr uint64_t kMaxReserve = uint64_t(1) << 16;

// Names from the file go into error messages: escape control bytes and cap the
// length so a hostile name cannot break the one-line message or flood a log.
std::string printable(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; i++) {
    auto ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f || ch == '\\') out += fmt::format("\\x{:02x}", ch);
    else out += (char)ch;
  }
  if (s.size() > kMax) out += fmt::format("...({} bytes)", s.size());
  return out;
}

// Bounds-checked little-endian reader over the file image. Every "not enough
// bytes" failure says "truncated": the reader cannot tell a cut-off file from a
// corrupt length, and "truncated" is the likelier cause.
struct Cursor {
  const uint8_t* base;
  size_t size;
  size_t pos = 0;
  const std::string& name;

  size_t left() const { return size - pos; }
  void need(uint64_t n, std::string_view what) const {
    if (n > left()) fail("{}: truncated GGUF file: {} needs {} bytes at offset {}, only {} left", name, what, n, pos, left());
  }
  // A count of items each at least `min_bytes` long must fit in what is left.
  void need_count(uint64_t count, uint64_t min_bytes, std::string_view what) const {
    if (count > left() / min_bytes)
      fail("{}: truncated or corrupt GGUF file: {} {} needs at least {} bytes each, only {} bytes left at offset {}", name, what,
           count, min_bytes, left(), pos);
  }
  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string_view str(std::string_view what) {
    uint64_t n = read<uint64_t>(what);
    need(n, what);
    std::string_view s((const char*)base + pos, n);
    pos += n;
    return s;
  }
};

void read_scalar(Cursor& c, GGUFType t, GGUFValue& v, const std::string& key, std::string_view what) {
  switch (t) {
    case GGUFType::U8: v.u = c.read<uint8_t>(what); v.i = (int64_t)v.u; break;
    case GGUFType::I8: v.i = c.read<int8_t>(what); v.u = (uint64_t)v.i; break;
    case GGUFType::U16: v.u = c.read<uint16_t>(what); v.i = (int64_t)v.u; break;
    case GGUFType::I16: v.i = c.read<int16_t>(what); v.u = (uint64_t)v.i; break;
    case GGUFType::U32: v.u = c.read<uint32_t>(what); v.i = (int64_t)v.u; break;
    case GGUFType::I32: v.i = c.read<int32_t>(what); v.u = (uint64_t)v.i; break;
    case GGUFType::U64: v.u = c.read<uint64_t>(what); v.i = (int64_t)v.u; break;
    case GGUFType::I64: v.i = c.read<int64_t>(what); v.u = (uint64_t)v.i; break;
    case GGUFType::F32: v.f = c.read<float>(what); break;
    case GGUFType::F64: v.f = c.read<double>(what); break;
    case GGUFType::BOOL: {
      uint8_t b = c.read<uint8_t>(what);
      if (b > 1) fail("{}: metadata '{}': bool value {} is not 0 or 1", c.name, key, b);
      v.u = b;
      v.i = b;
      break;
    }
    case GGUFType::STRING: v.str = c.str(what); break;
    default: fail("{}: metadata '{}': unknown value type {}", c.name, key, (uint32_t)t);
  }
}

void read_value(Cursor& c, GGUFType t, GGUFValue& v, const std::string& key, std::string_view what, int depth) {
  v.type = t;
  if (t != GGUFType::ARRAY) {
    read_scalar(c, t, v, key, what);
    return;
  }
  if (depth >= kMaxArrayDepth) fail("{}: metadata '{}': arrays nested too deeply (more than {} levels)", c.name, key, kMaxArrayDepth);
  uint32_t at = c.read<uint32_t>(what);
  if (at > (uint32_t)GGUFType::F64) fail("{}: metadata '{}': unknown array element type {}", c.name, key, at);
  v.arr_type = (GGUFType)at;
  v.arr_count = c.read<uint64_t>(what);
  v.arr_data = c.base + c.pos;
  if (v.arr_type == GGUFType::STRING) {
    // Each string needs at least its 8-byte length: bound the count before reserving.
    c.need_count(v.arr_count, 8, fmt::format("metadata '{}': string array count", key));
    v.arr_strings.reserve(std::min(v.arr_count, kMaxReserve));
    for (uint64_t k = 0; k < v.arr_count; k++) v.arr_strings.push_back(c.str(what));
  } else if (v.arr_type == GGUFType::ARRAY) {
    // Each inner array needs at least its 4-byte type and 8-byte count.
    c.need_count(v.arr_count, 12, fmt::format("metadata '{}': nested array count", key));
    for (uint64_t k = 0; k < v.arr_count; k++) {
      GGUFValue inner;
      read_value(c, GGUFType::ARRAY, inner, key, what, depth + 1);
    }
  } else {
    size_t es = scalar_size(v.arr_type);
    c.need_count(v.arr_count, es, fmt::format("metadata '{}': {} array count", key, gguf_type_name(v.arr_type)));
    if (v.arr_type == GGUFType::BOOL) {
      for (uint64_t k = 0; k < v.arr_count; k++)
        if (c.base[c.pos + k] > 1)
          fail("{}: metadata '{}': bool array element {} has value {}, not 0 or 1", c.name, key, k, c.base[c.pos + k]);
    }
    c.pos += v.arr_count * es;
  }
}

}  // namespace

GGUFFile gguf_parse(const uint8_t* data, size_t size, std::shared_ptr<const void> owner, const std::string& name) {
  GGUFFile g;
  g.owner = std::move(owner);
  g.image = data;
  g.size = size;
  Cursor c{data, size, 0, name};
  if (size == 0) fail("{}: empty file, not a GGUF model", name);
  if (size < 4 && std::memcmp(data, "GGUF", size) == 0) fail("{}: truncated GGUF file: {} bytes, shorter than the magic", name, size);
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    uint8_t m[4] = {0, 0, 0, 0};
    std::memcpy(m, data, size < 4 ? size : 4);
    fail("{}: not a GGUF file (bad magic {:02x} {:02x} {:02x} {:02x}, expected 'GGUF')", name, m[0], m[1], m[2], m[3]);
  }
  c.pos = 4;
  g.version = c.read<uint32_t>("version");
  if (g.version == 1) fail("{}: GGUF version 1 is not supported (only 2 and 3)", name);
  if (g.version == 0x02000000u || g.version == 0x03000000u)
    fail("{}: big-endian GGUF files are not supported (version field reads {:#x})", name, g.version);
  if (g.version != 2 && g.version != 3) fail("{}: unsupported GGUF version {} (only 2 and 3)", name, g.version);
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // A key-value pair takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes.
  c.need_count(n_kv, 14, "metadata count");
  for (uint64_t k = 0; k < n_kv; k++) {
    std::string key(c.str(fmt::format("metadata key {}", k)));
    if (key.empty()) fail("{}: metadata key {} is empty", name, k);
    std::string shown = printable(key);
    std::string what = fmt::format("metadata '{}'", shown);
    uint32_t t = c.read<uint32_t>(what);
    if (t > (uint32_t)GGUFType::F64) fail("{}: metadata '{}': unknown value type {}", name, shown, t);
    GGUFValue v;
    read_value(c, (GGUFType)t, v, shown, what, 0);
    if (g.kv.count(key)) fail("{}: duplicate metadata key '{}'", name, shown);
    g.kv_order.push_back(key);
    g.kv.emplace(std::move(key), std::move(v));
  }
  if (const GGUFValue* a = g.find("general.alignment")) {
    if (!a->is_integer()) fail("{}: general.alignment is {}, expected an integer", name, gguf_type_name(a->type));
    if (a->i <= 0 || a->u > kMaxAlignment || (a->u & (a->u - 1)))
      fail("{}: general.alignment {} is not a power of two between 1 and {}", name, a->i, kMaxAlignment);
    g.alignment = (uint32_t)a->u;
  }
  // A tensor info takes at least 8 (name length) + 4 (dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes.
  c.need_count(n_tensors, 32, "tensor count");
  g.tensors.reserve(std::min(n_tensors, kMaxReserve));
  for (uint64_t k = 0; k < n_tensors; k++) {
    GGUFTensorInfo ti;
    ti.name = std::string(c.str(fmt::format("tensor {} name", k)));
    if (ti.name.empty()) fail("{}: tensor {} has an empty name", name, k);
    std::string shown = printable(ti.name);
    std::string what = fmt::format("tensor '{}'", shown);
    uint32_t nd = c.read<uint32_t>(what);
    if (nd == 0 || nd > 4) fail("{}: tensor '{}' has {} dimensions (1 to 4 allowed)", name, shown, nd);
    uint64_t ne = 1;
    for (uint32_t d = 0; d < nd; d++) {
      int64_t dim = c.read<int64_t>(what);
      if (dim <= 0 || dim > kMaxDim) fail("{}: tensor '{}' has invalid dimension {} (1 to 2^40 allowed)", name, shown, dim);
      if (ne > kMaxElements / (uint64_t)dim) fail("{}: tensor '{}' has too many elements (more than 2^42)", name, shown);
      ne *= (uint64_t)dim;
      ti.shape.push_back(dim);
    }
    uint32_t type = c.read<uint32_t>(what);
    if (!dtype_known(type)) {
      const std::string tn = dtype_name_of(type);
      if (tn.rfind("type ", 0) == 0) fail("{}: tensor '{}' has unknown type {} (supported: {})", name, shown, type, supported_dtype_list());
      fail("{}: tensor '{}' has unsupported type {} (ggml type {}; supported: {})", name, shown, tn, type, supported_dtype_list());
    }
    ti.type = (DType)type;
    if (ti.shape[0] % dtype_block_elems(ti.type) != 0)
      fail("{}: tensor '{}' row of {} is not a multiple of the {} block size", name, shown, ti.shape[0], dtype_name(ti.type));
    ti.offset = c.read<uint64_t>(what);
    if (ti.offset % g.alignment != 0) fail("{}: tensor '{}' offset {} is not aligned to {}", name, shown, ti.offset, g.alignment);
    ti.n_elements = ne;
    ti.n_bytes = ne / dtype_block_elems(ti.type) * dtype_block_bytes(ti.type);
    if (g.tensor_index.count(ti.name)) fail("{}: duplicate tensor name '{}'", name, shown);
    g.tensor_index.emplace(ti.name, g.tensors.size());
    g.tensors.push_back(std::move(ti));
  }
  uint64_t data_off = (c.pos + g.alignment - 1) / g.alignment * g.alignment;
  g.data_offset = data_off;
  for (auto& ti : g.tensors) {
    if (data_off > size || ti.offset > size - data_off || ti.n_bytes > size - data_off - ti.offset)
      fail("{}: truncated GGUF file: tensor '{}' data ({} bytes at offset {}) extends past the end of the file ({} bytes)",
           name, printable(ti.name), ti.n_bytes, data_off + ti.offset, size);
    ti.data = data + data_off + ti.offset;
  }
  // Overlapping tensors would alias each other's weights: always corruption.
  std::vector<const GGUFTensorInfo*> by_off;
  by_off.reserve(g.tensors.size());
  for (auto& ti : g.tensors) by_off.push_back(&ti);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_off.size(); k++)
    if (by_off[k]->offset < by_off[k - 1]->offset + by_off[k - 1]->n_bytes)
      fail("{}: tensor '{}' data overlaps tensor '{}'", name, printable(by_off[k]->name), printable(by_off[k - 1]->name));
  return g;
}

GGUFFile gguf_open(const std::string& path) {
  auto mf = std::make_shared<MappedFile>(path);
  const uint8_t* d = mf->data;
  size_t n = mf->size;
  GGUFFile g = gguf_parse(d, n, mf, path);
  g.file_mapped = true;
  return g;
}

GGUFFile gguf_parse_owned(std::vector<uint8_t> bytes, const std::string& name) {
  auto image = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  return gguf_parse(image->data(), image->size(), image, name);
}

const GGUFValue* GGUFFile::find(std::string_view key) const {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

const GGUFTensorInfo* GGUFFile::find_tensor(std::string_view name) const {
  auto it = tensor_index.find(name);
  return it == tensor_index.end() ? nullptr : &tensors[it->second];
}

namespace {
const GGUFValue& must(const GGUFFile& g, std::string_view key) {
  const GGUFValue* v = g.find(key);
  if (!v) fail("model metadata is missing '{}'", printable(key));
  return *v;
}
}  // namespace

int64_t GGUFFile::get_int(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (!v.is_integer()) fail("model metadata '{}' is {}, expected an integer", printable(key), gguf_type_name(v.type));
  if (v.type == GGUFType::U64 && v.u > (uint64_t)std::numeric_limits<int64_t>::max())
    fail("model metadata '{}' value {} is too large", printable(key), v.u);
  return v.i;
}
int64_t GGUFFile::get_int(std::string_view key, int64_t def) const { return find(key) ? get_int(key) : def; }

double GGUFFile::get_float(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.is_float()) return v.f;
  if (v.is_integer()) return (double)v.i;
  fail("model metadata '{}' is {}, expected a number", printable(key), gguf_type_name(v.type));
}
double GGUFFile::get_float(std::string_view key, double def) const { return find(key) ? get_float(key) : def; }

bool GGUFFile::get_bool(std::string_view key, bool def) const {
  const GGUFValue* v = find(key);
  if (!v) return def;
  if (v->type != GGUFType::BOOL) fail("model metadata '{}' is {}, expected bool", printable(key), gguf_type_name(v->type));
  return v->u != 0;
}

std::string GGUFFile::get_string(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.type != GGUFType::STRING) fail("model metadata '{}' is {}, expected a string", printable(key), gguf_type_name(v.type));
  return std::string(v.str);
}
std::string GGUFFile::get_string(std::string_view key, std::string def) const { return find(key) ? get_string(key) : def; }

const std::vector<std::string_view>& GGUFFile::get_string_array(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.type != GGUFType::ARRAY || v.arr_type != GGUFType::STRING) fail("model metadata '{}' is not an array of strings", printable(key));
  return v.arr_strings;
}

uint64_t GGUFFile::array_size(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.type != GGUFType::ARRAY) fail("model metadata '{}' is not an array", printable(key));
  return v.arr_count;
}

std::vector<float> GGUFFile::get_float_array(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.type != GGUFType::ARRAY) fail("model metadata '{}' is not an array", printable(key));
  if (v.arr_type != GGUFType::F32 && v.arr_type != GGUFType::F64)
    fail("model metadata '{}' is an array of {}, expected floats", printable(key), gguf_type_name(v.arr_type));
  std::vector<float> out(v.arr_count);
  for (uint64_t k = 0; k < v.arr_count; k++) {
    if (v.arr_type == GGUFType::F32) {
      std::memcpy(&out[k], v.arr_data + 4 * k, 4);
    } else {
      double x;
      std::memcpy(&x, v.arr_data + 8 * k, 8);
      // Narrowing a finite double beyond float range is undefined behaviour.
      if (std::isfinite(x) && std::fabs(x) > (double)std::numeric_limits<float>::max())
        fail("model metadata '{}' element {} value {} is out of float range", printable(key), k, x);
      out[k] = (float)x;
    }
  }
  return out;
}

std::vector<int32_t> GGUFFile::get_int_array(std::string_view key) const {
  const GGUFValue& v = must(*this, key);
  if (v.type != GGUFType::ARRAY) fail("model metadata '{}' is not an array", printable(key));
  switch (v.arr_type) {
    case GGUFType::I8: case GGUFType::U8: case GGUFType::I16: case GGUFType::U16:
    case GGUFType::I32: case GGUFType::U32: case GGUFType::I64: case GGUFType::U64: break;
    default: fail("model metadata '{}' is an array of {}, expected integers", printable(key), gguf_type_name(v.arr_type));
  }
  std::vector<int32_t> out(v.arr_count);
  const uint8_t* p = v.arr_data;
  for (uint64_t k = 0; k < v.arr_count; k++) {
    // Wide values are range-checked: silently wrapping a token id or a size would be worse than failing.
    int64_t x = 0;
    switch (v.arr_type) {
      case GGUFType::I8: x = (int8_t)p[k]; break;
      case GGUFType::U8: x = p[k]; break;
      case GGUFType::I16: { int16_t y; std::memcpy(&y, p + 2 * k, 2); x = y; break; }
      case GGUFType::U16: { uint16_t y; std::memcpy(&y, p + 2 * k, 2); x = y; break; }
      case GGUFType::I32: { int32_t y; std::memcpy(&y, p + 4 * k, 4); x = y; break; }
      case GGUFType::U32: { uint32_t y; std::memcpy(&y, p + 4 * k, 4); x = y; break; }
      case GGUFType::I64: std::memcpy(&x, p + 8 * k, 8); break;
      default: {  // U64
        uint64_t y;
        std::memcpy(&y, p + 8 * k, 8);
        x = y > (uint64_t)INT32_MAX ? INT64_MAX : (int64_t)y;
        break;
      }
    }
    if (x < INT32_MIN || x > INT32_MAX)
      fail("model metadata '{}' element {} does not fit in a 32-bit integer", printable(key), k);
    out[k] = (int32_t)x;
  }
  return out;
}

// ---- writer ----

namespace {
template <typename T>
void append(std::vector<uint8_t>& b, T v) {
  const uint8_t* p = (const uint8_t*)&v;
  b.insert(b.end(), p, p + sizeof(T));
}
void append_str(std::vector<uint8_t>& b, const std::string& s) {
  append<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
}  // namespace

void GGUFWriter::put(const std::string& key, std::vector<uint8_t> bytes) {
  if (key.empty()) fail("GGUF metadata key must not be empty");
  for (auto& kv : kvs_)
    if (kv.key == key) {
      kv.bytes = std::move(bytes);
      return;
    }
  kvs_.push_back({key, std::move(bytes)});
}

#define FLOPS_GGUF_SCALAR(fn, T, tag)                 \
  void GGUFWriter::fn(const std::string& key, T v) { \
    std::vector<uint8_t> b;                           \
    append<uint32_t>(b, (uint32_t)GGUFType::tag);     \
    append<T>(b, v);                                  \
    put(key, std::move(b));                           \
  }
FLOPS_GGUF_SCALAR(set_u32, uint32_t, U32)
FLOPS_GGUF_SCALAR(set_i32, int32_t, I32)
FLOPS_GGUF_SCALAR(set_u64, uint64_t, U64)
FLOPS_GGUF_SCALAR(set_f32, float, F32)
FLOPS_GGUF_SCALAR(set_f64, double, F64)
#undef FLOPS_GGUF_SCALAR

void GGUFWriter::set_bool(const std::string& key, bool v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)GGUFType::BOOL);
  append<uint8_t>(b, v ? 1 : 0);
  put(key, std::move(b));
}

void GGUFWriter::set_string(const std::string& key, const std::string& v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)GGUFType::STRING);
  append_str(b, v);
  put(key, std::move(b));
}

void GGUFWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)GGUFType::ARRAY);
  append<uint32_t>(b, (uint32_t)GGUFType::STRING);
  append<uint64_t>(b, v.size());
  for (auto& s : v) append_str(b, s);
  put(key, std::move(b));
}

void GGUFWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)GGUFType::ARRAY);
  append<uint32_t>(b, (uint32_t)GGUFType::F32);
  append<uint64_t>(b, v.size());
  for (float x : v) append<float>(b, x);
  put(key, std::move(b));
}

void GGUFWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)GGUFType::ARRAY);
  append<uint32_t>(b, (uint32_t)GGUFType::I32);
  append<uint64_t>(b, v.size());
  for (int32_t x : v) append<int32_t>(b, x);
  put(key, std::move(b));
}

void GGUFWriter::set_value(const std::string& key, const GGUFValue& v) {
  std::vector<uint8_t> b;
  append<uint32_t>(b, (uint32_t)v.type);
  auto scalar = [&](GGUFType t, uint64_t u, double f, std::string_view str) {
    switch (t) {
      case GGUFType::U8: case GGUFType::I8: case GGUFType::BOOL: append<uint8_t>(b, (uint8_t)u); break;
      case GGUFType::U16: case GGUFType::I16: append<uint16_t>(b, (uint16_t)u); break;
      case GGUFType::U32: case GGUFType::I32: append<uint32_t>(b, (uint32_t)u); break;
      case GGUFType::U64: case GGUFType::I64: append<uint64_t>(b, u); break;
      case GGUFType::F32: append<float>(b, (float)f); break;
      case GGUFType::F64: append<double>(b, f); break;
      case GGUFType::STRING: append_str(b, std::string(str)); break;
      default: fail("metadata '{}': cannot copy a value of type {}", key, gguf_type_name(t));
    }
  };
  if (v.type != GGUFType::ARRAY) {
    scalar(v.type, v.u, v.f, v.str);
  } else {
    if (v.arr_type == GGUFType::ARRAY) fail("metadata '{}': arrays of arrays cannot be copied", key);
    append<uint32_t>(b, (uint32_t)v.arr_type);
    append<uint64_t>(b, v.arr_count);
    if (v.arr_type == GGUFType::STRING) {
      for (auto s : v.arr_strings) append_str(b, std::string(s));
    } else {
      b.insert(b.end(), v.arr_data, v.arr_data + v.arr_count * scalar_size(v.arr_type));
    }
  }
  put(key, std::move(b));
}

uint64_t GGUFWriter::check_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape) const {
  if (name.empty()) fail("GGUF tensor name must not be empty");
  if (shape.empty() || shape.size() > 4) fail("tensor '{}': {} dimensions (1 to 4 allowed)", name, shape.size());
  if (!dtype_known((uint32_t)type)) fail("tensor '{}': unsupported type {}", name, dtype_name_of((uint32_t)type));
  uint64_t ne = 1;
  for (auto d : shape) {
    if (d <= 0 || d > kMaxDim) fail("tensor '{}': dimension {} must be between 1 and 2^40", name, d);
    if (ne > kMaxElements / (uint64_t)d) fail("tensor '{}': too many elements (more than 2^42)", name);
    ne *= (uint64_t)d;
  }
  for (auto& t : tensors_)
    if (t.name == name) fail("tensor '{}' added twice", name);
  return dtype_row_bytes(type, shape[0]) * (ne / (uint64_t)shape[0]);
}

void GGUFWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape, const void* data, size_t bytes) {
  const uint64_t expect = check_tensor(name, type, shape);
  if (bytes != expect) fail("tensor '{}': {} bytes given, {} expected for its shape and type", name, bytes, expect);
  const uint8_t* p = (const uint8_t*)data;
  tensors_.push_back({name, type, std::move(shape), std::vector<uint8_t>(p, p + bytes), bytes, false});
}

void GGUFWriter::add_tensor_info(const std::string& name, DType type, std::vector<int64_t> shape) {
  const uint64_t bytes = check_tensor(name, type, shape);
  tensors_.push_back({name, type, std::move(shape), {}, bytes, true});
}

std::vector<uint8_t> GGUFWriter::header(std::vector<uint64_t>& offsets, uint64_t& data_bytes) const {
  if (alignment == 0 || alignment > kMaxAlignment || (alignment & (alignment - 1)))
    fail("GGUF writer alignment {} is not a power of two between 1 and 1048576", alignment);
  std::vector<uint8_t> b;
  b.insert(b.end(), {'G', 'G', 'U', 'F'});
  append<uint32_t>(b, 3);
  append<uint64_t>(b, tensors_.size());
  bool has_align = false;
  for (auto& kv : kvs_) has_align |= kv.key == "general.alignment";
  append<uint64_t>(b, kvs_.size() + (alignment != 32 && !has_align ? 1 : 0));
  for (auto& kv : kvs_) {
    append_str(b, kv.key);
    b.insert(b.end(), kv.bytes.begin(), kv.bytes.end());
  }
  if (alignment != 32 && !has_align) {
    append_str(b, "general.alignment");
    append<uint32_t>(b, (uint32_t)GGUFType::U32);
    append<uint32_t>(b, alignment);
  }
  uint64_t off = 0;
  offsets.clear();
  for (auto& t : tensors_) {
    append_str(b, t.name);
    append<uint32_t>(b, (uint32_t)t.shape.size());
    for (auto d : t.shape) append<uint64_t>(b, (uint64_t)d);
    append<uint32_t>(b, (uint32_t)t.type);
    append<uint64_t>(b, off);
    offsets.push_back(off);
    off += (t.bytes + alignment - 1) / alignment * alignment;
  }
  b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
  data_bytes = off;
  return b;
}

std::vector<uint8_t> GGUFWriter::serialize() const {
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  std::vector<uint8_t> b = header(offsets, data_bytes);
  const size_t base = b.size();
  b.resize(base + data_bytes, 0);
  for (size_t i = 0; i < tensors_.size(); i++) {
    if (tensors_[i].deferred) fail("tensor '{}' has no data: write it with write_streaming", tensors_[i].name);
    std::memcpy(b.data() + base + offsets[i], tensors_[i].data.data(), tensors_[i].data.size());
  }
  return b;
}

void GGUFWriter::write_streaming(const std::string& path, const std::function<void(size_t, uint8_t*)>& fill) const {
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  const std::vector<uint8_t> head = header(offsets, data_bytes);
  AtomicFileWriter out(path);
  out.write(head.data(), head.size());
  std::vector<uint8_t> buf;
  const std::vector<uint8_t> pad(alignment, 0);
  for (size_t i = 0; i < tensors_.size(); i++) {
    const Tensor& t = tensors_[i];
    const uint8_t* p = t.data.data();
    if (t.deferred) {
      buf.assign(t.bytes, 0);
      fill(i, buf.data());
      p = buf.data();
    }
    out.write(p, t.bytes);
    const uint64_t end = offsets[i] + t.bytes;
    const uint64_t next = i + 1 < tensors_.size() ? offsets[i + 1] : data_bytes;
    out.write(pad.data(), next - end);
  }
  out.commit();
}

void GGUFWriter::write(const std::string& path) const {
  std::vector<uint8_t> b = serialize();
  write_file_atomic(path, b.data(), b.size());
}

}  // namespace flops
