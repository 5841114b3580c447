#pragma once
// Tokens, syntax tree and interpreter hooks shared by the Jinja sources. Not part of the public
// model API (see jinja.h).
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/jinja.h"
#include "model/jinja_value.h"

namespace flops::jinja {

// A Python-level exception raised while rendering; line 0 = not known where it was raised
// (the interpreter fills in the line it was evaluating).
struct RuntimeError : Error {
  int line;
  std::string type, msg;
  RuntimeError(int l, std::string_view t, std::string_view m)
      : Error(std::string(t) + ": " + std::string(m)), line(l), type(t), msg(m) {}
};

// Syntax errors and unsupported constructs: "jinja: line N: ...".
[[noreturn]] void syntax_error(int line, std::string_view msg);

// ---- lexer ----
enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };
struct Token {
  Tok type = Tok::Eof;
  std::string text;  // Data text, name, decoded string literal, operator
  int line = 1;
  int64_t ival = 0;
  double fval = 0;
};
// The whole template as Jinja2's lexer cuts it, whitespace control already applied to Data.
std::vector<Token> tokenize(std::string_view source, const Options& opt);

// ---- syntax tree ----
struct Interp;
using FilterFn = Value (*)(Interp&, const Value&, Args&);
using TestFn = bool (*)(Interp&, const Value&, Args&);
FilterFn find_filter(std::string_view name);  // nullptr when unknown
TestFn find_test(std::string_view name);

enum class EK : uint8_t {
  Const, Name, Attr, Item, Slice, Call, Filter, Test, Not, Neg, Pos, BinOp, Compare, And, Or, Cond, List, Tuple, Dict,
  Concat
};
struct Expr;
using ExprP = std::unique_ptr<Expr>;
struct Expr {
  EK kind = EK::Const;
  int line = 0;
  Value value;       // Const
  std::string name;  // Name, Attr, Filter, Test; BinOp operator
  // Attr: [object]; Item: [object, key]; Slice: [object, start, stop, step] (null when absent);
  // Call: [callee]; Filter, Test: [operand] (null for a filter block's operand); Not/Neg/Pos: [x];
  // BinOp, And, Or: [a, b]; Compare: [first, then one per operator]; Cond: [then, condition,
  // else (may be null)]; List, Tuple, Concat: items; Dict: key, value, key, value...
  std::vector<ExprP> kids;
  std::vector<ExprP> args;             // Call, Filter, Test
  std::vector<std::string> arg_names;  // parallel to args; "" = positional
  std::vector<std::string> ops;        // Compare: "==", "!=", "<", "<=", ">", ">=", "in", "notin"
  FilterFn filter = nullptr;
  TestFn test = nullptr;
};

enum class SK : uint8_t { Text, Output, If, For, Set, SetBlock, Macro, FilterBlock, Break, Continue, With, Block };
struct Stmt;
using StmtP = std::unique_ptr<Stmt>;
using Body = std::vector<StmtP>;
struct Stmt {
  SK kind = SK::Text;
  int line = 0;
  std::string text;  // Text
  ExprP expr;        // Output, Set: the value; For: the iterable
  std::vector<std::pair<ExprP, Body>> branches;  // If: (condition, body) for if and each elif
  Body body, else_body;
  // For: loop variables; Set, SetBlock: assigned names (several = unpacking); Macro: parameters;
  // With: assigned names.
  std::vector<std::string> targets;
  std::string attr;  // Set: `set ns.attr = ...` assigns attribute `attr` of namespace targets[0]
  bool unpack = false;  // For/Set: the target is a tuple, even of one name
  ExprP cond;           // For: the `if` filter
  std::vector<ExprP> values;   // Macro: parameter defaults (null when none); With: the values
  std::vector<ExprP> filters;  // FilterBlock, SetBlock: Filter nodes applied in turn to the body
  std::string name;            // Macro
};

struct Template {
  Body body;
};
Template parse(std::string_view source, const Options& opt);

// ---- interpreter hooks for filters, tests and methods ----
struct Scope;
struct Interp {
  const Options& opt;
  int line = 0;  // line of the node being evaluated (for errors raised without one)
  explicit Interp(const Options& o) : opt(o) {}
  Value call(const Value& fn, Args& a);
  // Python's str() for output, failing on undefined values under StrictUndefined.
  std::string to_str(const Value& v);
  bool test_truth(const Value& v);
};
// x.name: dict keys, namespace attributes and the str/dict/list methods templates call.
Value get_attr(Interp& in, const Value& obj, std::string_view name);
// x[key] (Jinja's getitem: the key first, then the attribute).
Value get_item(Interp& in, const Value& obj, const Value& key);
// Global functions: range, dict, namespace, raise_exception, strftime_now, lipsum-free Jinja set.
Value global_function(std::string_view name, const Options& opt);

}  // namespace flops::jinja
