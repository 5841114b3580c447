// The harness's backends: the local model's log-likelihoods against the plain scorer, the OpenAI
// client against an in-test endpoint that answers as the OpenAI API does (and against broken
// ones), recorded answers, and the request cache.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <thread>


#include "core/error.h"
#include "eval/score.h"
#include "harness/backend.h"
#include "harness/cache.h"
#include "model/forward.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;
using namespace flops::harness;

namespace {

std::unique_ptr<Model> tiny(int ctx = 64) {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = ctx;
  c.n_rot = 8;
  SyntheticOptions o;
  o.init_std = 0.3f;  // peaked distributions, so greedy tokens are clear
  return load_synthetic_model(c, o, "tiny");
}

// Sum of the log-probabilities of the last n_cont tokens of `text`, scored in one window.
double reference_ll(const Model& m, const std::string& text, size_t n_cont, bool bos = true) {
  std::vector<int32_t> t = m.tok.encode(text, bos);  // with the model's BOS, as the backend encodes
  std::vector<TokenScore> s = score_tokens(m, t, (int)t.size());
  double sum = 0;
  for (size_t i = s.size() - n_cont; i < s.size(); i++) sum += s[i].logprob;
  return sum;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// An endpoint run by the test on 127.0.0.1, answering with `handler`.
struct Stub {
  httplib::Server svr;
  std::thread th;
  int port = 0;
  explicit Stub(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    svr.Post("/v1/completions", handler);
    svr.Post("/v1/chat/completions", handler);
    port = svr.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Stub() {
    svr.stop();
    th.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

// What the OpenAI completions API answers to echo + logprobs, computed with the local model:
// every prompt token with its log-probability (none for the first), the top token at each
// position, character offsets, and one generated (greedy) token.
nlohmann::json echo_answer(const Model& m, const std::string& prompt) {
  std::vector<int32_t> t = m.tok.encode(prompt);
  KVCache kv = make_kv_cache(m.cfg, (int)t.size() + 1);
  std::vector<float> logits;
  forward(m, kv, make_batch(t, true), logits);
  const int V = m.cfg.n_vocab;
  nlohmann::json toks = nlohmann::json::array(), lps = nlohmann::json::array(), tops = nlohmann::json::array(),
                 offs = nlohmann::json::array();
  size_t off = 0;
  auto best = [&](size_t row) {
    const float* l = logits.data() + row * V;
    return (int32_t)(std::max_element(l, l + V) - l);
  };
  for (size_t i = 0; i <= t.size(); i++) {
    int32_t id = i < t.size() ? t[i] : best(t.size() - 1);
    std::string piece = m.tok.token_to_piece(id);
    toks.push_back(piece);
    offs.push_back(off);
    off += piece.size();  // ASCII prompts: bytes are characters
    if (i == 0) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    const float* row = logits.data() + (i - 1) * V;
    lps.push_back(score_logits(row, V, id).logprob);
    int32_t b = best(i - 1);
    tops.push_back({{m.tok.token_to_piece(b), score_logits(row, V, b).logprob}});
  }
  return {{"text", prompt + toks.back().get<std::string>()},
          {"logprobs", {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}}}};
}

}  // namespace

TEST(HarnessLocal, LoglikelihoodsEqualTheScorer) {
  auto m = tiny();
  auto b = make_local_backend(*m, "tiny.gguf", {});
  Instance in;
  std::vector<LLRequest> reqs = {{&in, 0, "Question: 2+2?\nAnswer:", " four"},
                                 {&in, 1, "Question: 2+2?\nAnswer:", " five!"},
                                 {&in, 0, "Trailing space ", "moves"}};
  std::vector<LLResult> r = b->loglikelihood(reqs);
  ASSERT_EQ(r.size(), 3u);
  // Choices share the context pass and each continues from its cache: same sums as scoring alone.
  EXPECT_NEAR(r[0].logprob, reference_ll(*m, "Question: 2+2?\nAnswer: four", 5), 1e-4);
  EXPECT_NEAR(r[1].logprob, reference_ll(*m, "Question: 2+2?\nAnswer: five!", 6), 1e-4);
  // The context's trailing space belongs to the continuation (the harness's split).
  EXPECT_NEAR(r[2].logprob, reference_ll(*m, "Trailing space moves", 6), 1e-4);
  EXPECT_EQ(r[0].prompt_tokens, (int64_t)m->tok.encode("Question: 2+2?\nAnswer:").size() + 4);  // context once, then the continuation minus its last token
  EXPECT_FALSE(r[0].truncated);

  // The greedy flag is true exactly when every continuation token is the model's top choice
  // (a context is searched whose top next token is printable text).
  std::string ctx_text;
  int32_t top = -1;
  for (char c0 = 'a'; c0 <= 'z' && top < 0; c0++) {
    ctx_text = std::string("ab") + c0;
    std::vector<int32_t> ctx = m->tok.encode(ctx_text);
    KVCache kv = make_kv_cache(m->cfg, 8);
    std::vector<float> logits;
    forward(*m, kv, make_batch(ctx, false), logits);
    int32_t t = (int32_t)(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::string piece = m->tok.token_to_piece(t);
    if (piece.size() == 1 && piece[0] > ' ' && piece[0] < 127) top = t;
  }
  ASSERT_GE(top, 0);
  int32_t other = m->tok.encode("x", false)[0];
  if (other == top) other = m->tok.encode("y", false)[0];
  auto g = b->loglikelihood({{&in, 0, ctx_text, m->tok.token_to_piece(top)}, {&in, 1, ctx_text, m->tok.token_to_piece(other)}});
  EXPECT_TRUE(g[0].is_greedy);
  EXPECT_FALSE(g[1].is_greedy);
}

TEST(HarnessLocal, LongRequestsKeepTheirLastTokens) {
  auto m = tiny(64);
  LocalOptions o;
  o.n_ctx = 16;
  auto b = make_local_backend(*m, "tiny.gguf", o);
  Instance in;
  std::string ctx = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto r = b->loglikelihood({{&in, 0, ctx, "XYZ"}});
  EXPECT_TRUE(r[0].truncated);
  // The harness's rule: the model reads the last n_ctx tokens before the final one.
  std::string all = ctx + "XYZ";
  EXPECT_NEAR(r[0].logprob, reference_ll(*m, all.substr(all.size() - 17), 3, false), 1e-4);
}

TEST(HarnessLocal, GenerationStopsAtUntil) {
  auto m = tiny();
  auto b = make_local_backend(*m, "tiny.gguf", {});
  Instance in;
  auto free_run = b->generate({{&in, "Once upon", {}, 12}});
  ASSERT_FALSE(free_run[0].text.empty());
  EXPECT_GT(free_run[0].gen_tokens, 0);
  EXPECT_LE(free_run[0].gen_tokens, 12);
  std::string stop = free_run[0].text.substr(free_run[0].text.size() / 2, 1);
  auto cut = b->generate({{&in, "Once upon", {stop}, 12}});
  EXPECT_EQ(cut[0].text, free_run[0].text.substr(0, free_run[0].text.find(stop)));  // greedy: the same text, cut
  EXPECT_EQ(cut_at_stop("abc</Answer>def", {"</Answer>", "\n"}), "abc");
}

TEST(HarnessApi, AgreesWithLocalThroughAnEchoingEndpoint) {
  auto m = tiny();
  int calls = 0;
  nlohmann::json last;
  Stub s([&](const httplib::Request& q, httplib::Response& res) {
    calls++;
    last = nlohmann::json::parse(q.body);
    nlohmann::json prompts = last["prompt"].is_array() ? last["prompt"] : nlohmann::json::array({last["prompt"]});
    nlohmann::json ch = nlohmann::json::array();
    for (size_t i = 0; i < prompts.size(); i++) {
      nlohmann::json c = echo_answer(*m, prompts[i]);
      c["index"] = i;
      ch.push_back(c);
    }
    res.set_content(nlohmann::json{{"object", "text_completion"}, {"choices", ch}}.dump(-1, ' ', false,
                                                                                       nlohmann::json::error_handler_t::replace),
                    "application/json");
  });
  ApiOptions ao;
  ao.base = s.base();
  ao.model = "tiny";
  auto api = make_api_backend(ao);
  auto local = make_local_backend(*m, "tiny.gguf", {});
  Instance in;
  std::vector<LLRequest> reqs = {{&in, 0, "The sky is", " blue"}, {&in, 1, "The sky is", " green."}, {&in, 0, "Q: x\nA:", " y"}};
  auto a = api->loglikelihood(reqs);
  auto l = local->loglikelihood(reqs);
  EXPECT_EQ(calls, 1);  // one request for the batch, prompts as a list
  EXPECT_EQ(last["echo"], true);
  EXPECT_EQ(last["logprobs"], 1);
  for (size_t i = 0; i < reqs.size(); i++) {
    EXPECT_NEAR(a[i].logprob, l[i].logprob, 1e-4) << i;
    EXPECT_EQ(a[i].is_greedy, l[i].is_greedy) << i;
  }
}

TEST(HarnessApi, BrokenEndpointsGiveOneLineErrors) {
  Instance in;
  std::vector<LLRequest> one = {{&in, 0, "ctx", " cont"}};
  auto with = [&](const std::string& status_body, int status) {
    Stub s([=](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content(status_body, "application/json");
    });
    ApiOptions ao;
    ao.base = s.base();
    ao.model = "m";
    auto api = make_api_backend(ao);
    return error_of([&] { api->loglikelihood(one); });
  };
  std::string e = with("<html>oops</html>", 200);
  EXPECT_NE(e.find("answered with something that is not JSON: '<html>oops</html>'"), std::string::npos) << e;
  e = with(R"({"error":{"code":500,"message":"Unsupported param: echo","type":"server_error"}})", 500);
  EXPECT_NE(e.find("answered HTTP 500: Unsupported param: echo (it does not return prompt log-probabilities"), std::string::npos)
      << e;
  e = with(R"({"choices":[{"text":"x","index":0}]})", 200);
  EXPECT_NE(e.find("does not return prompt log-probabilities"), std::string::npos) << e;
  e = with(R"({"choices":[]})", 200);
  EXPECT_NE(e.find("answered JSON without choices"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);

  ApiOptions nowhere;
  nowhere.base = "http://127.0.0.1:1/v1";
  nowhere.model = "m";
  e = error_of([&] { make_api_backend(nowhere)->loglikelihood(one); });
  EXPECT_NE(e.find("cannot reach the endpoint http://127.0.0.1:1/v1/completions"), std::string::npos) << e;
  nowhere.base = "https://example.org";
  EXPECT_NE(error_of([&] { make_api_backend(nowhere); }).find("https is not supported"), std::string::npos);
}

TEST(HarnessApi, ChatGenerationCutsAtStops) {
  nlohmann::json got;
  Stub s([&](const httplib::Request& q, httplib::Response& res) {
    got = nlohmann::json::parse(q.body);
    res.set_content(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"<Answer>B</Answer> because"}}],
                       "usage":{"prompt_tokens":12,"completion_tokens":7}})",
                    "application/json");
  });
  ApiOptions ao;
  ao.base = s.base() + "/chat/completions";  // a full endpoint URL is accepted too
  ao.model = "m";
  Instance in;
  auto g = make_api_backend(ao)->generate({{&in, "Which?", {"</Answer>"}, 64}});
  EXPECT_EQ(got["messages"][0]["content"], "Which?");
  EXPECT_EQ(got["temperature"], 0);
  EXPECT_EQ(got["stop"][0], "</Answer>");
  EXPECT_EQ(g[0].text, "<Answer>B");
  EXPECT_EQ(g[0].gen_tokens, 7);
}

