#include "cost/receipt.h"

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "cost/tables.h"
#include "cost/units.h"

namespace flops::cost {

const char* const kAssumedWattsPerCoreSource =
    "about a server CPU's TDP over its cores, e.g. 280 W / 28 cores; idle and uncore power excluded";

namespace {

bool read_number(const std::filesystem::path& p, double* out) {
  std::ifstream f(p);
  if (!f) return false;
  unsigned long long v = 0;
  if (!(f >> v)) return false;
  *out = (double)v;
  return true;
}

}  // namespace

// Top-level package domains only ("intel-rapl:0", not "intel-rapl:0:0"): the
// subdomains (core, uncore, dram) are parts of the package and would count twice.
void read_rapl(EnergyReading& r, const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec) return;
  std::vector<std::pair<std::string, fs::path>> doms;
  for (const auto& d : it) {
    std::string n = d.path().filename().string();
    if (n.rfind("intel-rapl:", 0) != 0 || n.find(':', 11) != std::string::npos) continue;
    doms.emplace_back(n, d.path());
  }
  std::sort(doms.begin(), doms.end());
  for (auto& [n, p] : doms) {
    double uj = 0, range = 0;
    if (!read_number(p / "energy_uj", &uj)) continue;  // usually root-only since 2020
    if (!read_number(p / "max_energy_range_uj", &range)) range = 0;
    std::string label = n;
    std::ifstream nf(p / "name");
    if (nf) std::getline(nf, label);
    r.rapl_names.push_back(label);
    r.rapl_j.push_back(uj * 1e-6);
    r.rapl_range_j.push_back(range * 1e-6);
  }
}

namespace {

// NVML is loaded at run time so that flops neither needs the CUDA toolkit to
// build nor an NVIDIA driver to run.
void read_nvml(EnergyReading& r) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return;
  using init_t = int (*)();
  using count_t = int (*)(unsigned int*);
  using handle_t = int (*)(unsigned int, void**);
  using energy_t = int (*)(void*, unsigned long long*);
  auto init = (init_t)dlsym(lib, "nvmlInit_v2");
  auto shutdown = (init_t)dlsym(lib, "nvmlShutdown");
  auto count = (count_t)dlsym(lib, "nvmlDeviceGetCount_v2");
  auto handle = (handle_t)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
  auto energy = (energy_t)dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");  // mJ, Volta and later
  if (init && shutdown && count && handle && energy && init() == 0) {
    unsigned int n = 0;
    if (count(&n) == 0)
      for (unsigned int i = 0; i < n; ++i) {
        void* dev = nullptr;
        unsigned long long mj = 0;
        if (handle(i, &dev) == 0 && energy(dev, &mj) == 0) r.gpu_j.push_back((double)mj * 1e-3);
      }
    shutdown();
  }
  dlclose(lib);
}

double steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

}  // namespace

EnergyReading read_energy() {
  EnergyReading r;
  read_rapl(r);
  read_nvml(r);
  return r;
}

MeterReading read_meter() {
  MeterReading m;
  m.energy = read_energy();
  // Counters last, so the energy read's own cost is not billed as work.
  m.flops = counter::read();
  m.cpu_s = cpu_s();
  m.wall_s = steady_s();
  return m;
}

Receipt make_receipt(const MeterReading& a, const MeterReading& b, const ReceiptOptions& opts) {
  Receipt r;
  r.label = opts.label;
  r.flops = {b.flops.matmul - a.flops.matmul, b.flops.attention - a.flops.attention, b.flops.other - a.flops.other};
  r.wall_s = b.wall_s - a.wall_s;
  r.cpu_s = b.cpu_s - a.cpu_s;
  r.achieved_flops = r.wall_s > 0 ? (double)r.flops.total() / r.wall_s : 0;
  r.peak_flops = opts.peak_flops;
  r.peak_source = opts.peak_source;
  r.threads = opts.threads;
  r.utilization = r.peak_flops > 0 ? r.achieved_flops / r.peak_flops : 0;

  // RAPL counts only when the same domains were readable at both ends.
  bool rapl = !a.energy.rapl_j.empty() && a.energy.rapl_j.size() == b.energy.rapl_j.size();
  if (rapl) {
    for (size_t i = 0; i < a.energy.rapl_j.size(); ++i) {
      double d = b.energy.rapl_j[i] - a.energy.rapl_j[i];
      if (d < 0) d += a.energy.rapl_range_j[i];  // the counter wrapped once
      if (d < 0) d = 0;
      r.cpu_energy_j += d;
    }
  } else {
    r.cpu_energy_j = r.cpu_s * opts.watts_per_core;
  }
  bool gpu = !a.energy.gpu_j.empty() && a.energy.gpu_j.size() == b.energy.gpu_j.size();
  if (gpu)
    for (size_t i = 0; i < a.energy.gpu_j.size(); ++i) r.gpu_energy_j += std::max(0.0, b.energy.gpu_j[i] - a.energy.gpu_j[i]);
  r.energy_j = r.cpu_energy_j + r.gpu_energy_j;
  r.energy_measured = rapl;
  std::string cpu_part =
      rapl ? fmt::format("measured (RAPL {} package energy, whole CPU package: includes other processes)",
                         a.energy.rapl_j.size() == 1 ? "one" : std::to_string(a.energy.rapl_j.size()))
           : fmt::format("modeled (assumption: {} CPU-seconds x {} per core, {}; no RAPL counter readable)",
                         format_number(r.cpu_s), format_power(opts.watts_per_core), kAssumedWattsPerCoreSource);
  r.energy_method = cpu_part;
  if (gpu) r.energy_method += fmt::format(" + GPU measured (NVML, {} device{})", a.energy.gpu_j.size(),
                                          a.energy.gpu_j.size() == 1 ? "" : "s");

  GridRegion g = resolve_grid(opts.carbon.empty() ? "us" : opts.carbon, "carbon intensity");
  r.carbon_g_per_kwh = g.g_per_kwh;
  r.carbon_region = g.key == "custom" ? std::string("configured") : g.name;
  r.carbon_source = g.key == "custom" ? std::string("configured") : g.source;
  r.co2e_g = r.energy_j / 3.6e6 * r.carbon_g_per_kwh;
  r.brain_s = r.energy_j / kBrainWatts;
  return r;
}

