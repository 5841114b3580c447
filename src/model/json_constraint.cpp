#include "model/json_constraint.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

#include "core/error.h"

namespace flops {

namespace {

enum Kind : uint8_t { KString, KNumber, KLiteral, KObject, KArray };
// Object phases.
enum : uint8_t { O_START, O_KEY, O_COLON, O_VALUE, O_INVALUE, O_NEXT, O_AFTER_COMMA };
// Array phases.
enum : uint8_t { A_START, A_INVALUE, A_NEXT, A_AFTER_COMMA };
// String phases.
enum : uint8_t { S_NORMAL, S_ESC };
// Number phases.
enum : uint8_t { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC };
constexpr int kMaxIntDigits = 15, kMaxFracDigits = 9;

// ---- compiling a schema -------------------------------------------------------------------

struct Compiler {
  JsonGrammar g;
  int depth = 0;

  int add(JsonNode n) {
    g.nodes.push_back(std::move(n));
    return (int)g.nodes.size() - 1;
  }
  int string_node() {
    JsonNode n;
    n.type = JType::String;
    return add(n);
  }
  int enum_node(std::vector<std::string> lits) {
    JsonNode n;
    n.type = JType::Enum;
    n.literals = std::move(lits);
    return add(n);
  }
  // The value of json_object's members and of free arrays: any JSON value.
  int any_node() {
    int u = add(JsonNode{});  // Union, filled below (object and array refer back to it)
    JsonNode obj;
    obj.type = JType::Object;
    obj.free_value = u;
    int o = add(obj);
    JsonNode arr;
    arr.type = JType::Array;
    arr.items = u;
    int a = add(arr);
    int s = string_node();
    JsonNode num;
    num.type = JType::Number;
    int nm = add(num);
    int e = enum_node({"true", "false", "null"});
    g.nodes[u].alts = {o, a, s, nm, e};
    return u;
  }

  static std::string dump(const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict); }

  int compile(const nlohmann::json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail("{}: the schema `false` accepts nothing", path);
      return any_node();
    }
    if (!s.is_object()) fail("{}: a schema must be an object", path);
    if (++depth > JsonState::kMaxDepth - 4) fail("{}: schema nested deeper than {} levels", path, JsonState::kMaxDepth - 4);
    static const std::set<std::string> known = {"type", "properties", "required", "additionalProperties", "items",
                                                "enum", "const", "minItems", "maxItems", "minLength", "maxLength"};
    static const std::set<std::string> ignored = {"title", "description", "$schema", "default", "examples", "$id",
                                                  "$comment", "strict"};
    for (auto& [k, v] : s.items())
      if (!known.count(k) && !ignored.count(k)) fail("{}: unsupported keyword '{}'", path, k);

    auto get_int = [&](const char* key, int def) {
      if (!s.contains(key)) return def;
      const auto& v = s[key];
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1000000)
        fail("{}.{}: must be a non-negative integer", path, key);
      return (int)v.get<int64_t>();
    };

