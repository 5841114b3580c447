#pragma once
// The template fields of a task (doc_to_text, doc_to_target, doc_to_choice, description, join
// keys, doc_id), evaluated as lm-evaluation-harness evaluates them:
//   - a string that is the name of a field of the document gives that field's value as it is
//     (so doc_to_target: label may give an int index);
//   - anything else is a Jinja template rendered with the document's fields as variables;
//   - a template that renders to a list literal ("['A', 'B']" or JSON) gives a list
//     (doc_to_choice), and doc_to_target that renders to digits gives an index.
// Like the harness (Jinja's StrictUndefined), a template that uses a variable the document
// does not have is an error naming the variable, the template and the document.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flops::harness {

struct Tpl {
  std::string src;
  std::string where;  // "mytask.yaml line 5 (doc_to_text)"
  bool set = false;
};

// Renders a template with the document's fields; `doc_where` says which document
// ("data.csv line 4") for error messages.
std::string render(const Tpl& t, const nlohmann::json& doc, const std::string& doc_where);

// The harness's rule: a field name gives the raw value, else the rendered text.
nlohmann::json field_or_render(const Tpl& t, const nlohmann::json& doc, const std::string& doc_where);

// The variables a template reads from its context, in order of first use, leaving out names
// the template binds itself (for, set), attributes, filters, tests, keywords and names that
// are only tested with `is defined`.
std::vector<std::string> template_variables(const std::string& src);

// A Python or JSON literal as the harness reads rendered choices and targets: lists, strings
// in single or double quotes, integers, floats, True/False/None. nullopt-like: throws
// flops::Error naming `what` when the text is not one.
nlohmann::json parse_literal(const std::string& text, const std::string& what);

// Text form of a value as Jinja prints it ("3", "A", "['a', 'b']").
std::string value_text(const nlohmann::json& v);

}  // namespace flops::harness