Receipt finish(const Meter& m, ReceiptOptions opts) {
  MeterReading end = read_meter();
  if (opts.threads <= 0) opts.threads = get_threads();
  std::string env_note;
  if (opts.carbon.empty()) {
    const char* env = std::getenv("FLOPS_CARBON");
    opts.carbon = env && *env ? env : "us";
    // A mistyped environment variable must not throw away the results of the run it ends.
    try {
      resolve_grid(opts.carbon);
    } catch (const Error&) {
      env_note = fmt::format("; FLOPS_CARBON '{}' not understood, used 'us'", opts.carbon);
      opts.carbon = "us";
    }
  }
  if (!(opts.peak_flops > 0)) {
    Calibration c = machine_peak(opts.threads);
    opts.peak_flops = c.sgemm_flops;
    opts.peak_source = c.from_cache ? fmt::format("sgemm, {} threads, calibrated {}", c.threads, c.measured_at)
                                    : fmt::format("sgemm, {} threads, measured just now (no calibration cache)", c.threads);
  }
  Receipt r = make_receipt(m.start, end, opts);
  r.carbon_region += env_note;
  return r;
}

nlohmann::json to_json(const Receipt& r) {
  return {
      {"label", r.label},
      {"flops", {{"total", r.flops.total()}, {"matmul", r.flops.matmul}, {"attention", r.flops.attention},
                 {"other", r.flops.other}, {"source", "counted by the engine"}}},
      {"wall_s", r.wall_s},
      {"cpu_s", r.cpu_s},
      {"achieved_flops_per_s", r.achieved_flops},
      {"peak_flops_per_s", r.peak_flops},
      {"peak_source", r.peak_source},
      {"threads", r.threads},
      {"utilization", r.utilization},
      {"energy_j", r.energy_j},
      {"energy_measured", r.energy_measured},
      {"energy_method", r.energy_method},
      {"cpu_energy_j", r.cpu_energy_j},
      {"gpu_energy_j", r.gpu_energy_j},
      {"carbon_g_per_kwh", r.carbon_g_per_kwh},
      {"carbon_region", r.carbon_region},
      {"carbon_source", r.carbon_source},
      {"co2e_g", r.co2e_g},
      {"brain_s", r.brain_s},
  };
}

void print_receipt(std::FILE* f, const Receipt& r) {
  std::fprintf(f, "--- receipt%s ---\n", r.label.empty() ? "" : (": " + r.label).c_str());
  std::fprintf(f, "  FLOPs executed  %s (matmul %s, attention %s, other %s; counted by the engine)\n",
               format_flops((double)r.flops.total()).c_str(), format_number((double)r.flops.matmul).c_str(),
               format_number((double)r.flops.attention).c_str(), format_number((double)r.flops.other).c_str());
  std::fprintf(f, "  wall time       %s (CPU time %s)\n", format_time(r.wall_s).c_str(), format_time(r.cpu_s).c_str());
  if (r.peak_flops > 0) {
    std::fprintf(f, "  achieved        %s = %s%% of this machine's peak %s (%s)\n",
                 format_flop_rate(r.achieved_flops).c_str(), format_number(100 * r.utilization).c_str(),
                 format_flop_rate(r.peak_flops).c_str(),
                 r.peak_source.c_str());
    // A run cannot beat sgemm by much; more than 100% means the peak was measured while the
    // machine was busy.
    if (r.utilization > 1.0)
      std::fprintf(f, "  note            above 100%%: the peak was measured under load; run `flops calibrate` on a quiet machine\n");
  } else
    std::fprintf(f, "  achieved        %s\n", format_flop_rate(r.achieved_flops).c_str());
  std::fprintf(f, "  energy          %s, %s\n", format_energy(r.energy_j).c_str(), r.energy_method.c_str());
  std::fprintf(f, "  CO2e            %s at %s gCO2e/kWh (%s; set FLOPS_CARBON to a region or g/kWh)\n",
               format_mass(r.co2e_g).c_str(), format_number(r.carbon_g_per_kwh).c_str(), r.carbon_region.c_str());
  std::fprintf(f, "  human brain     the same energy runs a 20 W brain for %s\n", format_time(r.brain_s).c_str());
}

}  // namespace flops::cost
