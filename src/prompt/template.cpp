#include "prompt/template.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace flops::prompt {

namespace {

}  // namespace

std::string unescape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[i + 1];
      if (c == 'n' || c == 't' || c == '\\') {
        o += c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
        i++;
        continue;
      }
    }
    o += s[i];
  }
  return o;
}

namespace {

// Calls on_text(literal) and on_field(name) in order; validates braces.
template <typename A, typename B>
void walk(const std::string& s, A on_text, B on_field) {
  std::string lit;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
      lit += '{';
      i++;
    } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
      lit += '}';
      i++;
    } else if (c == '{') {
      size_t j = s.find('}', i);
      if (j == std::string::npos) fail("template has an unclosed '{{' at byte {}", i);
      std::string name = s.substr(i + 1, j - i - 1);
      if (name.empty() || name.find('{') != std::string::npos) fail("template has an empty or bad placeholder at byte {}", i);
      on_text(lit);
      lit.clear();
      on_field(name);
      i = j;
    } else if (c == '}') {
      fail("template has an unmatched '}}' at byte {}", i);
    } else {
      lit += c;
    }
  }
  on_text(lit);
}

bool is_int(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); i++)
    if (!std::isdigit((unsigned char)s[i])) return false;
  return true;
}

}  // namespace

Template parse_template(const std::string& text, bool unescape) {
  Template t;
  t.text = unescape ? prompt::unescape(text) : text;
  int n_label = 0;
  size_t label_at = 0;
  // Find the {label} placeholder's byte span in the raw template.
  for (size_t i = 0; i < t.text.size(); i++) {
    if (t.text[i] == '{' && i + 1 < t.text.size() && t.text[i + 1] == '{') {
      i++;
      continue;
    }
    if (t.text.compare(i, 7, "{label}") == 0) {
      n_label++;
      label_at = i;
    }
  }
  walk(t.text, [](const std::string&) {}, [](const std::string&) {});  // validates braces
  if (n_label != 1) fail("template must contain {{label}} exactly once, found {} times", n_label);
  t.before_label = t.text.substr(0, label_at);
  t.after_label = t.text.substr(label_at + 7);
  bool has_text = false;
  walk(t.before_label, [&](const std::string& lit) { has_text |= !lit.empty(); }, [&](const std::string&) { has_text = true; });
  if (!has_text) fail("template must have text before {{label}}: the label is scored after the test input");
  return t;
}

std::string fill(const std::string& part, const Example& e) {
  std::string out;
  walk(
      part, [&](const std::string& lit) { out += lit; },
      [&](const std::string& name) {
        auto it = e.fields.find(name);
        if (it == e.fields.end()) fail("an example has no field '{}' used by the template", name);
        out += it->second;
      });
  return out;
}

std::string render_context(const Template& t, const Example& e) { return fill(t.before_label, e); }

std::string render_demo(const Template& t, const Example& e, const std::string& label_name) {
  return fill(t.before_label, e) + label_name + fill(t.after_label, e);
}

int LabelMap::index(const std::string& r) const {
  for (size_t i = 0; i < raw.size(); i++)
    if (raw[i] == r) return (int)i;
  return -1;
}

LabelMap parse_labels(const std::string& spec, const std::vector<std::string>& raw_seen) {
  std::set<std::string> seen_set(raw_seen.begin(), raw_seen.end());
  seen_set.erase("");
  std::vector<std::string> seen(seen_set.begin(), seen_set.end());
  if (std::all_of(seen.begin(), seen.end(), is_int))
    std::sort(seen.begin(), seen.end(), [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  LabelMap m;
  if (spec.empty()) {
    if (seen.empty()) fail("no labels given and none found in the examples");
    m.raw = seen;
    m.names = seen;
    return m;
  }
  std::vector<std::string> items;
  size_t i = 0;
  while (true) {
    size_t j = spec.find(',', i);
    items.push_back(spec.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  int n_eq = 0;
  for (auto& it : items) {
    if (it.empty()) fail("--labels has an empty label in '{}'", spec);
    n_eq += it.find('=') != std::string::npos;
  }
  if (n_eq == (int)items.size()) {
    for (auto& it : items) {
      size_t e = it.find('=');
      m.raw.push_back(it.substr(0, e));
      m.names.push_back(it.substr(e + 1));
      if (m.raw.back().empty() || m.names.back().empty()) fail("--labels item '{}' must be raw=name", it);
    }
  } else if (n_eq == 0) {
    m.names = items;
    bool identity = std::all_of(seen.begin(), seen.end(), [&](const std::string& s) {
      return std::find(items.begin(), items.end(), s) != items.end();
    });
    if (identity) {
      m.raw = items;
    } else if (seen.size() == items.size()) {
      m.raw = seen;
    } else {
      fail("--labels gives {} names but the examples have {} distinct labels", items.size(), seen.size());
    }
  } else {
    fail("--labels mixes raw=name items with plain names: '{}'", spec);
  }
  for (size_t a = 0; a < m.names.size(); a++)
    for (size_t b = a + 1; b < m.names.size(); b++)
      if (m.names[a] == m.names[b] || m.raw[a] == m.raw[b]) fail("--labels repeats a label: '{}'", spec);
  return m;
}

}  // namespace flops::prompt