    int result;
    if (s.contains("enum") || s.contains("const")) {
      std::vector<std::string> lits;
      if (s.contains("const")) lits.push_back(dump(s["const"]));
      if (s.contains("enum")) {
        if (!s["enum"].is_array() || s["enum"].empty()) fail("{}.enum: must be a non-empty array", path);
        for (auto& v : s["enum"]) lits.push_back(dump(v));
      }
      if (lits.size() > 64) fail("{}.enum: at most 64 values are supported, got {}", path, lits.size());
      std::sort(lits.begin(), lits.end());
      lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
      result = enum_node(lits);
    } else {
      std::vector<std::string> types;
      if (s.contains("type")) {
        const auto& t = s["type"];
        if (t.is_string())
          types.push_back(t.get<std::string>());
        else if (t.is_array() && !t.empty())
          for (auto& x : t) {
            if (!x.is_string()) fail("{}.type: must be a string or a list of strings", path);
            types.push_back(x.get<std::string>());
          }
        else
          fail("{}.type: must be a string or a list of strings", path);
      } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
        types = {"object"};
      } else if (s.contains("items")) {
        types = {"array"};
      } else {
        types = {"object", "array", "string", "number", "boolean", "null"};
      }
      // Object, array, string, number before integer (a number union accepts integers),
      // literal types merged into one enum.
      static const std::vector<std::string> order = {"object", "array", "string", "number", "integer", "boolean", "null"};
      for (auto& t : types)
        if (std::find(order.begin(), order.end(), t) == order.end()) fail("{}.type: unknown type '{}'", path, t);
      std::vector<int> alts;
      std::vector<std::string> lits;
      bool has_number = std::count(types.begin(), types.end(), "number") > 0;
      for (const auto& t : order) {
        if (std::find(types.begin(), types.end(), t) == types.end()) continue;
        if (t == "object") {
          alts.push_back(compile_object(s, path));
        } else if (t == "array") {
          JsonNode a;
          a.type = JType::Array;
          a.min_items = get_int("minItems", 0);
          a.max_items = get_int("maxItems", -1);
          if (a.max_items >= 0 && a.max_items < a.min_items) fail("{}: maxItems is below minItems", path);
          a.items = s.contains("items") ? compile(s["items"], path + ".items") : any_node();
          alts.push_back(add(a));
        } else if (t == "string") {
          JsonNode n;
          n.type = JType::String;
          n.min_len = get_int("minLength", 0);
          n.max_len = get_int("maxLength", -1);
          if (n.max_len >= 0 && n.max_len < n.min_len) fail("{}: maxLength is below minLength", path);
          alts.push_back(add(n));
        } else if (t == "number" || (t == "integer" && !has_number)) {
          JsonNode n;
          n.type = t == "number" ? JType::Number : JType::Integer;
          alts.push_back(add(n));
        } else if (t == "boolean") {
          lits.push_back("true");
          lits.push_back("false");
        } else if (t == "null") {
          lits.push_back("null");
        }
      }
      if (!lits.empty()) alts.push_back(enum_node(lits));
      if (alts.size() == 1) {
        result = alts[0];
      } else {
        JsonNode u;
        u.alts = alts;
        result = add(u);
      }
    }
    depth--;
    return result;
  }

  int compile_object(const nlohmann::json& s, const std::string& path) {
    JsonNode o;
    o.type = JType::Object;
    if (s.contains("properties")) {
      const auto& p = s["properties"];
      if (!p.is_object()) fail("{}.properties: must be an object", path);
      if (p.size() > 64) fail("{}.properties: at most 64 properties are supported, got {}", path, p.size());
      for (auto& [k, v] : p.items()) {
        o.prop_names.push_back(k);
        o.key_literals.push_back(dump(nlohmann::json(k)));
        o.prop_nodes.push_back(compile(v, path + ".properties." + k));
        o.prop_required.push_back(false);
      }
    }
    if (s.contains("required")) {
      const auto& r = s["required"];
      if (!r.is_array()) fail("{}.required: must be an array of property names", path);
      for (auto& name : r) {
        if (!name.is_string()) fail("{}.required: must be an array of property names", path);
        auto it = std::find(o.prop_names.begin(), o.prop_names.end(), name.get<std::string>());
        if (it == o.prop_names.end())
          fail("{}.required: property '{}' is not in properties", path, name.get<std::string>());
        o.prop_required[it - o.prop_names.begin()] = true;
      }
    }
    if (s.contains("additionalProperties")) {
      const auto& a = s["additionalProperties"];
      if (!a.is_boolean() && !a.is_object()) fail("{}.additionalProperties: must be a boolean or a schema", path);
      // With declared properties only those are produced (valid whatever this says).
      if (o.prop_names.empty() && !(a.is_boolean() && !a.get<bool>()))
        o.free_value = a.is_object() ? compile(a, path + ".additionalProperties") : any_node();
    } else if (o.prop_names.empty()) {
      o.free_value = any_node();
    }
    return add(o);
  }
};