TEST(HarnessReplay, RecordsByDocumentId) {
  std::string d = test::temp_dir() + "/harness_replay";
  std::filesystem::create_directories(d);
  std::string path = d + "/r.jsonl";
  std::ofstream(path) << R"({"pair_id": "p1,", "prompt": " Q1 ", "result": {"object": "chat.completion", "choices": [{"message": {"content": "so <Answer>A</Answer>"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 9}}})"
                      << "\n"
                      << R"({"doc_id": "p2", "response": "B", "loglikelihoods": [-1.5, -0.5]})" << "\n";
  TaskConfig t;
  t.name = "t";
  t.doc_id = {"pair_id", "doc_id", true};
  Instance a, b, c;
  a.doc_id = "p1,";
  a.context = "Q1";
  b.doc_id = "p2";
  b.context = "Q2";
  b.continuations = {" x", " y"};
  c.doc_id = "p3";
  c.where = "d.csv line 4";
  auto r = make_replay_backend({path, ""}, t);
  auto g = r->generate({{&a, "Q1", {"</Answer>"}, 10}, {&b, "Q2", {}, 10}});
  EXPECT_EQ(g[0].text, "so <Answer>A");
  EXPECT_EQ(g[0].gen_tokens, 9);
  EXPECT_EQ(g[1].text, "B");
  auto ll = r->loglikelihood({{&b, 1, "Q2", " y"}});
  EXPECT_EQ(ll[0].logprob, -0.5);
  EXPECT_EQ(r->notes()["prompts_equal"], 1);  // the recorded prompt is the rendered one
  EXPECT_NE(error_of([&] { r->generate({{&c, "", {}, 1}}); }).find("no record for the document 'p3' (d.csv line 4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { r->loglikelihood({{&a, 0, "", ""}}); }).find("has no \"loglikelihoods\" list"), std::string::npos);
}

