// Tokenizer construction from GGUF metadata, the shared encode/decode driver and the GGUF writer.
#include "model/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "model/tokenizer_internal.h"

namespace flops {


static int32_t special_id(const GGUFFile& g, std::string_view key, size_t n_vocab) {
  const GGUFValue* v = g.find(key);
  if (!v) return -1;
  int64_t x = g.get_int(key);
  // Converters write UINT32_MAX (or -1) for "none".
  if (x < 0 || x == 0xFFFFFFFFll) return -1;
  if ((uint64_t)x >= n_vocab) fail("model metadata '{}' = {} is outside the vocabulary of {} tokens", key, x, n_vocab);
  return (int32_t)x;
}

Tokenizer Tokenizer::from_gguf(const GGUFFile& g) {
  Vocab v;
  v.model = g.get_string("tokenizer.ggml.model");
  if (v.model != "llama" && v.model != "gpt2" && v.model != "bert")
    fail("unsupported tokenizer model '{}' (tokenizer.ggml.model); flops knows 'llama', 'gpt2' and 'bert'", v.model);
  v.pre = g.get_string("tokenizer.ggml.pre", "default");
  for (auto s : g.get_string_array("tokenizer.ggml.tokens")) v.tokens.emplace_back(s);
  const size_t n = v.tokens.size();
  if (n == 0) fail("model metadata 'tokenizer.ggml.tokens' is empty");
  if (g.find("tokenizer.ggml.scores")) {
    v.scores = g.get_float_array("tokenizer.ggml.scores");
    if (v.scores.size() != n)
      fail("model metadata 'tokenizer.ggml.scores' has {} entries for {} tokens", v.scores.size(), n);
  }
  if (g.find("tokenizer.ggml.token_type")) {
    auto t = g.get_int_array("tokenizer.ggml.token_type");
    if (t.size() != n) fail("model metadata 'tokenizer.ggml.token_type' has {} entries for {} tokens", t.size(), n);
    v.types.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (t[i] < 0 || t[i] > 6) fail("model metadata 'tokenizer.ggml.token_type' has invalid type {} for token {}", t[i], i);
      v.types[i] = TokenType(t[i]);
    }
  }
  if (g.find("tokenizer.ggml.merges"))
    for (auto s : g.get_string_array("tokenizer.ggml.merges")) v.merges.emplace_back(s);
  v.bos = special_id(g, "tokenizer.ggml.bos_token_id", n);
  v.eos = special_id(g, "tokenizer.ggml.eos_token_id", n);
  v.unk = special_id(g, "tokenizer.ggml.unknown_token_id", n);
  v.pad = special_id(g, "tokenizer.ggml.padding_token_id", n);
  v.cls = special_id(g, "tokenizer.ggml.cls_token_id", n);
  v.sep = special_id(g, "tokenizer.ggml.seperator_token_id", n);  // sic: the key llama.cpp writes
  v.name = g.get_string("general.name", "");
  v.eot = special_id(g, "tokenizer.ggml.eot_token_id", n);
  v.eom = special_id(g, "tokenizer.ggml.eom_token_id", n);
  for (const char* kind : {"eot", "eom", "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep"})
    if (g.find(std::string("tokenizer.ggml.") + kind + "_token_id")) v.ids_given.push_back(kind);
  if (g.find("tokenizer.ggml.add_bos_token")) {
    v.add_bos = g.get_bool("tokenizer.ggml.add_bos_token", false);
    v.add_bos_set = true;
  }
  v.add_eos = g.get_bool("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = g.get_bool("tokenizer.ggml.add_space_prefix", v.model == "llama");
  return from_vocab(std::move(v));
}

Tokenizer Tokenizer::from_vocab(Vocab v) {
  Tokenizer t;
  if (v.model == "llama") t.kind_ = Kind::SPM;
  else if (v.model == "gpt2") t.kind_ = Kind::BPE;
  else if (v.model == "bert") t.kind_ = Kind::WPM;
  else fail("unsupported tokenizer model '{}' (tokenizer.ggml.model); flops knows 'llama', 'gpt2' and 'bert'", v.model);
  const size_t n = v.tokens.size();
  if (n == 0) fail("tokenizer vocabulary is empty");
  if (n > (size_t)INT32_MAX) fail("tokenizer vocabulary of {} tokens is too large", n);
  if (!v.scores.empty() && v.scores.size() != n) fail("tokenizer has {} scores for {} tokens", v.scores.size(), n);
  if (!v.types.empty() && v.types.size() != n) fail("tokenizer has {} token types for {} tokens", v.types.size(), n);
  if (t.kind_ == Kind::WPM) {
    // llama.cpp's WordPiece defaults (BERT's ids) where the file names none.
    auto def = [&](int32_t& x, int32_t d) {
      if (x < 0 && d < (int64_t)n) x = d;
    };
    def(v.cls, 101), def(v.sep, 102), def(v.unk, 100), def(v.pad, 0);
    if (v.bos < 0) v.bos = v.cls;
  }
  for (int32_t id : {v.bos, v.eos, v.unk, v.pad, v.cls, v.sep, v.eot, v.eom})
    if (id < -1 || id >= (int64_t)n) fail("special token id {} is outside the vocabulary of {} tokens", id, n);
  // llama.cpp knows GPT-2's split only as "gpt-2"; "gpt2" is accepted here and written back as "gpt-2".
  t.pre_name_ = v.pre.empty() ? "default" : v.pre == "gpt2" ? "gpt-2" : v.pre;
  if (t.kind_ == Kind::BPE) t.pre_ = std::make_unique<PreTokenizer>(PreTokenizer::by_name(t.pre_name_));
  t.tokens_ = std::move(v.tokens);
  t.scores_ = std::move(v.scores);
  t.types_ = std::move(v.types);
  if (t.types_.empty()) t.types_.assign(n, TokenType::Normal);
  t.raw_types_ = t.types_;
  t.merges_ = std::move(v.merges);
  t.bos_ = v.bos;
  t.eos_ = v.eos;
  t.unk_ = v.unk;
  t.pad_ = v.pad;
  t.cls_ = v.cls;
  t.sep_ = v.sep;
  t.add_bos_default_ = v.add_bos_set ? v.add_bos : t.kind_ != Kind::BPE;
  t.add_eos_default_ = v.add_eos;
  t.add_space_prefix_ = t.kind_ == Kind::SPM && v.add_space_prefix;
  t.ignore_merges_ = t.pre_ && t.pre_->ignore_merges;
  t.detect_special_by_text(v);
  std::string lname;
  for (char c : v.name) lname += (char)tolower((unsigned char)c);
  t.build(lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos);
  return t;
}

static int parse_byte_token(std::string_view s) {
  // "<0xAB>"
  if (s.size() != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  int hi = hex(s[3]), lo = hex(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t at = 0;
  while (true) {
    size_t k = s.find(from, at);
    if (k == std::string_view::npos) break;
    out.append(s.substr(at, k - at));
    out.append(to);
    at = k + from.size();
  }
  out.append(s.substr(at));
  return out;
}

void Tokenizer::build(bool phi3_strip) {
  const int32_t n = (int32_t)tokens_.size();
  std::fill(std::begin(byte_id_), std::end(byte_id_), -1);
  build_specials(phi3_strip);
  for (int32_t id = 0; id < n; ++id) {
    TokenType ty = types_[id];
    const std::string& s = tokens_[id];
    if (ty == TokenType::Normal || ty == TokenType::Undefined) normal_id_.emplace(s, id);
    if (kind_ == Kind::WPM) {
      any_id_.emplace(s, id);
      max_token_len_ = std::max(max_token_len_, s.size());
    }
    if (kind_ == Kind::SPM && (ty == TokenType::Byte || ty == TokenType::Undefined)) {
      int b = parse_byte_token(s);
      if (b >= 0 && byte_id_[b] < 0) byte_id_[b] = id;
    }
  }
  if (kind_ == Kind::SPM) {
    for (const auto& [text, id] : normal_id_) {
      uint32_t prev = 0;
      for (size_t i = 0; i < text.size();) {
        size_t l = std::min(utf8_len((uint8_t)text[i]), text.size() - i);
        uint32_t cp = char_code(text.substr(i, l));
        if (i > 0) adjacent_.insert((uint64_t)prev << 32 | cp);
        prev = cp;
        i += l;
      }
    }
  }
  if (kind_ == Kind::BPE) {
    // Each byte is the one-character token of its byte-level image. Prefer a normal token; fall back to a
    // token of any other non-control type (DeepSeek stores the images of bytes that never occur in UTF-8
    // as user-defined tokens).
    std::unordered_map<std::string_view, int32_t> any_id;
    for (int32_t id = 0; id < n; ++id)
      if (types_[id] != TokenType::Control) any_id.emplace(tokens_[id], id);
    for (int b = 0; b < 256; ++b) {
      std::string s;
      utf8_append(s, byte_to_unicode((uint8_t)b));
      auto it = normal_id_.find(s);
      if (it != normal_id_.end()) byte_id_[b] = it->second;
      else if (auto j = any_id.find(s); j != any_id.end()) byte_id_[b] = j->second;
    }
    merge_of_.reserve(merges_.size());
    std::string joined;
    for (size_t r = 0; r < merges_.size(); ++r) {
      std::string_view m = merges_[r];
      size_t sp = m.find(' ', 1);
      if (sp == std::string_view::npos) fail("tokenizer merge {} '{}' has no space separating its two parts", r, m);
      std::string_view a = m.substr(0, sp), b = m.substr(sp + 1);
      auto ia = normal_id_.find(a), ib = normal_id_.find(b);
      if (ia == normal_id_.end() || ib == normal_id_.end()) continue;  // unusable: a part is not a token
      joined.assign(a);
      joined.append(b);
      auto ij = normal_id_.find(joined);
      if (ij == normal_id_.end()) continue;
      uint64_t key = (uint64_t)(uint32_t)ia->second << 32 | (uint32_t)ib->second;
      merge_of_.emplace(key, Merge{(int32_t)r, ij->second});  // the first (best) rank wins
    }
  }
  pieces_.resize(n);
  for (int32_t id = 0; id < n; ++id) {
    TokenType ty = types_[id];
    const std::string& s = tokens_[id];
    std::string& p = pieces_[id];
    if (ty == TokenType::Control) continue;
    if (kind_ == Kind::WPM) {
      p = replace_all(s, "\xE2\x96\x81", " ");
    } else if (kind_ == Kind::SPM) {
      int b = ty == TokenType::Byte ? parse_byte_token(s) : -1;
      if (b >= 0) p.assign(1, char(b));
      else p = replace_all(s, "\xE2\x96\x81", " ");
    } else if (ty == TokenType::UserDefined || ty == TokenType::Unknown) {
      p = s;
    } else {
      // Map the byte-level characters back to bytes; anything else (malformed vocabularies) passes through.
      std::vector<uint32_t> cps, off;
      if (utf8_invalid_offset(s) != std::string_view::npos) {
        p = s;
        continue;
      }
      utf8_decode(s, cps, off);
      for (size_t k = 0; k < cps.size(); ++k) {
        int b = unicode_to_byte(cps[k]);
        if (b >= 0) p += char(b);
        else p.append(s, off[k], off[k + 1] - off[k]);
      }
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  if (tokens_.empty()) fail("tokenizer has no vocabulary (not built with from_gguf / from_vocab)");
  size_t bad = utf8_invalid_offset(text);
  if (bad != std::string_view::npos) fail("input text is not valid UTF-8 (byte offset {})", bad);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && add_bos_default_ && bos_ >= 0) out.push_back(bos_);
  std::vector<Fragment> frags;
  partition(text, parse_special, frags);
  // llama.cpp's SentencePiece rule: the space prefix goes on the first piece of text and on every
  // piece that follows a special token.
  bool after_special = true;
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_fragment(text.substr(f.off, f.len), after_special, out);
      after_special = false;
    }
  }
  if (add_bos && kind_ == Kind::WPM && sep_ >= 0) out.push_back(sep_);
  if (add_bos && add_eos_default_ && eos_ >= 0) out.push_back(eos_);
  return out;
}

void Tokenizer::encode_fragment(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  if (kind_ == Kind::SPM) {
    encode_spm(text, at_start, out);
    return;
  }
  if (kind_ == Kind::WPM) {
    encode_wpm(text, out);
    return;
  }
  std::vector<std::string_view> words;
  pre_->split(text, words);
  for (auto w : words) encode_bpe_word(w, out);
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= (int32_t)tokens_.size()) fail("token id {} is outside the vocabulary of {} tokens", id, tokens_.size());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    check_id(id);
    if (types_[id] == TokenType::Control) continue;
    const std::string& p = pieces_[id];
    if (first && (add_space_prefix_ || kind_ == Kind::WPM) && !p.empty() && p[0] == ' ') out.append(p, 1, std::string::npos);
    else out += p;
    first = false;
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  check_id(id);
  return pieces_[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return tokens_[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  check_id(id);
  return types_[id];
}

bool Tokenizer::is_eog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }

bool Tokenizer::is_control(int32_t id) const {
  if (id < 0 || id >= (int32_t)tokens_.size()) return false;
  return types_[id] == TokenType::Control || id == eos_ || id == bos_;
}

void tokenizer_to_gguf(const Tokenizer& tok, GGUFWriter& w) {
  const bool spm = tok.kind() == Tokenizer::Kind::SPM;
  w.set_string("tokenizer.ggml.model", tok.model_name());
  w.set_string("tokenizer.ggml.pre", tok.pre_name());
  w.set_string_array("tokenizer.ggml.tokens", tok.tokens());
  if (spm || !tok.scores().empty()) {
    std::vector<float> s = tok.scores();
    s.resize(tok.tokens().size(), 0.0f);
    w.set_f32_array("tokenizer.ggml.scores", s);
  }
  std::vector<int32_t> types(tok.token_types().size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = (int32_t)tok.token_types()[i];
  w.set_i32_array("tokenizer.ggml.token_type", types);
  if (tok.kind() == Tokenizer::Kind::BPE) w.set_string_array("tokenizer.ggml.merges", tok.merges());
  if (tok.bos() >= 0) w.set_u32("tokenizer.ggml.bos_token_id", (uint32_t)tok.bos());
  if (tok.eos() >= 0) w.set_u32("tokenizer.ggml.eos_token_id", (uint32_t)tok.eos());
  if (tok.unk() >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", (uint32_t)tok.unk());
  if (tok.pad() >= 0) w.set_u32("tokenizer.ggml.padding_token_id", (uint32_t)tok.pad());
  if (tok.cls() >= 0) w.set_u32("tokenizer.ggml.cls_token_id", (uint32_t)tok.cls());
  if (tok.sep() >= 0) w.set_u32("tokenizer.ggml.seperator_token_id", (uint32_t)tok.sep());
  w.set_bool("tokenizer.ggml.add_bos_token", tok.add_bos_default());
  w.set_bool("tokenizer.ggml.add_eos_token", tok.add_eos_default());
  if (spm) w.set_bool("tokenizer.ggml.add_space_prefix", tok.add_space_prefix());
}

}  // namespace flops
