#include "cost/calibrate.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/machine.h"
#include "core/mmap_file.h"

namespace flops::cost {

std::string calibration_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  std::string dir;
  if (xdg && *xdg)
    dir = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    dir = std::string(home) + "/.cache";
  else
    dir = "/tmp";
  return dir + "/flops/machine.json";
}

std::string cpu_model() { return cpu_model_name(); }

namespace {

nlohmann::json read_cache(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(read_text_file(path));
    return j.is_object() ? j : nlohmann::json::object();
  } catch (const std::exception&) {
    return nlohmann::json::object();  // corrupt: rewritten by the next save
  }
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::optional<Calibration> load_calibration(int threads) {
  std::string path = calibration_cache_path();
  nlohmann::json j = read_cache(path);
  // A cache measured on another CPU (a home directory shared across machines) does not apply.
  if (!j.contains("cpu_model") || !j["cpu_model"].is_string() || j["cpu_model"].get<std::string>() != cpu_model())
    return std::nullopt;
  std::string key = std::to_string(threads);
  if (!j.contains("sgemm") || !j["sgemm"].is_object() || !j["sgemm"].contains(key)) return std::nullopt;
  const auto& e = j["sgemm"][key];
  if (!e.is_object() || !e.contains("flops") || !e["flops"].is_number()) return std::nullopt;
  Calibration c;
  c.sgemm_flops = e["flops"].get<double>();
  if (!(c.sgemm_flops > 0)) return std::nullopt;
  c.threads = threads;
  c.n = e.value("n", 0);
  c.seconds = e.value("seconds", 0.0);
  c.measured_at = e.value("measured_at", std::string());
  c.cpu_model = cpu_model();
  c.path = path;
  c.from_cache = true;
  return c;
}

Calibration measure_calibration(int threads, double seconds, int n) {
  if (threads <= 0) fail("invalid --threads: {} must be at least 1", threads);
  if (!(seconds > 0)) fail("invalid --seconds: {} must be greater than zero", seconds);
  Calibration c;
  auto t0 = std::chrono::steady_clock::now();
  c.sgemm_flops = measure_sgemm_flops(threads, seconds);
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.threads = threads;
  c.n = n > 0 ? n : 1024;  // the size core/machine.cpp times
  c.cpu_model = cpu_model();
  c.measured_at = now_iso();
  return c;
}

std::string save_calibration(const Calibration& c) {
  std::string path = calibration_cache_path();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) fail("cannot create the calibration cache directory for {}: {}", path, ec.message());
  nlohmann::json j = read_cache(path);
  if (!j.contains("cpu_model") || j["cpu_model"] != c.cpu_model) j = nlohmann::json::object();
  j["cpu_model"] = c.cpu_model;
  if (!j.contains("sgemm") || !j["sgemm"].is_object()) j["sgemm"] = nlohmann::json::object();
  j["sgemm"][std::to_string(c.threads)] = {
      {"flops", c.sgemm_flops}, {"n", c.n}, {"seconds", c.seconds}, {"measured_at", c.measured_at}};
  std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());
  return path;
}

Calibration machine_peak(int threads) {
  if (auto c = load_calibration(threads)) return *c;
  // Short, since it delays the receipt of whatever command is running.
  Calibration c = measure_calibration(threads, 0.3);
  try {
    c.path = save_calibration(c);
  } catch (const std::exception&) {
    // An unwritable cache only means measuring again next time.
  }
  return c;
}

}  // namespace flops::cost
