#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/mmap_file.h"
#include "model/gguf.h"
#include "train/forward_backward.h"

#ifdef FLOPS_HAVE_MPI
#include <mpi.h>
#endif

namespace flops::train {

int mpi_rank() {
#ifdef FLOPS_HAVE_MPI
  int init = 0;
  MPI_Initialized(&init);
  if (init) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
#endif
  return 0;
}

int mpi_size() {
#ifdef FLOPS_HAVE_MPI
  int init = 0;
  MPI_Initialized(&init);
  if (init) {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }
#endif
  return 1;
}

namespace {

// Sums across ranks; every rank gets the same result.
void allreduce_sum(float* data, size_t n) {
#ifdef FLOPS_HAVE_MPI
  if (mpi_size() > 1) {
    // In chunks: MPI counts are int.
    const size_t chunk = (size_t)1 << 28;
    for (size_t off = 0; off < n; off += chunk)
      MPI_Allreduce(MPI_IN_PLACE, data + off, (int)std::min(chunk, n - off), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
#else
  (void)data;
  (void)n;
#endif
}

void allreduce_sum(double* data, int n) {
#ifdef FLOPS_HAVE_MPI
  if (mpi_size() > 1) MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
  (void)data;
  (void)n;
#endif
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

constexpr char kOptMagic[8] = {'F', 'L', 'O', 'P', 'S', 'O', 'P', 'T'};

template <typename T>
void put(std::vector<uint8_t>& b, T v) {
  const uint8_t* p = (const uint8_t*)&v;
  b.insert(b.end(), p, p + sizeof(T));
}

}  // namespace

uint64_t model_layout_hash(const Model& m) {
  uint64_t h = fnv1a("layout", 6);
  for (auto& t : m.tensors) {
    h = fnv1a(t.name.data(), t.name.size(), h);
    h = fnv1a(&t.count, sizeof(t.count), h);
  }
  return h;
}

void write_optimizer_state(const std::string& path, const OptimizerCheckpoint& c) {
  std::vector<uint8_t> b;
  b.insert(b.end(), kOptMagic, kOptMagic + 8);
  put<uint32_t>(b, 2);  // version 2: the word after the version is the LoRA+ ratio (version 1: 0)
  put<float>(b, c.lora_lr_ratio);
  put<int64_t>(b, c.adam.step);
  put<uint64_t>(b, c.seed);
  put<uint64_t>(b, c.model_hash);
  put<int64_t>(b, c.tokens_seen);
  put<double>(b, c.total_flops);
  put<double>(b, c.total_seconds);
  put<uint64_t>(b, c.adam.m.size());
  if (c.adam.v.size() != c.adam.m.size() || c.weights.size() != c.adam.m.size())
    fail("optimizer state sizes disagree ({} weights, {} m, {} v)", c.weights.size(), c.adam.m.size(), c.adam.v.size());
  for (const std::vector<float>* v : {&c.weights, &c.adam.m, &c.adam.v}) {
    const uint8_t* p = (const uint8_t*)v->data();
    b.insert(b.end(), p, p + v->size() * 4);
  }
  put<uint64_t>(b, fnv1a(b.data(), b.size()));
  write_file_atomic(path, b.data(), b.size());
}

OptimizerCheckpoint read_optimizer_state(const std::string& path) {
  MappedFile f(path);
  const size_t header = 8 + 4 + 4 + 8 * 7;
  if (f.size < header + 8 || std::memcmp(f.data, kOptMagic, 8) != 0) fail("{}: not a flops optimizer state file", path);
  auto get = [&](size_t off, auto v) {
    std::memcpy(&v, f.data + off, sizeof(v));
    return v;
  };
  const uint32_t version = get(8, uint32_t{});
  if (version != 1 && version != 2) fail("{}: unsupported optimizer state version {}", path, version);
  OptimizerCheckpoint c;
  c.lora_lr_ratio = version == 2 ? get(12, float{}) : 1.0f;
  c.adam.step = get(16, int64_t{});
  c.seed = get(24, uint64_t{});
  c.model_hash = get(32, uint64_t{});
  c.tokens_seen = get(40, int64_t{});
  c.total_flops = get(48, double{});
  c.total_seconds = get(56, double{});
  uint64_t n = get(64, uint64_t{});
  if (n > (f.size - header - 8) / 12 || header + n * 12 + 8 != f.size) fail("{}: optimizer state is truncated or has a wrong size", path);
  if (get(f.size - 8, uint64_t{}) != fnv1a(f.data, f.size - 8)) fail("{}: optimizer state checksum mismatch (corrupted file)", path);
  size_t off = header;
  for (std::vector<float>* v : {&c.weights, &c.adam.m, &c.adam.v}) {
    v->resize(n);
    std::memcpy(v->data(), f.data + off, n * 4);
    off += n * 4;
  }
  return c;
}

void save_model_gguf(const Model& m, const GGUFFile* tokenizer_src, const std::string& name, const std::string& path,
                     const std::function<void(GGUFWriter&)>& extra) {
  GGUFWriter w;
  add_model_to_gguf(m, w);
  w.set_string("general.name", name);
  if (extra) extra(w);
  if (tokenizer_src) copy_tokenizer_metadata(*tokenizer_src, w);
  w.write(path);
}

int64_t mask_targets(int32_t* y, size_t n, const std::vector<int32_t>& loss_tokens) {
  if (loss_tokens.empty()) return (int64_t)n;
  int64_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    if (std::binary_search(loss_tokens.begin(), loss_tokens.end(), y[i]))
      kept++;
    else
      y[i] = kIgnoreTarget;
  }
  return kept;
}

double evaluate(const Model& m, const TokenData& data, int T, int max_windows, int micro_batch,
                const std::vector<int32_t>& loss_tokens, int64_t* counted) {
  return evaluate(net_of(const_cast<Model&>(m)), data, T, max_windows, micro_batch, loss_tokens, counted);
}

double evaluate(const Net& net, const TokenData& data, int T, int max_windows, int micro_batch,
                const std::vector<int32_t>& loss_tokens, int64_t* counted) {
  const int n = n_val_windows(data.val, T, max_windows);
  if (n == 0) return -1;
  const int rank = mpi_rank(), size = mpi_size();
  micro_batch = std::max(1, micro_batch);
  Activations a;
  std::vector<int32_t> x((size_t)micro_batch * T), y((size_t)micro_batch * T);
  double sums[2] = {0, 0};  // loss, tokens
  std::vector<int> mine;
  for (int i = rank; i < n; i += size) mine.push_back(i);
  for (size_t i = 0; i < mine.size(); i += micro_batch) {
    int rows = (int)std::min<size_t>(micro_batch, mine.size() - i);
    for (int r = 0; r < rows; r++) get_val_window(data.val, mine[i + r], T, x.data() + (size_t)r * T, y.data() + (size_t)r * T);
    sums[1] += (double)mask_targets(y.data(), (size_t)rows * T, loss_tokens);
    sums[0] += forward(net, a, x.data(), y.data(), rows, T);
  }
  allreduce_sum(sums, 2);
  if (counted) *counted = (int64_t)sums[1];
  return sums[1] > 0 ? sums[0] / sums[1] : -1;
}

namespace {

std::vector<nlohmann::json> read_log(const std::string& path, int64_t max_step) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("step", (int64_t)0) <= max_step) out.push_back(j);
    } catch (const std::exception&) {
      // A line cut short by a kill is dropped.
    }
  }
  return out;
}

