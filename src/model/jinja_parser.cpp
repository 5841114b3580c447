// Jinja2's grammar, by precedence from loosest to tightest:
//   tuple (a, b)  ->  x if c else y  ->  or  ->  and  ->  not  ->  comparisons (== != < <= > >=
//   in, not in; chained)  ->  + -  ->  ~  ->  * / // %  ->  ** (left-associative in Jinja)
//   ->  unary - +  ->  primary with postfix . [] ()  ->  filters |f(args) and tests `is [not] t`.
// So `'a' + x | trim + 'b'` trims only x, and `-x|abs` is (-x)|abs. Filters and tests are looked
// up here: a name the interpreter does not know is an error before anything renders.
#include <set>

#include "model/jinja_internal.h"

namespace flops::jinja {

namespace {

const char* tok_desc(const Token& t) {
  switch (t.type) {
    case Tok::Data: return "template data";
    case Tok::VarBegin: return "'{{'";
    case Tok::VarEnd: return "'}}'";
    case Tok::BlockBegin: return "'{%'";
    case Tok::BlockEnd: return "'%}'";
    case Tok::Name: return "name";
    case Tok::String: return "string";
    case Tok::Int: return "integer";
    case Tok::Float: return "float";
    case Tok::Op: return "operator";
    case Tok::Eof: return "end of template";
  }
  return "token";
}

struct Parser {
  std::vector<Token> toks;
  size_t at = 0;
  int loop_depth = 0;

  const Token& cur() const { return toks[at]; }
  const Token& peek(size_t k = 1) const { return toks[std::min(at + k, toks.size() - 1)]; }
  bool is_op(std::string_view op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == Tok::Name && cur().text == n; }
  Token next() { return toks[at < toks.size() - 1 ? at++ : at]; }
  std::string describe(const Token& t) const {
    if (t.type == Tok::Name || t.type == Tok::Op) return fmt::format("'{}'", t.text);
    return tok_desc(t);
  }
  [[noreturn]] void unexpected(std::string_view wanted) const {
    syntax_error(cur().line, fmt::format("expected {}, got {}", wanted, describe(cur())));
  }
  void expect_op(std::string_view op) {
    if (!is_op(op)) unexpected(fmt::format("'{}'", op));
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) unexpected("a name");
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) unexpected("'%}'");
    next();
  }

  static ExprP node(EK k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }
  static ExprP binop(EK k, std::string op, ExprP a, ExprP b, int line) {
    auto e = node(k, line);
    e->name = std::move(op);
    e->kids.push_back(std::move(a));
    e->kids.push_back(std::move(b));
    return e;
  }