// Shortest serialisations, to a fixed point (free values refer back to themselves).
void compute_min_bytes(JsonGrammar& g) {
  for (auto& n : g.nodes) n.min_bytes = INT_MAX / 4;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& n : g.nodes) {
      long v = INT_MAX / 4;
      switch (n.type) {
        case JType::String: v = 2 + n.min_len; break;
        case JType::Number:
        case JType::Integer: v = 1; break;
        case JType::Enum:
          for (auto& l : n.literals) v = std::min<long>(v, (long)l.size());
          break;
        case JType::Object: {
          v = 2;
          int k = 0;
          for (size_t i = 0; i < n.prop_names.size(); i++)
            if (n.prop_required[i]) v += (k++ ? 1 : 0) + (long)n.key_literals[i].size() + 1 + g.nodes[n.prop_nodes[i]].min_bytes;
          break;
        }
        case JType::Array:
          v = 2 + (long)n.min_items * g.nodes[n.items].min_bytes + std::max(0, n.min_items - 1);
          break;
        case JType::Union:
          for (int a : n.alts) v = std::min<long>(v, g.nodes[a].min_bytes);
          break;
      }
      v = std::min<long>(v, INT_MAX / 4);
      if (v < n.min_bytes) {
        n.min_bytes = (int)v;
        changed = true;
      }
    }
  }
}

// ---- the automaton -----------------------------------------------------------------------

int member_bytes(const JsonGrammar& g, const JsonNode& o, int i) {
  return (int)o.key_literals[i].size() + 1 + g.nodes[o.prop_nodes[i]].min_bytes;
}

// Bytes after property j's value to close the object: the required members after j, and '}'.
int rest_after(const JsonGrammar& g, const JsonNode& o, int j) {
  int v = 1;
  for (int i = j + 1; i < (int)o.prop_names.size(); i++)
    if (o.prop_required[i]) v += 1 + member_bytes(g, o, i);
  return v;
}

bool required_left(const JsonNode& o, int from) {
  for (int i = from; i < (int)o.prop_names.size(); i++)
    if (o.prop_required[i]) return true;
  return false;
}

// Key literals that may come next: from next_prop up to and including the first required one.
uint64_t key_candidates(const JsonNode& o, int next_prop) {
  uint64_t m = 0;
  for (int i = next_prop; i < (int)o.prop_names.size(); i++) {
    m |= 1ull << i;
    if (o.prop_required[i]) break;
  }
  return m;
}

const std::vector<std::string>& literals_of(const JsonGrammar& g, const JsonFrame& f) {
  return f.is_key ? g.nodes[f.node].key_literals : g.nodes[f.node].literals;
}

bool push(JsonState& s, JsonFrame f) {
  if (s.n >= JsonState::kMaxDepth) return false;
  s.f[s.n++] = f;
  return true;
}

// The frame on top is complete: pop it and advance its parent.
void pop_done(const JsonGrammar& g, JsonState& s) {
  JsonFrame child = s.f[--s.n];
  if (s.n == 0) {
    // A finished object, array or string admits nothing after it; a number or literal may grow.
    if (child.kind == KObject || child.kind == KArray || child.kind == KString) s.ended = true;
    if (child.kind == KLiteral) {
      const auto& lits = literals_of(g, child);
      bool longer = false;
      for (int i = 0; i < (int)lits.size(); i++)
        if ((child.cand >> i & 1) && (int)lits[i].size() > child.pos) longer = true;
      if (!longer) s.ended = true;
    }
    return;
  }
  JsonFrame& p = s.f[s.n - 1];
  if (p.kind == KObject) {
    if (p.phase == O_KEY) {
      if (child.kind == KLiteral) {  // a declared key: which one matched
        const auto& lits = literals_of(g, child);
        for (int i = 0; i < (int)lits.size(); i++)
          if ((child.cand >> i & 1) && (int)lits[i].size() == child.pos) p.cur_prop = i;
        p.next_prop = p.cur_prop + 1;
      }
      p.count++;
      p.phase = O_COLON;
    } else {
      p.phase = O_NEXT;
    }
  } else if (p.kind == KArray) {
    p.count++;
    p.phase = A_NEXT;
  }
}

bool feed_byte(const JsonGrammar& g, JsonState& s, uint8_t c);

