// JSON constrained decoding: sampled under random logits with the shipped BPE vocabulary, every
// output parses and validates against its schema (checked by an independent validator below),
// and always within the token budget.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "model/json_constraint.h"
#include "model/model.h"
#include "model/synthetic.h"

using namespace flops;
using nlohmann::json;

namespace {

// Validator of the supported subset, written from the JSON Schema spec independently of the
// automaton (it works on parsed values, not bytes).
std::string validate(const json& s, const json& v, const std::string& path = "$") {
  if (s.is_boolean()) return s.get<bool>() ? "" : path + ": false schema";
  if (s.contains("const") && v != s["const"]) return path + ": not the const";
  if (s.contains("enum")) {
    bool found = false;
    for (auto& e : s["enum"]) found |= e == v;
    if (!found) return path + ": not in enum";
  }
  if (s.contains("type")) {
    std::vector<std::string> types;
    if (s["type"].is_string()) types.push_back(s["type"]);
    else for (auto& t : s["type"]) types.push_back(t);
    bool ok = false;
    for (auto& t : types)
      ok |= (t == "object" && v.is_object()) || (t == "array" && v.is_array()) || (t == "string" && v.is_string()) ||
            (t == "number" && v.is_number()) || (t == "integer" && v.is_number_integer()) ||
            (t == "boolean" && v.is_boolean()) || (t == "null" && v.is_null());
    if (!ok) return path + ": wrong type " + std::string(v.type_name());
  }
  if (v.is_object()) {
    if (s.contains("required"))
      for (auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return path + ": missing " + r.get<std::string>();
    for (auto& [k, x] : v.items()) {
      if (s.contains("properties") && s["properties"].contains(k)) {
        if (auto e = validate(s["properties"][k], x, path + "." + k); !e.empty()) return e;
      } else if (s.contains("additionalProperties")) {
        if (auto e = validate(s["additionalProperties"], x, path + "." + k); !e.empty()) return e;
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return path + ": too few items";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return path + ": too many items";
    if (s.contains("items"))
      for (size_t i = 0; i < v.size(); i++)
        if (auto e = validate(s["items"], v[i], path + "[" + std::to_string(i) + "]"); !e.empty()) return e;
  }
  if (v.is_string()) {
    // Length in code points.
    size_t n = 0;
    for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return path + ": too short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return path + ": too long";
  }
  return "";
}

const Tokenizer& shipped_tokenizer() {
  static std::unique_ptr<Model> m = load_model(std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf");
  return m->tok;
}

struct Sampled {
  std::string text;
  int tokens = 0;
  bool ended_by_grammar = false;
};

// Random logits with a bias towards a few tokens, so that strings and numbers get long.
Sampled sample(const JsonGrammar& g, const TokenTrie& trie, const Tokenizer& tok, uint64_t seed, int budget) {
  JsonConstraint c;
  c.grammar = &g;
  c.trie = &trie;
  c.tok = &tok;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> logits(tok.n_vocab());
  Sampled out;
  for (int left = budget; left > 0; left--) {
    for (auto& l : logits) l = nd(rng);
    if (!c.mask(logits.data(), left)) ADD_FAILURE() << "no token allowed after '" << out.text << "'";
    std::vector<double> p(logits.size());
    double mx = *std::max_element(logits.begin(), logits.end());
    for (size_t i = 0; i < p.size(); i++) p[i] = std::exp(logits[i] - mx);
    std::discrete_distribution<int> d(p.begin(), p.end());
    int32_t t = d(rng);
    out.tokens++;
    if (t == tok.eos()) break;
    c.accept(t);
    out.text += tok.token_to_piece(t);
    if (c.must_end()) {
      out.ended_by_grammar = true;
      break;
    }
  }
  return out;
}

void check_schema(const json& schema, int budget, int seeds = 25) {
  const Tokenizer& tok = shipped_tokenizer();
  static TokenTrie trie = build_token_trie(tok);
  JsonGrammar g = schema.is_null() ? json_grammar_any_object() : json_grammar_from_schema(schema);
  for (int seed = 0; seed < seeds; seed++) {
    Sampled s = sample(g, trie, tok, seed, budget);
    SCOPED_TRACE("seed " + std::to_string(seed) + ": " + s.text);
    EXPECT_LE(s.tokens, budget);
    json v;
    ASSERT_NO_THROW(v = json::parse(s.text));
    if (schema.is_null())
      EXPECT_TRUE(v.is_object());
    else
      EXPECT_EQ(validate(schema, v), "");
  }
}

}  // namespace

TEST(JsonConstraint, AnyObjectAlwaysParses) { check_schema(nullptr, 60); }

TEST(JsonConstraint, AnyObjectClosesInATightBudget) {
  // min_close: the budget is just enough for "{}" plus little else.
  check_schema(nullptr, 3);
  check_schema(nullptr, 8);
}

TEST(JsonConstraint, SchemaWithRequiredPropertiesValidates) {
  json schema = json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "minLength": 2, "maxLength": 12},
      "age": {"type": "integer"},
      "score": {"type": "number"},
      "ok": {"type": "boolean"},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
      "color": {"enum": ["red", "green", "blue", 7, null]},
      "nick": {"type": ["string", "null"]},
      "where": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"], "additionalProperties": false}
    },
    "required": ["name", "age", "tags", "color", "where"],
    "additionalProperties": false
  })");
  check_schema(schema, 120);
}

