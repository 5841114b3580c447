// A small backtracking regex engine over Unicode code points, for the pre-tokenizer patterns.
// Quantifiers on single characters are matched greedily by a loop and backed off one step at a time,
// so recursion depth is bounded by the pattern size, not by the text length.
#include <algorithm>

#include "core/error.h"
#include "model/tokenizer_internal.h"

namespace flops {

bool Regex::CharClass::test(uint32_t c) const {
  // ranges are sorted and disjoint (RegexParser::add_class): the last range starting at or before c.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), c, [](uint32_t x, const auto& r) { return x < r.first; });
  bool m = it != ranges.begin() && c <= (it - 1)->second;
  if (!m && cats && (cats >> ucat::category(c) & 1)) m = true;
  if (!m && space && ucat::is_space(c)) m = true;
  if (!m && nonspace && !ucat::is_space(c)) m = true;
  return m != negated;
}

struct RegexParser {
  Regex& re;
  std::vector<uint32_t> p;
  size_t i = 0;

  [[noreturn]] void bad(std::string_view why) const {
    fail("unsupported pre-tokenizer regex '{}': {} at character {}", re.pattern_, why, i);
  }
  bool at_end() const { return i >= p.size(); }
  uint32_t peek() const { return at_end() ? 0 : p[i]; }

  int add_class(Regex::CharClass c) {
    std::sort(c.ranges.begin(), c.ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (auto r : c.ranges) {
      if (!merged.empty() && r.first <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, r.second);
      else merged.push_back(r);
    }
    c.ranges = std::move(merged);
    re.classes_.push_back(std::move(c));
    return (int)re.classes_.size() - 1;
  }
  static Regex::CharClass literal(uint32_t c, bool icase) {
    Regex::CharClass k;
    k.ranges.push_back({c, c});
    if (icase && c < 128 && ((c | 32) >= 'a' && (c | 32) <= 'z')) k.ranges.push_back({c ^ 32u, c ^ 32u});
    return k;
  }

  // After a backslash. Adds to k; returns the literal code point when the escape is one, else -1.
  long escape(Regex::CharClass& k) {
    if (at_end()) bad("dangling backslash");
    uint32_t c = p[i++];
    switch (c) {
      case 'p': {
        if (peek() != '{') bad("expected { after \\p");
        ++i;
        uint32_t name = p[i++];
        if (peek() != '}') bad("only one-letter categories are supported");
        ++i;
        const char* names = "CLMNPSZ";
        for (int k2 = 0; names[k2]; ++k2)
          if (name == (uint32_t)names[k2]) {
            k.cats |= uint8_t(1u << k2);
            return -1;
          }
        bad("unknown category");
      }
      case 's': k.space = true; return -1;
      case 'S': k.nonspace = true; return -1;
      case 'd': k.ranges.push_back({'0', '9'}); return -1;
      case 'r': return '\r';
      case 'n': return '\n';
      case 't': return '\t';
      case 'f': return '\f';
      case 'v': return '\v';
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) bad("unknown escape");
        return c;  // escaped punctuation stands for itself
    }
  }

  Regex::CharClass bracket(bool icase) {
    Regex::CharClass k;
    if (peek() == '^') {
      k.negated = true;
      ++i;
    }
    bool first = true;
    while (true) {
      if (at_end()) bad("unterminated [");
      uint32_t c = p[i];
      if (c == ']' && !first) {
        ++i;
        break;
      }
      first = false;
      ++i;
      long lo;
      if (c == '\\') {
        lo = escape(k);
        if (lo < 0) continue;
      } else {
        lo = c;
      }
      long hi = lo;
      if (peek() == '-' && i + 1 < p.size() && p[i + 1] != ']') {
        ++i;
        uint32_t d = p[i++];
        if (d == '\\') {
          Regex::CharClass dummy;
          hi = escape(dummy);
          if (hi < 0) bad("class escape as a range end");
        } else {
          hi = d;
        }
        if (hi < lo) bad("reversed range");
      }
      k.ranges.push_back({(uint32_t)lo, (uint32_t)hi});
      if (icase) {
        for (long x = lo; x <= hi && x < 128; ++x)
          if ((x | 32) >= 'a' && (x | 32) <= 'z') k.ranges.push_back({uint32_t(x ^ 32), uint32_t(x ^ 32)});
      }
    }
    return k;
  }

  int number() {
    if (!(peek() >= '0' && peek() <= '9')) bad("expected a number");
    int v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + int(p[i++] - '0');
      if (v > 100000) bad("repeat count too large");
    }
    return v;
  }

  void quantifier(Regex::Node& n) {
    uint32_t c = peek();
    if (c == '?') n.min = 0, n.max = 1, ++i;
    else if (c == '*') n.min = 0, n.max = -1, ++i;
    else if (c == '+') n.min = 1, n.max = -1, ++i;
    else if (c == '{') {
      ++i;
      n.min = number();
      n.max = n.min;
      if (peek() == ',') {
        ++i;
        n.max = peek() == '}' ? -1 : number();
      }
      if (peek() != '}') bad("expected }");
      ++i;
      if (n.max >= 0 && n.max < n.min) bad("bad repeat range");
    } else {
      return;
    }
    if (peek() == '?' || peek() == '+' || peek() == '*' || peek() == '{') bad("lazy or possessive quantifiers");
    if (n.kind != Regex::Node::Class && !(n.min <= 1 && n.max == 1)) bad("only ? may follow a group");
  }