bool number_byte(JsonFrame& f, uint8_t c) {
  bool digit = c >= '0' && c <= '9';
  switch (f.phase) {
    case N_MINUS:
      if (!digit) return false;
      f.phase = c == '0' ? N_ZERO : N_INT;
      f.count = 1;
      return true;
    case N_ZERO:
      if (c == '.' && !f.integer) return f.phase = N_DOT, true;
      return false;
    case N_INT:
      if (digit && f.count < kMaxIntDigits) return f.count++, true;
      if (c == '.' && !f.integer) return f.phase = N_DOT, true;
      return false;
    case N_DOT:
      if (!digit) return false;
      f.phase = N_FRAC;
      f.pos = 1;
      return true;
    case N_FRAC:
      if (digit && f.pos < kMaxFracDigits) return f.pos++, true;
      return false;
  }
  return false;
}

bool string_byte(const JsonGrammar& g, JsonState& s, uint8_t c) {
  JsonFrame& f = s.f[s.n - 1];
  const JsonNode& n = g.nodes[f.node];
  if (f.utf8_need) {
    if (c < f.utf8_lo || c > f.utf8_hi) return false;
    f.utf8_lo = 0x80, f.utf8_hi = 0xBF;
    if (--f.utf8_need == 0) f.count++;
    return true;
  }
  if (f.phase == S_ESC) {
    static const std::string_view esc = "\"\\/bfnrt";
    if (esc.find((char)c) == std::string_view::npos) return false;
    f.phase = S_NORMAL;
    f.count++;
    return true;
  }
  if (c == '"') {
    if (f.count < n.min_len) return false;
    pop_done(g, s);
    return true;
  }
  if (n.max_len >= 0 && f.count >= n.max_len) return false;
  if (c == '\\') return f.phase = S_ESC, true;
  if (c < 0x20) return false;
  if (c < 0x80) return f.count++, true;
  // UTF-8 lead bytes and the range of the byte after them (no overlongs, surrogates, > U+10FFFF).
  f.utf8_lo = 0x80, f.utf8_hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) f.utf8_need = 1;
  else if (c >= 0xE0 && c <= 0xEF) {
    f.utf8_need = 2;
    if (c == 0xE0) f.utf8_lo = 0xA0;
    if (c == 0xED) f.utf8_hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    f.utf8_need = 3;
    if (c == 0xF0) f.utf8_lo = 0x90;
    if (c == 0xF4) f.utf8_hi = 0x8F;
  } else
    return false;
  return true;
}

// Begins a value of node `ni` with byte c.
bool start_value(const JsonGrammar& g, JsonState& s, int ni, uint8_t c) {
  const JsonNode& n = g.nodes[ni];
  JsonFrame f{};
  f.node = (int16_t)ni;
  f.cur_prop = -1;
  switch (n.type) {
    case JType::Union:
      for (int a : n.alts) {
        JType t = g.nodes[a].type;
        bool fits = (t == JType::Object && c == '{') || (t == JType::Array && c == '[') || (t == JType::String && c == '"') ||
                    ((t == JType::Number || t == JType::Integer) && (c == '-' || (c >= '0' && c <= '9')));
        if (t == JType::Enum)
          for (auto& l : g.nodes[a].literals) fits |= !l.empty() && (uint8_t)l[0] == c;
        if (fits) return start_value(g, s, a, c);
      }
      return false;
    case JType::Object:
      if (c != '{' || s.n >= g.max_depth) return false;
      f.kind = KObject;
      f.phase = O_START;
      return push(s, f);
    case JType::Array:
      if (c != '[' || s.n >= g.max_depth) return false;
      f.kind = KArray;
      f.phase = A_START;
      return push(s, f);
    case JType::String:
      if (c != '"') return false;
      f.kind = KString;
      f.phase = S_NORMAL;
      return push(s, f);
    case JType::Number:
    case JType::Integer:
      if (c != '-' && !(c >= '0' && c <= '9')) return false;
      f.kind = KNumber;
      f.integer = n.type == JType::Integer;
      f.phase = N_MINUS;
      if (!push(s, f)) return false;
      return c == '-' ? true : number_byte(s.f[s.n - 1], c);
    case JType::Enum:
      f.kind = KLiteral;
      for (int i = 0; i < (int)n.literals.size(); i++)
        if (!n.literals[i].empty() && (uint8_t)n.literals[i][0] == c) f.cand |= 1ull << i;
      if (!f.cand) return false;
      f.pos = 1;
      return push(s, f);
  }
  return false;
}

