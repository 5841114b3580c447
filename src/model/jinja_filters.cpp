// Jinja2's built-in filters and tests (the ones templates use), plus transformers' `tojson` and
// lm-evaluation-harness's `regex_replace`. map/select/reject/selectattr/rejectattr/unique/items
// give generators, as in Jinja2: they iterate and join, but `|length` and `|tojson` on them fail
// until `|list` makes a list.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <regex>
#include <unordered_map>

#include "model/jinja_internal.h"
#include "model/jinja_pystr.h"

namespace flops::jinja {

namespace {

const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);

Value generator(ValueList items) { return Value::new_list(std::move(items), Seq::Generator); }

std::string need_string(Interp& in, const Value& v) { return in.to_str(v); }

// Jinja's attribute getter for map/sort/selectattr...: dotted parts, integers index.
Value attr_path(Interp& in, const Value& item, const Value& attribute) {
  if (attribute.is_integer()) return get_item(in, item, attribute);
  Value cur = item;
  for (const auto& part : py::split(py_str(attribute), std::string("."), -1)) {
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return isdigit((uint8_t)c); });
    cur = get_item(in, cur, digits ? Value::integer(std::stoll(part)) : Value::string(part));
  }
  return cur;
}

Value f_default(Interp&, const Value& v, Args& a) {
  a.only("default", {"default_value", "boolean"});
  static const Value empty = Value::string("");
  bool boolean = truthy(a.get(1, "boolean", kFalse));
  if (v.is_undefined() || (boolean && !truthy(v))) return a.get(0, "default_value", empty);
  return v;
}

Value f_tojson(Interp& in, const Value& v, Args& a) {
  a.only("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  const Value& ind = a.get(1, "indent", kNone);
  int indent = -1;
  if (ind.is_integer()) indent = (int)ind.as_int();
  else if (!ind.is_none()) raise(a.line, "TypeError", "tojson indent must be an integer");
  std::string item_sep = indent >= 0 ? "," : ", ", key_sep = ": ";
  const Value& sep = a.get(2, "separators", kNone);
  if (!sep.is_none()) {
    if (!sep.is_list() || sep.list->size() != 2 || !(*sep.list)[0].is_string() || !(*sep.list)[1].is_string())
      raise(a.line, "TypeError", "tojson separators must be a pair of strings");
    item_sep = (*sep.list)[0].s;
    key_sep = (*sep.list)[1].s;
  }
  std::string out = to_json(v, indent, item_sep, key_sep, truthy(a.get(3, "sort_keys", kFalse)), in.line);
  if (!truthy(a.get(0, "ensure_ascii", kFalse))) return Value::string(std::move(out));
  std::string esc;
  for (uint32_t c : py::code_points(out)) {
    char buf[16];
    if (c < 0x80) {
      esc += (char)c;
    } else if (c < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      esc += buf;
    } else {
      c -= 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
      esc += buf;
    }
  }
  return Value::string(std::move(esc));
}

Value f_trim(Interp& in, const Value& v, Args& a) {
  a.only("trim", {"chars"});
  const Value& chars = a.get(0, "chars", kNone);
  std::optional<std::string> set;
  if (!chars.is_none()) set = py_str(chars);
  return Value::string(py::strip(need_string(in, v), set, true, true), v.safe);
}

Value f_length(Interp& in, const Value& v, Args& a) {
  a.only("length", {});
  return Value::integer(length(v, in.line));
}

Value f_join(Interp& in, const Value& v, Args& a) {
  a.only("join", {"d", "attribute"});
  static const Value empty = Value::string("");
  const Value& d = a.get(0, "d", empty);
  const Value& attribute = a.get(1, "attribute", kNone);
  std::string sep = py_str(d), out;
  bool first = true;
  for (const auto& x : iterate(v, in.line)) {
    if (!first) out += sep;
    first = false;
    out += in.to_str(attribute.is_none() ? x : attr_path(in, x, attribute));
  }
  return Value::string(std::move(out));
}

Value f_list(Interp& in, const Value& v, Args& a) {
  a.only("list", {});
  return Value::new_list(iterate(v, in.line));
}

Value f_items(Interp& in, const Value& v, Args& a) {
  a.only("items", {});
  if (v.is_undefined()) return generator({});
  if (v.kind != Kind::Dict) raise(a.line, "FilterArgumentError", "can only get item pairs from a mapping.");
  ValueList out;
  for (const auto& [k, x] : v.dict->items) out.push_back(Value::new_list({Value::string(k), x}, Seq::Tuple));
  return generator(std::move(out));
}

Value f_string(Interp& in, const Value& v, Args& a) {
  a.only("string", {});
  return Value::string(in.to_str(v), v.safe);
}
Value f_safe(Interp& in, const Value& v, Args& a) {
  a.only("safe", {});
  return Value::string(in.to_str(v), true);
}
Value f_escape(Interp& in, const Value& v, Args& a) {
  if (v.safe) return v;
  return Value::string(html_escape(in.to_str(v)), true);
}
Value f_forceescape(Interp& in, const Value& v, Args& a) { return Value::string(html_escape(in.to_str(v)), true); }
Value f_lower(Interp& in, const Value& v, Args& a) { return Value::string(py::lower(need_string(in, v)), v.safe); }
Value f_upper(Interp& in, const Value& v, Args& a) { return Value::string(py::upper(need_string(in, v)), v.safe); }
Value f_title(Interp& in, const Value& v, Args& a) { return Value::string(py::title(need_string(in, v)), v.safe); }
Value f_capitalize(Interp& in, const Value& v, Args& a) {
  return Value::string(py::capitalize(need_string(in, v)), v.safe);
}

Value f_replace(Interp& in, const Value& v, Args& a) {
  a.only("replace", {"old", "new", "count"});
  std::string from = py_str(a.get(0, "old", kNone)), to = py_str(a.get(1, "new", kNone));
  const Value& c = a.get(2, "count", kNone);
  std::string s = need_string(in, v);
  // On a Markup value the replacement strings are escaped first (markupsafe).
  if (v.safe) from = html_escape(from), to = html_escape(to);
  return Value::string(py::replace(s, from, to, c.is_integer() ? c.as_int() : -1), v.safe);
}

Value f_indent(Interp& in, const Value& v, Args& a) {
  a.only("indent", {"width", "first", "blank"});
  static const Value four = Value::integer(4);
  const Value& w = a.get(0, "width", four);
  std::string ind = w.is_string() ? w.s : std::string((size_t)std::max<int64_t>(0, w.as_int()), ' ');
  bool first = truthy(a.get(1, "first", kFalse)), blank = truthy(a.get(2, "blank", kFalse));
  std::string s = need_string(in, v) + "\n";
  auto lines = py::splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind) + lines[k];
  }
  if (first) rv = ind + rv;
  return Value::string(std::move(rv), v.safe);
}

