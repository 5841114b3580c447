// Generation stop reasons, KV reuse across turns, stop strings while streaming, and fitting a
// conversation into the context, on a tiny random-weight model.
#include <gtest/gtest.h>

#include "model/chat_template.h"
#include "model/generate.h"
#include "core/error.h"
#include "model/synthetic.h"

using namespace flops;
using ojson = nlohmann::ordered_json;

namespace {

std::unique_ptr<Model> tiny(int n_ctx = 64) {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = n_ctx;
  c.n_rot = 8;
  SyntheticOptions o;
  o.init_std = 0.5f;  // peaked distributions, so greedy output varies with the context
  return load_synthetic_model(c, o);
}

SamplingParams greedy() {
  SamplingParams sp;
  sp.temp = 0;
  return sp;
}

// The model's tokenizer with `eos` as its end-of-sequence token.
Tokenizer with_eos(const Tokenizer& t, int32_t eos) {
  Tokenizer::Vocab v;
  v.model = "gpt2";
  v.pre = "gpt2";
  v.tokens = t.tokens();
  v.types = t.token_types();
  v.bos = t.bos();
  v.eos = eos;
  v.add_bos = true;
  v.add_bos_set = true;
  return Tokenizer::from_vocab(v);
}

}  // namespace

TEST(Generate, StopsAtLengthAndSaysSo) {
  auto m = tiny();
  GenerateResult r = generate(*m, "abc", 5, 64, greedy(), true);
  EXPECT_EQ(r.stop, StopReason::Length);
  EXPECT_EQ(r.tokens.size(), 5u);
  EXPECT_STREQ(stop_reason_name(r.stop), "length");
}

TEST(Generate, StopsWhenTheContextIsFull) {
  auto m = tiny(32);
  GenerateResult r = generate(*m, "abc", 100000, 32, greedy(), true);
  EXPECT_EQ(r.stop, StopReason::ContextFull);
  // BOS + 3 prompt tokens, then tokens until the 32 slots are used (the last one is sampled, not stored).
  EXPECT_EQ(r.prompt_tokens.size() + r.tokens.size(), 33u);
  EXPECT_STREQ(stop_reason_name(r.stop), "context_full");
}

TEST(Generate, StopsAtEndOfTurnTokenWithoutWritingIt) {
  auto m = tiny();
  GenerateResult free_run = generate(*m, "hello", 4, 64, greedy(), true);
  ASSERT_EQ(free_run.tokens.size(), 4u);
  // Make the token the model writes third its end of turn: it stops there, the token unwritten.
  int32_t t3 = free_run.tokens[2];
  m->tok = with_eos(m->tok, t3);
  ASSERT_TRUE(m->tok.is_eog(t3));
  GenerateResult r = generate(*m, "hello", 4, 64, greedy(), true);
  EXPECT_EQ(r.stop, StopReason::EndOfTurn);
  EXPECT_EQ(r.stop_token, t3);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + 2));
  EXPECT_TRUE(r.stopped_at_eos);
  StopConditions ignore;
  ignore.at_end_of_turn = false;
  EXPECT_EQ(generate(*m, "hello", 4, 64, greedy(), true, {}, ignore).tokens, free_run.tokens);
}

TEST(Generate, StopStringEndsTheTextAndIsNeverStreamed) {
  auto m = tiny();
  GenerateResult free_run = generate(*m, "hello", 12, 64, greedy(), true);
  ASSERT_GE(free_run.text.size(), 6u);
  // Stop at the text generated from byte 3 to 5: the streamed pieces never show any of it.
  std::string stop = free_run.text.substr(3, 3);
  size_t at = free_run.text.find(stop);
  StopConditions sc;
  sc.strings = {stop};
  std::string streamed;
  GenerateResult r = generate(*m, "hello", 12, 64, greedy(), true,
                              [&](const std::string& piece) {
                                streamed += piece;
                                return true;
                              },
                              sc);
  EXPECT_EQ(r.stop, StopReason::StopString);
  EXPECT_EQ(r.stop_string, stop);
  EXPECT_EQ(r.text, free_run.text.substr(0, at));
  EXPECT_EQ(streamed, r.text);
}

TEST(Generate, CancelledByTheCallback) {
  auto m = tiny();
  int calls = 0;
  GenerateResult r = generate(*m, "hello", 20, 64, greedy(), true, [&](const std::string&) { return ++calls < 3; });
  EXPECT_EQ(r.stop, StopReason::Cancelled);
  EXPECT_LE(r.tokens.size(), 6u);
}