bool start_key(const JsonGrammar& g, JsonState& s, uint8_t c) {
  JsonFrame& o = s.f[s.n - 1];
  const JsonNode& n = g.nodes[o.node];
  if (c != '"') return false;
  JsonFrame k{};
  k.node = o.node;
  k.is_key = true;
  k.cur_prop = -1;
  if (n.prop_names.empty()) {
    if (n.free_value < 0) return false;
    k.kind = KString;
    k.phase = S_NORMAL;
    k.node = (int16_t)g.key_string;
  } else {
    k.kind = KLiteral;
    k.cand = key_candidates(n, o.next_prop);
    if (!k.cand) return false;
    k.pos = 1;
  }
  o.phase = O_KEY;
  return push(s, k);
}

bool feed_byte(const JsonGrammar& g, JsonState& s, uint8_t c) {
  if (s.ended) return false;
  if (!s.started) {
    s.started = true;
    return start_value(g, s, g.root, c);
  }
  for (;;) {
    if (s.n == 0) return false;  // a complete root number/literal admits no other byte here
    JsonFrame& f = s.f[s.n - 1];
    const JsonNode& n = g.nodes[f.node];
    switch (f.kind) {
      case KString:
        return string_byte(g, s, c);
      case KNumber: {
        JsonFrame save = f;
        if (number_byte(f, c)) return true;
        f = save;
        if (f.phase == N_MINUS || f.phase == N_DOT) return false;
        pop_done(g, s);
        continue;  // the byte belongs to the parent
      }
      case KLiteral: {
        const auto& lits = literals_of(g, f);
        uint64_t next = 0;
        bool complete = false;
        for (int i = 0; i < (int)lits.size(); i++) {
          if (!(f.cand >> i & 1)) continue;
          if ((int)lits[i].size() == f.pos) complete = true;
          else if ((uint8_t)lits[i][f.pos] == c) next |= 1ull << i;
        }
        if (next) {
          f.cand = next;
          f.pos++;
          // Done as soon as one candidate matches whole and none is longer (a key literal ends
          // with its quote, so it is done the moment it matches).
          bool whole = false, longer = false;
          for (int i = 0; i < (int)lits.size(); i++)
            if (next >> i & 1) ((int)lits[i].size() == f.pos ? whole : longer) = true;
          if (whole && (f.is_key || !longer)) {
            if (f.is_key)  // keep only the whole match, so the parent knows which key it was
              for (int i = 0; i < (int)lits.size(); i++)
                if ((int)lits[i].size() != f.pos) f.cand &= ~(1ull << i);
            pop_done(g, s);
          }
          return true;
        }
        if (!complete || f.is_key) return false;
        pop_done(g, s);
        continue;
      }
      case KObject:
        switch (f.phase) {
          case O_START:
            if (c == '}' && !required_left(n, 0)) {
              pop_done(g, s);
              return true;
            }
            return start_key(g, s, c);
          case O_AFTER_COMMA:
            return start_key(g, s, c);
          case O_COLON:
            if (c != ':') return false;
            f.phase = O_VALUE;
            return true;
          case O_VALUE: {
            int vn = n.prop_names.empty() ? n.free_value : n.prop_nodes[f.cur_prop];
            f.phase = O_INVALUE;
            return start_value(g, s, vn, c);
          }
          case O_NEXT:
            if (c == ',') {
              if (!n.prop_names.empty() && f.next_prop >= (int)n.prop_names.size()) return false;
              f.phase = O_AFTER_COMMA;
              return true;
            }
            if (c == '}' && !required_left(n, n.prop_names.empty() ? 0 : f.next_prop)) {
              pop_done(g, s);
              return true;
            }
            return false;
          default:
            return false;
        }
      case KArray:
        switch (f.phase) {
          case A_START:
            if (c == ']') {
              if (n.min_items > 0) return false;
              pop_done(g, s);
              return true;
            }
            if (n.max_items == 0) return false;
            f.phase = A_INVALUE;
            return start_value(g, s, n.items, c);
          case A_NEXT:
            if (c == ',' && (n.max_items < 0 || f.count < n.max_items)) return f.phase = A_AFTER_COMMA, true;
            if (c == ']' && f.count >= n.min_items) {
              pop_done(g, s);
              return true;
            }
            return false;
          case A_AFTER_COMMA:
            f.phase = A_INVALUE;
            return start_value(g, s, n.items, c);
          default:
            return false;
        }
    }
    return false;
  }
}

}  // namespace

