// flops against llama.cpp on the same files, side by side in one run.
//
// Writes the random-weight llama models S (dim 288, 6 layers, FFN 768) and M (dim 768, 12
// layers, FFN 2048), vocabulary 32000, in F32, F16, Q8_0 and Q4_0, plus Q4_K_M and Q6_K made
// by `flops quantize` from the F32 file when that command exists. For every file and thread
// count it runs llama-bench and `flops bench` (both as child processes, alternately: llama,
// flops, flops, llama, so that a change in the machine's load hits both), and prints the
// median of all samples of each tool with the ratio flops / llama.cpp:
//   pp512, tg128 from an empty context; decode at a 2,048-token context (M, 2 threads), from
//   pp2048 and pp2048+tg128 (the llama-bench here has no depth option, so both tools get it
//   the same way: 128 tokens over the difference of the two times).
// Decode rates are also given as weight bytes per second, against the read bandwidth from DRAM
// measured at the start (a buffer 4x the L3) and against the mean of two measurements taken
// just before and just after the row's own samples over a buffer the size of the row's weights
// (the machine's bandwidth drifts, and caches may hold the weights; the second is the fairer
// fraction).
// Options:
//   --load   the S and M Q4_0 rows again with one core held by `yes > /dev/null`
//   --rss    peak resident memory of flops perplexity and llama-perplexity on M Q4_0, -c 512
//   --sizes S,M  --types f32,f16,q8_0,q4_0,q4_k_m,q6_k  --threads 1,2  -r N (default 3)
//   --depth N (0: skip)  --quick (-r 1, no depth)
// Without the llama.cpp binaries (../shared/reference/llama.cpp/bin) it says so and prints
// flops's figures alone.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "core/machine.h"
#include "core/prefetch_plan.h"
#include "core/threads.h"
#include "model/synthetic.h"

using namespace flops;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Proc {
  int code = -1;
  std::string out;
  long max_rss_kb = 0;
};

// Runs argv with stdout captured and stderr sent to `err_path`; waits and reports peak RSS.
Proc run(const std::vector<std::string>& argv, const std::string& err_path = "/dev/null") {
  int pipefd[2];
  if (pipe(pipefd) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e >= 0) dup2(e, 2);
    close(pipefd[0]);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  close(pipefd[1]);
  Proc p;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) p.out.append(buf, (size_t)n);
  close(pipefd[0]);
  int st = 0;
  struct rusage ru {};
  wait4(pid, &st, 0, &ru);
  p.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  p.max_rss_kb = ru.ru_maxrss;
  return p;
}

// `yes > /dev/null`: a CPU-bound process holding one core while it runs.
struct CoreHog {
  pid_t pid = -1;
  CoreHog() {
    pid = fork();
    if (pid == 0) {
      int fd = open("/dev/null", O_WRONLY);
      dup2(fd, 1);
      execlp("yes", "yes", (char*)nullptr);
      _exit(127);
    }
  }
  ~CoreHog() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) v.push_back(x);
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string load_avg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

struct Tools {
  std::string flops, llama_bench, llama_ppl;
  bool have_llama() const { return !llama_bench.empty(); }
};

// The results of one tool for one (file, threads, test list): samples per test name.
using Samples = std::map<std::string, std::vector<double>>;     // test name -> tok/s samples
using MeanNs = std::map<std::string, std::vector<double>>;      // test name -> avg_ns per run

std::string test_name(const json& r) {
  int p = r.value("n_prompt", 0), g = r.value("n_gen", 0);
  if (p > 0 && g > 0) return "pp" + std::to_string(p) + "+tg" + std::to_string(g);
  return g > 0 ? "tg" + std::to_string(g) : "pp" + std::to_string(p);
}

bool collect(const Proc& p, Samples& s, MeanNs& ns) {
  if (p.code != 0) return false;
  json j;
  try {
    j = json::parse(p.out);
  } catch (...) {
    return false;
  }
  for (auto& r : j) {
    std::string n = test_name(r);
    for (auto& x : r["samples_ts"]) s[n].push_back(x.get<double>());
    ns[n].push_back(r["avg_ns"].get<double>());
  }
  return true;
}

struct Row {
  std::string label;  // "M Q4_0, 2"
  Samples fl, ll;
  MeanNs fl_ns, ll_ns;
  bool ll_ok = true, fl_ok = true;
  double bw_near = NAN;  // read bandwidth at this thread count, mean of just before and just after
};