Value f_first(Interp& in, const Value& v, Args& a) {
  ValueList items = iterate(v, in.line);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items[0];
}
Value f_last(Interp& in, const Value& v, Args& a) {
  if (v.is_list() && v.seq == Seq::Generator) raise(a.line, "TypeError", "'generator' object is not reversible");
  ValueList items = iterate(v, in.line);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_reverse(Interp& in, const Value& v, Args& a) {
  if (v.is_string()) {
    auto cps = py::code_points(v.s);
    std::reverse(cps.begin(), cps.end());
    return Value::string(py::from_code_points(cps.data(), cps.size()), v.safe);
  }
  ValueList items = iterate(v, in.line);
  std::reverse(items.begin(), items.end());
  return generator(std::move(items));
}

// map(attribute=...) or map('filter', args...)
// Like Jinja2, map and select/reject yield nothing for a falsy value (none, 0, ""): `if value:`.
Value f_map(Interp& in, const Value& v, Args& a) {
  ValueList items = truthy(v) ? iterate(v, in.line) : ValueList{};
  ValueList out;
  if (a.pos.empty()) {
    const Value* attribute = nullptr;
    const Value* def = nullptr;
    for (const auto& [k, x] : a.kw) {
      if (k == "attribute") attribute = &x;
      else if (k == "default") def = &x;
      else raise(a.line, "FilterArgumentError", "map() got an unexpected keyword argument '" + k + "'");
    }
    if (!attribute) raise(a.line, "FilterArgumentError", "map requires a filter argument");
    for (const auto& x : items) {
      Value r = attr_path(in, x, *attribute);
      out.push_back(r.is_undefined() && def ? *def : r);
    }
    return generator(std::move(out));
  }
  std::string name = py_str(a.pos[0]);
  FilterFn f = find_filter(name);
  if (!f) raise(a.line, "TemplateRuntimeError", fmt::format("unsupported filter '{}' (in map)", name));
  Args rest;
  rest.line = a.line;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const auto& x : items) {
    Args copy = rest;
    out.push_back(f(in, x, copy));
  }
  return generator(std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...)
Value select_impl(Interp& in, const Value& v, Args& a, bool attr, bool keep_if) {
  size_t k = 0;
  Value attribute;
  if (attr) {
    if (a.pos.empty()) raise(a.line, "TypeError", "missing attribute argument");
    attribute = a.pos[k++];
  }
  TestFn test = nullptr;
  if (k < a.pos.size()) {
    std::string name = py_str(a.pos[k++]);
    test = find_test(name);
    if (!test) raise(a.line, "TemplateRuntimeError", fmt::format("unsupported test '{}'", name));
  }
  Args rest;
  rest.line = a.line;
  rest.pos.assign(a.pos.begin() + (long)k, a.pos.end());
  rest.kw = a.kw;
  ValueList out;
  for (const auto& x : truthy(v) ? iterate(v, in.line) : ValueList{}) {
    Value probe = attr ? attr_path(in, x, attribute) : x;
    bool ok;
    if (test) {
      Args copy = rest;
      ok = test(in, probe, copy);
    } else {
      ok = in.test_truth(probe);
    }
    if (ok == keep_if) out.push_back(x);
  }
  return generator(std::move(out));
}
Value f_select(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, true, false); }

