#include "harness/templates.h"

#include <cctype>
#include <set>

#include "core/error.h"
#include "model/jinja.h"

namespace flops::harness {

namespace {

// lm-evaluation-harness's Jinja environment: StrictUndefined, keep_trailing_newline, and none of
// transformers' trim_blocks / lstrip_blocks.
const jinja::Options& harness_options() {
  static const jinja::Options o = [] {
    jinja::Options x;
    x.trim_blocks = false;
    x.lstrip_blocks = false;
    x.keep_trailing_newline = true;
    x.strict_undefined = true;
    return x;
  }();
  return o;
}

const std::set<std::string>& keywords() {
  static const std::set<std::string> k = {
      "and", "or", "not", "in", "is", "if", "else", "elif", "endif", "for", "endfor", "set", "endset",
      "true", "false", "none", "True", "False", "None", "loop", "macro", "endmacro", "call", "endcall",
      "filter", "endfilter", "raw", "endraw", "with", "endwith", "without", "context", "import", "include",
      "from", "as", "recursive", "break", "continue", "do", "block", "endblock", "extends", "self", "caller",
      "varargs", "kwargs", "range", "namespace", "dict", "lipsum", "cycler", "joiner", "raise_exception"};
  return k;
}

struct Tok {
  enum Kind { Name, Str, Op } kind;
  std::string text;
};

std::vector<Tok> lex_expr(const std::string& s) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace((unsigned char)c)) { i++; continue; }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != c) j += (s[j] == '\\') ? 2 : 1;
      out.push_back({Tok::Str, ""});
      i = j + 1;
      continue;
    }
    if (std::isalpha((unsigned char)c) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
      out.push_back({Tok::Name, s.substr(i, j - i)});
      i = j;
      continue;
    }
    if (std::isdigit((unsigned char)c)) {
      while (i < s.size() && (std::isalnum((unsigned char)s[i]) || s[i] == '.')) i++;
      out.push_back({Tok::Str, ""});
      continue;
    }
    if (c == '=' && i + 1 < s.size() && s[i + 1] == '=') { out.push_back({Tok::Op, "=="}); i += 2; continue; }
    out.push_back({Tok::Op, std::string(1, c)});
    i++;
  }
  return out;
}

}  // namespace

std::vector<std::string> template_variables(const std::string& src) {
  // Collect expression texts of {{ }} and {% %}; comments are skipped.
  std::vector<std::pair<bool, std::string>> parts;  // (is statement, text)
  size_t i = 0;
  while (i < src.size()) {
    size_t a = src.find('{', i);
    if (a == std::string::npos || a + 1 >= src.size()) break;
    char k = src[a + 1];
    if (k != '{' && k != '%' && k != '#') { i = a + 1; continue; }
    std::string close = k == '{' ? "}}" : (k == '%' ? "%}" : "#}");
    size_t b = src.find(close, a + 2);
    if (b == std::string::npos) break;
    if (k != '#') parts.push_back({k == '%', src.substr(a + 2, b - a - 2)});
    i = b + 2;
  }
  std::set<std::string> bound, defined_tests;
  std::vector<std::string> used;
  for (auto& [stmt, text] : parts) {
    std::vector<Tok> t = lex_expr(text);
    size_t start = 0;
    if (stmt && !t.empty() && t[0].kind == Tok::Name) {
      const std::string& w = t[0].text;
      if (w == "for") {
        size_t j = 1;
        for (; j < t.size() && !(t[j].kind == Tok::Name && t[j].text == "in"); j++)
          if (t[j].kind == Tok::Name) bound.insert(t[j].text);
        start = j;
      } else if (w == "set" && t.size() > 1 && t[1].kind == Tok::Name) {
        bound.insert(t[1].text);
        start = 2;
      } else if (w == "macro" && t.size() > 1) {
        for (size_t j = 1; j < t.size(); j++)
          if (t[j].kind == Tok::Name) bound.insert(t[j].text);
        start = t.size();
      }
    }
    for (size_t j = start; j < t.size(); j++) {
      if (t[j].kind != Tok::Name) continue;
      const std::string& n = t[j].text;
      if (keywords().count(n)) continue;
      if (j > 0 && t[j - 1].kind == Tok::Op && (t[j - 1].text == "." || t[j - 1].text == "|")) continue;
      bool after_is = j > 0 && t[j - 1].kind == Tok::Name &&
                      (t[j - 1].text == "is" || (t[j - 1].text == "not" && j > 1 && t[j - 2].text == "is"));
      if (after_is) continue;  // a test name: `x is divisibleby(3)`, `x is not string`
      if (j + 1 < t.size() && t[j + 1].kind == Tok::Op && t[j + 1].text == "=") continue;  // keyword argument
      // `name is [not] defined/undefined`: the template checks for it itself.
      size_t k = j + 1;
      if (k < t.size() && t[k].kind == Tok::Name && t[k].text == "is") {
        k++;
        if (k < t.size() && t[k].kind == Tok::Name && t[k].text == "not") k++;
        if (k < t.size() && t[k].kind == Tok::Name && (t[k].text == "defined" || t[k].text == "undefined")) {
          defined_tests.insert(n);
          continue;
        }
      }
      bool seen = false;
      for (auto& u : used) seen |= u == n;
      if (!seen) used.push_back(n);
    }
  }
  std::vector<std::string> out;
  for (auto& u : used)
    if (!bound.count(u) && !defined_tests.count(u)) out.push_back(u);
  return out;
}

