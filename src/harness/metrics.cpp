#include "harness/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <random>
#include <regex>

#include "core/error.h"

namespace flops::harness {

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t argmax(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); i++)
    if (v[i] > v[best]) best = i;  // the first of equal maxima, as numpy
  return best;
}

McScore score_multiple_choice(const std::vector<double>& lls, const std::vector<std::string>& choices,
                              const std::vector<int>& golds) {
  McScore s;
  s.pred = argmax(lls);
  std::vector<double> norm(lls.size());
  for (size_t i = 0; i < lls.size(); i++) {
    // An empty choice divides by zero in the harness (inf/nan); flops counts it as length 1.
    double len = std::max<size_t>(1, utf8_length(choices[i]));
    norm[i] = lls[i] / len;
  }
  s.pred_norm = argmax(norm);
  for (int g : golds) {
    if ((size_t)g == s.pred) s.acc = 1;
    if ((size_t)g == s.pred_norm) s.acc_norm = 1;
  }
  return s;
}

namespace {

std::regex compile_regex(const std::string& pattern, const std::string& what) {
  std::string p = pattern;
  auto flags = std::regex::ECMAScript;
  if (p.rfind("(?i)", 0) == 0) {
    p = p.substr(4);
    flags |= std::regex::icase;
  }
  // Python's named groups (?P<name>...) are plain groups here.
  for (size_t k; (k = p.find("(?P<")) != std::string::npos;) {
    size_t e = p.find('>', k);
    if (e == std::string::npos) break;
    p.erase(k + 1, e - k);
  }
  try {
    return std::regex(p, flags);
  } catch (const std::regex_error& e) {
    fail("{}: the regular expression '{}' is not valid ({})", what, pattern, e.what());
  }
}

bool is_ascii_punct(char c) { return (unsigned char)c < 128 && std::ispunct((unsigned char)c); }

std::string lower(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

}  // namespace

bool exact_match(const std::string& prediction, const std::string& reference, const MetricSpec& m) {
  std::string p = prediction, r = reference;
  for (const auto& rx : m.regexes_to_ignore) {
    std::regex re = compile_regex(rx, "regexes_to_ignore");
    p = std::regex_replace(p, re, "");
    r = std::regex_replace(r, re, "");
  }
  if (m.ignore_case) {
    p = lower(p);
    r = lower(r);
  }
  auto drop = [](std::string s, bool (*pred)(char)) {
    s.erase(std::remove_if(s.begin(), s.end(), pred), s.end());
    return s;
  };
  if (m.ignore_punctuation) {
    p = drop(p, is_ascii_punct);
    r = drop(r, is_ascii_punct);
  }
  if (m.ignore_numbers) {
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    p = drop(p, digit);
    r = drop(r, digit);
  }
  return p == r;
}

namespace {

std::vector<std::string> squad_tokens(const std::string& s) {
  std::string t;
  for (char c : lower(s)) t += is_ascii_punct(c) ? ' ' : c;
  std::vector<std::string> out;
  size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && std::isspace((unsigned char)t[i])) i++;
    size_t j = i;
    while (j < t.size() && !std::isspace((unsigned char)t[j])) j++;
    if (j > i) {
      std::string w = t.substr(i, j - i);
      if (w != "a" && w != "an" && w != "the") out.push_back(w);
    }
    i = j;
  }
  return out;
}

}  // namespace

double token_f1(const std::string& prediction, const std::string& reference) {
  auto p = squad_tokens(prediction), r = squad_tokens(reference);
  if (p.empty() || r.empty()) return p.empty() && r.empty() ? 1.0 : 0.0;
  std::map<std::string, int> count;
  for (auto& w : r) count[w]++;
  int common = 0;
  for (auto& w : p)
    if (count[w] > 0) {
      count[w]--;
      common++;
    }
  if (common == 0) return 0;
  double prec = (double)common / p.size(), rec = (double)common / r.size();
  return 2 * prec * rec / (prec + rec);
}

double binary_f1(const std::vector<int>& golds, const std::vector<int>& preds) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < golds.size(); i++) {
    bool g = golds[i] == 1, p = preds[i] == 1;
    tp += g && p;
    fp += !g && p;
    fn += g && !p;
  }
  // sklearn returns 0 (with a warning) when there are no positive predictions or golds.
  return tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
}