// The comparison key of sort/unique/min/max: case-folded strings unless case_sensitive.
Value sort_key(Interp& in, const Value& x, const Value& attribute, bool case_sensitive) {
  Value k = attribute.is_none() ? x : attr_path(in, x, attribute);
  if (!case_sensitive && k.is_string()) return Value::string(py::lower(k.s));
  return k;
}

Value f_unique(Interp& in, const Value& v, Args& a) {
  a.only("unique", {"case_sensitive", "attribute"});
  bool cs = truthy(a.get(0, "case_sensitive", kFalse));
  const Value& attribute = a.get(1, "attribute", kNone);
  ValueList out, seen;
  for (const auto& x : iterate(v, in.line)) {
    Value k = sort_key(in, x, attribute, cs);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
    seen.push_back(k);
    out.push_back(x);
  }
  return generator(std::move(out));
}

Value f_sort(Interp& in, const Value& v, Args& a) {
  a.only("sort", {"reverse", "case_sensitive", "attribute"});
  bool rev = truthy(a.get(0, "reverse", kFalse)), cs = truthy(a.get(1, "case_sensitive", kFalse));
  const Value& attribute = a.get(2, "attribute", kNone);
  ValueList items = iterate(v, in.line);
  std::vector<std::pair<Value, size_t>> keys;
  for (size_t k = 0; k < items.size(); ++k) keys.emplace_back(sort_key(in, items[k], attribute, cs), k);
  std::stable_sort(keys.begin(), keys.end(), [&](const auto& x, const auto& y) {
    int c = compare(x.first, y.first, a.line, "<");
    return rev ? c > 0 : c < 0;
  });
  ValueList out;
  for (auto& [k, idx] : keys) out.push_back(items[idx]);
  return Value::new_list(std::move(out));
}

Value f_dictsort(Interp& in, const Value& v, Args& a) {
  a.only("dictsort", {"case_sensitive", "by", "reverse"});
  if (v.kind != Kind::Dict) raise(a.line, "TypeError", "dictsort expects a mapping");
  bool cs = truthy(a.get(0, "case_sensitive", kFalse)), rev = truthy(a.get(2, "reverse", kFalse));
  static const Value key = Value::string("key");
  std::string by = py_str(a.get(1, "by", key));
  if (by != "key" && by != "value") raise(a.line, "FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
  ValueList pairs;
  for (const auto& [k, x] : v.dict->items) pairs.push_back(Value::new_list({Value::string(k), x}, Seq::Tuple));
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    size_t i = by == "key" ? 0 : 1;
    int c = compare(sort_key(in, (*x.list)[i], kNone, cs), sort_key(in, (*y.list)[i], kNone, cs), a.line, "<");
    return rev ? c > 0 : c < 0;
  });
  return Value::new_list(std::move(pairs));
}

