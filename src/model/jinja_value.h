#pragma once
// Values of the Jinja interpreter: Python objects as templates see them. Lists and dicts are
// shared by reference as in Python (a namespace changed inside a macro is changed outside).
// Not part of the public model API (see jinja.h).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace flops::jinja {

struct Value;
struct Function;
using ValueList = std::vector<Value>;
// Insertion-ordered, string keys (all that JSON input and template literals produce here).
struct ValueDict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view k) const;
  Value* find(std::string_view k);
  void set(std::string_view k, Value v);
};

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };
// What a List is in Python: generators come from map/select/items and cannot be measured,
// indexed or serialised.
enum class Seq : uint8_t { List, Tuple, Generator };

struct Args;
struct Function {
  std::string name;  // for messages: "macro 'x'", "built-in method startswith"
  std::function<Value(Args&)> call;
};

struct Value {
  Kind kind = Kind::Undefined;
  bool safe = false;  // String: a markupsafe.Markup
  Seq seq = Seq::List;
  bool b = false;  // Bool: the value; Undefined: the sandbox refused an unsafe attribute (SecurityError)
  int64_t i = 0;
  double f = 0;
  // String: the text (UTF-8). Undefined: the message Jinja gives when it is used
  // ("'x' is undefined", "'dict object' has no attribute 'y'").
  std::string s;
  std::shared_ptr<ValueList> list;
  std::shared_ptr<ValueDict> dict;  // Dict and Namespace
  std::shared_ptr<Function> fn;

  static Value undefined(std::string why) {
    Value v;
    v.s = std::move(why);
    return v;
  }
  static Value none() { return make(Kind::None); }
  static Value boolean(bool x) {
    Value v = make(Kind::Bool);
    v.b = x;
    return v;
  }
  static Value integer(int64_t x) {
    Value v = make(Kind::Int);
    v.i = x;
    return v;
  }
  static Value number(double x) {
    Value v = make(Kind::Float);
    v.f = x;
    return v;
  }
  static Value string(std::string x, bool safe = false) {
    Value v = make(Kind::String);
    v.s = std::move(x);
    v.safe = safe;
    return v;
  }
  static Value new_list(ValueList items = {}, Seq seq = Seq::List) {
    Value v = make(Kind::List);
    v.list = std::make_shared<ValueList>(std::move(items));
    v.seq = seq;
    return v;
  }
  static Value new_dict(Kind k = Kind::Dict) {
    Value v = make(k);
    v.dict = std::make_shared<ValueDict>();
    return v;
  }
  static Value function(std::string name, std::function<Value(Args&)> call) {
    Value v = make(Kind::Function);
    v.fn = std::make_shared<Function>(Function{std::move(name), std::move(call)});
    return v;
  }

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_integer() const { return kind == Kind::Int || kind == Kind::Bool; }
  double as_double() const { return kind == Kind::Float ? f : kind == Kind::Bool ? (double)b : (double)i; }
  int64_t as_int() const { return kind == Kind::Bool ? (int64_t)b : i; }

 private:
  static Value make(Kind k) {
    Value v;
    v.kind = k;
    return v;
  }
};

// Arguments of a call: positional, then keyword.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  int line = 0;
  // The argument at position i or named `name`, or `def` when neither was given.
  const Value& get(size_t i, std::string_view name, const Value& def) const;
  bool has(size_t i, std::string_view name) const;
  // Fails unless every argument is one of `names` (in this positional order).
  void only(const char* what, std::initializer_list<std::string_view> names) const;
};

// A runtime error with Python's exception class and message ("TypeError", "...").
[[noreturn]] void raise(int line, std::string_view type, std::string_view msg);
// Fails with the Undefined value's own message (Jinja's UndefinedError).
[[noreturn]] void raise_undefined(int line, const Value& u);

Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);

// Python's type(x).__name__: 'str', 'NoneType', 'list', 'generator', ...
std::string type_name(const Value& v);
// Jinja's object_type_repr (for "'dict object' has no attribute 'x'").
std::string object_type_repr(const Value& v);
bool truthy(const Value& v);
// Python's str() and repr().
std::string py_str(const Value& v);
std::string py_repr(const Value& v);
// Python's == (numbers across int/float/bool, deep for lists and dicts; Undefined == Undefined).
bool equals(const Value& a, const Value& b);
// Python's <: -1, 0, 1; TypeError for unorderable operands.
int compare(const Value& a, const Value& b, int line, std::string_view op);
// json.dumps(v, ensure_ascii=False, indent=indent (<0: none), separators, sort_keys).
std::string to_json(const Value& v, int indent, std::string_view item_sep, std::string_view key_sep, bool sort_keys,
                    int line);
// Elements of an iterable for `for`, filters and list(): list/tuple/generator items, dict keys,
// string characters; Undefined iterates as empty; anything else is a TypeError.
ValueList iterate(const Value& v, int line);
// len(): strings count code points.
int64_t length(const Value& v, int line);
// markupsafe.escape
std::string html_escape(std::string_view s);

}  // namespace flops::jinja
