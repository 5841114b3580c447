#include "cost/tables.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"
#include "cost/units.h"

namespace flops::cost {

const char* const kBrainSource = "20 W: the usual estimate of the adult human brain's power (about 20% of ~100 W basal metabolism)";
const char* const kHomeSource =
    "10,715 kWh per home per year: EIA FAQ 'How much electricity does an American home use?' (2020 average per US "
    "residential customer)";
const char* const kCarSource =
    "400 gCO2 per mile (249 g/km): EPA-420-F-23-014 'Tailpipe Greenhouse Gas Emissions from a Typical Passenger "
    "Vehicle' (2023)";

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}
std::string canon(std::string s) {
  s = lower(s);
  std::replace(s.begin(), s.end(), '_', '-');
  std::replace(s.begin(), s.end(), ' ', '-');
  return s;
}
}  // namespace

const std::vector<Hardware>& hardware_table() {
  // Tensor-core figures are the dense ones: datasheets from Ampere on print
  // peak "with sparsity", twice what a dense matmul can reach.
  static const std::vector<Hardware> t = {
      {"v100-pcie", "NVIDIA V100 PCIe", 14e12, 112e12, 0, 250,
       "NVIDIA Tesla V100 datasheet (2018): 14 TFLOP/s FP32, 112 TFLOP/s FP16 tensor, 250 W; no BF16"},
      {"v100-sxm2", "NVIDIA V100 SXM2", 15.7e12, 125e12, 0, 300,
       "NVIDIA Tesla V100 datasheet (2018): 15.7 TFLOP/s FP32, 125 TFLOP/s FP16 tensor, 300 W; no BF16"},
      {"a100", "NVIDIA A100 SXM4", 19.5e12, 312e12, 312e12, 400,
       "NVIDIA A100 datasheet (2021): 19.5 TFLOP/s FP32, 312 TFLOP/s FP16/BF16 tensor dense (624 with sparsity), "
       "400 W (SXM4)"},
      {"h100-sxm", "NVIDIA H100 SXM5", 67e12, 989e12, 989e12, 700,
       "NVIDIA H100 datasheet (2023): 67 TFLOP/s FP32, 1,979 TFLOP/s FP16/BF16 tensor with sparsity = 989 dense, "
       "up to 700 W"},
      {"h200", "NVIDIA H200 SXM", 67e12, 989e12, 989e12, 700,
       "NVIDIA H200 datasheet (2024): 67 TFLOP/s FP32, 1,979 TFLOP/s FP16/BF16 tensor with sparsity = 989 dense, "
       "up to 700 W"},
      {"tpu-v4", "Google TPU v4", 0, 0, 275e12, 192,
       "Google Cloud TPU v4 documentation and Jouppi et al., ISCA 2023: 275 TFLOP/s BF16 per chip, 192 W maximum; "
       "no FP16/FP32 matrix peak"},
  };
  return t;
}

Hardware find_hardware(const std::string& name, double this_machine_flops, int threads) {
  std::string k = canon(name);
  if (k == "this-machine" || k == "this" || k == "cpu" || k == "local") {
    if (!(this_machine_flops > 0))
      fail("invalid --hardware 'this-machine': no sgemm measurement available (run `flops calibrate`)");
    Hardware h;
    h.key = "this-machine";
    h.name = fmt::format("this machine ({} threads)", threads);
    // flops computes in FP32 whatever the weight type, so every precision runs at the sgemm rate.
    h.fp32 = h.fp16 = h.bf16 = this_machine_flops;
    h.tdp_w = 0;
    h.source = "measured: OpenBLAS sgemm FLOP/s on this machine (flops calibrate)";
    h.measured = true;
    return h;
  }
  static const std::pair<const char*, const char*> aliases[] = {
      {"v100", "v100-sxm2"}, {"v100-sxm", "v100-sxm2"}, {"a100-sxm", "a100"}, {"a100-sxm4", "a100"},
      {"h100", "h100-sxm"},  {"h100-sxm5", "h100-sxm"}, {"h200-sxm", "h200"}, {"tpuv4", "tpu-v4"},
      {"tpu4", "tpu-v4"}};
  for (auto& [a, b] : aliases)
    if (k == a) k = b;
  for (const Hardware& h : hardware_table())
    if (h.key == k) return h;
  std::string keys;
  for (const Hardware& h : hardware_table()) keys += h.key + ", ";
  fail("invalid --hardware: unknown hardware '{}' (known: {}this-machine)", name, keys);
}

double peak_for(const Hardware& h, const std::string& precision) {
  std::string p = lower(precision);
  double v = p == "fp32" ? h.fp32 : p == "fp16" ? h.fp16 : p == "bf16" ? h.bf16 : -1;
  if (v < 0) fail("invalid --precision: '{}' (expected fp32, fp16 or bf16)", precision);
  if (v == 0) fail("invalid --precision: {} has no {} peak in the table (see its source: {})", h.name, p, h.source);
  return v;
}

const std::vector<GridRegion>& grid_table() {
  static const char* em =
      "Electricity Maps 2022 yearly average, lifecycle gCO2eq/kWh (as published in thegreenwebfoundation/co2.js "
      "data/output/electricity-maps/yearly_2022.js)";
  static const std::vector<GridRegion> t = {
      {"patterson-gpt3", "GPT-3's datacenter per Patterson et al.", 429,
       "Patterson et al. 2021, 'Carbon Emissions and Large Neural Network Training' (arXiv:2104.10350): "
       "0.429 kgCO2e/kWh for GPT-3"},
      {"us", "United States", 434, em},
      {"us-ca", "California (CAISO)", 262, em},
      {"ca", "Canada", 130, em},
      {"ca-qc", "Quebec", 28, em},
      {"br", "Brazil", 92, em},
      {"gb", "Great Britain", 235, em},
      {"ie", "Ireland", 405, em},
      {"fr", "France", 91, em},
      {"de", "Germany", 475, em},
      {"nl", "Netherlands", 347, em},
      {"pl", "Poland", 876, em},
      {"se", "Sweden", 26, em},
      {"no", "Norway", 38, em},
      {"cn", "China", 539, em},
      {"in", "India", 592, em},
      {"jp", "Japan", 496, em},
      {"sg", "Singapore", 491, em},
      {"au", "Australia", 525, em},
  };
  return t;
}

GridRegion resolve_grid(const std::string& text, const std::string& field) {
  std::string k = canon(text);
  for (const GridRegion& r : grid_table())
    if (r.key == k) return r;
  if (!text.empty() && (std::isdigit((unsigned char)text[0]) || text[0] == '.')) {
    GridRegion r;
    r.g_per_kwh = parse_quantity(text, Dim::Intensity, field);
    if (!(r.g_per_kwh >= 0)) fail("invalid {}: '{}' must not be negative", field, text);
    r.key = "custom";
    r.name = fmt::format("{} g/kWh", format_number(r.g_per_kwh));
    r.source = "given on the command line";
    return r;
  }
  std::string keys;
  for (const GridRegion& r : grid_table()) keys += (keys.empty() ? "" : ", ") + r.key;
  fail("invalid {}: unknown region '{}' (known: {}; or a number like \"429 g/kWh\")", field, text, keys);
}

}  // namespace flops::cost