Value minmax(Interp& in, const Value& v, Args& a, bool want_max) {
  a.only(want_max ? "max" : "min", {"case_sensitive", "attribute"});
  bool cs = truthy(a.get(0, "case_sensitive", kFalse));
  const Value& attribute = a.get(1, "attribute", kNone);
  ValueList items = iterate(v, in.line);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t k = 1; k < items.size(); ++k) {
    int c = compare(sort_key(in, items[k], attribute, cs), sort_key(in, items[best], attribute, cs), a.line, "<");
    if (want_max ? c > 0 : c < 0) best = k;
  }
  return items[best];
}
Value f_min(Interp& in, const Value& v, Args& a) { return minmax(in, v, a, false); }
Value f_max(Interp& in, const Value& v, Args& a) { return minmax(in, v, a, true); }

Value f_sum(Interp& in, const Value& v, Args& a) {
  a.only("sum", {"attribute", "start"});
  static const Value zero = Value::integer(0);
  const Value& attribute = a.get(0, "attribute", kNone);
  Value total = a.get(1, "start", zero);
  for (const auto& x : iterate(v, in.line)) {
    Value y = attribute.is_none() ? x : attr_path(in, x, attribute);
    if (!y.is_number() || !total.is_number())
      raise(a.line, "TypeError", fmt::format("unsupported operand type(s) for +: '{}' and '{}'", type_name(total), type_name(y)));
    total = total.is_integer() && y.is_integer() ? Value::integer(total.as_int() + y.as_int())
                                                 : Value::number(total.as_double() + y.as_double());
  }
  return total;
}

Value f_int(Interp& in, const Value& v, Args& a) {
  a.only("int", {"default", "base"});
  static const Value zero = Value::integer(0);
  const Value& def = a.get(0, "default", zero);
  if (v.is_integer()) return Value::integer(v.as_int());
  if (v.kind == Kind::Float) return Value::integer((int64_t)v.f);
  if (v.is_string()) {
    std::string s = py::strip(v.s, std::nullopt, true, true);
    int base = (int)(a.has(1, "base") ? a.get(1, "base", zero).as_int() : 10);
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, base);
    if (!s.empty() && end && *end == 0 && !errno) return Value::integer(x);
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return Value::integer((int64_t)d);
  }
  return def;
}

Value f_float(Interp& in, const Value& v, Args& a) {
  a.only("float", {"default"});
  static const Value zero = Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    std::string s = py::strip(v.s, std::nullopt, true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return Value::number(d);
  }
  return a.get(0, "default", zero);
}

Value f_abs(Interp& in, const Value& v, Args& a) {
  if (v.kind == Kind::Float) return Value::number(std::fabs(v.f));
  if (v.is_integer()) return Value::integer(std::llabs(v.as_int()));
  raise(a.line, "TypeError", fmt::format("bad operand type for abs(): '{}'", type_name(v)));
}

Value f_round(Interp& in, const Value& v, Args& a) {
  a.only("round", {"precision", "method"});
  static const Value zero = Value::integer(0), common = Value::string("common");
  int64_t prec = a.get(0, "precision", zero).as_int();
  std::string method = py_str(a.get(1, "method", common));
  if (!v.is_number()) raise(a.line, "TypeError", fmt::format("type {} doesn't define __round__ method", type_name(v)));
  double x = v.as_double(), m = std::pow(10.0, (double)prec), r;
  if (method == "common") r = std::nearbyint(x * m) / m;  // Python rounds half to even
  else if (method == "ceil") r = std::ceil(x * m) / m;
  else if (method == "floor") r = std::floor(x * m) / m;
  else raise(a.line, "FilterArgumentError", "method must be common, ceil or floor");
  if (v.is_integer() && method == "common") return Value::integer((int64_t)r);
  return Value::number(r);
}

Value f_attr(Interp& in, const Value& v, Args& a) {
  if (a.pos.size() != 1) raise(a.line, "TypeError", "attr() takes exactly one argument");
  std::string name = py_str(a.pos[0]);
  // Jinja's attr filter reads attributes only: a dict's methods, not its keys.
  if (v.kind == Kind::Dict && !v.dict->find(name)) return get_attr(in, v, name);
  if (v.kind == Kind::Dict) {
    Value bare = Value::new_dict();
    Value m = get_attr(in, bare, name);
    return m.is_undefined() ? Value::undefined(fmt::format("'dict object' has no attribute '{}'", name)) : get_attr(in, v, name);
  }
  return get_attr(in, v, name);
}

