// The fork-join pool: every item of every job runs exactly once, under 1 thread, 2, and more
// threads than cores, with and without spinning, from nested and concurrent callers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

using namespace flops;

namespace {

int over_subscribed() { return 2 * (int)std::max(1u, std::thread::hardware_concurrency()) + 1; }

// Runs `jobs` parallel_fors of random sizes and grains; each item counts its visits.
// The workers take part in every job: stalls on this busy test machine must not send the pool solo.
void check_exactly_once(ThreadPool& pool, int jobs, uint64_t seed) {
  pool.set_stall(0, 0);
  pool.set_crowding(false);
  std::mt19937_64 rng(seed);
  std::vector<std::atomic<int>> hits(5000);
  for (int j = 0; j < jobs; j++) {
    const int64_t n = (int64_t)(rng() % hits.size()) + 1;
    const int64_t grain = (int64_t)(rng() % 64) + 1;
    for (int64_t i = 0; i < n; i++) hits[i].store(0, std::memory_order_relaxed);
    pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
      ASSERT_LT(b, e);
      ASSERT_LE(e - b, grain);
      for (int64_t i = b; i < e; i++) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    for (int64_t i = 0; i < n; i++)
      ASSERT_EQ(hits[i].load(), 1) << "job " << j << " (n=" << n << ", grain=" << grain << ") item " << i;
  }
}

// Guided jobs (parallel_for_guided) of random sizes, interleaved with even ones on the same
// pool: every item exactly once, and the chunks are the ones the rule gives, worked out here
// naively: chunk k takes ceil(left / parts) items rounded up to a multiple of align, at least
// min_grain, the last one whatever is left.
void check_guided(ThreadPool& pool, int jobs, uint64_t seed) {
  pool.set_stall(0, 0);
  pool.set_crowding(false);
  std::mt19937_64 rng(seed);
  std::vector<std::atomic<int>> hits(5000);
  std::mutex mu;
  for (int j = 0; j < jobs; j++) {
    const int64_t n = (int64_t)(rng() % hits.size()) + 1;
    const int64_t align = 1 + (int64_t)(rng() % 3), parts = 1 + (int64_t)(rng() % 4);
    const int64_t min_grain = align * (1 + (int64_t)(rng() % 8));
    std::vector<std::pair<int64_t, int64_t>> want, got;
    for (int64_t b = 0, left = n; left > 0;) {
      int64_t c = std::max(min_grain, (left + parts - 1) / parts);
      c = std::min(left, (c + align - 1) / align * align);
      want.push_back({b, b + c});
      b += c;
      left -= c;
    }
    for (int64_t i = 0; i < n; i++) hits[i].store(0, std::memory_order_relaxed);
    pool.parallel_for_guided(n, min_grain, align, (int)parts, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) hits[i].fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lk(mu);
      got.push_back({b, e});
    });
    for (int64_t i = 0; i < n; i++)
      ASSERT_EQ(hits[i].load(), 1) << "guided job " << j << " (n=" << n << ") item " << i;
    std::sort(got.begin(), got.end());
    // A pool that runs a job inline (one thread) splits it evenly by min_grain instead.
    if (pool.size() > 1 && (n + min_grain - 1) / min_grain > 1) {
      ASSERT_EQ(got, want) << "guided job " << j << " n=" << n << " align=" << align << " parts=" << parts
                           << " min_grain=" << min_grain;
    }
    if (j % 3 == 0) check_exactly_once(pool, 1, seed + (uint64_t)j);
  }
}

}  // namespace

