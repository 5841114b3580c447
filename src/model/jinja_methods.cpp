// Attribute and item access (Jinja's sandboxed getattr/getitem), the Python methods of str, dict
// and list that templates call, and the global functions.
//
// getattr(x, "k") looks for a method first, then a dict key; x["k"] the key first, then the
// method; what neither finds is Undefined (printing "" and failing when used), as Jinja does.
// A real Python method this interpreter does not implement fails instead of turning Undefined,
// and the methods that mutate (list.append, dict.update...) fail as the immutable sandbox makes
// them fail.
#include <algorithm>
#include <cstring>
#include <set>

#include "model/jinja_internal.h"
#include "model/jinja_pystr.h"

namespace flops::jinja {

namespace {

const std::set<std::string_view> kStrMethods{
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
    "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
    "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"};
const std::set<std::string_view> kDictMethods{"clear", "copy", "fromkeys", "get", "items", "keys",
                                              "pop", "popitem", "setdefault", "update", "values"};
const std::set<std::string_view> kListMethods{"append", "clear", "copy", "count", "extend", "index",
                                              "insert", "pop", "remove", "reverse", "sort"};
const std::set<std::string_view> kMutating{"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort",
                                           "popitem", "setdefault", "update"};

std::optional<std::string> opt_str(const Args& a, size_t i, std::string_view name, int line) {
  static const Value none = Value::none();
  const Value& v = a.get(i, name, none);
  if (v.is_none()) return std::nullopt;
  if (!v.is_string()) raise(line, "TypeError", fmt::format("expected a string argument, got '{}'", type_name(v)));
  return v.s;
}

const std::string& need_str(const Args& a, size_t i, std::string_view name, std::string_view method) {
  static const Value none = Value::none();
  const Value& v = a.get(i, name, none);
  if (!v.is_string())
    raise(a.line, "TypeError", fmt::format("{}() argument must be str, not '{}'", method, type_name(v)));
  return v.s;
}

int64_t opt_int(const Args& a, size_t i, std::string_view name, int64_t def) {
  static const Value none = Value::none();
  const Value& v = a.get(i, name, none);
  if (v.is_none()) return def;
  if (!v.is_integer()) raise(a.line, "TypeError", fmt::format("an integer is required, not '{}'", type_name(v)));
  return v.as_int();
}

Value str_list(std::vector<std::string> parts) {
  ValueList items;
  for (auto& p : parts) items.push_back(Value::string(std::move(p)));
  return Value::new_list(std::move(items));
}

// startswith/endswith accept a str or a tuple of them.
bool affix(const std::string& s, const Value& arg, bool start, int line) {
  auto one = [&](const Value& p) {
    if (!p.is_string()) raise(line, "TypeError", "startswith/endswith first arg must be str or a tuple of str");
    if (p.s.size() > s.size()) return false;
    return start ? s.compare(0, p.s.size(), p.s) == 0 : s.compare(s.size() - p.s.size(), p.s.size(), p.s) == 0;
  };
  if (arg.is_list() && arg.seq == Seq::Tuple) {
    for (const auto& p : *arg.list)
      if (one(p)) return true;
    return false;
  }
  return one(arg);
}

std::string pad(const std::string& s, int64_t width, const std::string& fill, int where) {
  int64_t n = (int64_t)py::cp_count(s);
  if (width <= n) return s;
  int64_t total = width - n, left = where < 0 ? 0 : where > 0 ? total : total / 2 + (total & width & 1);
  std::string out;
  for (int64_t k = 0; k < left; ++k) out += fill;
  out += s;
  for (int64_t k = 0; k < total - left; ++k) out += fill;
  return out;
}

// str.format with {} {0} {name} and {{ }} (no format specs beyond an empty one).
std::string str_format(Interp& in, const std::string& f, const Args& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t k = 0; k < f.size(); ++k) {
    char c = f[k];
    if (c == '{' && k + 1 < f.size() && f[k + 1] == '{') {
      out += '{';
      ++k;
    } else if (c == '}' && k + 1 < f.size() && f[k + 1] == '}') {
      out += '}';
      ++k;
    } else if (c == '{') {
      size_t e = f.find('}', k);
      if (e == std::string::npos) raise(a.line, "ValueError", "Single '{' encountered in format string");
      std::string field = f.substr(k + 1, e - k - 1);
      if (field.find_first_of(":!.[") != std::string::npos)
        raise(a.line, "ValueError", "unsupported str.format field '{" + field + "}' (format specs, conversions, attributes)");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_idx >= a.pos.size()) raise(a.line, "IndexError", "Replacement index out of range for positional args tuple");
        v = &a.pos[auto_idx++];
      } else if (isdigit((uint8_t)field[0])) {
        size_t idx = std::stoul(field);
        if (idx >= a.pos.size()) raise(a.line, "IndexError", "Replacement index out of range for positional args tuple");
        v = &a.pos[idx];
      } else {
        for (const auto& [n, x] : a.kw)
          if (n == field) v = &x;
        if (!v) raise(a.line, "KeyError", py::repr(field));
      }
      out += in.to_str(*v);
      k = e;
    } else if (c == '}') {
      raise(a.line, "ValueError", "Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

Value str_method(Interp& in, const Value& self, const std::string& m, Args& a) {
  const std::string& s = self.s;
  const int line = a.line;
  auto str = [&](std::string x) { return Value::string(std::move(x), self.safe); };
  static const Value none = Value::none();
  if (m == "startswith" || m == "endswith") {
    if (a.pos.empty()) raise(line, "TypeError", m + "() takes at least 1 argument (0 given)");
    std::string sub = s;
    if (a.pos.size() > 1) sub = s.substr(py::cp_offset(s, (size_t)std::max<int64_t>(0, opt_int(a, 1, "", 0))));
    return Value::boolean(affix(sub, a.pos[0], m == "startswith", line));
  }
  if (m == "strip" || m == "lstrip" || m == "rstrip")
    return str(py::strip(s, opt_str(a, 0, "chars", line), m != "rstrip", m != "lstrip"));
  if (m == "split" || m == "rsplit") {
    a.only(m.c_str(), {"sep", "maxsplit"});
    auto sep = opt_str(a, 0, "sep", line);
    int64_t maxsplit = opt_int(a, 1, "maxsplit", -1);
    return str_list(m == "split" ? py::split(s, sep, maxsplit) : py::rsplit(s, sep, maxsplit));
  }
  if (m == "splitlines") return str_list(py::splitlines(s, truthy(a.get(0, "keepends", none))));
  if (m == "lower" || m == "casefold") return str(py::lower(s));
  if (m == "upper") return str(py::upper(s));
  if (m == "title") return str(py::title(s));
  if (m == "capitalize") return str(py::capitalize(s));
  if (m == "swapcase") return str(py::swapcase(s));
  if (m == "replace") {
    const std::string& from = need_str(a, 0, "old", m);
    const std::string& to = need_str(a, 1, "new", m);
    return str(py::replace(s, from, to, opt_int(a, 2, "count", -1)));
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex") {
    int64_t r = py::find(s, need_str(a, 0, "sub", m), m[0] == 'r');
    if (r < 0 && (m == "index" || m == "rindex")) raise(line, "ValueError", "substring not found");
    return Value::integer(r);
  }
  if (m == "count") return Value::integer(py::count(s, need_str(a, 0, "sub", m)));
  if (m == "join") {
    if (a.pos.size() != 1) raise(line, "TypeError", "join() takes exactly one argument");
    std::string out;
    bool first = true;
    for (const auto& x : iterate(a.pos[0], line)) {
      if (!x.is_string()) raise(line, "TypeError", fmt::format("sequence item: expected str instance, {} found", type_name(x)));
      if (!first) out += s;
      first = false;
      out += x.s;
    }
    return str(out);
  }
  if (m == "isdigit" || m == "isdecimal" || m == "isnumeric") return Value::boolean(py::all_chars(s, py::isdigit));
  if (m == "isalpha") return Value::boolean(py::all_chars(s, py::isalpha));
  if (m == "isalnum") return Value::boolean(py::all_chars(s, py::isalnum));
  if (m == "isspace") return Value::boolean(py::all_chars(s, py::isspace));
  if (m == "islower") return Value::boolean(py::islower_str(s));
  if (m == "isupper") return Value::boolean(py::isupper_str(s));
  if (m == "isascii") return Value::boolean(std::all_of(s.begin(), s.end(), [](char c) { return (uint8_t)c < 128; }));
  if (m == "removeprefix" || m == "removesuffix") {
    const std::string& x = need_str(a, 0, "", m);
    if (m == "removeprefix" && s.compare(0, x.size(), x) == 0) return str(s.substr(x.size()));
    if (m == "removesuffix" && !x.empty() && s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
      return str(s.substr(0, s.size() - x.size()));
    return self;
  }
  if (m == "partition" || m == "rpartition") {
    const std::string& sep = need_str(a, 0, "", m);
    size_t k = m == "partition" ? s.find(sep) : s.rfind(sep);
    ValueList parts;
    if (k == std::string::npos) {
      if (m == "partition") parts = {Value::string(s), Value::string(""), Value::string("")};
      else parts = {Value::string(""), Value::string(""), Value::string(s)};
    } else {
      parts = {Value::string(s.substr(0, k)), Value::string(sep), Value::string(s.substr(k + sep.size()))};
    }
    return Value::new_list(std::move(parts), Seq::Tuple);
  }
  if (m == "center" || m == "ljust" || m == "rjust") {
    std::string fill = a.pos.size() > 1 ? need_str(a, 1, "", m) : " ";
    return str(pad(s, opt_int(a, 0, "width", 0), fill, m == "ljust" ? -1 : m == "rjust" ? 1 : 0));
  }
  if (m == "zfill") {
    int64_t w = opt_int(a, 0, "width", 0), n = (int64_t)py::cp_count(s);
    if (w <= n) return self;
    size_t sign = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
    return str(s.substr(0, sign) + std::string((size_t)(w - n), '0') + s.substr(sign));
  }
  if (m == "format") return str(str_format(in, s, a));
  raise(line, "TemplateSyntaxError", fmt::format("unsupported method str.{}()", m));
}

Value dict_method(const Value& self, const std::string& m, Args& a) {
  static const Value none = Value::none();
  if (m == "get") {
    a.only("get", {"key", "default"});
    const Value& k = a.get(0, "key", none);
    if (k.is_string())
      if (const Value* v = self.dict->find(k.s)) return *v;
    return a.get(1, "default", none);
  }
  if (m == "items" || m == "keys" || m == "values") {
    ValueList out;
    for (const auto& [k, v] : self.dict->items) {
      if (m == "items") out.push_back(Value::new_list({Value::string(k), v}, Seq::Tuple));
      else if (m == "keys") out.push_back(Value::string(k));
      else out.push_back(v);
    }
    return Value::new_list(std::move(out));
  }
  if (m == "copy") {
    Value d = Value::new_dict();
    *d.dict = *self.dict;
    return d;
  }
  raise(a.line, "TemplateSyntaxError", fmt::format("unsupported method dict.{}()", m));
}

Value list_method(const Value& self, const std::string& m, Args& a) {
  static const Value none = Value::none();
  const ValueList& l = *self.list;
  if (m == "count") {
    const Value& x = a.get(0, "value", none);
    return Value::integer(std::count_if(l.begin(), l.end(), [&](const Value& y) { return equals(x, y); }));
  }
  if (m == "index") {
    const Value& x = a.get(0, "value", none);
    for (size_t k = 0; k < l.size(); ++k)
      if (equals(l[k], x)) return Value::integer((int64_t)k);
    raise(a.line, "ValueError", py_repr(x) + " is not in list");
  }
  if (m == "copy") return Value::new_list(l, self.seq);
  raise(a.line, "TemplateSyntaxError", fmt::format("unsupported method list.{}()", m));
}

Value bound(const Value& self, std::string name, Value (*impl)(Interp&, const Value&, const std::string&, Args&),
            Interp& in) {
  Interp* ip = &in;
  return Value::function("built-in method " + name + " of " + object_type_repr(self),
                         [self, name, impl, ip](Args& a) { return impl(*ip, self, name, a); });
}

}  // namespace

Value get_attr(Interp& in, const Value& obj, std::string_view name) {
  const std::string n(name);
  auto missing = [&] { return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_type_repr(obj), n)); };
  // The sandbox's unsafe_undefined: prints as "", fails when called.
  auto unsafe = [&](const char* type) {
    Value u = Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", n, type));
    u.b = true;
    return u;
  };
  switch (obj.kind) {
    case Kind::Undefined: raise_undefined(in.line, obj);
    case Kind::String:
      if (kStrMethods.count(name)) return bound(obj, n, str_method, in);
      return missing();
    case Kind::Dict:
      if (kDictMethods.count(name)) {
        if (kMutating.count(name)) return unsafe("dict");
        return bound(obj, n, [](Interp&, const Value& s, const std::string& m, Args& a) { return dict_method(s, m, a); }, in);
      }
      if (const Value* v = obj.dict->find(name)) return *v;
      return missing();
    case Kind::Namespace:
      if (const Value* v = obj.dict->find(name)) return *v;
      return missing();
    case Kind::List:
      if (obj.seq != Seq::Generator && kListMethods.count(name)) {
        if (obj.seq == Seq::Tuple && name != "count" && name != "index") return missing();
        if (kMutating.count(name)) return unsafe(obj.seq == Seq::Tuple ? "tuple" : "list");
        return bound(obj, n, [](Interp&, const Value& s, const std::string& m, Args& a) { return list_method(s, m, a); }, in);
      }
      return missing();
    default: return missing();
  }
}

Value get_item(Interp& in, const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(in.line, obj);
  auto missing = [&] {
    if (key.is_string()) return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_type_repr(obj), key.s));
    return Value::undefined(fmt::format("{} has no element {}", object_type_repr(obj), py_repr(key)));
  };
  switch (obj.kind) {
    case Kind::Dict:
      if (key.is_string()) {
        if (const Value* v = obj.dict->find(key.s)) return *v;
        return get_attr(in, obj, key.s);
      }
      return missing();
    case Kind::List:
    case Kind::String:
      if (key.is_integer() && !(obj.is_list() && obj.seq == Seq::Generator)) {
        int64_t n = obj.is_list() ? (int64_t)obj.list->size() : (int64_t)py::cp_count(obj.s);
        int64_t k = key.as_int() < 0 ? key.as_int() + n : key.as_int();
        if (k < 0 || k >= n) return missing();
        if (obj.is_list()) return (*obj.list)[(size_t)k];
        size_t b = py::cp_offset(obj.s, (size_t)k), e = py::cp_offset(obj.s, (size_t)k + 1);
        return Value::string(obj.s.substr(b, e - b), obj.safe);
      }
      if (key.is_string()) return get_attr(in, obj, key.s);
      return missing();
    default:
      if (key.is_string()) return get_attr(in, obj, key.s);
      return missing();
  }
}

