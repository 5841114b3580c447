#include "train/contrastive.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/mmap_file.h"

namespace flops::train {

namespace {

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> w;
  std::istringstream in(s);
  std::string x;
  while (in >> x) w.push_back(x);
  return w;
}

std::string join(const std::vector<std::string>& w, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; i++) s += (i > from ? " " : "") + w[i];
  return s;
}

// The passages of a text: paragraphs cut into pieces of at most max_words words.
std::vector<std::vector<std::string>> passages(const std::string& text, int max_words) {
  std::vector<std::string> paras;
  bool tsv = std::count(text.begin(), text.begin() + std::min<size_t>(text.size(), 4096), '\t') > 20;
  std::istringstream in(text);
  std::string line, cur;
  int lines = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (tsv) {
      // One verse a line: five lines make a passage.
      cur += (cur.empty() ? "" : " ") + line.substr(line.rfind('\t') + 1);
      if (++lines % 5 == 0) paras.push_back(cur), cur.clear();
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (!cur.empty()) paras.push_back(cur), cur.clear();
      continue;
    }
    cur += (cur.empty() ? "" : " ") + line;
  }
  if (!cur.empty()) paras.push_back(cur);
  std::vector<std::vector<std::string>> out;
  for (const auto& p : paras) {
    auto w = words_of(p);
    for (size_t i = 0; i < w.size(); i += (size_t)max_words) {
      size_t e = std::min(w.size(), i + (size_t)max_words);
      if (e - i >= 12) out.emplace_back(w.begin() + (long)i, w.begin() + (long)e);
    }
  }
  return out;
}

}  // namespace

std::vector<TextPair> make_text_pairs(const std::string& text, const std::vector<std::string>& kinds, int max_words) {
  for (const auto& k : kinds)
    if (k != "neighbour" && k != "opening") fail("unknown pair kind '{}' (neighbour, opening)", k);
  auto has = [&](const char* k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  auto ps = passages(text, max_words);
  std::vector<TextPair> out;
  for (size_t i = 0; i < ps.size(); i++) {
    const auto& w = ps[i];
    if (has("opening")) {
      // The first sentence: up to the first word ending in . ! or ?, within the first half.
      size_t cut = 0;
      for (size_t k = 0; k + 1 < w.size() && k < w.size() / 2; k++) {
        char c = w[k].back();
        if (c == '.' || c == '!' || c == '?') {
          cut = k + 1;
          break;
        }
      }
      if (cut >= 4 && w.size() - cut >= 8) out.push_back({join(w, 0, cut), join(w, cut, w.size())});
    }
    if (has("neighbour") && i + 1 < ps.size()) out.push_back({join(w, 0, w.size()), join(ps[i + 1], 0, ps[i + 1].size())});
  }
  return out;
}

std::vector<TextPair> read_pair_file(const std::string& path) {
  std::string text = read_text_file(path);
  std::vector<TextPair> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("a") || !j.contains("b") || !j["a"].is_string() ||
        !j["b"].is_string())
      fail("{} line {}: a pair line is {{\"a\": text, \"b\": text}}", path, n);
    out.push_back({j["a"].get<std::string>(), j["b"].get<std::string>()});
  }
  if (out.empty()) fail("no pairs in '{}'", path);
  return out;
}