JsonGrammar json_grammar_any_object() {
  Compiler c;
  c.g.key_string = c.string_node();
  JsonNode o;
  o.type = JType::Object;
  o.free_value = c.any_node();
  c.g.root = c.add(o);
  compute_min_bytes(c.g);
  return std::move(c.g);
}

JsonGrammar json_grammar_from_schema(const nlohmann::json& schema) {
  Compiler c;
  c.g.key_string = c.string_node();
  c.g.max_depth = JsonState::kMaxDepth - 2;
  c.g.root = c.compile(schema, "schema");
  compute_min_bytes(c.g);
  if (c.g.nodes[c.g.root].min_bytes >= INT_MAX / 4) fail("schema: no finite JSON value satisfies it");
  return std::move(c.g);
}

bool json_feed(const JsonGrammar& g, JsonState& s, std::string_view bytes) {
  for (char ch : bytes)
    if (!feed_byte(g, s, (uint8_t)ch)) return false;
  return true;
}

bool json_can_end(const JsonGrammar& g, const JsonState& s) {
  if (s.ended) return true;
  if (!s.started) return false;
  if (s.n == 0) return true;
  if (s.n != 1) return false;
  const JsonFrame& f = s.f[0];
  if (f.kind == KNumber) return f.phase == N_ZERO || f.phase == N_INT || f.phase == N_FRAC;
  if (f.kind == KLiteral) {
    const auto& lits = literals_of(g, f);
    for (int i = 0; i < (int)lits.size(); i++)
      if ((f.cand >> i & 1) && (int)lits[i].size() == f.pos) return true;
  }
  return false;
}

int json_min_close(const JsonGrammar& g, const JsonState& s) {
  if (s.ended) return 0;
  if (!s.started) return g.nodes[g.root].min_bytes;
  int total = 0;
  for (int i = s.n - 1; i >= 0; i--) {
    const JsonFrame& f = s.f[i];
    const JsonNode& n = g.nodes[f.node];
    switch (f.kind) {
      case KString:
        total += (f.phase == S_ESC ? 1 : 0) + f.utf8_need + std::max(0, n.min_len - f.count - (f.utf8_need ? 1 : 0)) + 1;
        break;
      case KNumber:
        total += (f.phase == N_MINUS || f.phase == N_DOT) ? 1 : 0;
        break;
      case KLiteral: {
        const auto& lits = literals_of(g, f);
        int best = INT_MAX / 4;
        for (int j = 0; j < (int)lits.size(); j++)
          if (f.cand >> j & 1) best = std::min(best, (int)lits[j].size() - f.pos);
        total += best;
        break;
      }
      case KObject: {
        const bool free = n.prop_names.empty();
        const int any_min = free && n.free_value >= 0 ? g.nodes[n.free_value].min_bytes : 0;
        auto members_from = [&](int from, bool need_one) {
          if (free) return need_one ? 2 + 1 + any_min + 1 : 1;
          int v = 0, k = 0;
          for (int j = from; j < (int)n.prop_names.size(); j++)
            if (n.prop_required[j]) v += (k++ ? 1 : 0) + member_bytes(g, n, j);
          if (k == 0 && need_one) {
            int best = INT_MAX / 4;
            for (int j = from; j < (int)n.prop_names.size(); j++) best = std::min(best, member_bytes(g, n, j));
            v = best;
          }
          return v + 1;
        };
        auto rest = [&]() { return free ? 1 : rest_after(g, n, f.cur_prop); };
        auto value_min = [&]() { return free ? any_min : g.nodes[n.prop_nodes[f.cur_prop]].min_bytes; };
        switch (f.phase) {
          case O_START: total += members_from(0, false); break;
          case O_AFTER_COMMA: total += members_from(f.next_prop, true); break;
          case O_KEY: {
            if (free) {
              total += 1 + any_min + 1;
            } else {
              // The key on top may still become any of its candidates.
              const JsonFrame& k = s.f[i + 1];
              int best = INT_MAX / 4;
              for (int j = 0; j < (int)n.prop_names.size(); j++)
                if (k.cand >> j & 1) best = std::min(best, 1 + g.nodes[n.prop_nodes[j]].min_bytes + rest_after(g, n, j));
              total += best;
            }
            break;
          }
          case O_COLON: total += 1 + value_min() + rest(); break;
          case O_VALUE: total += value_min() + rest(); break;
          case O_INVALUE:
          case O_NEXT: total += rest(); break;
        }
        break;
      }
      case KArray: {
        int item = g.nodes[n.items].min_bytes;
        switch (f.phase) {
          case A_START: total += n.min_items > 0 ? n.min_items * item + (n.min_items - 1) + 1 : 1; break;
          case A_INVALUE: total += std::max(0, n.min_items - f.count - 1) * (1 + item) + 1; break;
          case A_NEXT: total += std::max(0, n.min_items - f.count) * (1 + item) + 1; break;
          case A_AFTER_COMMA: total += item + std::max(0, n.min_items - f.count - 1) * (1 + item) + 1; break;
        }
        break;
      }
    }
  }
  return total;
}

