#pragma once
// A Jinja interpreter for the subset of Jinja2 that real chat templates (Hugging Face
// `tokenizer.chat_template`) and lm-evaluation-harness task templates use.
//
// Semantics are Jinja2 3.1's as transformers' apply_chat_template runs it: an immutable sandbox,
// autoescape off, jinja2.Undefined (missing names and keys are falsy, print as "", iterate as
// empty; arithmetic, attributes and calls on them fail), Python's str/int/list/dict behaviour
// (str() of None is "None", `in` is substring/key/element membership, `+` on str and None
// fails), Markup strings from `|safe` (concatenating a plain string to one HTML-escapes it) and
// transformers' `tojson` (json.dumps, ensure_ascii=False; ", " and ": " separators, "," with an
// indent). Whitespace follows Jinja2's lexer: `{%-`/`-%}` strip all whitespace on that side,
// trim_blocks removes the newline after a block or comment tag, lstrip_blocks the spaces and tabs
// before one on its line, and one trailing newline of the source is dropped.
//
// Anything outside the subset (an unknown tag, filter, test or method, `{% include %}`,
// `{% call %}`, recursive loops...) is an flops::Error naming the construct and its line, never a
// silent wrong rendering. Python-level runtime errors (iterating none, "a" + none, json.dumps of a
// generator, an undefined variable used in arithmetic) are flops::Error carrying Python's message
// ("jinja: line 7: TypeError: 'NoneType' object is not iterable").
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace flops::jinja {

// What `raise_exception(msg)` throws: what() is msg exactly.
struct TemplateError : Error {
  using Error::Error;
};

struct Options {
  // transformers' environment: trim_blocks and lstrip_blocks on, trailing newline dropped.
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
  // jinja2.StrictUndefined (lm-evaluation-harness): printing or testing an undefined value fails too.
  bool strict_undefined = false;
  // The time strftime_now() formats (local time); unset = now.
  std::optional<std::time_t> now;
};

// Renders a template with the given variables (the top-level keys of `vars`, which must be an
// object or null). Object key order is kept with ordered_json, as Python dicts keep it (`tojson`,
// `items()` and `for k in d` follow it); with nlohmann::json keys come in sorted order.
std::string render(std::string_view source, const nlohmann::json& vars);
std::string render(std::string_view source, const nlohmann::ordered_json& vars);
std::string render(std::string_view source, const nlohmann::ordered_json& vars, const Options& opt);

// Parses only: throws the same errors render() would for syntax and unsupported constructs.
void check_syntax(std::string_view source, const Options& opt = {});

}  // namespace flops::jinja