Value f_count(Interp& in, const Value& v, Args& a) { return f_length(in, v, a); }

Value f_center(Interp& in, const Value& v, Args& a) {
  a.only("center", {"width"});
  static const Value w80 = Value::integer(80);
  std::string s = need_string(in, v);
  int64_t width = a.get(0, "width", w80).as_int(), n = (int64_t)py::cp_count(s);
  if (width <= n) return Value::string(s);
  int64_t total = width - n, left = total / 2 + (total & width & 1);
  return Value::string(std::string((size_t)left, ' ') + s + std::string((size_t)(total - left), ' '));
}

Value f_wordcount(Interp& in, const Value& v, Args& a) {
  static const std::regex word("\\w+");
  std::string s = need_string(in, v);
  return Value::integer(std::distance(std::sregex_iterator(s.begin(), s.end(), word), std::sregex_iterator()));
}

Value f_truncate(Interp& in, const Value& v, Args& a) {
  a.only("truncate", {"length", "killwords", "end", "leeway"});
  static const Value l255 = Value::integer(255), dots = Value::string("..."), five = Value::integer(5);
  std::string s = need_string(in, v);
  int64_t len = a.get(0, "length", l255).as_int();
  bool kill = truthy(a.get(1, "killwords", kFalse));
  std::string end = py_str(a.get(2, "end", dots));
  int64_t leeway = a.get(3, "leeway", five).as_int();
  int64_t n = (int64_t)py::cp_count(s);
  if (n <= len + leeway) return Value::string(s);
  std::string cut = s.substr(0, py::cp_offset(s, (size_t)std::max<int64_t>(0, len - (int64_t)py::cp_count(end))));
  if (kill) return Value::string(cut + end);
  size_t sp = cut.rfind(' ');
  return Value::string((sp == std::string::npos ? cut : cut.substr(0, sp)) + end);
}

Value f_format(Interp& in, const Value& v, Args& a) {
  if (!a.kw.empty()) raise(a.line, "FilterArgumentError", "format filter with keyword arguments is unsupported");
  // `"%s, %s"|format(a, b)` is `"%s, %s" % (a, b)`; reuse the evaluator's % through a tuple.
  ValueList args = a.pos;
  std::string f = need_string(in, v), out;
  size_t next = 0;
  for (size_t k = 0; k < f.size(); ++k) {
    if (f[k] != '%') {
      out += f[k];
      continue;
    }
    if (k + 1 < f.size() && f[k + 1] == '%') {
      out += '%';
      ++k;
      continue;
    }
    size_t e = k + 1;
    while (e < f.size() && std::strchr("-+ #0123456789.", f[e])) ++e;
    if (e >= f.size()) raise(a.line, "ValueError", "incomplete format");
    if (next >= args.size()) raise(a.line, "TypeError", "not enough arguments for format string");
    char c = f[e];
    const Value& x = args[next++];
    std::string spec = f.substr(k, e - k);
    char buf[512];
    if (c == 's' || c == 'r') {
      out += c == 's' ? in.to_str(x) : py_repr(x);
    } else if (c == 'd' || c == 'i') {
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(), (long long)(x.kind == Kind::Float ? (int64_t)x.f : x.as_int()));
      out += buf;
    } else if (std::strchr("eEfFgG", c)) {
      std::snprintf(buf, sizeof buf, (spec + c).c_str(), x.as_double());
      out += buf;
    } else {
      raise(a.line, "ValueError", fmt::format("unsupported format character '{}'", c));
    }
    k = e;
  }
  return Value::string(std::move(out));
}

Value f_batch(Interp& in, const Value& v, Args& a) {
  a.only("batch", {"linecount", "fill_with"});
  int64_t n = a.get(0, "linecount", kNone).as_int();
  if (n <= 0) raise(a.line, "FilterArgumentError", "batch size must be positive");
  bool fill = a.has(1, "fill_with");
  ValueList out, cur;
  for (auto& x : iterate(v, in.line)) {
    cur.push_back(x);
    if ((int64_t)cur.size() == n) out.push_back(Value::new_list(std::move(cur))), cur = {};
  }
  if (!cur.empty()) {
    while (fill && (int64_t)cur.size() < n) cur.push_back(a.get(1, "fill_with", kNone));
    out.push_back(Value::new_list(std::move(cur)));
  }
  return generator(std::move(out));
}