TEST(HarnessCache, KeepsAnswersAcrossRuns) {
  std::string path = test::temp_dir() + "/harness_cache.jsonl";
  std::filesystem::remove(path);
  Instance in;
  LLRequest q{&in, 0, "ctx", " a"};
  GenRequest gq{&in, "ctx", {"\n"}, 8};
  {
    RequestCache c(path);
    EXPECT_EQ(c.find(ll_key("m1", q)), nullptr);
    LLResult r;
    r.logprob = -2.25;
    r.is_greedy = true;
    c.put(ll_key("m1", q), to_json(r));
    GenResult g;
    g.text = "hi";
    c.put(gen_key("m1", gq), to_json(g));
    c.flush();
  }
  std::ofstream(path, std::ios::app) << R"({"key": "torn)";  // a crash mid-line
  RequestCache c(path);
  ASSERT_NE(c.find(ll_key("m1", q)), nullptr);
  EXPECT_EQ(ll_from_json(*c.find(ll_key("m1", q))).logprob, -2.25);
  EXPECT_EQ(gen_from_json(*c.find(gen_key("m1", gq))).text, "hi");
  EXPECT_EQ(c.find(ll_key("m2", q)), nullptr);  // another model's answers are not reused
  gq.max_gen_toks = 9;
  EXPECT_EQ(c.find(gen_key("m1", gq)), nullptr);
  c.put("k", nlohmann::json(1));
  c.flush();
  RequestCache again(path);
  EXPECT_EQ(again.entries.size(), 3u);  // the torn line was dropped, the new one appended cleanly
}

