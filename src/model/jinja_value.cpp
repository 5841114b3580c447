// Python object behaviour of Jinja values: str(), repr(), ==, <, json.dumps, iteration, len().
#include "model/jinja_value.h"

#include <algorithm>
#include <cstdio>

#include "model/jinja_internal.h"
#include "model/jinja_pystr.h"
#include "model/tokenizer_internal.h"

namespace flops::jinja {

const Value* ValueDict::find(std::string_view k) const {
  for (const auto& [key, v] : items)
    if (key == k) return &v;
  return nullptr;
}

Value* ValueDict::find(std::string_view k) {
  for (auto& [key, v] : items)
    if (key == k) return &v;
  return nullptr;
}

void ValueDict::set(std::string_view k, Value v) {
  if (Value* old = find(k)) *old = std::move(v);
  else items.emplace_back(std::string(k), std::move(v));
}

const Value& Args::get(size_t i, std::string_view name, const Value& def) const {
  if (i < pos.size()) return pos[i];
  for (const auto& [k, v] : kw)
    if (k == name) return v;
  return def;
}

bool Args::has(size_t i, std::string_view name) const {
  if (i < pos.size()) return true;
  for (const auto& [k, v] : kw)
    if (k == name) return true;
  return false;
}

void Args::only(const char* what, std::initializer_list<std::string_view> names) const {
  if (pos.size() > names.size())
    raise(line, "TypeError", fmt::format("{} takes at most {} argument(s) ({} given)", what, names.size(), pos.size()));
  for (const auto& [k, v] : kw) {
    bool known = false;
    size_t idx = 0;
    for (auto n : names) {
      if (n == k) {
        known = true;
        if (idx < pos.size()) raise(line, "TypeError", fmt::format("{} got multiple values for argument '{}'", what, k));
      }
      ++idx;
    }
    if (!known) raise(line, "TypeError", fmt::format("{} got an unexpected keyword argument '{}'", what, k));
  }
}

void raise(int line, std::string_view type, std::string_view msg) { throw RuntimeError(line, type, msg); }

void raise_undefined(int line, const Value& u) {
  raise(line, u.b ? "SecurityError" : "UndefinedError", u.s.empty() ? "undefined value" : u.s);
}

template <typename J>
static Value from_json_impl(const J& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      return u <= (uint64_t)INT64_MAX ? Value::integer((int64_t)u) : Value::number((double)u);
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_impl(e));
      return Value::new_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict->items.emplace_back(it.key(), from_json_impl(it.value()));
      return d;
    }
    default:
      fail("jinja: template variables cannot hold binary JSON values");
  }
}

Value from_json(const nlohmann::ordered_json& j) { return from_json_impl(j); }
Value from_json(const nlohmann::json& j) { return from_json_impl(j); }

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return v.safe ? "Markup" : "str";
    case Kind::List: return v.seq == Seq::Tuple ? "tuple" : v.seq == Seq::Generator ? "generator" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.kind == Kind::Namespace) return "jinja2.utils.Namespace object";
  if (v.safe) return "markupsafe.Markup object";
  return type_name(v) + " object";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i != 0;
    case Kind::Float: return v.f != 0;
    case Kind::String: return !v.s.empty();
    case Kind::List: return v.seq == Seq::Generator || !v.list->empty();
    case Kind::Dict: return !v.dict->items.empty();
    default: return true;
  }
}

static std::string seq_repr(const Value& v) {
  std::string out = v.seq == Seq::Tuple ? "(" : "[";
  for (size_t k = 0; k < v.list->size(); ++k) {
    if (k) out += ", ";
    out += py_repr((*v.list)[k]);
  }
  if (v.seq == Seq::Tuple && v.list->size() == 1) out += ",";
  out += v.seq == Seq::Tuple ? ")" : "]";
  return out;
}

static std::string dict_repr(const ValueDict& d) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, x] : d.items) {
    if (!first) out += ", ";
    first = false;
    out += py::repr(k) + ": " + py_repr(x);
  }
  return out + "}";
}

std::string py_str(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return py::float_repr(v.f);
    case Kind::String: return v.s;
    case Kind::List: return v.seq == Seq::Generator ? "<generator object>" : seq_repr(v);
    case Kind::Dict: return dict_repr(*v.dict);
    case Kind::Namespace: return "<Namespace " + dict_repr(*v.dict) + ">";
    case Kind::Function: return "<" + v.fn->name + ">";
  }
  return "";
}