double contrastive_batch(Model& m, Activations& act, const TokenPairs& p, const std::vector<size_t>& idx,
                         const ContrastiveOptions& o, bool grad, double* acc) {
  const int P = (int)idx.size(), B = 2 * P, C = m.cfg.n_embd;
  if (P < 2) fail("a contrastive batch needs at least 2 pairs, got {}", P);
  int T = 1;
  for (size_t i : idx) T = std::max({T, (int)p.a[i].size(), (int)p.b[i].size()});
  T = std::min(T, o.max_tokens);
  if (act.B != B || act.T != T) alloc_activations(net_of(m), B, T, act);
  act.skip_logits = true;
  std::vector<int32_t> tokens((size_t)B * T, o.pad_token);
  std::vector<int> len(B);
  for (int s = 0; s < B; s++) {
    const auto& t = s < P ? p.a[idx[s]] : p.b[idx[s - P]];
    len[s] = std::min((int)t.size(), T);
    std::copy(t.begin(), t.begin() + len[s], tokens.begin() + (size_t)s * T);
  }
  forward(m, act, tokens.data(), nullptr, B, T);

  // Mean pooling and normalisation.
  std::vector<double> e((size_t)B * C, 0.0), norm(B);
  std::vector<int> first(B), count(B);
  for (int s = 0; s < B; s++) {
    first[s] = o.skip_bos && len[s] > 1 ? 1 : 0;
    count[s] = len[s] - first[s];
    for (int t = first[s]; t < len[s]; t++) {
      const float* h = act.xf.data() + ((size_t)s * T + t) * C;
      for (int c = 0; c < C; c++) e[(size_t)s * C + c] += h[c];
    }
    double n2 = 0;
    for (int c = 0; c < C; c++) {
      e[(size_t)s * C + c] /= count[s];
      n2 += e[(size_t)s * C + c] * e[(size_t)s * C + c];
    }
    norm[s] = std::sqrt(std::max(n2, 1e-30));
  }
  std::vector<double> u((size_t)B * C);
  for (size_t i = 0; i < u.size(); i++) u[i] = e[i] / norm[i / C];
  // Similarities, softmax by rows (a -> b) and by columns (b -> a).
  std::vector<double> S((size_t)P * P), R((size_t)P * P), Q((size_t)P * P);
  for (int i = 0; i < P; i++)
    for (int j = 0; j < P; j++) {
      double d = 0;
      for (int c = 0; c < C; c++) d += u[(size_t)i * C + c] * u[(size_t)(P + j) * C + c];
      S[(size_t)i * P + j] = d / o.tau;
    }
  double loss = 0;
  int correct = 0;
  for (int i = 0; i < P; i++) {
    double mx = -1e300;
    int arg = 0;
    for (int j = 0; j < P; j++)
      if (S[(size_t)i * P + j] > mx) mx = S[(size_t)i * P + j], arg = j;
    correct += arg == i;
    double z = 0;
    for (int j = 0; j < P; j++) z += std::exp(S[(size_t)i * P + j] - mx);
    for (int j = 0; j < P; j++) R[(size_t)i * P + j] = std::exp(S[(size_t)i * P + j] - mx) / z;
    loss += 0.5 * (std::log(z) + mx - S[(size_t)i * P + i]) / P;
  }
  for (int j = 0; j < P; j++) {
    double mx = -1e300;
    for (int i = 0; i < P; i++) mx = std::max(mx, S[(size_t)i * P + j]);
    double z = 0;
    for (int i = 0; i < P; i++) z += std::exp(S[(size_t)i * P + j] - mx);
    for (int i = 0; i < P; i++) Q[(size_t)i * P + j] = std::exp(S[(size_t)i * P + j] - mx) / z;
    loss += 0.5 * (std::log(z) + mx - S[(size_t)j * P + j]) / P;
  }
  if (acc) *acc = (double)correct / P;
  if (!grad) return loss;

  // dL/dS, then dL/du, dL/de, dL/dxf.
  std::vector<double> dS((size_t)P * P);
  for (int i = 0; i < P; i++)
    for (int j = 0; j < P; j++)
      dS[(size_t)i * P + j] = 0.5 / P * (R[(size_t)i * P + j] + Q[(size_t)i * P + j] - 2.0 * (i == j)) / o.tau;
  std::vector<double> du((size_t)B * C, 0.0);
  for (int i = 0; i < P; i++)
    for (int j = 0; j < P; j++) {
      double g = dS[(size_t)i * P + j];
      if (g == 0) continue;
      for (int c = 0; c < C; c++) {
        du[(size_t)i * C + c] += g * u[(size_t)(P + j) * C + c];
        du[(size_t)(P + j) * C + c] += g * u[(size_t)i * C + c];
      }
    }
  std::vector<float> dxf((size_t)B * T * C, 0.0f);
  for (int s = 0; s < B; s++) {
    double dot = 0;
    for (int c = 0; c < C; c++) dot += u[(size_t)s * C + c] * du[(size_t)s * C + c];
    for (int c = 0; c < C; c++) {
      double de = (du[(size_t)s * C + c] - u[(size_t)s * C + c] * dot) / norm[s] / count[s];
      for (int t = first[s]; t < len[s]; t++) dxf[((size_t)s * T + t) * C + c] = (float)de;
    }
  }
  backward_hidden(m, act, tokens.data(), dxf.data());
  return loss;
}

std::vector<ContrastiveStep> train_contrastive(Model& m, const TokenPairs& train, const TokenPairs& val,
                                               const ContrastiveOptions& o,
                                               const std::function<void(const ContrastiveStep&)>& on_step) {
  if ((int)train.size() < o.batch) fail("{} training pairs, fewer than one batch of {}", train.size(), o.batch);
  if (o.batch < 2) fail("--batch must be at least 2 pairs for in-batch negatives");
  if (o.tau <= 0) fail("--tau must be > 0, got {}", o.tau);
  using clock = std::chrono::steady_clock;
  std::vector<ContrastiveStep> hist;
  AdamState st;
  Activations act;
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t at = 0;
  auto validate = [&](ContrastiveStep& s) {
    if (val.size() < 2) return;
    double l = 0, a = 0;
    int n = 0;
    Activations va;
    for (size_t i = 0; i + 2 <= val.size(); i += (size_t)o.batch) {
      std::vector<size_t> idx;
      for (size_t k = i; k < std::min(val.size(), i + (size_t)o.batch); k++) idx.push_back(k);
      if (idx.size() < 2) break;
      double acc = 0;
      l += contrastive_batch(m, va, val, idx, o, false, &acc);
      a += acc;
      n++;
    }
    s.val_loss = l / n;
    s.val_acc = a / n;
  };
  auto t0 = clock::now();
  counter::Scope fc;
  for (int64_t step = 0; step < o.steps; step++) {
    std::vector<size_t> idx;
    while ((int)idx.size() < o.batch) {
      if (at == order.size()) std::shuffle(order.begin(), order.end(), rng), at = 0;
      idx.push_back(order[at++]);
    }
    std::fill(m.g.begin(), m.g.end(), 0.0f);
    ContrastiveStep s;
    s.step = step + 1;
    s.total = o.steps;
    s.loss = contrastive_batch(m, act, train, idx, o, true, &s.acc);
    s.grad_norm = clip_grad_norm(m.g, o.grad_clip);
    s.lr = lr_at(step, o.warmup, o.steps, o.lr, o.min_lr);
    adamw_update(m, st, (float)s.lr, o.adam);
    if (o.eval_every > 0 && (s.step % o.eval_every == 0 || s.step == o.steps)) validate(s);
    s.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    s.flops = (double)fc.elapsed().model();
    hist.push_back(s);
    if (on_step) on_step(s);
  }
  return hist;
}

}  // namespace flops::train
