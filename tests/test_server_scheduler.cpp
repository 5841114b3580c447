// Continuous batching: jobs decoded together in slots give the same tokens as one generate() each;
// a cached prompt prefix is reused and changes nothing; stop strings cut the text; cancelled and
// timed-out jobs leave their slot.
#include <gtest/gtest.h>

#include <thread>

#include "model/generate.h"
#include "model/synthetic.h"
#include "server/scheduler.h"
#include "server/stop_text.h"

using namespace flops;
using namespace flops::server;

namespace {

std::unique_ptr<Model> tiny() {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 128;
  c.n_rot = 8;
  SyntheticOptions o;
  o.init_std = 0.5f;  // peaked distributions: greedy choices are far from ties
  return load_synthetic_model(c, o);
}

std::shared_ptr<Job> make_job(const Model& m, const std::string& prompt, int max_tokens, float temp = 0, uint64_t seed = 1) {
  auto j = std::make_shared<Job>();
  j->p.prompt = m.tok.encode(prompt, true);
  j->p.max_tokens = max_tokens;
  j->p.sp.temp = temp;
  j->p.sp.top_k = 0;
  j->p.sp.top_p = 1;
  j->p.sp.min_p = 0;
  j->p.sp.seed = seed;
  return j;
}

void wait(Job& j) {
  std::unique_lock<std::mutex> lk(j.mu);
  ASSERT_TRUE(j.cv.wait_for(lk, std::chrono::seconds(30), [&] { return j.done; }));
}

std::vector<int32_t> ids(const Job& j) {
  std::vector<int32_t> v;
  for (auto& t : j.tokens) v.push_back(t.id);
  return v;
}

}  // namespace

TEST(Scheduler, BatchedJobsMatchSingleSequenceGeneration) {
  auto m = tiny();
  std::mutex mu;
  SchedulerOptions o;
  o.n_slots = 4;
  o.n_ctx = 128;
  o.prompt_chunk = 5;  // prompts arrive over several steps while other slots decode
  Scheduler s(*m, o, mu);
  std::vector<std::string> prompts = {"abc", "hello there", "x", "the quick brown fox", "zz top", "a longer prompt here"};
  std::vector<std::shared_ptr<Job>> jobs;
  for (auto& p : prompts) {
    jobs.push_back(make_job(*m, p, 20, 0.9f, 7));
    ASSERT_TRUE(s.submit(jobs.back()));
  }
  for (size_t i = 0; i < jobs.size(); i++) {
    wait(*jobs[i]);
    SamplingParams sp = jobs[i]->p.sp;
    GenerateResult ref = generate(*m, prompts[i], 20, 128, sp, true);
    // Both stop at an end-of-generation token (EOS here).
    EXPECT_EQ(ids(*jobs[i]), ref.tokens) << prompts[i];
    EXPECT_EQ(jobs[i]->finish_reason, ref.stopped_at_eos ? "stop" : "length");
    EXPECT_GT(jobs[i]->cost.flops.total(), 0u);
  }
}

TEST(Scheduler, ReusesACachedPrefix) {
  auto m = tiny();
  std::mutex mu;
  SchedulerOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  Scheduler s(*m, o, mu);
  auto a = make_job(*m, "shared prefix of a prompt, then one", 8);
  ASSERT_TRUE(s.submit(a));
  wait(*a);
  auto b = make_job(*m, "shared prefix of a prompt, then two", 8);
  ASSERT_TRUE(s.submit(b));
  wait(*b);
  EXPECT_EQ(a->cached_tokens, 0);
  EXPECT_EQ(b->cached_tokens, (int)std::string("shared prefix of a prompt, then ").size() + 1);  // bytes + BOS
  GenerateResult ref = generate(*m, "shared prefix of a prompt, then two", 8, 128, b->p.sp, true);
  EXPECT_EQ(ids(*b), ref.tokens);
  // Less work for the reused prefix.
  EXPECT_LT(b->cost.flops.total(), a->cost.flops.total());
}