std::string py_repr(const Value& v) {
  if (v.kind == Kind::String) return v.safe ? "Markup(" + py::repr(v.s) + ")" : py::repr(v.s);
  return py_str(v);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::List:
      if (a.seq == Seq::Generator || b.seq == Seq::Generator) return a.list == b.list;
      if (a.seq != b.seq || a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equals((*a.list)[k], (*b.list)[k])) return false;
      return true;
    case Kind::Dict:
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [k, x] : a.dict->items) {
        const Value* y = b.dict->find(k);
        if (!y || !equals(x, *y)) return false;
      }
      return true;
    case Kind::Namespace: return a.dict == b.dict;
    case Kind::Function: return a.fn == b.fn;
    default: return false;
  }
}

int compare(const Value& a, const Value& b, int line, std::string_view op) {
  if (a.is_undefined()) raise_undefined(line, a);
  if (b.is_undefined()) raise_undefined(line, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s;
  if (a.is_list() && b.is_list() && a.seq == b.seq && a.seq != Seq::Generator) {
    size_t n = std::min(a.list->size(), b.list->size());
    for (size_t k = 0; k < n; ++k) {
      if (equals((*a.list)[k], (*b.list)[k])) continue;
      return compare((*a.list)[k], (*b.list)[k], line, op);
    }
    return a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size();
  }
  raise(line, "TypeError",
        fmt::format("'{}' not supported between instances of '{}' and '{}'", op, type_name(a), type_name(b)));
}

static void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    uint8_t c = (uint8_t)ch;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

namespace {
struct JsonWriter {
  int indent;
  std::string_view item_sep, key_sep;
  bool sort_keys;
  int line;
  std::string out;

  void newline(int level) {
    out += '\n';
    out.append((size_t)(indent * level), ' ');
  }
  void write(const Value& v, int level) {
    switch (v.kind) {
      case Kind::None: out += "null"; return;
      case Kind::Bool: out += v.b ? "true" : "false"; return;
      case Kind::Int: out += std::to_string(v.i); return;
      case Kind::Float: {
        std::string r = py::float_repr(v.f);
        out += r == "nan" ? "NaN" : r == "inf" ? "Infinity" : r == "-inf" ? "-Infinity" : r;
        return;
      }
      case Kind::String: json_string(out, v.s); return;
      case Kind::List:
        if (v.seq != Seq::Generator) {
          if (v.list->empty()) {
            out += "[]";
            return;
          }
          out += '[';
          for (size_t k = 0; k < v.list->size(); ++k) {
            if (k) out += item_sep;
            if (indent >= 0) newline(level + 1);
            write((*v.list)[k], level + 1);
          }
          if (indent >= 0) newline(level);
          out += ']';
          return;
        }
        break;
      case Kind::Dict: {
        if (v.dict->items.empty()) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<std::string, Value>*> items;
        for (const auto& kv : v.dict->items) items.push_back(&kv);
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(), [](auto* x, auto* y) { return x->first < y->first; });
        out += '{';
        for (size_t k = 0; k < items.size(); ++k) {
          if (k) out += item_sep;
          if (indent >= 0) newline(level + 1);
          json_string(out, items[k]->first);
          out += key_sep;
          write(items[k]->second, level + 1);
        }
        if (indent >= 0) newline(level);
        out += '}';
        return;
      }
      default: break;
    }
    raise(line, "TypeError", fmt::format("Object of type {} is not JSON serializable", type_name(v)));
  }
};
}  // namespace

std::string to_json(const Value& v, int indent, std::string_view item_sep, std::string_view key_sep, bool sort_keys,
                    int line) {
  JsonWriter w{indent, item_sep, key_sep, sort_keys, line, {}};
  w.write(v, 0);
  return std::move(w.out);
}

ValueList iterate(const Value& v, int line) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
      ValueList keys;
      for (const auto& kv : v.dict->items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Kind::String: {
      ValueList chars;
      for (size_t at = 0; at < v.s.size();) {
        size_t l = std::min(utf8_len((uint8_t)v.s[at]), v.s.size() - at);
        chars.push_back(Value::string(v.s.substr(at, l), v.safe));
        at += l;
      }
      return chars;
    }
    default:
      raise(line, "TypeError", fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

int64_t length(const Value& v, int line) {
  switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::String: return (int64_t)py::cp_count(v.s);
    case Kind::List:
      if (v.seq != Seq::Generator) return (int64_t)v.list->size();
      break;
    case Kind::Dict: return (int64_t)v.dict->items.size();
    default: break;
  }
  raise(line, "TypeError", fmt::format("object of type '{}' has no len()", type_name(v)));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace flops::jinja