TEST(Generate, SessionReusesTheCommonPrefix) {
  auto m = tiny();
  Session s = make_session(*m, 64);
  std::vector<int32_t> p1 = m->tok.encode("hello there", true);
  GenerateResult a = generate_tokens(*m, s, p1, 6, greedy());
  EXPECT_EQ(a.reused_tokens, 0);
  EXPECT_EQ(s.tokens.size(), (size_t)s.kv.n);
  // The next turn: the old prompt, the reply, more text. Everything up to the reply's last
  // (unstored) token is reused, and the result is what a fresh cache gives.
  std::vector<int32_t> p2 = p1;
  p2.insert(p2.end(), a.tokens.begin(), a.tokens.end());
  for (int32_t t : m->tok.encode(" and more", false)) p2.push_back(t);
  GenerateResult b = generate_tokens(*m, s, p2, 6, greedy());
  EXPECT_EQ(b.reused_tokens, (int)(p1.size() + a.tokens.size() - 1));
  Session fresh = make_session(*m, 64);
  GenerateResult c = generate_tokens(*m, fresh, p2, 6, greedy());
  EXPECT_EQ(b.tokens, c.tokens);
  // A prompt that diverges early truncates the cache there.
  std::vector<int32_t> p3 = m->tok.encode("help", true);
  GenerateResult d = generate_tokens(*m, s, p3, 2, greedy());
  EXPECT_EQ(d.reused_tokens, 4);  // BOS h e l
  Session fresh3 = make_session(*m, 64);
  EXPECT_EQ(d.tokens, generate_tokens(*m, fresh3, p3, 2, greedy()).tokens);
}

TEST(ChatTemplate, FitDropsTheOldestTurnsAndKeepsTheSystemMessage) {
  auto m = tiny();
  GGUFFile none;
  ChatTemplate t = chat_template_for(none, m->tok, "chatml");
  ojson msgs = ojson::array();
  msgs.push_back({{"role", "system"}, {"content", "S"}});
  for (int i = 0; i < 6; ++i) {
    msgs.push_back({{"role", "user"}, {"content", "question " + std::to_string(i)}});
    msgs.push_back({{"role", "assistant"}, {"content", "answer " + std::to_string(i)}});
  }
  msgs.push_back({{"role", "user"}, {"content", "last"}});
  ojson all = msgs;
  FittedChat f = fit_chat(m->tok, t, msgs, 200, 20);
  EXPECT_GT(f.dropped_messages, 0);
  EXPECT_EQ(f.dropped_messages % 2, 0);  // whole turns
  EXPECT_LE(f.tokens.size() + 20, 200u);
  EXPECT_EQ(msgs[0]["content"], "S");
  EXPECT_EQ(msgs[1]["role"], "user");
  EXPECT_EQ(msgs.back()["content"], "last");
  EXPECT_EQ(msgs.size() + f.dropped_messages, all.size());
  EXPECT_EQ(f.rendered, render_chat(t, msgs, true));
  // The last turn alone too long: a clear error.
  ojson big = ojson::array({ojson{{"role", "user"}, {"content", std::string(300, 'x')}}});
  try {
    fit_chat(m->tok, t, big, 64, 8);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("last turn alone takes"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, EncodeChatReadsSpecialsAndAddsBosOnce) {
  auto m = tiny();
  GGUFFile none;
  ChatTemplate t = chat_template_for(none, m->tok, "llama3");
  EXPECT_EQ(t.bos_token, "<|bos|>");
  std::string rendered = render_chat(t, ojson::array({ojson{{"role", "user"}, {"content", "hi"}}}), true);
  ASSERT_EQ(rendered.rfind("<|bos|>", 0), 0u);
  std::vector<int32_t> ids = encode_chat(m->tok, t, rendered);
  EXPECT_EQ(ids[0], m->tok.bos());
  EXPECT_NE(ids[1], m->tok.bos());  // the template wrote BOS: none added
  // chatml writes no BOS: the tokenizer's is added.
  ChatTemplate c = chat_template_for(none, m->tok, "chatml");
  std::string r2 = render_chat(c, ojson::array({ojson{{"role", "user"}, {"content", "hi"}}}), true);
  EXPECT_EQ(encode_chat(m->tok, c, r2)[0], m->tok.bos());
  EXPECT_EQ(encode_chat(m->tok, c, r2), m->tok.encode(r2, true, true));
}