TEST(ThreadPool, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_EQ(ThreadPool(0).size(), (int)std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ThreadPool, EveryItemExactlyOnceOneThread) {
  ThreadPool pool(1);
  check_exactly_once(pool, 200, 1);
}

TEST(ThreadPool, EveryItemExactlyOnceTwoThreads) {
  ThreadPool pool(2);
  check_exactly_once(pool, 2000, 2);
}

TEST(ThreadPool, EveryItemExactlyOnceMoreThreadsThanCores) {
  ThreadPool pool(over_subscribed());
  check_exactly_once(pool, 1000, 3);
}

TEST(ThreadPool, GuidedChunksOneThread) {
  ThreadPool pool(1);
  check_guided(pool, 200, 11);
}

TEST(ThreadPool, GuidedChunksTwoThreads) {
  ThreadPool pool(2);
  check_guided(pool, 2000, 12);
}

TEST(ThreadPool, GuidedChunksMoreThreadsThanCores) {
  ThreadPool pool(over_subscribed());
  check_guided(pool, 1000, 13);
}

// No spinning: every hand-off goes through the futexes, where a lost wake-up would hang.
TEST(ThreadPool, EveryItemExactlyOnceWhenWorkersSleep) {
  for (int n : {2, over_subscribed()}) {
    ThreadPool pool(n);
    pool.set_spin_us(0);
    check_exactly_once(pool, 1000, 4 + n);
  }
}

// Jobs whose chunks take long enough that the caller sleeps while a worker finishes.
TEST(ThreadPool, CallerWaitsForSlowChunks) {
  ThreadPool pool(over_subscribed());
  pool.set_spin_us(0);
  pool.set_stall(0, 0);
  pool.set_crowding(false);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 20; rep++) {
    sum = 0;
    pool.parallel_for(16, 1, [&](int64_t b, int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      sum += b + 1;
    });
    ASSERT_EQ(sum.load(), 16 * 17 / 2);
  }
}

// A kernel that splits its own work inside a chunk runs the inner loop inline.
TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(64 * 32);
  pool.parallel_for(64, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++)
      pool.parallel_for(32, 4, [&](int64_t b2, int64_t e2) {
        for (int64_t k = b2; k < e2; k++) hits[i * 32 + k]++;
      });
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

// Several threads sharing one pool (a server's request threads): whoever does not own the
// pool runs its job inline, and nobody's items are lost or doubled.
TEST(ThreadPool, ConcurrentCallers) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int c = 0; c < 4; c++)
    callers.emplace_back([&, c] {
      std::vector<int> hits(777);
      for (int j = 0; j < 300; j++) {
        std::fill(hits.begin(), hits.end(), 0);
        pool.parallel_for((int64_t)hits.size(), 7 + c, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; i++) hits[i]++;  // each chunk's items are disjoint
        });
        for (int h : hits) bad += h != 1;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPool, ExceptionReachesTheCallerAfterAllChunks) {
  ThreadPool pool(over_subscribed());
  std::atomic<int> ran{0};
  try {
    pool.parallel_for(100, 1, [&](int64_t b, int64_t) {
      ran++;
      if (b == 37) throw std::runtime_error("chunk 37 failed");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "chunk 37 failed");
  }
  EXPECT_EQ(ran.load(), 100);
  // The pool keeps working afterwards.
  check_exactly_once(pool, 50, 9);
}

// More chunks than the claim word can count: the grain is raised, the items still run once.
TEST(ThreadPool, HugeJobsAreRegrained) {
  ThreadPool pool(2);
  const int64_t n = 200000;
  std::vector<uint8_t> hits(n, 0);
  std::atomic<int64_t> chunks{0};
  pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
    chunks++;
    for (int64_t i = b; i < e; i++) hits[i]++;
  });
  EXPECT_LE(chunks.load(), 0xffff);
  for (int64_t i = 0; i < n; i++) ASSERT_EQ(hits[i], 1) << i;
}