  // ---- statements ----
  // Parses until a {% NAME %} with NAME in `ends` (left unconsumed, positioned at NAME) or Eof.
  Body subparse(const std::set<std::string>& ends, std::string_view inside) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Eof) {
        if (!ends.empty())
          syntax_error(t.line, fmt::format("unexpected end of template: {} is not closed (expected '{}')", inside,
                                           *ends.rbegin()));
        return body;
      }
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = SK::Text;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = SK::Output;
        s->line = cur().line;
        s->expr = parse_tuple(true, false);
        if (cur().type != Tok::VarEnd) unexpected("'}}'");
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        next();
        if (cur().type != Tok::Name) unexpected("a statement name");
        if (ends.count(cur().text)) return body;
        body.push_back(statement());
      } else {
        unexpected("template data or a tag");
      }
    }
  }

  StmtP make(SK k, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = line;
    return s;
  }

  StmtP statement() {
    const Token& t = cur();
    const std::string& n = t.text;
    int line = t.line;
    if (n == "if") return if_stmt();
    if (n == "for") return for_stmt();
    if (n == "set") return set_stmt();
    if (n == "macro") return macro_stmt();
    if (n == "filter") return filter_stmt();
    if (n == "with") return with_stmt();
    if (n == "print") {
      next();
      auto s = make(SK::Output, line);
      s->expr = parse_tuple(true, false);
      expect_block_end();
      return s;
    }
    if (n == "break" || n == "continue") {
      if (loop_depth == 0) syntax_error(line, fmt::format("'{{% {} %}}' outside a for loop", n));
      next();
      expect_block_end();
      return make(n == "break" ? SK::Break : SK::Continue, line);
    }
    if (n == "generation") {  // transformers' AssistantTracker tag: renders its body
      next();
      expect_block_end();
      auto s = make(SK::Block, line);
      s->body = subparse({"endgeneration"}, "'{% generation %}'");
      next();
      expect_block_end();
      return s;
    }
    static const std::set<std::string> unsupported{"include", "import", "from", "extends", "block", "call",
                                                   "autoescape", "do", "trans", "pluralize", "debug"};
    if (unsupported.count(n)) syntax_error(line, fmt::format("unsupported template tag '{{% {} %}}'", n));
    static const std::set<std::string> closers{"endif", "elif", "else", "endfor", "endset", "endmacro", "endfilter",
                                               "endwith", "endgeneration", "endraw"};
    if (closers.count(n)) syntax_error(line, fmt::format("unexpected '{{% {} %}}' (nothing open to close)", n));
    syntax_error(line, fmt::format("unknown template tag '{{% {} %}}'", n));
  }

  StmtP if_stmt() {
    auto s = make(SK::If, cur().line);
    next();  // if / elif
    while (true) {
      ExprP cond = parse_tuple(false, false);
      expect_block_end();
      Body body = subparse({"elif", "else", "endif"}, "'{% if %}'");
      s->branches.emplace_back(std::move(cond), std::move(body));
      std::string which = next().text;
      if (which == "elif") continue;
      if (which == "else") {
        expect_block_end();
        s->else_body = subparse({"endif"}, "'{% if %}'");
        next();
      }
      expect_block_end();
      return s;
    }
  }

  // Names separated by commas, optionally in parentheses; unpack = it was a tuple.
  std::vector<std::string> assign_targets(bool& unpack) {
    std::vector<std::string> names;
    bool paren = is_op("(");
    if (paren) next();
    unpack = paren;
    while (true) {
      names.push_back(expect_name());
      if (!is_op(",")) break;
      next();
      unpack = true;
      if (paren && is_op(")")) break;
      if (!paren && cur().type != Tok::Name) break;
    }
    if (paren) expect_op(")");
    return names;
  }

  StmtP for_stmt() {
    auto s = make(SK::For, cur().line);
    next();
    s->targets = assign_targets(s->unpack);
    if (!is_name("in")) unexpected("'in'");
    next();
    s->expr = parse_tuple(false, false);
    if (is_name("if")) {
      next();
      s->cond = parse_expression(true);
    }
    if (is_name("recursive")) syntax_error(cur().line, "unsupported recursive for loop ('recursive' / loop())");
    expect_block_end();
    ++loop_depth;
    s->body = subparse({"endfor", "else"}, "'{% for %}'");
    --loop_depth;
    if (next().text == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"}, "'{% for %}'");
      next();
    }
    expect_block_end();
    return s;
  }

  StmtP set_stmt() {
    int line = cur().line;
    next();
    bool unpack = false;
    std::vector<std::string> targets;
    std::string attr;
    if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == ".") {
      targets.push_back(next().text);
      next();
      attr = expect_name();
    } else {
      targets = assign_targets(unpack);
    }
    if (is_op("=")) {
      next();
      auto s = make(SK::Set, line);
      s->targets = std::move(targets);
      s->attr = std::move(attr);
      s->unpack = unpack;
      s->expr = parse_tuple(true, false);
      expect_block_end();
      return s;
    }
    if (!attr.empty() || unpack || targets.size() != 1) unexpected("'='");
    auto s = make(SK::SetBlock, line);
    s->targets = std::move(targets);
    while (is_op("|")) s->filters.push_back(filter_call(nullptr));
    expect_block_end();
    s->body = subparse({"endset"}, "'{% set %}' block");
    next();
    expect_block_end();
    return s;
  }

  StmtP macro_stmt() {
    auto s = make(SK::Macro, cur().line);
    next();
    s->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      s->targets.push_back(expect_name());
      if (is_op("=")) {
        next();
        s->values.push_back(parse_expression(true));
      } else {
        if (!s->values.empty() && s->values.back())
          syntax_error(cur().line, "non-default macro parameter follows a default one");
        s->values.push_back(nullptr);
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
    expect_block_end();
    int saved = loop_depth;
    loop_depth = 0;
    s->body = subparse({"endmacro"}, "'{% macro %}'");
    loop_depth = saved;
    next();
    if (cur().type == Tok::Name) next();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  StmtP filter_stmt() {
    auto s = make(SK::FilterBlock, cur().line);
    next();
    s->filters.push_back(filter_call(nullptr, false));
    while (is_op("|")) s->filters.push_back(filter_call(nullptr));
    expect_block_end();
    s->body = subparse({"endfilter"}, "'{% filter %}'");
    next();
    expect_block_end();
    return s;
  }

  StmtP with_stmt() {
    auto s = make(SK::With, cur().line);
    next();
    while (cur().type != Tok::BlockEnd) {
      if (!s->targets.empty()) expect_op(",");
      s->targets.push_back(expect_name());
      expect_op("=");
      s->values.push_back(parse_expression(true));
    }
    expect_block_end();
    s->body = subparse({"endwith"}, "'{% with %}'");
    next();
    expect_block_end();
    return s;
  }

  // ---- expressions ----
  ExprP parse_tuple(bool with_condexpr, bool explicit_parens) {
    int line = cur().line;
    std::vector<ExprP> items;
    bool comma = false;
    while (true) {
      if (!items.empty()) {
        if (!is_op(",")) break;
        next();
        comma = true;
      }
      if (tuple_ends()) break;
      items.push_back(parse_expression(with_condexpr));
    }
    if (!comma) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) unexpected("an expression");
    }
    auto t = node(EK::Tuple, line);
    t->kids = std::move(items);
    return t;
  }
  bool tuple_ends() const {
    const Token& t = cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.type == Tok::Eof) return true;
    if (t.type == Tok::Op && (t.text == ")" || t.text == "]" || t.text == "}")) return true;
    return t.type == Tok::Name && (t.text == "in" || t.text == "if" || t.text == "recursive");
  }

  ExprP parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprP parse_condexpr() {
    int line = cur().line;
    ExprP e = parse_or();
    while (is_name("if")) {
      next();
      ExprP cond = parse_or();
      ExprP other;
      if (is_name("else")) {
        next();
        other = parse_condexpr();
      }
      auto c = node(EK::Cond, line);
      c->kids.push_back(std::move(e));
      c->kids.push_back(std::move(cond));
      c->kids.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprP parse_or() {
    ExprP e = parse_and();
    while (is_name("or")) {
      int line = next().line;
      e = binop(EK::Or, "or", std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprP parse_and() {
    ExprP e = parse_not();
    while (is_name("and")) {
      int line = next().line;
      e = binop(EK::And, "and", std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprP parse_not() {
    if (is_name("not")) {
      int line = next().line;
      auto e = node(EK::Not, line);
      e->kids.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprP parse_compare() {
    int line = cur().line;
    ExprP first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprP> rest;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" ||
                                t.text == ">=")) {
        ops.push_back(next().text);
      } else if (is_name("in")) {
        next();
        ops.push_back("in");
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        next();
        next();
        ops.push_back("notin");
      } else {
        break;
      }
      rest.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto c = node(EK::Compare, line);
    c->kids.push_back(std::move(first));
    for (auto& r : rest) c->kids.push_back(std::move(r));
    c->ops = std::move(ops);
    return c;
  }
  ExprP parse_math1() {
    ExprP e = parse_concat();
    while (is_op("+") || is_op("-")) {
      Token t = next();
      e = binop(EK::BinOp, t.text, std::move(e), parse_concat(), t.line);
    }
    return e;
  }
  ExprP parse_concat() {
    int line = cur().line;
    ExprP e = parse_math2();
    if (!is_op("~")) return e;
    auto c = node(EK::Concat, line);
    c->kids.push_back(std::move(e));
    while (is_op("~")) {
      next();
      c->kids.push_back(parse_math2());
    }
    return c;
  }
  ExprP parse_math2() {
    ExprP e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      Token t = next();
      e = binop(EK::BinOp, t.text, std::move(e), parse_pow(), t.line);
    }
    return e;
  }
  ExprP parse_pow() {
    ExprP e = parse_unary(true);
    while (is_op("**")) {
      Token t = next();
      e = binop(EK::BinOp, "**", std::move(e), parse_unary(true), t.line);
    }
    return e;
  }
  ExprP parse_unary(bool with_filter) {
    ExprP e;
    if (is_op("-") || is_op("+")) {
      Token t = next();
      e = node(t.text == "-" ? EK::Neg : EK::Pos, t.line);
      e->kids.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprP constant(Value v, int line) {
    auto e = node(EK::Const, line);
    e->value = std::move(v);
    return e;
  }

  ExprP parse_primary() {
    const Token& t = cur();
    int line = t.line;
    switch (t.type) {
      case Tok::Name: {
        std::string n = next().text;
        if (n == "true" || n == "True") return constant(Value::boolean(true), line);
        if (n == "false" || n == "False") return constant(Value::boolean(false), line);
        if (n == "none" || n == "None") return constant(Value::none(), line);
        auto e = node(EK::Name, line);
        e->name = n;
        return e;
      }
      case Tok::String: {
        std::string s = next().text;
        while (cur().type == Tok::String) s += next().text;
        return constant(Value::string(s), line);
      }
      case Tok::Int: return constant(Value::integer(next().ival), line);
      case Tok::Float: return constant(Value::number(next().fval), line);
      case Tok::Op:
        if (t.text == "(") {
          next();
          ExprP e = parse_tuple(true, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto e = node(EK::List, line);
          while (!is_op("]")) {
            if (!e->kids.empty()) {
              expect_op(",");
              if (is_op("]")) break;
            }
            e->kids.push_back(parse_expression(true));
          }
          expect_op("]");
          return e;
        }
        if (t.text == "{") {
          next();
          auto e = node(EK::Dict, line);
          while (!is_op("}")) {
            if (!e->kids.empty()) {
              expect_op(",");
              if (is_op("}")) break;
            }
            e->kids.push_back(parse_expression(true));
            expect_op(":");
            e->kids.push_back(parse_expression(true));
          }
          expect_op("}");
          return e;
        }
        break;
      default: break;
    }
    unexpected("an expression");
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        int line = next().line;
        if (cur().type == Tok::Int) {
          auto it = node(EK::Item, line);
          it->kids.push_back(std::move(e));
          it->kids.push_back(constant(Value::integer(next().ival), line));
          e = std::move(it);
        } else {
          auto a = node(EK::Attr, line);
          a->name = expect_name();
          a->kids.push_back(std::move(e));
          e = std::move(a);
        }
      } else if (is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprP subscript(ExprP obj) {
    int line = next().line;  // [
    std::vector<ExprP> parts;
    bool is_slice = false;
    auto part = [&]() -> ExprP { return is_op(":") || is_op("]") ? nullptr : parse_expression(true); };
    ExprP start = part();
    if (is_op(":")) {
      is_slice = true;
      next();
      ExprP stop = part();
      ExprP step;
      if (is_op(":")) {
        next();
        step = part();
      }
      expect_op("]");
      auto s = node(EK::Slice, line);
      s->kids.push_back(std::move(obj));
      s->kids.push_back(std::move(start));
      s->kids.push_back(std::move(stop));
      s->kids.push_back(std::move(step));
      return s;
    }
    (void)is_slice;
    if (!start) unexpected("a subscript");
    if (is_op(",")) {  // x[a, b]: a tuple key
      auto t = node(EK::Tuple, line);
      t->kids.push_back(std::move(start));
      while (is_op(",")) {
        next();
        if (is_op("]")) break;
        t->kids.push_back(parse_expression(true));
      }
      start = std::move(t);
    }
    expect_op("]");
    auto it = node(EK::Item, line);
    it->kids.push_back(std::move(obj));
    it->kids.push_back(std::move(start));
    return it;
  }

  void call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (!e.args.empty()) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) syntax_error(cur().line, "unsupported *args / **kwargs in a call");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        e.arg_names.push_back(next().text);
        next();
      } else {
        if (!e.arg_names.empty() && !e.arg_names.back().empty())
          syntax_error(cur().line, "positional argument follows keyword argument");
        e.arg_names.emplace_back();
      }
      e.args.push_back(parse_expression(true));
    }
    expect_op(")");
  }

  ExprP call(ExprP callee) {
    auto c = node(EK::Call, cur().line);
    c->kids.push_back(std::move(callee));
    call_args(*c);
    return c;
  }

  // One `| name(args)` (or, for {% filter %}, the first name without the bar).
  ExprP filter_call(ExprP operand, bool bar = true) {
    int line = cur().line;
    if (bar) expect_op("|");
    std::string name = expect_name();
    while (is_op(".")) {
      next();
      name += "." + expect_name();
    }
    auto f = node(EK::Filter, line);
    f->name = name;
    f->filter = find_filter(name);
    if (!f->filter) syntax_error(line, fmt::format("unsupported filter '{}'", name));
    f->kids.push_back(std::move(operand));
    if (is_op("(")) call_args(*f);
    return f;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        e = filter_call(std::move(e));
      } else if (is_name("is")) {
        int line = next().line;
        bool negated = false;
        if (is_name("not")) {
          next();
          negated = true;
        }
        auto t = node(EK::Test, line);
        t->name = expect_name();
        while (is_op(".")) {
          next();
          t->name += "." + expect_name();
        }
        t->test = find_test(t->name);
        if (!t->test) syntax_error(line, fmt::format("unsupported test '{}'", t->name));
        t->kids.push_back(std::move(e));
        const Token& c = cur();
        if (is_op("(")) {
          call_args(*t);
        } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Int || c.type == Tok::Float ||
                    (c.type == Tok::Op && (c.text == "(" || c.text == "[" || c.text == "{"))) &&
                   !(c.type == Tok::Name && (c.text == "else" || c.text == "or" || c.text == "and"))) {
          if (is_name("is")) syntax_error(c.line, "tests cannot be chained with 'is'");
          t->args.push_back(parse_postfix(parse_primary()));
          t->arg_names.emplace_back();
        }
        e = std::move(t);
        if (negated) {
          auto n = node(EK::Not, line);
          n->kids.push_back(std::move(e));
          e = std::move(n);
        }
      } else if (is_op("(")) {
        e = call(std::move(e));
      } else {
        return e;
      }
    }
  }
};

}  // namespace

Template parse(std::string_view source, const Options& opt) {
  Parser p;
  p.toks = tokenize(source, opt);
  Template t;
  t.body = p.subparse({}, "");
  return t;
}

}  // namespace flops::jinja