std::string render(const Tpl& t, const nlohmann::json& doc, const std::string& doc_where) {
  if (t.src.find("{{") == std::string::npos && t.src.find("{%") == std::string::npos) return t.src;
  for (const std::string& v : template_variables(t.src))
    if (!doc.contains(v)) {
      std::string fields;
      for (auto it = doc.begin(); it != doc.end(); ++it) fields += (fields.empty() ? "" : ", ") + it.key();
      fail("{} uses '{}', which {} does not have (its fields: {})", t.where, v, doc_where, fields);
    }
  try {
    return jinja::render(t.src, nlohmann::ordered_json::parse(doc.dump()), harness_options());
  } catch (const Error& e) {
    fail("{} on {}: {}", t.where, doc_where, e.what());
  }
}

nlohmann::json field_or_render(const Tpl& t, const nlohmann::json& doc, const std::string& doc_where) {
  if (doc.is_object() && doc.contains(t.src)) return doc[t.src];
  return render(t, doc, doc_where);
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    std::string s = nlohmann::json(v).dump();
    return s;
  }
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); i++) {
      if (i) s += ", ";
      if (v[i].is_string()) {
        std::string q = "'";
        for (char c : v[i].get<std::string>()) {
          if (c == '\'' || c == '\\') q += '\\';
          q += c;
        }
        s += q + "'";
      } else {
        s += value_text(v[i]);
      }
    }
    return s + "]";
  }
  return v.dump();
}

namespace {

struct LiteralParser {
  const std::string& s;
  size_t i = 0;
  std::string what;
  void ws() {
    while (i < s.size() && std::isspace((unsigned char)s[i])) i++;
  }
  [[noreturn]] void bad(const std::string& why) {
    fail("{}: '{}' is not a list or literal ({} at character {})", what, s.size() > 80 ? s.substr(0, 80) + "..." : s, why, i);
  }
  nlohmann::json value() {
    ws();
    if (i >= s.size()) bad("it ends early");
    char c = s[i];
    if (c == '[' || c == '(') {
      char close = c == '[' ? ']' : ')';
      i++;
      nlohmann::json a = nlohmann::json::array();
      ws();
      if (i < s.size() && s[i] == close) { i++; return a; }
      for (;;) {
        a.push_back(value());
        ws();
        if (i < s.size() && s[i] == ',') {
          i++;
          ws();
          if (i < s.size() && s[i] == close) { i++; return a; }
          continue;
        }
        if (i < s.size() && s[i] == close) { i++; return a; }
        bad("expected ',' or the closing bracket");
      }
    }
    if (c == '\'' || c == '"') {
      i++;
      std::string out;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          char e = s[++i];
          switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '0': out += '\0'; break;
            default: out += e;
          }
          i++;
          continue;
        }
        out += s[i++];
      }
      if (i >= s.size()) bad("a string is never closed");
      i++;
      return out;
    }
    size_t j = i;
    while (j < s.size() && (std::isalnum((unsigned char)s[j]) || s[j] == '.' || s[j] == '-' || s[j] == '+' || s[j] == '_')) j++;
    std::string w = s.substr(i, j - i);
    if (w.empty()) bad("unexpected character");
    i = j;
    if (w == "True" || w == "true") return true;
    if (w == "False" || w == "false") return false;
    if (w == "None" || w == "null") return nullptr;
    try {
      size_t used = 0;
      if (w.find_first_of(".eE") == std::string::npos) {
        long long v = std::stoll(w, &used);
        if (used == w.size()) return v;
      } else {
        double v = std::stod(w, &used);
        if (used == w.size()) return v;
      }
    } catch (...) {
    }
    bad("'" + w + "' is not a number or string");
  }
};

}  // namespace

nlohmann::json parse_literal(const std::string& text, const std::string& what) {
  LiteralParser p{text, 0, what};
  nlohmann::json v = p.value();
  p.ws();
  if (p.i != text.size()) p.bad("text after the value");
  return v;
}

}  // namespace flops::harness
