#pragma once
// Reference figures the estimates rest on, each with where it comes from:
// accelerators (peak FLOP/s by precision, TDP), grid carbon intensity by region,
// and the constants behind the everyday equivalents.
#include <string>
#include <vector>

namespace flops::cost {

struct Hardware {
  std::string key;   // what --hardware takes: "v100-sxm2"
  std::string name;  // "NVIDIA V100 SXM2"
  double fp32 = 0;   // dense peak FLOP/s per device; 0 = not offered
  double fp16 = 0;   // dense (no structured sparsity) tensor-core peak
  double bf16 = 0;
  double tdp_w = 0;  // board/chip power limit; 0 = unknown
  std::string source;
  bool measured = false;  // "this machine": fp32 from the sgemm calibration
};

// The built-in table without "this machine" (which needs a measurement).
const std::vector<Hardware>& hardware_table();
// Looks a name up (case-insensitive; "v100", "h100" etc. resolve to the SXM
// parts) and fails naming --hardware and listing the keys when unknown.
// "this-machine" (also "cpu", "local") is built from `this_machine_flops`;
// when that is 0 it fails because no measurement is available.
Hardware find_hardware(const std::string& name, double this_machine_flops = 0, int threads = 0);
// Peak FLOP/s for a precision ("fp32", "fp16", "bf16"); fails when the device has none.
double peak_for(const Hardware& h, const std::string& precision);

struct GridRegion {
  std::string key;  // "us", "fr", "patterson-gpt3"
  std::string name;
  double g_per_kwh = 0;  // lifecycle gCO2e per kWh consumed
  std::string source;
};
const std::vector<GridRegion>& grid_table();
// A region key or a number with unit ("429 g/kWh", "0.429 kg/kWh"; a bare number is g/kWh).
// Fails naming `field` when neither.
GridRegion resolve_grid(const std::string& text, const std::string& field = "--carbon");

// Everyday equivalents. Each constant is what the README and the output cite.
inline constexpr double kBrainWatts = 20.0;              // the human brain's usual power estimate
inline constexpr double kSecondsPerYear = 31557600.0;    // Julian year, 365.25 days
inline constexpr double kHomeKwhPerYear = 10715.0;       // EIA FAQ 97: average US residential customer, 2020
inline constexpr double kCarGramsPerKm = 400.0 / 1.609344;  // EPA-420-F-23-014: ~400 gCO2 per mile
extern const char* const kBrainSource;
extern const char* const kHomeSource;
extern const char* const kCarSource;

}  // namespace flops::cost