  int alternation(bool icase) {
    int gi = (int)re.groups_.size();
    re.groups_.emplace_back();
    Regex::Group g;
    g.alts.emplace_back();
    while (!at_end() && peek() != ')') {
      uint32_t c = p[i];
      if (c == '|') {
        ++i;
        g.alts.emplace_back();
        continue;
      }
      Regex::Node n;
      ++i;
      if (c == '(') {
        bool sub_icase = icase;
        n.kind = Regex::Node::Group;
        if (peek() == '?') {
          ++i;
          uint32_t t = p.size() > i ? p[i++] : 0;
          if (t == ':') {
          } else if (t == '!') n.kind = Regex::Node::NotAhead;
          else if (t == '=') n.kind = Regex::Node::Ahead;
          else if (t == 'i' && peek() == ':') sub_icase = true, ++i;
          else bad("unsupported group kind");
        }
        n.index = alternation(sub_icase);
        if (peek() != ')') bad("unterminated (");
        ++i;
      } else if (c == '[') {
        n.index = add_class(bracket(icase));
      } else if (c == '\\') {
        Regex::CharClass k;
        long lit = escape(k);
        n.index = add_class(lit >= 0 ? literal((uint32_t)lit, icase) : k);
      } else if (c == '.') {
        Regex::CharClass k;
        k.negated = true;
        k.ranges.push_back({'\n', '\n'});
        n.index = add_class(k);
      } else if (c == '$') {
        n.kind = Regex::Node::End;
      } else if (c == '^' || c == '*' || c == '+' || c == '?' || c == '{') {
        bad("unexpected operator");
      } else {
        n.index = add_class(literal(c, icase));
      }
      if (n.kind != Regex::Node::End) quantifier(n);
      g.alts.back().push_back(n);
    }
    re.groups_[gi] = std::move(g);
    return gi;
  }
};

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  RegexParser ps{*this, {}, 0};
  std::vector<uint32_t> off;
  if (utf8_invalid_offset(pattern) != std::string_view::npos) fail("pre-tokenizer regex is not valid UTF-8");
  utf8_decode(pattern, ps.p, off);
  ps.alternation(false);
  if (!ps.at_end()) ps.bad("unbalanced )");
}

namespace {
// A non-owning callable reference: continuations are passed down the recursion without allocation.
struct Cont {
  const void* obj;
  bool (*fn)(const void*, size_t);
  bool operator()(size_t p) const { return fn(obj, p); }
};
template <class F>
Cont cont(const F& f) {
  return {&f, [](const void* o, size_t p) { return (*static_cast<const F*>(o))(p); }};
}
}  // namespace

struct RegexMatcher {
  const Regex& re;
  const uint32_t* cps;
  size_t end;

  bool seq(const Regex::Seq& s, size_t i, size_t pos, Cont k) const {
    if (i == s.size()) return k(pos);
    const Regex::Node& n = s[i];
    switch (n.kind) {
      case Regex::Node::Class: {
        const Regex::CharClass& cc = re.classes_[n.index];
        size_t limit = end - pos;
        if (n.max >= 0 && (size_t)n.max < limit) limit = (size_t)n.max;
        size_t cnt = 0;
        while (cnt < limit && cc.test(cps[pos + cnt])) ++cnt;
        if (cnt < (size_t)n.min) return false;
        for (size_t j = cnt;; --j) {
          if (seq(s, i + 1, pos + j, k)) return true;
          if (j == (size_t)n.min) return false;
        }
      }
      case Regex::Node::Group: {
        auto after = [&](size_t e) { return seq(s, i + 1, e, k); };
        for (const auto& alt : re.groups_[n.index].alts)
          if (seq(alt, 0, pos, cont(after))) return true;
        return n.min == 0 && seq(s, i + 1, pos, k);
      }
      case Regex::Node::NotAhead:
      case Regex::Node::Ahead: {
        auto yes = [](size_t) { return true; };
        bool found = false;
        for (const auto& alt : re.groups_[n.index].alts)
          if (seq(alt, 0, pos, cont(yes))) {
            found = true;
            break;
          }
        if (found != (n.kind == Regex::Node::Ahead)) return false;
        return seq(s, i + 1, pos, k);
      }
      case Regex::Node::End:
        return pos == end && seq(s, i + 1, pos, k);
    }
    return false;
  }
};

long Regex::match_at(const uint32_t* cps, size_t pos, size_t end) const {
  RegexMatcher m{*this, cps, end};
  size_t found = 0;
  auto done = [&](size_t e) {
    found = e;
    return true;
  };
  for (const auto& alt : groups_[0].alts)
    if (m.seq(alt, 0, pos, cont(done))) return (long)(found - pos);
  return -1;
}

void Regex::find_all(const uint32_t* cps, size_t b, size_t e, std::vector<std::pair<size_t, size_t>>& out) const {
  // An alternative that starts with an unbounded run X* / X+ and fails at pos also fails at every start
  // inside that run (it would only retry a subset of the same end positions), so it is skipped there:
  // without this, "\s+$" over a long run of spaces before a digit would be quadratic.
  const auto& alts = groups_[0].alts;
  std::vector<size_t> skip(alts.size(), 0);
  RegexMatcher m{*this, cps, e};
  size_t found = 0;
  auto done = [&](size_t x) {
    found = x;
    return true;
  };
  size_t pos = b;
  while (pos < e) {
    bool hit = false;
    for (size_t a = 0; a < alts.size() && !hit; ++a) {
      if (pos < skip[a]) continue;
      if (m.seq(alts[a], 0, pos, cont(done))) {
        hit = true;
      } else if (!alts[a].empty() && alts[a][0].kind == Node::Class && alts[a][0].max < 0) {
        const CharClass& cc = classes_[alts[a][0].index];
        size_t r = pos;
        while (r < e && cc.test(cps[r])) ++r;
        skip[a] = r + 1;
      }
    }
    if (hit && found > pos) {
      out.push_back({pos, found});
      pos = found;
    } else {
      ++pos;  // no match, or an empty one (which splits nothing)
    }
  }
}

}  // namespace flops