// A second slot starting a prompt that a busy slot holds copies that slot's keys and values
// instead of computing them, and generates what it would have generated alone.
TEST(Scheduler, CopiesAPrefixFromAnotherSlot) {
  auto m = tiny();
  std::mutex mu;
  SchedulerOptions o;
  o.n_slots = 2;
  o.n_ctx = 4096;
  Scheduler s(*m, o, mu);
  const std::string shared = "a system prompt that every client sends first; ";
  // The donor decodes until it is cancelled, so that it is still busy when the second job comes.
  auto a = make_job(*m, shared + "then one", 4000);
  a->p.ignore_eos = true;
  ASSERT_TRUE(s.submit(a));
  for (int i = 0; i < 2000; i++) {  // until a has its prompt in its cache and decodes
    {
      std::lock_guard<std::mutex> lk(a->mu);
      if (!a->tokens.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto b = make_job(*m, shared + "then two", 8);
  ASSERT_TRUE(s.submit(b));
  wait(*b);
  {
    std::lock_guard<std::mutex> lk(a->mu);
    EXPECT_FALSE(a->done) << "the donor slot was still busy";
  }
  a->cancel = true;
  wait(*a);
  EXPECT_EQ(a->cached_tokens, 0);
  EXPECT_EQ(b->cached_tokens, (int)shared.size() + std::string("then ").size() + 1);  // bytes + BOS
  GenerateResult ref = generate(*m, shared + "then two", 8, 4096, b->p.sp, true);
  EXPECT_EQ(ids(*b), ref.tokens);
  // The donor, cancelled after b's 8 steps (and more), went on as it would have alone.
  const auto got_a = ids(*a);
  ASSERT_GE(got_a.size(), 8u);
  StopConditions no_stop;
  no_stop.at_end_of_turn = false;  // a ignores EOS
  GenerateResult ref_a = generate(*m, shared + "then one", (int)got_a.size(), 4096, a->p.sp, true, {}, no_stop);
  EXPECT_EQ(got_a, ref_a.tokens) << "the donor is unchanged";
  EXPECT_LT(b->cost.flops.total(), a->cost.flops.total());
}

TEST(Scheduler, CancelledAndTimedOutJobsLeave) {
  auto m = tiny();
  std::mutex mu;
  SchedulerOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  Scheduler s(*m, o, mu);
  auto slow = make_job(*m, "a", 100000);
  slow->p.max_tokens = 126;
  slow->p.timeout_s = 1e-4;
  ASSERT_TRUE(s.submit(slow));
  wait(*slow);
  EXPECT_EQ(slow->finish_reason, "timeout");
  auto c = make_job(*m, "b", 120);
  c->cancel = true;
  ASSERT_TRUE(s.submit(c));
  wait(*c);
  EXPECT_EQ(c->finish_reason, "cancelled");
  auto ok = make_job(*m, "c", 4);
  ASSERT_TRUE(s.submit(ok));
  wait(*ok);
  EXPECT_EQ(ok->finish_reason, "length");
  EXPECT_EQ(ok->tokens.size(), 4u);
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, FullQueueRefuses) {
  auto m = tiny();
  std::mutex mu;
  SchedulerOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  o.max_queue = 0;
  Scheduler s(*m, o, mu);
  EXPECT_FALSE(s.submit(make_job(*m, "a", 4)));
}

TEST(StopText, CutsAtStopStringsAndHoldsBackPrefixes) {
  StopText st;
  st.stops = {"END", "\n\n"};
  EXPECT_EQ(st.add("hello E"), "hello ");  // "E" may begin END
  EXPECT_EQ(st.add("N"), "");
  EXPECT_EQ(st.add("X more"), "ENX more");
  EXPECT_EQ(st.add(" and EN"), " and ");
  EXPECT_EQ(st.add("D tail"), "");
  EXPECT_TRUE(st.stopped);
  EXPECT_EQ(st.text, "hello ENX more and ");
  StopText u;
  EXPECT_EQ(u.add("caf\xC3"), "caf");  // half a character waits for its other byte
  EXPECT_EQ(u.add("\xA9!"), "\xC3\xA9!");
  EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82\xAC"), 5u);
}