TEST(JsonConstraint, RequiredMembersFitTheSmallestBudget) {
  json schema = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"const":"xy"}},
                                "required":["a","b"],"additionalProperties":false})");
  JsonGrammar g = json_grammar_from_schema(schema);
  // {"a":0,"b":"xy"}
  EXPECT_EQ(json_min_close(g, JsonState{}), 16);
  check_schema(schema, 16);
}

TEST(JsonConstraint, ArraysOfObjectsAndFreeMaps) {
  check_schema(json::parse(R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"}},
                               "required":["id"]},"minItems":2,"maxItems":4})"),
               80);
  check_schema(json::parse(R"({"type":"object","additionalProperties":{"type":"integer"}})"), 40);
}

TEST(JsonConstraint, ByteLevelAutomaton) {
  JsonGrammar g = json_grammar_any_object();
  auto accepts = [&](std::string_view text) {
    JsonState s;
    return json_feed(g, s, text);
  };
  EXPECT_TRUE(accepts(R"({"a":[1,-2.5,"x\n",true,null,{}],"b":{"c":"é"}})"));
  EXPECT_FALSE(accepts("["));           // json_object: the root is an object
  EXPECT_FALSE(accepts(R"({"a":01})"));   // no leading zeros
  EXPECT_FALSE(accepts(R"({"a":trux)"));
  EXPECT_FALSE(accepts("{\"a\":\"\x01\"}"));  // raw control character
  EXPECT_FALSE(accepts("{\"\xC3\x28\":1}"));  // broken UTF-8
  EXPECT_FALSE(accepts(R"({"a":1}})"));   // nothing after the value
  JsonState s;
  ASSERT_TRUE(json_feed(g, s, R"({"k":[1,2)"));
  EXPECT_EQ(json_min_close(g, s), 2);  // "]}"
  EXPECT_FALSE(json_can_end(g, s));
  ASSERT_TRUE(json_feed(g, s, "]}"));
  EXPECT_TRUE(s.ended);
}

TEST(JsonConstraint, UnsupportedKeywordsAreNamed) {
  auto error_of = [](const char* text) {
    try {
      json_grammar_from_schema(json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"type":"object","properties":{"age":{"type":"integer","minimum":0}}})"),
            "schema.properties.age: unsupported keyword 'minimum'");
  EXPECT_EQ(error_of(R"({"type":"strin"})"), "schema.type: unknown type 'strin'");
  EXPECT_EQ(error_of(R"({"properties":{"a":{}},"required":["b"]})"), "schema.required: property 'b' is not in properties");
  EXPECT_EQ(error_of(R"({"anyOf":[{"type":"string"}]})"), "schema: unsupported keyword 'anyOf'");
}

TEST(JsonConstraint, ByteTokenizerToo) {
  // A vocabulary of single bytes: every byte is its own token.
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 16;
  c.n_layer = 1;
  c.n_head = c.n_head_kv = 2;
  c.n_ff = 32;
  c.n_ctx_train = 32;
  c.n_rot = 8;
  auto m = load_synthetic_model(c);
  TokenTrie trie = build_token_trie(m->tok);
  JsonGrammar g = json_grammar_from_schema(json::parse(R"({"type":"object","properties":{"v":{"type":"string"}},"required":["v"]})"));
  for (int seed = 0; seed < 10; seed++) {
    Sampled s = sample(g, trie, m->tok, seed, 30);
    json v;
    ASSERT_NO_THROW(v = json::parse(s.text)) << s.text;
    EXPECT_TRUE(v["v"].is_string());
  }
}