Value global_function(std::string_view name, const Options& opt) {
  if (name == "range")
    return Value::function("range", [](Args& a) -> Value {
      if (!a.kw.empty() || a.pos.empty() || a.pos.size() > 3) raise(a.line, "TypeError", "range expected 1 to 3 integer arguments");
      for (const auto& v : a.pos)
        if (!v.is_integer()) raise(a.line, "TypeError", fmt::format("'{}' object cannot be interpreted as an integer", type_name(v)));
      int64_t start = a.pos.size() > 1 ? a.pos[0].as_int() : 0;
      int64_t stop = a.pos.size() > 1 ? a.pos[1].as_int() : a.pos[0].as_int();
      int64_t step = a.pos.size() > 2 ? a.pos[2].as_int() : 1;
      if (step == 0) raise(a.line, "ValueError", "range() arg 3 must not be zero");
      ValueList items;
      for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
        if (items.size() >= 100000) raise(a.line, "OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        items.push_back(Value::integer(k));
      }
      return Value::new_list(std::move(items));
    });
  if (name == "dict" || name == "namespace")
    return Value::function(std::string(name), [ns = name == "namespace"](Args& a) -> Value {
      Value d = Value::new_dict(ns ? Kind::Namespace : Kind::Dict);
      for (const auto& p : a.pos) {
        if (p.kind != Kind::Dict && p.kind != Kind::Namespace)
          raise(a.line, "TypeError", fmt::format("{}() positional argument must be a mapping", ns ? "namespace" : "dict"));
        for (const auto& [k, v] : p.dict->items) d.dict->set(k, v);
      }
      for (const auto& [k, v] : a.kw) d.dict->set(k, v);
      return d;
    });
  if (name == "raise_exception")
    return Value::function("raise_exception", [](Args& a) -> Value {
      if (a.pos.size() != 1) raise(a.line, "TypeError", "raise_exception() takes exactly one argument");
      raise(a.line, "TemplateError", py_str(a.pos[0]));
    });
  if (name == "strftime_now") {
    std::time_t now = opt.now ? *opt.now : std::time(nullptr);
    return Value::function("strftime_now", [now](Args& a) -> Value {
      if (a.pos.size() != 1 || !a.pos[0].is_string()) raise(a.line, "TypeError", "strftime_now() takes one format string");
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[512];
      size_t n = std::strftime(buf, sizeof buf, a.pos[0].s.c_str(), &tm);
      return Value::string(std::string(buf, n));
    });
  }
  if (name == "lipsum" || name == "cycler" || name == "joiner")
    return Value::function(std::string(name), [n = std::string(name)](Args& a) -> Value {
      raise(a.line, "TemplateSyntaxError", fmt::format("unsupported global function '{}'", n));
    });
  return Value();
}

}  // namespace flops::jinja
