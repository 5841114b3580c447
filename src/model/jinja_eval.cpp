// The Jinja interpreter: statements write to an output string, expressions evaluate to Values.
//
// Scoping is Jinja2's: the template's top level is one scope (a `set` inside an `if` stays), each
// iteration of a for loop gets a fresh scope over the enclosing one (a `set` there is gone at the
// next iteration, which is why templates use namespace()), a macro call gets a scope over the
// scope the macro was defined in, seen as it is at call time (so a macro reads a top-level `ns`
// set after the macro's definition but before the call).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "model/jinja_internal.h"
#include "model/jinja_pystr.h"

namespace flops::jinja {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  const Value* lookup(const std::string& n) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(n);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopeP = std::shared_ptr<Scope>;

namespace {

enum class Flow { Normal, Break, Continue };

ScopeP child(const ScopeP& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

struct Renderer : Interp {
  ScopeP globals;
  std::vector<ScopeP> macro_scopes;  // keeps alive the scopes macros were defined in (they hold weak refs)

  explicit Renderer(const Options& o) : Interp(o) {}

  // ---- statements ----
  Flow exec(const Body& body, const ScopeP& sc, std::string& out) {
    for (const auto& st : body) {
      Flow f = exec(*st, sc, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& st, const ScopeP& sc, std::string& out) {
    line = st.line;
    switch (st.kind) {
      case SK::Text: out += st.text; break;
      case SK::Output: out += to_str(eval(*st.expr, sc)); break;
      case SK::If:
        for (const auto& [cond, body] : st.branches)
          if (test_truth(eval(*cond, sc))) return exec(body, sc, out);
        return exec(st.else_body, sc, out);
      case SK::For: return exec_for(st, sc, out);
      case SK::Set: {
        Value v = eval(*st.expr, sc);
        line = st.line;
        if (!st.attr.empty()) {
          const Value* ns = sc->lookup(st.targets[0]);
          if (!ns || ns->kind != Kind::Namespace)
            raise(st.line, "TemplateRuntimeError", "cannot assign attribute on non-namespace object");
          ns->dict->set(st.attr, std::move(v));
        } else {
          assign(*sc, st.targets, st.unpack, v);
        }
        break;
      }
      case SK::SetBlock: {
        std::string buf;
        exec(st.body, child(sc), buf);
        Value v = Value::string(std::move(buf));
        for (const auto& f : st.filters) v = apply_filter(*f, v, sc);
        sc->vars[st.targets[0]] = std::move(v);
        break;
      }
      case SK::Macro: sc->vars[st.name] = make_macro(st, sc); break;
      case SK::FilterBlock: {
        std::string buf;
        exec(st.body, child(sc), buf);
        Value v = Value::string(std::move(buf));
        for (const auto& f : st.filters) v = apply_filter(*f, v, sc);
        out += to_str(v);
        break;
      }
      case SK::Break: return Flow::Break;
      case SK::Continue: return Flow::Continue;
      case SK::With: {
        ScopeP inner = child(sc);
        for (size_t k = 0; k < st.targets.size(); ++k) inner->vars[st.targets[k]] = eval(*st.values[k], sc);
        exec(st.body, inner, out);
        break;
      }
      case SK::Block: return exec(st.body, sc, out);
    }
    return Flow::Normal;
  }

  void assign(Scope& sc, const std::vector<std::string>& names, bool unpack, const Value& v) {
    if (!unpack) {
      sc.vars[names[0]] = v;
      return;
    }
    ValueList parts = iterate(v, line);
    if (parts.size() != names.size())
      raise(line, "ValueError",
            parts.size() > names.size() ? fmt::format("too many values to unpack (expected {})", names.size())
                                        : fmt::format("not enough values to unpack (expected {}, got {})",
                                                      names.size(), parts.size()));
    for (size_t k = 0; k < names.size(); ++k) sc.vars[names[k]] = parts[k];
  }

  Flow exec_for(const Stmt& st, const ScopeP& sc, std::string& out) {
    Value seq = eval(*st.expr, sc);
    line = st.line;
    if (seq.is_undefined() && opt.strict_undefined) raise_undefined(st.line, seq);
    ValueList items = iterate(seq, st.line);
    if (st.cond) {
      ValueList kept;
      for (auto& item : items) {
        ScopeP probe = child(sc);
        assign(*probe, st.targets, st.unpack, item);
        if (test_truth(eval(*st.cond, probe))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(st.else_body, child(sc), out);
    const int64_t n = (int64_t)items.size();
    auto cycle = [](int64_t idx) {
      return Value::function("loop.cycle", [idx](Args& a) -> Value {
        if (a.pos.empty()) raise(a.line, "TypeError", "no items for cycling given");
        return a.pos[(size_t)(idx % (int64_t)a.pos.size())];
      });
    };
    for (int64_t i = 0; i < n; ++i) {
      ScopeP body_scope = child(sc);
      assign(*body_scope, st.targets, st.unpack, items[i]);
      Value loop = Value::new_dict(Kind::Namespace);
      auto& d = *loop.dict;
      d.set("index", Value::integer(i + 1));
      d.set("index0", Value::integer(i));
      d.set("revindex", Value::integer(n - i));
      d.set("revindex0", Value::integer(n - i - 1));
      d.set("first", Value::boolean(i == 0));
      d.set("last", Value::boolean(i == n - 1));
      d.set("length", Value::integer(n));
      d.set("depth", Value::integer(1));
      d.set("depth0", Value::integer(0));
      if (i > 0) d.set("previtem", items[i - 1]);
      if (i + 1 < n) d.set("nextitem", items[i + 1]);
      d.set("cycle", cycle(i));
      body_scope->vars["loop"] = std::move(loop);
      Flow f = exec(st.body, body_scope, out);
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  Value make_macro(const Stmt& st, const ScopeP& def_scope) {
    macro_scopes.push_back(def_scope);
    std::weak_ptr<Scope> weak = def_scope;
    const Stmt* m = &st;
    return Value::function("macro '" + st.name + "'", [this, m, weak](Args& a) -> Value {
      ScopeP parent = weak.lock();
      if (!parent) raise(a.line, "RuntimeError", "macro called after its scope ended");
      ScopeP sc = child(parent);
      const size_t np = m->targets.size();
      if (a.pos.size() > np)
        raise(a.line, "TypeError",
              fmt::format("macro '{}' takes not more than {} argument(s)", m->name, np));
      std::vector<bool> given(np, false);
      for (size_t k = 0; k < a.pos.size(); ++k) {
        sc->vars[m->targets[k]] = a.pos[k];
        given[k] = true;
      }
      for (const auto& [name, v] : a.kw) {
        size_t k = 0;
        while (k < np && m->targets[k] != name) ++k;
        if (k == np) raise(a.line, "TypeError", fmt::format("macro '{}' takes no keyword argument '{}'", m->name, name));
        if (given[k]) raise(a.line, "TypeError", fmt::format("macro '{}' got multiple values for argument '{}'", m->name, name));
        sc->vars[name] = v;
        given[k] = true;
      }
      for (size_t k = 0; k < np; ++k) {
        if (given[k]) continue;
        sc->vars[m->targets[k]] =
            m->values[k] ? eval(*m->values[k], sc) : Value::undefined(fmt::format("'{}' is undefined", m->targets[k]));
      }
      std::string buf;
      int saved = line;
      exec(m->body, sc, buf);
      line = saved;
      return Value::string(std::move(buf));
    });
  }

  // ---- expressions ----
  Value apply_filter(const Expr& f, const Value& v, const ScopeP& sc) {
    Args a = eval_args(f, sc);
    line = f.line;
    return f.filter(*this, v, a);
  }

  Args eval_args(const Expr& e, const ScopeP& sc) {
    Args a;
    a.line = e.line;
    for (size_t k = 0; k < e.args.size(); ++k) {
      Value v = eval(*e.args[k], sc);
      if (e.arg_names[k].empty()) a.pos.push_back(std::move(v));
      else a.kw.emplace_back(e.arg_names[k], std::move(v));
    }
    return a;
  }

  Value lookup(const std::string& name, const ScopeP& sc) {
    if (const Value* v = sc->lookup(name)) return *v;
    Value g = global_function(name, opt);
    if (!g.is_undefined()) return g;
    return Value::undefined(fmt::format("'{}' is undefined", name));
  }

  Value eval(const Expr& e, const ScopeP& sc) {
    line = e.line;
    switch (e.kind) {
      case EK::Const: return e.value;
      case EK::Name: return lookup(e.name, sc);
      case EK::Attr: {
        Value obj = eval(*e.kids[0], sc);
        line = e.line;
        return get_attr(*this, obj, e.name);
      }
      case EK::Item: {
        Value obj = eval(*e.kids[0], sc);
        Value key = eval(*e.kids[1], sc);
        line = e.line;
        return get_item(*this, obj, key);
      }
      case EK::Slice: return slice(e, sc);
      case EK::Call: {
        Value fn = eval(*e.kids[0], sc);
        Args a = eval_args(e, sc);
        line = e.line;
        return call(fn, a);
      }
      case EK::Filter: {
        Value v = eval(*e.kids[0], sc);
        return apply_filter(e, v, sc);
      }
      case EK::Test: {
        Value v = eval(*e.kids[0], sc);
        Args a = eval_args(e, sc);
        line = e.line;
        return Value::boolean(e.test(*this, v, a));
      }
      case EK::Not: return Value::boolean(!test_truth(eval(*e.kids[0], sc)));
      case EK::Neg:
      case EK::Pos: {
        Value v = eval(*e.kids[0], sc);
        if (v.is_undefined()) raise_undefined(e.line, v);
        if (!v.is_number())
          raise(e.line, "TypeError", fmt::format("bad operand type for unary {}: '{}'", e.kind == EK::Neg ? '-' : '+', type_name(v)));
        if (e.kind == EK::Pos) return v.kind == Kind::Bool ? Value::integer(v.b) : v;
        return v.kind == Kind::Float ? Value::number(-v.f) : Value::integer(-v.as_int());
      }
      case EK::BinOp: {
        Value a = eval(*e.kids[0], sc);
        Value b = eval(*e.kids[1], sc);
        line = e.line;
        return binary(e.name, a, b);
      }
      case EK::Compare: {
        Value left = eval(*e.kids[0], sc);
        for (size_t k = 0; k < e.ops.size(); ++k) {
          Value right = eval(*e.kids[k + 1], sc);
          line = e.line;
          if (!compare_op(e.ops[k], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case EK::And: {
        Value a = eval(*e.kids[0], sc);
        return test_truth(a) ? eval(*e.kids[1], sc) : a;
      }
      case EK::Or: {
        Value a = eval(*e.kids[0], sc);
        return test_truth(a) ? a : eval(*e.kids[1], sc);
      }
      case EK::Cond:
        if (test_truth(eval(*e.kids[1], sc))) return eval(*e.kids[0], sc);
        if (e.kids[2]) return eval(*e.kids[2], sc);
        return Value::undefined("the inline if-expression on line " + std::to_string(e.line) + " evaluated to false and no else section was defined.");
      case EK::List:
      case EK::Tuple: {
        ValueList items;
        for (const auto& k : e.kids) items.push_back(eval(*k, sc));
        return Value::new_list(std::move(items), e.kind == EK::Tuple ? Seq::Tuple : Seq::List);
      }
      case EK::Dict: {
        Value d = Value::new_dict();
        for (size_t k = 0; k + 1 < e.kids.size(); k += 2) {
          Value key = eval(*e.kids[k], sc);
          if (!key.is_string()) raise(e.line, "TypeError", "unsupported dict literal key of type '" + type_name(key) + "' (only strings)");
          d.dict->set(key.s, eval(*e.kids[k + 1], sc));
        }
        return d;
      }
      case EK::Concat: {
        std::string s;
        for (const auto& k : e.kids) s += to_str(eval(*k, sc));
        return Value::string(std::move(s));
      }
    }
    return Value();
  }

  Value slice(const Expr& e, const ScopeP& sc) {
    Value obj = eval(*e.kids[0], sc);
    auto bound = [&](const ExprP& x) -> std::optional<int64_t> {
      if (!x) return std::nullopt;
      Value v = eval(*x, sc);
      if (v.is_none()) return std::nullopt;
      if (!v.is_integer()) raise(e.line, "TypeError", "slice indices must be integers or None");
      return v.as_int();
    };
    auto start = bound(e.kids[1]), stop = bound(e.kids[2]), step = bound(e.kids[3]);
    line = e.line;
    if (obj.is_undefined()) raise_undefined(e.line, obj);
    int64_t st = step.value_or(1);
    if (st == 0) raise(e.line, "ValueError", "slice step cannot be zero");
    auto pick = [&](int64_t n) {
      auto norm = [&](std::optional<int64_t> x, int64_t def) {
        if (!x) return def;
        int64_t v = *x < 0 ? *x + n : *x;
        if (st > 0) return std::clamp<int64_t>(v, 0, n);
        return std::clamp<int64_t>(v, -1, n - 1);
      };
      int64_t b = norm(start, st > 0 ? 0 : n - 1), en = norm(stop, st > 0 ? n : -1);
      std::vector<int64_t> idx;
      for (int64_t k = b; st > 0 ? k < en : k > en; k += st) idx.push_back(k);
      return idx;
    };
    if (obj.is_string()) {
      auto cps = py::code_points(obj.s);
      std::vector<uint32_t> outc;
      for (int64_t k : pick((int64_t)cps.size())) outc.push_back(cps[(size_t)k]);
      return Value::string(py::from_code_points(outc.data(), outc.size()), obj.safe);
    }
    if (obj.is_list() && obj.seq != Seq::Generator) {
      ValueList items;
      for (int64_t k : pick((int64_t)obj.list->size())) items.push_back((*obj.list)[(size_t)k]);
      return Value::new_list(std::move(items), obj.seq);
    }
    raise(e.line, "TypeError", fmt::format("'{}' object is not subscriptable", type_name(obj)));
  }

  bool compare_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    int c = compare(a, b, line, op);
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
  }

  bool contains(const Value& container, const Value& x) {
    switch (container.kind) {
      case Kind::Undefined: return false;
      case Kind::String:
        if (!x.is_string())
          raise(line, "TypeError", fmt::format("'in <string>' requires string as left operand, not {}", type_name(x)));
        return container.s.find(x.s) != std::string::npos;
      case Kind::Dict: return x.is_string() && container.dict->find(x.s);
      case Kind::List:
        for (const auto& y : *container.list)
          if (equals(y, x)) return true;
        return false;
      default:
        raise(line, "TypeError", fmt::format("argument of type '{}' is not iterable", type_name(container)));
    }
  }

  Value binary(const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) raise_undefined(line, a);
    if (b.is_undefined()) raise_undefined(line, b);
    if (op == "+") {
      if (a.is_number() && b.is_number()) return arith(op, a, b);
      if (a.is_string() && b.is_string()) {
        // markupsafe: a Markup operand escapes the plain one and the result is Markup.
        if (a.safe || b.safe)
          return Value::string((a.safe ? a.s : html_escape(a.s)) + (b.safe ? b.s : html_escape(b.s)), true);
        return Value::string(a.s + b.s);
      }
      if (a.is_list() && b.is_list() && a.seq == b.seq && a.seq != Seq::Generator) {
        ValueList items = *a.list;
        items.insert(items.end(), b.list->begin(), b.list->end());
        return Value::new_list(std::move(items), a.seq);
      }
      if (a.is_string() && !a.safe) raise(line, "TypeError", fmt::format("can only concatenate str (not \"{}\") to str", type_name(b)));
      if (a.is_list() && a.seq != Seq::Generator)
        raise(line, "TypeError", fmt::format("can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a)));
    } else if (op == "*") {
      if (a.is_number() && b.is_number()) return arith(op, a, b);
      const Value* s = a.is_integer() ? &b : &a;
      const Value* n = a.is_integer() ? &a : &b;
      if (n->is_integer() && (s->is_string() || (s->is_list() && s->seq != Seq::Generator))) {
        int64_t times = std::max<int64_t>(0, n->as_int());
        if (s->is_string()) {
          if ((double)times * s->s.size() > 1e8) raise(line, "OverflowError", "repeated string is too long");
          std::string r;
          for (int64_t k = 0; k < times; ++k) r += s->s;
          return Value::string(std::move(r), s->safe);
        }
        ValueList items;
        for (int64_t k = 0; k < times; ++k) items.insert(items.end(), s->list->begin(), s->list->end());
        return Value::new_list(std::move(items), s->seq);
      }
    } else if (op == "%" && a.is_string()) {
      return Value::string(printf_format(a.s, b), a.safe);
    } else if (a.is_number() && b.is_number()) {
      return arith(op, a, b);
    }
    raise(line, "TypeError",
          fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b)));
  }

  Value arith(const std::string& op, const Value& a, const Value& b) {
    bool ints = a.is_integer() && b.is_integer();
    if (op == "/") {
      if (b.as_double() == 0) raise(line, "ZeroDivisionError", "division by zero");
      return Value::number(a.as_double() / b.as_double());
    }
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (op == "+") return Value::integer(x + y);
      if (op == "-") return Value::integer(x - y);
      if (op == "*") return Value::integer(x * y);
      if (op == "//" || op == "%") {
        if (y == 0) raise(line, "ZeroDivisionError", "integer division or modulo by zero");
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;
        return Value::integer(op == "//" ? q : r);
      }
      if (op == "**") {
        if (y < 0) return Value::number(std::pow((double)x, (double)y));
        int64_t r = 1;
        for (int64_t k = 0; k < y; ++k) r *= x;
        return Value::integer(r);
      }
    } else {
      double x = a.as_double(), y = b.as_double();
      if (op == "+") return Value::number(x + y);
      if (op == "-") return Value::number(x - y);
      if (op == "*") return Value::number(x * y);
      if (op == "//" || op == "%") {
        if (y == 0) raise(line, "ZeroDivisionError", "float divmod()");
        double q = std::floor(x / y), r = x - q * y;
        return Value::number(op == "//" ? q : r);
      }
      if (op == "**") return Value::number(std::pow(x, y));
    }
    raise(line, "TypeError", "unsupported operator " + op);
  }

  // Python's printf-style `fmt % args`: %s %r %d %i %f %e %g %x %o %c %% with flags, width and
  // precision; args a tuple or a single value.
  std::string printf_format(const std::string& f, const Value& args) {
    ValueList vals = args.is_list() && args.seq == Seq::Tuple ? *args.list : ValueList{args};
    size_t next_arg = 0;
    std::string out;
    for (size_t k = 0; k < f.size(); ++k) {
      if (f[k] != '%') {
        out += f[k];
        continue;
      }
      size_t b = k++;
      const Value* named = nullptr;
      if (k < f.size() && f[k] == '(') {  // %(key)s takes its value from a mapping
        size_t e = f.find(')', k);
        if (e == std::string::npos) raise(line, "ValueError", "incomplete format key");
        if (args.kind != Kind::Dict) raise(line, "TypeError", "format requires a mapping");
        named = args.dict->find(f.substr(k + 1, e - k - 1));
        if (!named) raise(line, "KeyError", py::repr(f.substr(k + 1, e - k - 1)));
        k = e + 1;
      }
      std::string flags;
      while (k < f.size() && std::strchr("-+ #0", f[k])) flags += f[k++];
      std::string width, prec;
      while (k < f.size() && isdigit((uint8_t)f[k])) width += f[k++];
      if (k < f.size() && f[k] == '.') {
        ++k;
        prec = "0";
        while (k < f.size() && isdigit((uint8_t)f[k])) prec += f[k++];
      }
      if (k >= f.size()) raise(line, "ValueError", "incomplete format");
      char c = f[k];
      if (c == '%') {
        out += '%';
        continue;
      }
      if (!named && next_arg >= vals.size()) raise(line, "TypeError", "not enough arguments for format string");
      const Value& v = named ? *named : vals[next_arg++];
      std::string spec = "%" + flags + width + (prec.empty() ? "" : "." + prec);
      char buf[512];
      if (c == 's' || c == 'r' || c == 'a') {
        std::string s = c == 's' ? to_str(v) : py_repr(v);
        if (!prec.empty()) s = s.substr(0, py::cp_offset(s, (size_t)std::stoll(prec)));
        size_t w = width.empty() ? 0 : (size_t)std::stoll(width), n = py::cp_count(s);
        if (n < w) s = flags.find('-') != std::string::npos ? s + std::string(w - n, ' ') : std::string(w - n, ' ') + s;
        out += s;
      } else if (std::strchr("diouxXc", c)) {
        if (!v.is_number()) raise(line, "TypeError", fmt::format("%{} format: a real number is required, not {}", c, type_name(v)));
        if (c == 'c') {
          std::vector<uint32_t> one{(uint32_t)v.as_int()};
          out += py::from_code_points(one.data(), 1);
          continue;
        }
        int64_t x = v.kind == Kind::Float ? (int64_t)v.f : v.as_int();
        char cc = c == 'i' || c == 'u' ? 'd' : c;
        std::snprintf(buf, sizeof buf, (spec + "ll" + cc).c_str(), (long long)x);
        out += buf;
      } else if (std::strchr("eEfFgG", c)) {
        if (!v.is_number()) raise(line, "TypeError", fmt::format("must be real number, not {}", type_name(v)));
        std::snprintf(buf, sizeof buf, (spec + c).c_str(), v.as_double());
        out += buf;
      } else {
        raise(line, "ValueError", fmt::format("unsupported format character '{}' at index {}", c, b));
      }
    }
    if (next_arg && next_arg < vals.size() && args.is_list() && args.seq == Seq::Tuple)
      raise(line, "TypeError", "not all arguments converted during string formatting");
    return out;
  }
};

}  // namespace

Value Interp::call(const Value& fn, Args& a) {
  if (fn.kind != Kind::Function) {
    if (fn.is_undefined()) raise_undefined(a.line, fn);
    raise(a.line, "TypeError", fmt::format("'{}' object is not callable", type_name(fn)));
  }
  if (!a.line) a.line = line;
  return fn.fn->call(a);
}

std::string Interp::to_str(const Value& v) {
  if (v.is_undefined() && opt.strict_undefined) raise_undefined(line, v);
  return py_str(v);
}

bool Interp::test_truth(const Value& v) {
  if (v.is_undefined() && opt.strict_undefined) raise_undefined(line, v);
  return truthy(v);
}

static std::string render_impl(std::string_view source, const Value& vars, const Options& opt) {
  Template t = parse(source, opt);
  Renderer r(opt);
  r.globals = std::make_shared<Scope>();
  if (vars.kind == Kind::Dict)
    for (const auto& [k, v] : vars.dict->items) r.globals->vars[k] = v;
  else if (!vars.is_none())
    fail("jinja: template variables must be a JSON object, got {}", type_name(vars));
  ScopeP top = child(r.globals);
  std::string out;
  try {
    r.exec(t.body, top, out);
  } catch (const RuntimeError& e) {
    int line = e.line ? e.line : r.line;
    if (e.type == "TemplateError") throw TemplateError(e.msg);
    throw Error(fmt::format("jinja: line {}: {}: {}", line, e.type, e.msg));
  }
  return out;
}

std::string render(std::string_view source, const nlohmann::json& vars) {
  return render_impl(source, from_json(vars), Options{});
}

std::string render(std::string_view source, const nlohmann::ordered_json& vars) {
  return render_impl(source, from_json(vars), Options{});
}

std::string render(std::string_view source, const nlohmann::ordered_json& vars, const Options& opt) {
  return render_impl(source, from_json(vars), opt);
}

void check_syntax(std::string_view source, const Options& opt) { parse(source, opt); }

}  // namespace flops::jinja
