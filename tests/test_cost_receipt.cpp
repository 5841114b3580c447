// Receipts: arithmetic from fake meter readings (RAPL wraparound, NVML, the
// modeled fallback that must never be called measured), a real forward pass
// whose counted FLOPs match the estimate's formula, and the calibration cache.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/mmap_file.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "cost/estimate.h"
#include "cost/receipt.h"
#include "model/forward.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;
using namespace flops::cost;

namespace {

MeterReading reading(uint64_t mm, uint64_t at, uint64_t other, double wall, double cpu) {
  MeterReading r;
  r.flops = {mm, at, other};
  r.wall_s = wall;
  r.cpu_s = cpu;
  return r;
}

std::string printed(const Receipt& r) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_receipt(f, r);
  std::fclose(f);
  std::string s(buf, len);
  free(buf);
  return s;
}

// Points the calibration cache at a fresh directory for one test.
struct CacheDir {
  std::string dir, old;
  bool had = false;
  CacheDir() {
    dir = (std::filesystem::path(test::temp_dir()) / "xdg_cache").string();
    std::filesystem::remove_all(dir);
    if (const char* o = std::getenv("XDG_CACHE_HOME")) {
      had = true;
      old = o;
    }
    setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~CacheDir() {
    if (had)
      setenv("XDG_CACHE_HOME", old.c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

TEST(CostReceipt, ArithmeticFromAFakeMeterIsModeledWithoutCounters) {
  MeterReading a = reading(1'000'000'000, 200'000'000, 100'000'000, 10.0, 5.0);
  MeterReading b = reading(3'000'000'000, 400'000'000, 200'000'000, 12.0, 9.0);
  ReceiptOptions o;
  o.label = "test";
  o.peak_flops = 23e9;
  o.peak_source = "given";
  o.carbon = "fr";
  Receipt r = make_receipt(a, b, o);
  EXPECT_EQ(r.flops.matmul, 2'000'000'000u);
  EXPECT_EQ(r.flops.attention, 200'000'000u);
  EXPECT_EQ(r.flops.other, 100'000'000u);
  EXPECT_DOUBLE_EQ(r.wall_s, 2.0);
  EXPECT_DOUBLE_EQ(r.cpu_s, 4.0);
  EXPECT_DOUBLE_EQ(r.achieved_flops, 2.3e9 / 2.0);
  EXPECT_DOUBLE_EQ(r.utilization, 1.15e9 / 23e9);
  // No counters in either reading: 4 CPU-seconds x 10 W per core.
  EXPECT_FALSE(r.energy_measured);
  EXPECT_DOUBLE_EQ(r.energy_j, 40.0);
  EXPECT_EQ(r.energy_method.rfind("modeled (assumption", 0), 0u) << r.energy_method;
  EXPECT_EQ(r.energy_method.find("measured"), std::string::npos) << r.energy_method;
  EXPECT_DOUBLE_EQ(r.carbon_g_per_kwh, 91);
  EXPECT_DOUBLE_EQ(r.co2e_g, 40.0 / 3.6e6 * 91);
  EXPECT_DOUBLE_EQ(r.brain_s, 2.0);  // 40 J at 20 W
  std::string out = printed(r);
  EXPECT_NE(out.find("modeled"), std::string::npos) << out;
  EXPECT_EQ(out.find("measured ("), std::string::npos) << out;
  EXPECT_NE(out.find("5.00% of this machine's peak"), std::string::npos) << out;
  EXPECT_EQ(out.find("flops calibrate"), std::string::npos) << out;
  // A stale peak measured under load: the receipt says so instead of only printing 120%.
  o.peak_flops = 1.15e9 / 1.2;
  std::string stale = printed(make_receipt(a, b, o));
  EXPECT_NE(stale.find("120% of this machine's peak"), std::string::npos) << stale;
  EXPECT_NE(stale.find("run `flops calibrate` on a quiet machine"), std::string::npos) << stale;
  nlohmann::json j = to_json(r);
  EXPECT_EQ(j["flops"]["total"], 2'300'000'000u);
  EXPECT_EQ(j["energy_measured"], false);
  EXPECT_DOUBLE_EQ(j["energy_j"].get<double>(), 40.0);
}

TEST(CostReceipt, WattsPerCoreIsTheStatedAssumption) {
  ReceiptOptions o;
  o.watts_per_core = 7.5;
  Receipt r = make_receipt(reading(0, 0, 0, 0, 0), reading(0, 0, 0, 1, 2), o);
  EXPECT_DOUBLE_EQ(r.energy_j, 15.0);
  EXPECT_NE(r.energy_method.find("7.50 W per core"), std::string::npos) << r.energy_method;
  EXPECT_DOUBLE_EQ(r.utilization, 0);  // no peak given: no utilization invented
}

TEST(CostReceipt, RaplIsMeasuredAndWrapsAround) {
  MeterReading a = reading(0, 0, 0, 0, 0), b = reading(0, 0, 0, 1, 3);
  a.energy.rapl_names = b.energy.rapl_names = {"package-0", "package-1"};
  a.energy.rapl_range_j = b.energy.rapl_range_j = {262143.328850, 262143.328850};
  a.energy.rapl_j = {100.0, 262140.0};
  b.energy.rapl_j = {130.0, 6.671150};  // the second counter wrapped: 10 J
  Receipt r = make_receipt(a, b, {});
  EXPECT_TRUE(r.energy_measured);
  EXPECT_NEAR(r.energy_j, 30.0 + 10.0, 1e-6);
  EXPECT_EQ(r.energy_method.rfind("measured (RAPL", 0), 0u) << r.energy_method;
  // A counter readable at one end only is not a measurement.
  b.energy.rapl_j.clear();
  Receipt m = make_receipt(a, b, {});
  EXPECT_FALSE(m.energy_measured);
  EXPECT_DOUBLE_EQ(m.energy_j, 30.0);  // 3 CPU-seconds x 10 W
}

TEST(CostReceipt, GpuMeasuredPlusModeledCpuIsNotMeasured) {
  MeterReading a = reading(0, 0, 0, 0, 0), b = reading(0, 0, 0, 1, 1);
  a.energy.gpu_j = {1000.0};
  b.energy.gpu_j = {1500.0};
  Receipt r = make_receipt(a, b, {});
  EXPECT_DOUBLE_EQ(r.gpu_energy_j, 500.0);
  EXPECT_DOUBLE_EQ(r.energy_j, 510.0);
  EXPECT_FALSE(r.energy_measured);
  EXPECT_NE(r.energy_method.find("modeled"), std::string::npos);
  EXPECT_NE(r.energy_method.find("NVML"), std::string::npos);
}

TEST(CostReceipt, BadCarbonNamesTheSetting) {
  ReceiptOptions o;
  o.carbon = "atlantis";
  try {
    make_receipt(reading(0, 0, 0, 0, 0), reading(0, 0, 0, 1, 1), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("carbon intensity"), std::string::npos) << e.what();
  }
}

TEST(CostReceipt, ForwardPassCountsWhatTheEstimateSays) {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.arch_name = "llama";
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = 8;
  auto m = load_synthetic_model(c, {}, "tiny");
  KVCache kv = make_kv_cache(m->cfg, 32);
  std::vector<int32_t> toks;
  for (int i = 0; i < 20; ++i) toks.push_back((i * 37) % 256 + 1);
  std::vector<float> logits;

  Meter meter;
  forward(*m, kv, make_batch(toks), logits);
  ReceiptOptions o;
  o.peak_flops = 1e9;  // no calibration in a unit test
  Receipt r = finish(meter, o);

  // The same run priced by `flops estimate`: 20 tokens from an empty cache see 9.5 earlier tokens on average.
  Estimate e = estimate(make_input({{"config", "arch=llama,n_layer=2,n_embd=32,n_head=4,n_head_kv=2,n_ff=64,n_vocab=300"},
                                    {"infer-tokens", "20"},
                                    {"context", "9.5"}}));
  EXPECT_NEAR((double)r.flops.model(), e.flops_infer, e.flops_infer * 1e-3);
  EXPECT_GT(r.flops.other, 0u);  // norms, softmax, activations are counted too
  EXPECT_GT(r.wall_s, 0);
  EXPECT_GE(r.cpu_s, 0);
  if (read_energy().rapl_j.empty()) {
    EXPECT_FALSE(r.energy_measured);
    EXPECT_NEAR(r.energy_j, r.cpu_s * kAssumedWattsPerCore, 1e-9);
  }
}

TEST(CostCalibrate, CacheRoundTripPerThreadCount) {
  CacheDir cache;
  EXPECT_FALSE(load_calibration(2));
  Calibration c;
  c.sgemm_flops = 4.2e10;
  c.threads = 2;
  c.n = 1024;
  c.seconds = 0.5;
  c.cpu_model = cpu_model();
  c.measured_at = "2026-01-01T00:00:00Z";
  std::string path = save_calibration(c);
  EXPECT_EQ(path, cache.dir + "/flops/machine.json");
  auto got = load_calibration(2);
  ASSERT_TRUE(got);
  EXPECT_DOUBLE_EQ(got->sgemm_flops, 4.2e10);
  EXPECT_TRUE(got->from_cache);
  EXPECT_EQ(got->measured_at, "2026-01-01T00:00:00Z");
  EXPECT_FALSE(load_calibration(1));  // another thread count was not measured
  c.threads = 1;
  c.sgemm_flops = 2.2e10;
  save_calibration(c);
  EXPECT_DOUBLE_EQ(load_calibration(1)->sgemm_flops, 2.2e10);
  EXPECT_DOUBLE_EQ(load_calibration(2)->sgemm_flops, 4.2e10);  // merged, not replaced
}

TEST(CostCalibrate, OtherCpuOrCorruptCacheIsIgnored) {
  CacheDir cache;
  std::filesystem::create_directories(cache.dir + "/flops");
  std::string path = cache.dir + "/flops/machine.json";
  std::string other = R"({"cpu_model": "Some Other CPU 9000", "sgemm": {"2": {"flops": 1e12}}})";
  write_file_atomic(path, other.data(), other.size());
  EXPECT_FALSE(load_calibration(2));
  std::string junk = "{not json";
  write_file_atomic(path, junk.data(), junk.size());
  EXPECT_FALSE(load_calibration(2));
  nlohmann::json neg = {{"cpu_model", cpu_model()}, {"sgemm", {{"2", {{"flops", -5.0}}}}}};
  std::string s = neg.dump();
  write_file_atomic(path, s.data(), s.size());
  EXPECT_FALSE(load_calibration(2));
}

TEST(CostCalibrate, EstimateUsesTheCachedFigureForThisMachine) {
  CacheDir cache;
  Calibration c;
  c.sgemm_flops = 5e10;
  c.threads = get_threads();
  c.cpu_model = cpu_model();
  save_calibration(c);
  Estimate e = estimate(make_input({{"params", "10M"}, {"infer-tokens", "1000"}, {"hardware", "this-machine"},
                                    {"mfu", "50%"}}));
  EXPECT_TRUE(e.hw.measured);
  EXPECT_DOUBLE_EQ(e.peak, 5e10);
  EXPECT_DOUBLE_EQ(e.wall_s, 2e10 / 2.5e10);
  EXPECT_DOUBLE_EQ(e.power_w, kAssumedWattsPerCore * c.threads);  // modeled, and the row says so
  bool said = false;
  for (const Row& r : e.assumptions)
    if (r.key == "power") said = r.how.rfind("assumed", 0) == 0;
  EXPECT_TRUE(said);
}

TEST(CostReceipt, AMistypedCarbonVariableDoesNotLoseTheRun) {
  const char* old = std::getenv("FLOPS_CARBON");
  std::string keep = old ? old : "";
  setenv("FLOPS_CARBON", "mars", 1);
  Meter meter;
  ReceiptOptions o;
  o.peak_flops = 1e9;
  Receipt r = finish(meter, o);
  EXPECT_DOUBLE_EQ(r.carbon_g_per_kwh, 434);
  EXPECT_NE(r.carbon_region.find("'mars' not understood"), std::string::npos) << r.carbon_region;
  setenv("FLOPS_CARBON", "91 g/kWh", 1);
  EXPECT_DOUBLE_EQ(finish(meter, o).carbon_g_per_kwh, 91);
  if (old)
    setenv("FLOPS_CARBON", keep.c_str(), 1);
  else
    unsetenv("FLOPS_CARBON");
}

TEST(CostReceipt, ReadsRaplPackagesFromPowercap) {
  namespace fs = std::filesystem;
  fs::path root = fs::path(test::temp_dir()) / "powercap";
  fs::remove_all(root);
  auto put = [](const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << s << "\n";
  };
  put(root / "intel-rapl:0" / "energy_uj", "123456789");
  put(root / "intel-rapl:0" / "max_energy_range_uj", "262143328850");
  put(root / "intel-rapl:0" / "name", "package-0");
  put(root / "intel-rapl:0:0" / "energy_uj", "5000000");  // the core subdomain: part of package 0
  put(root / "intel-rapl:1" / "energy_uj", "2000000");
  put(root / "intel-rapl:1" / "max_energy_range_uj", "262143328850");
  put(root / "intel-rapl-mmio:0" / "energy_uj", "7000000");  // the same package through MMIO
  fs::create_directories(root / "intel-rapl:2");            // no readable counter: skipped
  EnergyReading r;
  read_rapl(r, root.string());
  ASSERT_EQ(r.rapl_j.size(), 2u);
  EXPECT_EQ(r.rapl_names[0], "package-0");
  EXPECT_EQ(r.rapl_names[1], "intel-rapl:1");  // no name file
  EXPECT_DOUBLE_EQ(r.rapl_j[0], 123.456789);
  EXPECT_DOUBLE_EQ(r.rapl_j[1], 2.0);
  EXPECT_DOUBLE_EQ(r.rapl_range_j[0], 262143.328850);
  EnergyReading none;
  read_rapl(none, (root / "absent").string());
  EXPECT_TRUE(none.rapl_j.empty());
  fs::remove_all(root);
}