nlohmann::json step_json(const StepInfo& s) {
  nlohmann::json j = {{"step", s.step},         {"loss", s.loss},
                      {"lr", s.lr},             {"grad_norm", s.grad_norm},
                      {"tokens_per_s", s.tokens_per_s}, {"flops_per_s", s.flops_per_s},
                      {"mfu", s.mfu},           {"elapsed_s", s.elapsed_s}};
  if (s.val_loss >= 0) j["val_loss"] = s.val_loss;
  return j;
}

}  // namespace

TrainResult run_training(Model& m, const TokenData& data, const TrainOptions& o, const GGUFFile* tokenizer_src,
                         const std::function<void(const StepInfo&)>& on_step, const TrainHooks* hooks) {
  const int rank = mpi_rank(), size = mpi_size();
  const int T = o.seq_len > 0 ? o.seq_len : m.cfg.n_ctx_train;
  if (T > m.cfg.n_ctx_train) fail("sequence length {} exceeds the model context {}", T, m.cfg.n_ctx_train);
  if (o.batch <= 0 || o.batch % size != 0) fail("batch {} must be a positive multiple of the {} MPI ranks", o.batch, size);
  const int local = o.batch / size;
  const int micro = o.micro_batch > 0 ? std::min(o.micro_batch, local) : local;
  if (local % micro != 0) fail("micro-batch {} does not divide the per-rank batch {}", micro, local);
  if (data.n_vocab > m.cfg.n_vocab) fail("data vocabulary {} is larger than the model vocabulary {}", data.n_vocab, m.cfg.n_vocab);
  if (data.train.size() < (size_t)T + 1) fail("training data has {} tokens, fewer than one sequence of {} + 1", data.train.size(), T);
  if (o.steps <= 0) fail("steps must be positive (got {})", o.steps);

  namespace fs = std::filesystem;
  const bool write = !o.out_dir.empty() && rank == 0;
  const std::string model_path = o.out_dir + "/model.gguf", opt_path = o.out_dir + "/optimizer.bin";
  const std::string log_path = o.out_dir + "/log.jsonl";
  if (write) fs::create_directories(o.out_dir);

  const uint64_t layout_hash = model_layout_hash(m) ^ (hooks ? hooks->salt : 0);
  const float lr_ratio = hooks ? hooks->lr_ratio : 1.0f;
  TrainResult res;
  AdamState st;
  if (o.resume) {
    if (o.out_dir.empty()) fail("--resume needs the output directory of the run to continue");
    if (!fs::exists(opt_path)) fail("nothing to resume in '{}' (no optimizer.bin)", o.out_dir);
    OptimizerCheckpoint c = read_optimizer_state(opt_path);
    if (c.model_hash != layout_hash || c.weights.size() != m.w.size())
      fail("checkpoint in '{}' is for a different model configuration", o.out_dir);
    if (c.seed != o.seed) fail("checkpoint in '{}' was trained with seed {}, not {}", o.out_dir, c.seed, o.seed);
    if (c.lora_lr_ratio != lr_ratio)
      fail("checkpoint in '{}' was trained with --lora-lr-ratio {}, not {}: resume with the same ratio", o.out_dir,
           c.lora_lr_ratio, lr_ratio);
    m.w = std::move(c.weights);
    st = std::move(c.adam);
    res.start_step = st.step;
    res.tokens_seen = c.tokens_seen;
    res.total_flops = c.total_flops;
    res.total_seconds = c.total_seconds;
  }

  std::vector<nlohmann::json> log_rows;
  FILE* log = nullptr;
  if (write) {
    if (o.resume) log_rows = read_log(log_path, res.start_step);
    // Rewrite: drop steps after the checkpoint we continue from (they will be redone).
    std::string text;
    for (auto& j : log_rows) text += j.dump() + "\n";
    write_file_atomic(log_path, text.data(), text.size());
    log = std::fopen(log_path.c_str(), "a");
    if (!log) fail("cannot open '{}' for appending", log_path);
  }

  auto checkpoint = [&](int64_t step_done, double run_seconds) {
    if (!write) return;
    OptimizerCheckpoint c;
    c.adam = st;
    c.weights = m.w;
    c.seed = o.seed;
    c.model_hash = layout_hash;
    c.lora_lr_ratio = lr_ratio;
    c.tokens_seen = res.tokens_seen;
    c.total_flops = res.total_flops;
    c.total_seconds = res.total_seconds + run_seconds;
    // Each file is replaced atomically; resume reads only optimizer.bin (which has the weights), so a
    // kill between the two writes cannot mix states.
    // Where the weights came from, so that `flops info` can say what they cost.
    auto meta = [&](GGUFWriter& w) {
      w.set_u64("flops.train.step", (uint64_t)step_done);
      w.set_u64("flops.train.steps", (uint64_t)o.steps);
      w.set_u64("flops.train.tokens", (uint64_t)res.tokens_seen);
      w.set_f64("flops.train.flops", res.total_flops);
      w.set_f64("flops.train.seconds", res.total_seconds + run_seconds);
      w.set_u64("flops.train.seed", o.seed);
      w.set_u32("flops.train.batch", (uint32_t)o.batch);
      w.set_u32("flops.train.seq_len", (uint32_t)T);
      w.set_f32("flops.train.lr", o.lr);
    };
    if (hooks && hooks->save)
      hooks->save(m, meta);
    else
      save_model_gguf(m, tokenizer_src, o.name, model_path, meta);
    write_optimizer_state(opt_path, c);
  };

  // The view of the parameters the passes use (after resume replaced m.w).
  const Net net = hooks && hooks->net ? hooks->net(m) : net_of(m);
  Activations a;
  std::vector<int32_t> x((size_t)micro * T), y((size_t)micro * T);
  const double run_start = now_s();
  const float loss_scale = 1.0f / ((float)o.batch * (float)T);
  double base_seconds = res.total_seconds;
  for (int64_t step = res.start_step; step < o.steps; step++) {
    const double t0 = now_s();
    counter::Scope fc;
    std::fill(m.g.begin(), m.g.end(), 0.0f);
    double sums[2] = {0, 0};  // loss, counted targets
    for (int mb = 0; mb < local / micro; mb++) {
      get_batch(data.train, o.seed, step, rank * local + mb * micro, micro, T, x.data(), y.data());
      sums[1] += (double)mask_targets(y.data(), y.size(), o.loss_tokens);
      sums[0] += forward(net, a, x.data(), y.data(), micro, T);
      backward(net, a, x.data(), y.data(), loss_scale);
    }
    allreduce_sum(m.g.data(), m.g.size());
    allreduce_sum(sums, 2);
    // The backward passes scaled by 1 / (all targets); rescale so the gradient is that of the
    // mean over the counted ones.
    if (!o.loss_tokens.empty() && sums[1] > 0) {
      const float s = (float)((double)o.batch * T / sums[1]);
      for (float& g : m.g) g *= s;
    }
    StepInfo si;
    si.grad_norm = clip_grad_norm(m.g, o.grad_clip);
    si.lr = lr_at(step, o.warmup, o.steps, o.lr, o.min_lr);
    adamw_update(m, st, (float)si.lr, o.adam);
    const double train_flops = (double)fc.elapsed().model() * size;
    const double dt = std::max(1e-9, now_s() - t0);
    res.tokens_seen += (int64_t)o.batch * T;
    si.step = step + 1;
    si.total_steps = o.steps;
    si.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
    si.tokens_per_s = (double)o.batch * T / dt;
    si.flops_per_s = train_flops / dt;
    si.mfu = o.peak_flops > 0 ? si.flops_per_s / o.peak_flops : 0;
    if (!std::isfinite(si.loss)) fail("training diverged at step {}: loss is {}", si.step, si.loss);
    const bool stop = o.stop_at > 0 && si.step >= o.stop_at && si.step < o.steps;
    const bool last = si.step == o.steps;
    if (last || (o.eval_every > 0 && si.step % o.eval_every == 0)) {
      counter::Scope ec;
      si.val_loss = evaluate(net, data, T, o.eval_windows, micro, o.loss_tokens);
      res.total_flops += (double)ec.elapsed().model() * size;
      if (last) res.final_val_loss = si.val_loss;
    }
    res.total_flops += train_flops;
    si.elapsed_s = now_s() - run_start;
    if (last || stop || (o.checkpoint_every > 0 && si.step % o.checkpoint_every == 0)) {
      res.total_seconds = base_seconds;  // checkpoint() adds this run's time
      checkpoint(si.step, si.elapsed_s);
      si.checkpointed = write;
    }
    res.history.push_back(si);
    if (log) {
      auto j = step_json(si);
      log_rows.push_back(j);
      std::fprintf(log, "%s\n", j.dump().c_str());
      std::fflush(log);
    }
    if (rank == 0 && on_step) on_step(si);
    if (stop) break;
  }
  res.total_seconds = base_seconds + (now_s() - run_start);
  if (log) std::fclose(log);
  if (write) {
    std::vector<StepInfo> all;
    for (auto& j : log_rows) {
      StepInfo s;
      s.step = j.value("step", (int64_t)0);
      s.loss = j.value("loss", 0.0);
      s.val_loss = j.value("val_loss", -1.0);
      all.push_back(s);
    }
    std::string svg = loss_curve_svg(all, o.name);
    write_file_atomic(o.out_dir + "/loss.svg", svg.data(), svg.size());
  }
  return res;
}