TokenTrie build_token_trie(const Tokenizer& tok) {
  TokenTrie t;
  t.n_vocab = tok.n_vocab();
  t.nodes.emplace_back();
  for (int32_t id = 0; id < tok.n_vocab(); id++) {
    if (tok.is_control(id)) continue;
    std::string p = tok.token_to_piece(id);
    if (p.empty()) continue;
    int cur = 0;
    for (unsigned char c : p) {
      int next = -1;
      for (auto& [b, child] : t.nodes[cur].edges)
        if (b == c) next = child;
      if (next < 0) {
        next = (int)t.nodes.size();
        t.nodes[cur].edges.emplace_back(c, next);
        t.nodes.emplace_back();
      }
      cur = next;
    }
    t.nodes[cur].tokens.push_back(id);
  }
  return t;
}

namespace {

void walk(const JsonGrammar& g, const TokenTrie& t, int node, const JsonState& s, int budget,
          std::vector<uint8_t>& allowed) {
  for (auto& [c, child] : t.nodes[node].edges) {
    JsonState s2 = s;
    if (!feed_byte(g, s2, c)) continue;
    const auto& toks = t.nodes[child].tokens;
    if (!toks.empty() && json_min_close(g, s2) <= budget - 1)
      for (int32_t id : toks) allowed[id] = 1;
    if (!t.nodes[child].edges.empty()) walk(g, t, child, s2, budget, allowed);
  }
}

}  // namespace

void json_allowed_tokens(const JsonGrammar& g, const JsonState& s, const TokenTrie& trie, int budget, int32_t eos,
                         std::vector<uint8_t>& allowed) {
  allowed.assign(trie.n_vocab, 0);
  if (!s.ended) walk(g, trie, 0, s, budget, allowed);
  if (eos >= 0 && eos < trie.n_vocab && json_can_end(g, s)) allowed[eos] = 1;
}

bool JsonConstraint::mask(float* logits, int budget) {
  json_allowed_tokens(*grammar, state, *trie, budget, tok->eos(), allowed);
  bool any = false;
  for (int i = 0; i < trie->n_vocab; i++) {
    if (!allowed[i]) logits[i] = -INFINITY;
    any |= allowed[i] != 0;
  }
  return any;
}

void JsonConstraint::accept(int32_t token) {
  if (token == tok->eos()) {
    state.ended = true;
    return;
  }
  if (!json_feed(*grammar, state, tok->token_to_piece(token))) fail("json constraint: token {} was not allowed", token);
}

}  // namespace flops
