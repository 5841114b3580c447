#pragma once
// The receipt every model-running command prints at the end: FLOPs the engine
// actually executed (from the global counter, not a formula), wall time,
// achieved FLOP/s and its share of this machine's sgemm peak, energy (measured
// from RAPL/NVML when readable, otherwise modeled and labelled so), CO2e and
// the human-brain equivalent.
//
//   flops::cost::Meter meter;              // at the start of the work
//   ... run the model ...
//   auto r = flops::cost::finish(meter);   // or finish(meter, opts)
//   if (!quiet) flops::cost::print_receipt(stderr, r);
//   json["receipt"] = flops::cost::to_json(r);
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/flop_counter.h"

namespace flops::cost {

// The modeled-energy assumption, printed with every modeled figure.
inline constexpr double kAssumedWattsPerCore = 10.0;
extern const char* const kAssumedWattsPerCoreSource;

// Cumulative energy counters at one instant.
struct EnergyReading {
  std::vector<std::string> rapl_names;  // "package-0" ...
  std::vector<double> rapl_j;           // per top-level RAPL package domain
  std::vector<double> rapl_range_j;     // where each counter wraps to 0
  std::vector<double> gpu_j;            // per NVIDIA GPU (NVML total energy)
};
// Linux powercap RAPL (/sys/class/powercap/intel-rapl:N, also used by AMD) and,
// when libnvidia-ml.so.1 can be loaded, NVML. Unreadable counters are absent.
EnergyReading read_energy();
// The RAPL part alone, from a powercap directory (tests point it at a fake tree).
void read_rapl(EnergyReading& r, const std::string& powercap_root = "/sys/class/powercap");

struct MeterReading {
  counter::Totals flops;
  double wall_s = 0;  // steady clock
  double cpu_s = 0;   // this process's user + system time, all threads
  EnergyReading energy;
};
MeterReading read_meter();

// Starts at construction.
struct Meter {
  MeterReading start = read_meter();
};

struct ReceiptOptions {
  std::string label;         // the command: "generate", "perplexity", ...
  std::string carbon;        // region key or "429 g/kWh"; "" = $FLOPS_CARBON or "us"
  double watts_per_core = kAssumedWattsPerCore;
  double peak_flops = 0;     // this machine's peak; 0 = calibration cache (measured now when absent)
  std::string peak_source;   // where peak_flops came from, when given
  int threads = 0;           // threads the work used; 0 = flops::get_threads()
};

struct Receipt {
  std::string label;
  counter::Totals flops;     // executed, by kind
  double wall_s = 0;
  double cpu_s = 0;
  double achieved_flops = 0; // total / wall
  double peak_flops = 0;
  std::string peak_source;
  int threads = 0;
  double utilization = 0;    // achieved / peak
  double energy_j = 0;
  double cpu_energy_j = 0, gpu_energy_j = 0;
  bool energy_measured = false;  // true only when every part of energy_j was read from a counter
  std::string energy_method;     // "measured (...)" or "modeled (assumption ...)"
  double carbon_g_per_kwh = 0;
  std::string carbon_region;     // "United States"
  std::string carbon_source;     // where the intensity figure comes from
  double co2e_g = 0;
  double brain_s = 0;            // seconds a 20 W brain runs on energy_j
};

// Pure arithmetic from two readings (tests use fake ones). `opts.peak_flops`
// must be resolved (> 0) for a utilization; 0 leaves it 0.
Receipt make_receipt(const MeterReading& start, const MeterReading& end, const ReceiptOptions& opts);
// Reads the meter now, resolves the peak (cache or a short measurement) and the carbon intensity.
Receipt finish(const Meter& m, ReceiptOptions opts = {});

nlohmann::json to_json(const Receipt& r);
void print_receipt(std::FILE* f, const Receipt& r);

}  // namespace flops::cost