// ABBA: llama, flops, flops, llama, each with `reps` repetitions of every test.
void measure(const Tools& tl, const std::string& file, int th, int reps, const std::vector<std::string>& extra_args,
             Row& row) {
  std::vector<std::string> fa = {tl.flops, "bench", "-m", file, "-t", std::to_string(th), "-r", std::to_string(reps),
                                 "--json"};
  std::vector<std::string> la = {tl.llama_bench, "-m", file, "-t", std::to_string(th), "-r", std::to_string(reps),
                                 "-o", "json"};
  for (auto& a : extra_args) {
    fa.push_back(a == "-pg" ? "--pg" : a);
    la.push_back(a);
  }
  for (int k = 0; k < 4; k++) {
    bool llama_turn = k == 0 || k == 3;
    if (llama_turn) {
      if (tl.have_llama()) row.ll_ok &= collect(run(la), row.ll, row.ll_ns);
    } else {
      row.fl_ok &= collect(run(fa, "/tmp/bench_vs_llama_flops.err"), row.fl, row.fl_ns);
    }
  }
}

std::string fmt_rate(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  if (v >= 100)
    std::snprintf(b, sizeof b, "%.0f", v);
  else
    std::snprintf(b, sizeof b, "%.1f", v);
  // Thousands separators in the integer part.
  std::string s = b, out;
  const size_t dot = std::min(s.find('.'), s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (i > 0 && i < dot && (dot - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string cell(double f, double l, bool have_llama) {
  if (!have_llama || !std::isfinite(l)) return fmt_rate(f);
  char r[32];
  std::snprintf(r, sizeof r, "%.2fx", f / l);
  std::string ratio = r;
  if (f / l < 1.0) ratio = "**" + ratio + "**";
  return fmt_rate(f) + " / " + fmt_rate(l) + " (" + ratio + ")";
}

// Spread of a tool's samples as "min-max".
std::string spread(const std::vector<double>& v) {
  if (v.empty()) return "-";
  auto [a, b] = std::minmax_element(v.begin(), v.end());
  return fmt_rate(*a) + "-" + fmt_rate(*b);
}

fs::path exe_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

Tools find_tools() {
  Tools t;
  fs::path flops = exe_dir().parent_path() / "flops";
  if (fs::exists(flops)) t.flops = flops.string();
  for (fs::path d = exe_dir(); !d.empty() && d != d.root_path(); d = d.parent_path()) {
    fs::path b = d / "shared" / "reference" / "llama.cpp" / "bin";
    if (fs::exists(b / "llama-bench")) {
      t.llama_bench = (b / "llama-bench").string();
      if (fs::exists(b / "llama-perplexity")) t.llama_ppl = (b / "llama-perplexity").string();
      break;
    }
  }
  if (const char* e = std::getenv("LLAMA_BIN")) {
    t.llama_bench = std::string(e) + "/llama-bench";
    t.llama_ppl = std::string(e) + "/llama-perplexity";
    if (!fs::exists(t.llama_bench)) t.llama_bench.clear();
  }
  return t;
}

struct Size {
  std::string name;
  int dim, layers, heads, ffn;
};

// The benchmark model of `size` in `type` (a DType name or a quantize mix), written once.
std::optional<std::string> model_file(const Tools& tl, const Size& s, const std::string& type, const fs::path& dir) {
  fs::path path = dir / (s.name + "_" + type + ".gguf");
  if (fs::exists(path)) return path.string();
  static const std::map<std::string, DType> direct = {
      {"f32", DType::F32}, {"f16", DType::F16}, {"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}};
  if (auto it = direct.find(type); it != direct.end()) {
    ModelConfig c;
    c.n_vocab = 32000;
    c.n_embd = s.dim;
    c.n_layer = s.layers;
    c.n_head = c.n_head_kv = s.heads;
    c.n_ff = s.ffn;
    c.n_ctx_train = 4096;  // room for the 2,048-token depth test
    c.n_rot = s.dim / s.heads;
    SyntheticOptions o;
    o.matrix_type = it->second;
    GGUFWriter w = synthetic_model(c, o);
    // llama.cpp knows this pre-tokenizer as "gpt-2" (the synthetic writer says "gpt2").
    w.set_string("tokenizer.ggml.pre", "gpt-2");
    w.write(path.string());
    return path.string();
  }
  // K-quant mixes: `flops quantize` from the F32 file, when the command exists.
  auto f32 = model_file(tl, s, "f32", dir);
  std::string upper = type;
  for (auto& ch : upper) ch = (char)std::toupper((unsigned char)ch);
  Proc p = run({tl.flops, "quantize", *f32, path.string(), upper}, "/tmp/bench_vs_llama_quantize.err");
  if (p.code != 0 || !fs::exists(path)) return std::nullopt;
  return path.string();
}

double weight_bytes_per_token(const std::string& file, const Tools& tl) {
  // flops info --json would do; the bench JSON carries it with --bandwidth, but one cheap
  // tg1 run gives it without measuring the bandwidth again.
  Proc p = run({tl.flops, "bench", "-m", file, "-p", "0", "-n", "1", "-r", "1", "-t", "1", "--json", "--bandwidth"});
  try {
    return json::parse(p.out)[0].value("weight_bytes_per_token", NAN);
  } catch (...) {
    return NAN;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> size_names = {"S", "M"}, types = {"f32", "f16", "q8_0", "q4_0", "q4_k_m", "q6_k"};
  std::vector<int> threads = {1, 2};
  int reps = 3, depth = 2048;
  bool load = false, rss = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--sizes") size_names = split(next());
    else if (a == "--types") types = split(next());
    else if (a == "--threads") {
      threads.clear();
      for (auto& t : split(next())) threads.push_back(std::stoi(t));
    } else if (a == "-r") reps = std::stoi(next());
    else if (a == "--depth") depth = std::stoi(next());
    else if (a == "--load") load = true;
    else if (a == "--rss") rss = true;
    else if (a == "--quick") {
      reps = 1;
      depth = 0;
    } else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/bench_vs_llama.cpp)\n", a.c_str());
      return 2;
    }
  }
  Tools tl = find_tools();
  if (tl.flops.empty()) {
    std::fprintf(stderr, "flops binary not found beside %s\n", exe_dir().c_str());
    return 1;
  }
  const std::vector<Size> all_sizes = {{"S", 288, 6, 6, 768}, {"M", 768, 12, 12, 2048}};
  fs::path dir = fs::temp_directory_path() / "flops_bench_vs_llama";
  fs::create_directories(dir);

  std::printf("# flops vs llama.cpp, %s\n\n", now_utc().c_str());
  std::printf("machine: %s, %d cores; load average at start: %s\n", cpu_description().c_str(), hardware_threads(),
              load_avg().c_str());
  if (!tl.have_llama())
    std::printf("llama.cpp binaries not found (../shared/reference/llama.cpp/bin or $LLAMA_BIN): flops alone\n");
  else
    std::printf("llama.cpp: %s (c392e509), run alternately with flops (llama, flops, flops, llama; -r %d each)\n",
                tl.llama_bench.c_str(), reps);
  std::printf("prefetch plan (core/prefetch_plan.h): %s\n", describe(kern::prefetch_plan()).c_str());
  // From DRAM: a buffer 4 times the last-level cache (a VM's L3 can hold 480 MB), 256 MB at least.
  const size_t l3 = last_level_cache_bytes(), dram_bytes = std::max<size_t>((size_t)256 << 20, 4 * l3);
  std::map<int, double> bw;
  for (int th : threads) {
    bw[th] = measure_read_bandwidth(th, 1.0, dram_bytes);
    std::printf("read bandwidth from DRAM, %d thread%s: %.1f GB/s (read-only streaming kernel, %zu MB buffer; L3 %zu MB)\n",
                th, th > 1 ? "s" : "", bw[th] / 1e9, dram_bytes >> 20, l3 >> 20);
  }
  std::fflush(stdout);

  std::vector<Row> rows;
  std::vector<std::string> missing;
  std::map<std::string, double> wbytes;
  for (auto& sn : size_names) {
    auto s = std::find_if(all_sizes.begin(), all_sizes.end(), [&](auto& z) { return z.name == sn; });
    if (s == all_sizes.end()) continue;
    for (auto& ty : types) {
      auto file = model_file(tl, *s, ty, dir);
      if (!file) {
        missing.push_back(sn + " " + ty);
        continue;
      }
      wbytes[*file] = weight_bytes_per_token(*file, tl);
      for (int th : threads) {
        Row r;
        r.label = sn + " " + ty + ", " + std::to_string(th);
        // On a shared VM the read bandwidth drifts by half within minutes (2 threads: 41 to 79
        // GB/s within one hour on 2026-12-03), so each row's fraction is also given against the bandwidth
        // measured on either side of its own samples, over a buffer the size of the row's weights:
        // where the caches hold them between tokens (M's quantized files in a 480 MB L3), the
        // ceiling is the caches', not DRAM's.
        const size_t wsize = (size_t)wbytes[*file];
        const double bw0 = measure_read_bandwidth(th, 0.5, wsize);
        measure(tl, *file, th, reps, {"-p", "512", "-n", "128"}, r);
        r.bw_near = (bw0 + measure_read_bandwidth(th, 0.5, wsize)) / 2;
        rows.push_back(std::move(r));
        const Row& x = rows.back();
        std::fprintf(stderr, "%s: pp %s / %s, tg %s / %s\n", x.label.c_str(), fmt_rate(median(x.fl.count("pp512") ? x.fl.at("pp512") : std::vector<double>{})).c_str(),
                     fmt_rate(median(x.ll.count("pp512") ? x.ll.at("pp512") : std::vector<double>{})).c_str(),
                     fmt_rate(median(x.fl.count("tg128") ? x.fl.at("tg128") : std::vector<double>{})).c_str(),
                     fmt_rate(median(x.ll.count("tg128") ? x.ll.at("tg128") : std::vector<double>{})).c_str());
      }
    }
  }

  auto get = [](const Samples& s, const std::string& k) { return s.count(k) ? median(s.at(k)) : NAN; };
  std::printf("\nmedian tok/s of all samples, flops / llama.cpp (ratio); bold: flops slower\n\n");
  std::printf("| model, type, threads | prompt pp512 | decode tg128 | decode GB/s of weights, flops / llama.cpp (%% of DRAM read bw at start) | read bw around the row over the weights' size, GB/s: flops %%, llama.cpp %% of it | spread pp flops; llama | spread tg flops; llama |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (auto& r : rows) {
    std::string sz = r.label.substr(0, 1), ty = r.label.substr(2, r.label.find(',') - 2);
    int th = std::stoi(r.label.substr(r.label.find(',') + 1));
    double fp = get(r.fl, "pp512"), lp = get(r.ll, "pp512"), ft = get(r.fl, "tg128"), lt = get(r.ll, "tg128");
    double wb = wbytes[(dir / (sz + "_" + ty + ".gguf")).string()];
    char g[128];
    std::snprintf(g, sizeof g, "%.1f (%.0f%%) / %.1f (%.0f%%)", ft * wb / 1e9, 100 * ft * wb / bw[th], lt * wb / 1e9,
                  100 * lt * wb / bw[th]);
    char nb[96];
    if (tl.have_llama())
      std::snprintf(nb, sizeof nb, "%.1f: %.0f%%, %.0f%%", r.bw_near / 1e9, 100 * ft * wb / r.bw_near, 100 * lt * wb / r.bw_near);
    else
      std::snprintf(nb, sizeof nb, "%.1f: %.0f%%", r.bw_near / 1e9, 100 * ft * wb / r.bw_near);
    std::printf("| %s | %s | %s | %s | %s | %s; %s | %s; %s |\n", r.label.c_str(), cell(fp, lp, tl.have_llama()).c_str(),
                cell(ft, lt, tl.have_llama()).c_str(), tl.have_llama() ? g : "-", nb,
                spread(r.fl.count("pp512") ? r.fl.at("pp512") : std::vector<double>{}).c_str(),
                spread(r.ll.count("pp512") ? r.ll.at("pp512") : std::vector<double>{}).c_str(),
                spread(r.fl.count("tg128") ? r.fl.at("tg128") : std::vector<double>{}).c_str(),
                spread(r.ll.count("tg128") ? r.ll.at("tg128") : std::vector<double>{}).c_str());
  }
  for (auto& m : missing) std::printf("(%s: no file: `flops quantize` cannot make it yet)\n", m.c_str());
  std::fflush(stdout);

  if (depth > 0 && std::find(size_names.begin(), size_names.end(), "M") != size_names.end()) {
    std::printf("\ndecode at a %d-token context (M, 2 threads): tg128 after pp%d, tok/s flops / llama.cpp\n\n", depth,
                depth);
    std::printf("| type | decode at depth %d |\n|---|---|\n", depth);
    const std::string pg = std::to_string(depth) + ",128";
    for (auto& ty : types) {
      auto file = model_file(tl, all_sizes[1], ty, dir);
      if (!file) continue;
      Row r;
      measure(tl, *file, 2, reps, {"-p", std::to_string(depth), "-n", "0", "-pg", pg}, r);
      const std::string pp = "pp" + std::to_string(depth), ppg = pp + "+tg128";
      auto rate = [&](const MeanNs& ns) -> double {
        if (!ns.count(pp) || !ns.count(ppg)) return NAN;
        double dt = (median(ns.at(ppg)) - median(ns.at(pp))) * 1e-9;
        return dt > 0 ? 128 / dt : NAN;
      };
      std::printf("| %s | %s |\n", ty.c_str(), cell(rate(r.fl_ns), rate(r.ll_ns), tl.have_llama()).c_str());
      std::fflush(stdout);
    }
  }

  if (load) {
    std::printf("\nunder load: one core held by `yes > /dev/null`, 2 threads, tok/s flops / llama.cpp\n\n");
    std::printf("| model | prompt pp512 | decode tg128 | flops decode, loaded / quiet |\n|---|---|---|---|\n");
    for (auto& sn : size_names) {
      auto s = std::find_if(all_sizes.begin(), all_sizes.end(), [&](auto& z) { return z.name == sn; });
      if (s == all_sizes.end()) continue;
      auto file = model_file(tl, *s, "q4_0", dir);
      Row quiet, busy;
      measure(tl, *file, 2, reps, {"-p", "512", "-n", "128"}, quiet);
      {
        CoreHog hog;
        measure(tl, *file, 2, reps, {"-p", "512", "-n", "128"}, busy);
      }
      double ratio = get(busy.fl, "tg128") / get(quiet.fl, "tg128");
      std::printf("| %s q4_0 | %s | %s | %.2f |\n", sn.c_str(),
                  cell(get(busy.fl, "pp512"), get(busy.ll, "pp512"), tl.have_llama()).c_str(),
                  cell(get(busy.fl, "tg128"), get(busy.ll, "tg128"), tl.have_llama()).c_str(), ratio);
      std::fflush(stdout);
    }
  }

  if (rss) {
    auto file = model_file(tl, all_sizes[1], "q4_0", dir);
    // The same text for both: 4 chunks of 512 byte tokens and some to spare.
    fs::path text = dir / "rss_text.txt";
    {
      std::string src;
      for (fs::path d = exe_dir(); !d.empty() && d != d.root_path(); d = d.parent_path()) {
        fs::path f = d / "shared" / "data" / "tinystories-slices" / "tinystories_valid_head.txt";
        if (fs::exists(f)) {
          std::ifstream in(f);
          src.assign(std::istreambuf_iterator<char>(in), {});
          break;
        }
      }
      if (src.empty())
        for (int i = 0; i < 400; i++) src += "Once upon a time there was a little fox. ";
      std::string cut;
      for (unsigned char ch : src)
        if (ch < 128 && cut.size() < 4 * 512 + 100) cut += (char)ch;  // ASCII: one byte, one token
      std::ofstream(text) << cut;
    }
    Proc f = run({tl.flops, "perplexity", "-m", *file, "-f", text.string(), "-c", "512", "-t", "2", "--json"});
    std::printf("\npeak resident memory, perplexity of M q4_0 at -c 512 over the same text (4 chunks)\n\n");
    std::printf("| tool | peak RSS MB | exit |\n|---|---|---|\n");
    std::printf("| flops perplexity | %.1f | %d |\n", f.max_rss_kb / 1024.0, f.code);
    if (!tl.llama_ppl.empty()) {
      Proc l = run({tl.llama_ppl, "-m", *file, "-f", text.string(), "-c", "512", "-t", "2"});
      std::printf("| llama-perplexity | %.1f | %d |\n", l.max_rss_kb / 1024.0, l.code);
    }
  }
  std::printf("\nload average at the end: %s\n", load_avg().c_str());
  return 0;
}