Aggregate mean_with_stderr(const std::vector<double>& x) {
  Aggregate a;
  if (x.empty()) return a;
  double s = 0;
  for (double v : x) s += v;
  a.value = s / x.size();
  if (x.size() > 1) {
    double ss = 0;
    for (double v : x) ss += (v - a.value) * (v - a.value);
    a.stderr_ = std::sqrt(ss / (x.size() - 1)) / std::sqrt((double)x.size());
  }
  return a;
}

Aggregate weighted_mean_with_stderr(const std::vector<double>& x, const std::vector<double>& w) {
  Aggregate a;
  double sw = 0, sx = 0;
  for (size_t i = 0; i < x.size(); i++) {
    sw += w[i];
    sx += w[i] * x[i];
  }
  if (x.empty() || sw <= 0) return a;
  a.value = sx / sw;
  if (x.size() > 1) {
    double ss = 0;
    for (size_t i = 0; i < x.size(); i++) ss += w[i] * w[i] * (x[i] - a.value) * (x[i] - a.value);
    double n = (double)x.size();
    a.stderr_ = std::sqrt(n / (n - 1) * ss) / sw;
  }
  return a;
}

double bootstrap_stderr(size_t n, int iters, uint64_t seed, const std::function<double(const std::vector<size_t>&)>& f) {
  if (n < 2 || iters < 2) return 0;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<size_t> idx(n);
  std::vector<double> vals;
  vals.reserve(iters);
  for (int it = 0; it < iters; it++) {
    for (auto& i : idx) i = pick(rng);
    vals.push_back(f(idx));
  }
  Aggregate m = mean_with_stderr(vals);
  // sample standard deviation of the resampled metric = stderr * sqrt(iters)
  return m.stderr_ ? *m.stderr_ * std::sqrt((double)iters) : 0.0;
}

double pooled_stderr(const std::vector<double>& stderrs, const std::vector<double>& sizes) {
  double num = 0, total = 0;
  for (size_t i = 0; i < sizes.size(); i++) {
    num += (sizes[i] - 1) * stderrs[i] * stderrs[i] * sizes[i];
    total += sizes[i];
  }
  double denom = total - (double)sizes.size();
  if (denom <= 0 || total <= 0) return 0;
  return std::sqrt(num / denom / total);
}

std::string apply_filters(const FilterPipeline& p, const std::string& answer) {
  std::string a = answer;
  for (const auto& st : p.steps) {
    if (st.function == "take_first") continue;  // one answer per document: nothing to choose
    if (st.function == "lowercase") {
      a = lower(a);
    } else if (st.function == "uppercase") {
      for (auto& c : a) c = (char)std::toupper((unsigned char)c);
    } else if (st.function == "remove_whitespace") {
      a.erase(0, a.find_first_not_of(" \t\n\r"));
      if (a.find_first_not_of(" \t\n\r") == std::string::npos) a.clear();
    } else if (st.function == "regex") {
      // Python's re.findall: each match's group 1 when there is one group, the first non-empty
      // group when there are several, the whole match when there are none.
      std::regex re = compile_regex(st.regex_pattern, "filter regex");
      std::vector<std::string> found;
      for (auto it = std::sregex_iterator(a.begin(), a.end(), re); it != std::sregex_iterator(); ++it) {
        const std::smatch& m = *it;
        if (m.size() == 1) found.push_back(m.str(0));
        else if (m.size() == 2) found.push_back(m.str(1));
        else {
          std::string first;
          for (size_t g = 1; g < m.size(); g++)
            if (m[g].matched && m[g].length() > 0) {
              first = m.str(g);
              break;
            }
          found.push_back(first);
        }
      }
      int k = st.group_select < 0 ? (int)found.size() + st.group_select : st.group_select;
      if (found.empty() || k < 0 || k >= (int)found.size()) {
        a = st.fallback;
      } else {
        a = found[k];
        size_t b = a.find_first_not_of(" \t\n\r");
        size_t e = a.find_last_not_of(" \t\n\r");
        a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
      }
    }
  }
  return a;
}

}  // namespace flops::harness
