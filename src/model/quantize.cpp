// quantize_file: reads the input (memory-mapped), converts each tensor by its plan, and
// streams the output to a temporary file that is renamed at the end.
#include "model/quantize.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "core/threads.h"

namespace flops {

namespace {

// Converts the rows of one tensor: each row is turned into floats (unless it already is F32)
// and quantized. Rows are independent, so they run in parallel.
void convert_tensor(const GGUFTensorInfo& t, DType to, uint8_t* dst) {
  const int64_t cols = t.shape[0], rows = (int64_t)(t.n_elements / (uint64_t)cols);
  const size_t in_stride = dtype_row_bytes(t.type, cols), out_stride = dtype_row_bytes(to, cols);
  const int nt = rows * cols >= (1 << 16) ? get_threads() : 1;
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> buf(t.type == DType::F32 ? 0 : (size_t)cols);
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < rows; r++) {
      const uint8_t* src = t.data + r * in_stride;
      const float* x = (const float*)src;
      if (t.type != DType::F32) {
        dequantize_row(t.type, src, buf.data(), cols);
        x = buf.data();
      }
      quantize_row(to, x, dst + r * out_stride, cols);
    }
  }
}

}  // namespace

QuantizeResult quantize_file(const std::string& in_path, const std::string& out_path, const QuantMix& mix,
                             const QuantizeOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const GGUFFile in = gguf_open(in_path);
  QuantizeResult r;
  r.mix = mix;
  r.tensors = plan_quantization(in, mix, o);
  r.file_bytes_in = in.size;
  for (const TensorPlan& p : r.tensors) {
    r.tensor_bytes_in += p.bytes_in;
    r.tensor_bytes_out += p.bytes_out;
    r.n_elements += p.n_elements;
  }

  GGUFWriter w;
  w.alignment = in.alignment;
  for (const std::string& key : in.kv_order)
    if (key != "general.file_type" && key != "general.quantization_version") w.set_value(key, in.kv.at(key));
  w.set_u32("general.quantization_version", 2);
  w.set_u32("general.file_type", mix.file_type);
  for (const TensorPlan& p : r.tensors) w.add_tensor_info(p.name, p.to, p.shape);

  int64_t done = 0;
  w.write_streaming(out_path, [&](size_t i, uint8_t* dst) {
    const GGUFTensorInfo& t = in.tensors[i];
    const TensorPlan& p = r.tensors[i];
    if (p.to == t.type)
      std::memcpy(dst, t.data, t.n_bytes);
    else
      convert_tensor(t, p.to, dst);
    done += (int64_t)p.n_elements;
    if (o.progress) o.progress(done, (int64_t)r.n_elements);
  });
  r.file_bytes_out = gguf_open(out_path).size;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace flops