std::string loss_curve_svg(const std::vector<StepInfo>& h, const std::string& title) {
  const double W = 640, H = 400, L = 60, R = 20, Tp = 40, Bm = 50;
  double lo = 1e30, hi = -1e30;
  int64_t s_max = 1;
  for (auto& s : h) {
    lo = std::min(lo, s.loss);
    hi = std::max(hi, s.loss);
    if (s.val_loss >= 0) lo = std::min(lo, s.val_loss), hi = std::max(hi, s.val_loss);
    s_max = std::max(s_max, s.step);
  }
  if (h.empty()) lo = 0, hi = 1;
  if (hi - lo < 1e-9) hi = lo + 1;
  auto X = [&](double step) { return L + (W - L - R) * step / (double)s_max; };
  auto Y = [&](double loss) { return Tp + (H - Tp - Bm) * (hi - loss) / (hi - lo); };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  auto esc = [](const std::string& s) {
    std::string r;
    for (char c : s) r += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return r;
  };
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << esc(title) << ": loss per step</text>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << H - Bm << "\" x2=\"" << W - R << "\" y2=\"" << H - Bm << "\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << Tp << "\" x2=\"" << L << "\" y2=\"" << H - Bm << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; i++) {
    double v = lo + (hi - lo) * i / 4, y = Y(v);
    o << "<line x1=\"" << L - 4 << "\" y1=\"" << y << "\" x2=\"" << W - R << "\" y2=\"" << y << "\" stroke=\"#ddd\"/>";
    o << "<text x=\"" << L - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << fmt::format("{:.2f}", v) << "</text>\n";
    double st = (double)s_max * i / 4;
    o << "<text x=\"" << X(st) << "\" y=\"" << H - Bm + 16 << "\" text-anchor=\"middle\">" << (int64_t)st << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">step</text>\n";
  o << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (auto& s : h) o << X((double)s.step) << "," << Y(s.loss) << " ";
  o << "\"/>\n";
  for (auto& s : h)
    if (s.val_loss >= 0) o << "<circle cx=\"" << X((double)s.step) << "\" cy=\"" << Y(s.val_loss) << "\" r=\"3.5\" fill=\"#d62728\"/>\n";
  o << "<text x=\"" << W - R - 150 << "\" y=\"" << Tp + 14 << "\" fill=\"#1f77b4\">train loss</text>\n";
  o << "<text x=\"" << W - R - 150 << "\" y=\"" << Tp + 30 << "\" fill=\"#d62728\">validation loss</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace flops::train