// lm-evaluation-harness: re.sub(pattern, repl, value, count). ECMAScript regex syntax, which
// agrees with Python's for the classes, groups and quantifiers task templates use.
Value f_regex_replace(Interp& in, const Value& v, Args& a) {
  a.only("regex_replace", {"pattern", "repl", "count"});
  std::string s = need_string(in, v);
  std::string pat = py_str(a.get(0, "pattern", kNone)), repl = py_str(a.get(1, "repl", kNone));
  static const Value zero = Value::integer(0);
  int64_t count = a.get(2, "count", zero).as_int();
  std::regex re;
  try {
    re = std::regex(pat, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    raise(a.line, "re.error", fmt::format("bad pattern {}: {}", py::repr(pat), e.what()));
  }
  // Python's \1 group references become $1.
  std::string fmt_repl;
  for (size_t k = 0; k < repl.size(); ++k) {
    if (repl[k] == '\\' && k + 1 < repl.size() && isdigit((uint8_t)repl[k + 1])) fmt_repl += '$', fmt_repl += repl[++k];
    else if (repl[k] == '$') fmt_repl += "$$";
    else fmt_repl += repl[k];
  }
  std::string out;
  int64_t done = 0;
  auto it = std::sregex_iterator(s.begin(), s.end(), re);
  size_t last = 0;
  for (; it != std::sregex_iterator() && (count <= 0 || done < count); ++it, ++done) {
    out.append(s, last, (size_t)it->position() - last);
    out += it->format(fmt_repl);
    last = (size_t)(it->position() + it->length());
  }
  out.append(s, last, std::string::npos);
  return Value::string(std::move(out));
}

// ---- tests ----
bool t_defined(Interp&, const Value& v, Args&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, Args&) { return v.is_undefined(); }
bool t_none(Interp&, const Value& v, Args&) { return v.is_none(); }
bool t_boolean(Interp&, const Value& v, Args&) { return v.kind == Kind::Bool; }
bool t_true(Interp&, const Value& v, Args&) { return v.kind == Kind::Bool && v.b; }
bool t_false(Interp&, const Value& v, Args&) { return v.kind == Kind::Bool && !v.b; }
bool t_integer(Interp&, const Value& v, Args&) { return v.kind == Kind::Int; }
bool t_float(Interp&, const Value& v, Args&) { return v.kind == Kind::Float; }
bool t_number(Interp&, const Value& v, Args&) { return v.is_number(); }
bool t_string(Interp&, const Value& v, Args&) { return v.is_string(); }
bool t_mapping(Interp&, const Value& v, Args&) { return v.kind == Kind::Dict; }
bool t_iterable(Interp&, const Value& v, Args&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.kind == Kind::Dict;
}
bool t_sequence(Interp&, const Value& v, Args&) {
  return v.is_undefined() || v.is_string() || (v.is_list() && v.seq != Seq::Generator) || v.kind == Kind::Dict;
}
bool t_callable(Interp&, const Value& v, Args&) { return v.kind == Kind::Function; }
bool t_escaped(Interp&, const Value& v, Args&) { return v.safe; }
const Value& test_arg(Args& a, const char* test) {
  if (a.pos.size() + a.kw.size() != 1) raise(a.line, "TypeError", fmt::format("test '{}' takes one argument", test));
  return a.pos.empty() ? a.kw[0].second : a.pos[0];
}
bool t_sameas(Interp&, const Value& v, Args& a) {
  const Value& o = test_arg(a, "sameas");
  if (v.kind != o.kind) return false;
  switch (v.kind) {
    case Kind::List: return v.list == o.list;
    case Kind::Dict:
    case Kind::Namespace: return v.dict == o.dict;
    case Kind::Function: return v.fn == o.fn;
    case Kind::String: return false;  // distinct str objects, as far as a template can tell
    default: return equals(v, o);
  }
}
int64_t need_int(Interp&, const Value& v, Args& a) {
  if (!v.is_integer()) raise(a.line, "TypeError", fmt::format("not all arguments converted during string formatting ({})", type_name(v)));
  return v.as_int();
}
bool t_odd(Interp& in, const Value& v, Args& a) { return (need_int(in, v, a) % 2 + 2) % 2 == 1; }
bool t_even(Interp& in, const Value& v, Args& a) { return (need_int(in, v, a) % 2 + 2) % 2 == 0; }
bool t_divisibleby(Interp& in, const Value& v, Args& a) {
  const Value& n = test_arg(a, "divisibleby");
  if (!n.is_integer() || n.as_int() == 0) raise(a.line, "ZeroDivisionError", "integer division or modulo by zero");
  return need_int(in, v, a) % n.as_int() == 0;
}
bool t_eq(Interp&, const Value& v, Args& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(Interp&, const Value& v, Args& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(Interp&, const Value& v, Args& a) { return compare(v, test_arg(a, "lt"), a.line, "<") < 0; }
bool t_le(Interp&, const Value& v, Args& a) { return compare(v, test_arg(a, "le"), a.line, "<=") <= 0; }
bool t_gt(Interp&, const Value& v, Args& a) { return compare(v, test_arg(a, "gt"), a.line, ">") > 0; }
bool t_ge(Interp&, const Value& v, Args& a) { return compare(v, test_arg(a, "ge"), a.line, ">=") >= 0; }
bool t_in(Interp& in, const Value& v, Args& a) {
  const Value& c = test_arg(a, "in");
  if (c.is_string()) {
    if (!v.is_string()) raise(a.line, "TypeError", "'in <string>' requires string as left operand");
    return c.s.find(v.s) != std::string::npos;
  }
  if (c.kind == Kind::Dict) return v.is_string() && c.dict->find(v.s);
  for (const auto& x : iterate(c, a.line))
    if (equals(x, v)) return true;
  return false;
}
bool t_lower(Interp&, const Value& v, Args&) { return v.is_string() && py::islower_str(v.s); }
bool t_upper(Interp&, const Value& v, Args&) { return v.is_string() && py::isupper_str(v.s); }
bool t_filter(Interp&, const Value& v, Args&) { return v.is_string() && find_filter(v.s); }
bool t_test(Interp&, const Value& v, Args&) { return v.is_string() && find_test(v.s); }

}  // namespace

FilterFn find_filter(std::string_view name) {
  static const std::unordered_map<std::string_view, FilterFn> filters{
      {"abs", f_abs},           {"attr", f_attr},         {"batch", f_batch},         {"capitalize", f_capitalize},
      {"center", f_center},     {"count", f_count},       {"d", f_default},           {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},          {"escape", f_escape},       {"first", f_first},
      {"float", f_float},       {"forceescape", f_forceescape}, {"format", f_format}, {"indent", f_indent},
      {"int", f_int},           {"items", f_items},       {"join", f_join},           {"last", f_last},
      {"length", f_length},     {"list", f_list},         {"lower", f_lower},         {"map", f_map},
      {"max", f_max},           {"min", f_min},           {"reject", f_reject},       {"rejectattr", f_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse},   {"round", f_round},         {"safe", f_safe},
      {"select", f_select},     {"selectattr", f_selectattr}, {"sort", f_sort},       {"string", f_string},
      {"sum", f_sum},           {"title", f_title},       {"tojson", f_tojson},       {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique},     {"upper", f_upper},         {"wordcount", f_wordcount},
      {"regex_replace", f_regex_replace}};
  auto it = filters.find(name);
  return it == filters.end() ? nullptr : it->second;
}

TestFn find_test(std::string_view name) {
  static const std::unordered_map<std::string_view, TestFn> tests{
      {"defined", t_defined},   {"undefined", t_undefined}, {"none", t_none},         {"boolean", t_boolean},
      {"true", t_true},         {"false", t_false},         {"integer", t_integer},   {"float", t_float},
      {"number", t_number},     {"string", t_string},       {"mapping", t_mapping},   {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable},   {"escaped", t_escaped},   {"sameas", t_sameas},
      {"odd", t_odd},           {"even", t_even},           {"divisibleby", t_divisibleby},
      {"eq", t_eq},             {"equalto", t_eq},          {"==", t_eq},             {"ne", t_ne},
      {"!=", t_ne},             {"lt", t_lt},               {"lessthan", t_lt},       {"<", t_lt},
      {"le", t_le},             {"<=", t_le},               {"gt", t_gt},             {"greaterthan", t_gt},
      {">", t_gt},              {"ge", t_ge},               {">=", t_ge},             {"in", t_in},
      {"lower", t_lower},       {"upper", t_upper},         {"filter", t_filter},     {"test", t_test}};
  auto it = tests.find(name);
  return it == tests.end() ? nullptr : it->second;
}

}  // namespace flops::jinja
