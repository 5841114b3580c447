#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "model/sampling.h"

using namespace flops;

namespace {
std::vector<float> logits_of(std::vector<double> p) {
  std::vector<float> l;
  for (double x : p) l.push_back((float)std::log(x));
  return l;
}
std::map<int, int> histogram(SamplingParams sp, const std::vector<float>& l, int n, std::vector<int32_t> hist = {}) {
  Sampler s(sp);
  std::map<int, int> h;
  for (int i = 0; i < n; i++) h[s.sample(l.data(), (int)l.size(), hist)]++;
  return h;
}
}  // namespace

TEST(Sampling, GreedyIsArgmax) {
  SamplingParams sp;
  sp.temp = 0;
  Sampler s(sp);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
}

TEST(Sampling, SameSeedSameSequence) {
  SamplingParams sp;
  sp.temp = 1.0f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  auto l = logits_of({0.1, 0.2, 0.3, 0.4});
  Sampler a(sp), b(sp);
  std::vector<int> sa, sb;
  for (int i = 0; i < 50; i++) {
    sa.push_back(a.sample(l.data(), 4, {}));
    sb.push_back(b.sample(l.data(), 4, {}));
  }
  EXPECT_EQ(sa, sb);
  sp.seed = 7;
  Sampler c(sp);
  std::vector<int> sc;
  for (int i = 0; i < 50; i++) sc.push_back(c.sample(l.data(), 4, {}));
  EXPECT_NE(sa, sc);
}

TEST(Sampling, TemperatureOneFollowsTheDistribution) {
  SamplingParams sp;
  sp.temp = 1.0f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  auto h = histogram(sp, logits_of({0.1, 0.2, 0.3, 0.4}), 20000);
  EXPECT_NEAR(h[0] / 20000.0, 0.1, 0.015);
  EXPECT_NEAR(h[3] / 20000.0, 0.4, 0.015);
}

TEST(Sampling, TopKTopPMinPCut) {
  auto l = logits_of({0.05, 0.15, 0.3, 0.5});
  SamplingParams sp;
  sp.temp = 1.0f;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  sp.top_k = 2;
  auto h = histogram(sp, l, 2000);
  EXPECT_EQ(h.count(0) + h.count(1), 0u);
  sp.top_k = 0;
  sp.top_p = 0.75f;  // 0.5 + 0.3 reaches 0.75: two tokens kept
  h = histogram(sp, l, 2000);
  EXPECT_EQ(h.count(0) + h.count(1), 0u);
  EXPECT_GT(h[2], 0);
  sp.top_p = 1.0f;
  sp.min_p = 0.5f;  // keep p >= 0.25: tokens 2 and 3
  h = histogram(sp, l, 2000);
  EXPECT_EQ(h.count(0) + h.count(1), 0u);
  EXPECT_GT(h[2], 0);
}

TEST(Sampling, RepetitionPenaltyDemotesSeenTokens) {
  SamplingParams sp;
  sp.temp = 0;
  sp.repeat_penalty = 2.0f;
  Sampler s(sp);
  std::vector<float> l = {1.0f, 1.5f, -3.0f};
  EXPECT_EQ(s.sample(l.data(), 3, {}), 1);
  EXPECT_EQ(s.sample(l.data(), 3, {1}), 0);  // 1.5 / 2 = 0.75 < 1.0
}

// Top-k over a large vocabulary with many ties: exactly the k best (larger logit, then smaller
// index) are ever drawn, each of them at a high temperature.
TEST(Sampling, TopKKeepsTheKBestTiesByIndex) {
  std::vector<float> l(5000);
  for (size_t i = 0; i < l.size(); i++) l[i] = (float)((i * 7919) % 13);  // 13 levels, ~385 ties each
  l[4321] = 20.0f;
  SamplingParams sp;
  sp.temp = 1000.0f;
  sp.top_k = 40;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  std::vector<int32_t> idx(l.size());
  for (size_t i = 0; i < idx.size(); i++) idx[i] = (int32_t)i;
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return l[a] > l[b]; });
  std::set<int> want(idx.begin(), idx.begin() + 40);
  auto h = histogram(sp, l, 4000);
  std::set<int> got;
  for (auto& [t, n] : h) got.insert(t);
  EXPECT_EQ(got, want);
}

// Top-p and min-p without top-k over a large vocabulary (only a prefix is sorted, in growing
// steps): exactly the tokens a full sort keeps are ever drawn. The reference sorts all of them
// and applies top-p, then min-p, as the sampler documents.
TEST(Sampling, TopPMinPWithoutTopKKeepWhatAFullSortKeeps) {
  std::vector<float> l(3000);
  for (size_t i = 0; i < l.size(); i++) l[i] = 0.004f * (float)((i * 7919) % 1500);  // pairs of ties
  auto reference = [&](float top_p, float min_p) {
    std::vector<int32_t> idx(l.size());
    for (size_t i = 0; i < idx.size(); i++) idx[i] = (int32_t)i;
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return l[a] > l[b]; });
    double z = 0, mx = l[idx[0]];
    for (float x : l) z += std::exp(x - mx);
    double cum = 0;
    size_t keep = idx.size();
    for (size_t i = 0; i < idx.size(); i++)
      if ((cum += std::exp(l[idx[i]] - mx) / z) >= top_p) {
        keep = i + 1;
        break;
      }
    size_t k2 = 1;
    while (k2 < keep && std::exp(l[idx[k2]] - mx) >= min_p) k2++;
    if (min_p > 0) keep = k2;
    return std::set<int>(idx.begin(), idx.begin() + keep);
  };
  for (auto [top_p, min_p] : {std::pair{0.5f, 0.0f}, std::pair{1.0f, 0.2f}, std::pair{0.5f, 0.15f}, std::pair{0.01f, 0.0f}}) {
    SamplingParams sp;
    sp.temp = 1000.0f;  // nearly uniform over what is kept, so that every kept token shows up
    sp.top_k = 0;
    sp.top_p = top_p;
    sp.min_p = min_p;
    const std::set<int> want = reference(top_p, min_p);
    ASSERT_GT(want.size(), top_p == 0.01f ? 1u : 300u) << "the cut must pass the first sorted block";
    auto h = histogram(sp, l, 12 * (int)want.size());
    std::set<int> got;
    for (auto& [t, n] : h) got.insert(t);
    EXPECT_EQ(got, want) << "top_p " << top_p << " min_p " << min_p;
  }
}

// top_k_indices is a partial sort of all indices (ties by index), for any k up to past n.
TEST(Sampling, TopKIndicesIsAPartialSort) {
  std::vector<float> l(1000);
  for (size_t i = 0; i < l.size(); i++) l[i] = (float)((i * 7919) % 37) - 0.5f * (float)(i % 3 == 0);
  for (size_t k : {0u, 1u, 5u, 16u, 40u, 999u, 1000u, 1200u}) {
    std::vector<int32_t> want(l.size());
    for (size_t i = 0; i < want.size(); i++) want[i] = (int32_t)i;
    const size_t kk = std::min(k, l.size());
    std::partial_sort(want.begin(), want.begin() + kk, want.end(),
                      [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    want.resize(kk);
    EXPECT_EQ(top_k_indices(l.data(), (int)l.size(), k), want) << "k " << k;
  }
}