TEST(ThreadPool, SharedPoolFollowsThreadSetting) {
  set_pool_threads(3);
  EXPECT_EQ(shared_pool().size(), 3);
  check_exactly_once(shared_pool(), 100, 11);
  set_pool_threads(1);
  EXPECT_EQ(shared_pool().size(), 1);
  set_pool_threads(0);
  EXPECT_EQ(shared_pool().size(), (int)std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ThreadPool, DestroyedWhileWorkersSleep) {
  for (int i = 0; i < 20; i++) {
    ThreadPool pool(over_subscribed());
    pool.set_spin_us(i % 2 ? 0 : 50);
    if (i % 3) check_exactly_once(pool, 3, (uint64_t)i);
  }
}

// A worker that holds a chunk for long (as when it loses its core) sends the pool solo: the
// next jobs run on the caller alone, until the backoff ends.
TEST(ThreadPool, StallSendsThePoolSoloForTheBackoff) {
  ThreadPool pool(2);
  pool.set_stall(1000, 300);
  pool.set_crowding(false);  // ctest runs tests side by side: their load must not count here
  const auto caller = std::this_thread::get_id();
  // Two chunks of 1 item: the caller takes one (1 ms), the worker the other (30 ms, far over
  // 4 x 1 ms); if the caller happens to take both, it never waits, so try a few times.
  for (int attempt = 0; attempt < 20 && !pool.solo(); attempt++) {
    pool.parallel_for(2, 1, [&](int64_t, int64_t) {
      const bool worker = std::this_thread::get_id() != caller;
      std::this_thread::sleep_for(std::chrono::milliseconds(worker ? 30 : 1));
    });
  }
  ASSERT_TRUE(pool.solo()) << "no stall was detected";
  std::atomic<int> elsewhere{0};
  pool.parallel_for(64, 1, [&](int64_t, int64_t) { elsewhere += std::this_thread::get_id() != caller; });
  EXPECT_EQ(elsewhere.load(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_FALSE(pool.solo());
}

// Short chunks do not trigger it.
TEST(ThreadPool, NoStallOnFastJobs) {
  ThreadPool pool(2);
  pool.set_stall(200000, 1000);  // 200 ms: only a real hang would count
  pool.set_crowding(false);
  for (int j = 0; j < 200; j++) pool.parallel_for(64, 1, [&](int64_t, int64_t) {});
  EXPECT_FALSE(pool.solo());
}

// Two busy processes per core, until stop(): a machine where other programs hold every core
// (two, so that on any core count the pool's threads get less than one core between them).
struct Hogs {
  std::vector<pid_t> pids;
  Hogs() {
    for (unsigned i = 0; i < 2 * std::max(1u, std::thread::hardware_concurrency()); i++) {
      const pid_t pid = fork();
      if (pid == 0) {
        for (uint64_t x = 0;; x++) asm volatile("" : "+r"(x));  // busy, not optimized away
      }
      if (pid > 0) pids.push_back(pid);
    }
  }
  void stop() {
    for (pid_t p : pids) kill(p, SIGKILL);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    pids.clear();
  }
  ~Hogs() { stop(); }
};

// Other processes holding every core make the pool's threads take turns with them: the
// machine's busy time beyond this process's sends the pool solo (the caller alone).
TEST(ThreadPool, CrowdingSendsThePoolSolo) {
  ThreadPool pool(2);
  pool.set_stall(0, 0);  // only the crowding counts here
  pool.set_crowding(true);
  Hogs hogs;
  ASSERT_FALSE(hogs.pids.empty());
  std::atomic<int64_t> sum{0};
  const auto start = std::chrono::steady_clock::now();
  while (!pool.solo() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { sum += e - b; });
  const bool solo = pool.solo();
  hogs.stop();
  EXPECT_TRUE(solo) << "no crowding seen in 5 s with every core held";
  EXPECT_GT(sum.load(), 0);
}

// Turned off, the same crowding never sends it solo.
TEST(ThreadPool, CrowdingOffKeepsTheWorkers) {
  ThreadPool pool(2);
  pool.set_stall(0, 0);
  pool.set_crowding(false);
  Hogs hogs;
  bool ever_solo = false;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) {
    pool.parallel_for(64, 1, [&](int64_t, int64_t) {});
    ever_solo |= pool.solo();
  }
  hogs.stop();
  EXPECT_FALSE(ever_solo);
}
