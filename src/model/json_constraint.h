#pragma once
// Constrained decoding of JSON: which next tokens keep the text produced so far a prefix of a
// JSON value that a schema accepts, and that can still be closed within the tokens left.
//
// The grammar is a pushdown automaton over bytes. Its stack holds one frame per open value
// (object, array, string, number, literal); each frame knows the schema node it must satisfy.
// A token is allowed when every byte of its piece is accepted in turn. The vocabulary is a byte
// trie of the token pieces, walked depth first from the current state, so a prefix shared by
// many tokens is checked once and a rejected byte prunes every token beneath it.
//
// Termination: min_close(state) is the fewest bytes that finish a valid value from the state
// (the shortest completion of every open frame, taking the schema's required members into
// account). A token is allowed only if min_close after it is at most the tokens still left after
// it. Byte-level and byte-fallback vocabularies hold a token for every single byte, so a closing
// path always exists and a request with max_tokens >= min_close(start) always ends in valid JSON.
//
// Supported JSON Schema subset: type (string, number, integer, boolean, null, object, array, or
// a list of them), properties, required, additionalProperties (false, true or a schema),
// items, enum, const, minItems, maxItems, minLength, maxLength; annotations (title, description,
// $schema, default, examples, $id, $comment) are ignored. Any other keyword is an error naming
// it and where it is. Members are produced in the order `properties` lists them (an optional
// member may be skipped, a required one may not), without insignificant whitespace.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer.h"

namespace flops {

enum class JType : uint8_t { Object, Array, String, Number, Integer, Enum, Union };

struct JsonNode {
  JType type = JType::Union;
  // Object: declared properties in order; `free_value` >= 0 means any key is allowed with a value
  // of that node (json_object, or additionalProperties as a schema) when no properties are given.
  std::vector<std::string> prop_names;
  std::vector<std::string> key_literals;  // "\"name\"", as the bytes to produce
  std::vector<int> prop_nodes;
  std::vector<bool> prop_required;
  int free_value = -1;
  // Array.
  int items = -1;
  int min_items = 0, max_items = -1;
  // String: length in code points.
  int min_len = 0, max_len = -1;
  // Enum: compact serialisations of the allowed values (boolean and null are enums too).
  std::vector<std::string> literals;
  // Union: alternatives tried in order on the first byte.
  std::vector<int> alts;
  int min_bytes = 0;  // shortest serialisation of a valid value
};

struct JsonGrammar {
  std::vector<JsonNode> nodes;
  int root = 0;
  int key_string = -1;  // the node of free objects' keys (any string)
  int max_depth = 12;   // nesting limit (values the schema leaves free could nest forever)
};

// json_object: any JSON object (values of any type, nested up to max_depth).
JsonGrammar json_grammar_any_object();
// A JSON Schema of the subset above. Throws flops::Error naming the unsupported or malformed
// keyword and its path, e.g. "schema.properties.age: unsupported keyword 'minimum'".
JsonGrammar json_grammar_from_schema(const nlohmann::json& schema);

// Trivially constructible, so that copying a state copies only its frames in use
// (states are copied at every node of the vocabulary trie). Make one with JsonFrame{}.
struct JsonFrame {
  uint8_t kind, phase;
  bool is_key, integer;
  int16_t node;
  uint8_t utf8_need, utf8_lo, utf8_hi;
  int32_t count;      // items, members, code points or digits
  int32_t pos;        // literal: bytes matched; number: fraction digits
  int32_t next_prop;  // object: first property that may come next
  int32_t cur_prop;   // object: property whose value is being produced (-1: none yet)
  uint64_t cand;      // literal: candidates still matching
};

struct JsonState {
  static constexpr int kMaxDepth = 32;
  std::array<JsonFrame, kMaxDepth> f;
  int n = 0;
  bool started = false;  // the root value has begun
  bool ended = false;    // the root value is complete and nothing can follow
  JsonState() = default;
  JsonState(const JsonState& o) : n(o.n), started(o.started), ended(o.ended) {
    std::copy(o.f.begin(), o.f.begin() + n, f.begin());
  }
  JsonState& operator=(const JsonState& o) {
    n = o.n, started = o.started, ended = o.ended;
    std::copy(o.f.begin(), o.f.begin() + n, f.begin());
    return *this;
  }
};

// Feeds bytes; false when one is rejected (the state is then unusable).
bool json_feed(const JsonGrammar& g, JsonState& s, std::string_view bytes);
// The text so far is a complete value (a root number may still grow: "1" -> "12").
bool json_can_end(const JsonGrammar& g, const JsonState& s);
// Fewest bytes that complete a valid value from here (0 when it can end).
int json_min_close(const JsonGrammar& g, const JsonState& s);

// The tokenizer's pieces as a byte trie (control tokens and empty pieces left out).
struct TokenTrie {
  struct Node {
    std::vector<std::pair<uint8_t, int>> edges;  // byte -> child node
    std::vector<int32_t> tokens;                 // tokens whose piece ends here
  };
  std::vector<Node> nodes;  // nodes[0] is the root
  int n_vocab = 0;
};
TokenTrie build_token_trie(const Tokenizer& tok);

// allowed[t] = 1 for every token whose piece is accepted from `s` and leaves min_close <= budget - 1
// (budget: tokens left including this one). EOS is allowed (when eos >= 0) iff the value can end.
void json_allowed_tokens(const JsonGrammar& g, const JsonState& s, const TokenTrie& trie, int budget, int32_t eos,
                         std::vector<uint8_t>& allowed);

// One request's constraint: the grammar and trie are shared, the state is its own.
struct JsonConstraint {
  const JsonGrammar* grammar = nullptr;
  const TokenTrie* trie = nullptr;
  const Tokenizer* tok = nullptr;
  JsonState state;
  std::vector<uint8_t> allowed;
  // Sets disallowed logits to -inf; returns false when no token is allowed.
  bool mask(float* logits, int budget);
  // Advances the state by the token's piece (EOS ends it).
  void accept(int32_t token);
  bool must_end() const { return state.ended; }
  bool can_end() const { return json_can_end(*grammar, state); }
};

}  // namespace flops
