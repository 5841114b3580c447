#pragma once
// Prompt templates ("Review: {text}\nSentiment: {label}\n\n") and the label
// verbalizers that turn raw dataset labels into the words the model scores.
#include <string>
#include <vector>

#include "prompt/dataset.h"

namespace flops::prompt {

// A template with exactly one {label}; other {name} placeholders are example fields.
// "{{" and "}}" are literal braces.
struct Template {
  std::string text;
  std::string before_label;  // the part a test input is rendered from
  std::string after_label;   // closes a demonstration (e.g. the separator "\n\n")
};

// unescape: also turn the two-character sequences \n, \t, \\ into newline, tab, backslash
// (what a user types on a command line).
Template parse_template(const std::string& text, bool unescape = true);

// \n, \t, \\ -> newline, tab, backslash.
std::string unescape(const std::string& s);

// Fills {field} placeholders of a template part from the example.
std::string fill(const std::string& part, const Example& e);
// A whole demonstration: context + label name + closing part.
std::string render_demo(const Template& t, const Example& e, const std::string& label_name);
// A test input up to (not including) the label.
std::string render_context(const Template& t, const Example& e);

struct LabelMap {
  std::vector<std::string> raw;    // raw label for each class
  std::vector<std::string> names;  // the verbalizer scored for each class
  int index(const std::string& raw_label) const;  // -1 when not a class
};

// spec: "a,b,c" or "raw1=a,raw2=b". With plain names, raw labels equal to the names map to
// them; otherwise the distinct raw labels seen, sorted (numerically when all are integers),
// map to the names in order (so "negative,positive" fits SST-2's 0/1). An empty spec uses
// the raw labels themselves.
LabelMap parse_labels(const std::string& spec, const std::vector<std::string>& raw_seen);

}  // namespace flops::prompt
