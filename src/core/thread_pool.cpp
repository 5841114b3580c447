#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <linux/futex.h>
#include <memory>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace flops {
namespace {

// The claim word: epoch (32 bits) | number of chunks (16) | next unclaimed chunk (16).
// Holding the chunk count in the word lets a claim check "is a chunk left?" and take it in
// one compare-and-swap, without reading the job's fields before it owns a chunk of it.
constexpr int64_t kMaxChunks = 0xffff;
inline uint32_t word_epoch(uint64_t w) { return (uint32_t)(w >> 32); }
inline int64_t word_chunks(uint64_t w) { return (int64_t)((w >> 16) & 0xffff); }
inline int64_t word_next(uint64_t w) { return (int64_t)(w & 0xffff); }

thread_local bool t_in_chunk = false;

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, (uint32_t*)addr, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, (uint32_t*)addr, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Spins until cond() holds or spin_ns have passed; returns cond().
template <typename Cond>
bool spin_until(int64_t spin_ns, Cond&& cond) {
  if (cond()) return true;
  if (spin_ns <= 0) return false;
  const int64_t end = now_ns() + spin_ns;
  for (;;) {
    for (int i = 0; i < 32; i++) {
      cpu_relax();
      if (cond()) return true;
    }
    if (now_ns() >= end) return cond();
  }
}

int hardware_cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 1;
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = hardware_cores();
  if (const char* s = std::getenv("FLOPS_SPIN_US")) set_spin_us(std::max(0, std::atoi(s)));
  if (const char* s = std::getenv("FLOPS_STALL_US")) stall_ns_ = (int64_t)std::max(0, std::atoi(s)) * 1000;
  if (const char* s = std::getenv("FLOPS_BACKOFF_MS")) backoff_ns_ = (int64_t)std::max(0, std::atoi(s)) * 1000000;
  if (const char* s = std::getenv("FLOPS_CROWDING")) crowding_ = std::atoi(s) != 0;
  workers_.reserve((size_t)n_threads - 1);
  for (int i = 1; i < n_threads; i++) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&epoch_);
  for (auto& t : workers_) t.join();
}

bool ThreadPool::solo() const {
  const int64_t until = solo_until_ns_.load(std::memory_order_relaxed);
  return until != 0 && now_ns() < until;
}

namespace {

// CPU time (ns) the machine's CPUs spent busy, from /proc/stat's first line (user, nice, system,
// irq, softirq; not idle, iowait or the hypervisor's steal), or -1.
int64_t machine_busy_ns() {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq,
                              &softirq);
  std::fclose(f);
  if (got != 7) return -1;
  static const long tick = std::max(1L, sysconf(_SC_CLK_TCK));
  return (int64_t)((user + nice + sys + irq + softirq) * (1000000000ULL / (unsigned long long)tick));
}

int64_t process_cpu_ns() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

}  // namespace

void ThreadPool::check_crowding(int64_t now) {
  constexpr int64_t kWindowNs = 50000000, kFirstSpellNs = 100000000, kMaxSpellNs = 1600000000;
  if (!crowding_.load(std::memory_order_relaxed)) return;
  int64_t last = crowd_check_ns_.load(std::memory_order_relaxed);
  if (now - last < kWindowNs) return;
  if (!crowd_check_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;  // another caller's
  const int64_t busy = machine_busy_ns(), mine = process_cpu_ns();
  if (busy < 0 || mine < 0) return;
  const int64_t busy_before = crowd_busy_ns_.exchange(busy, std::memory_order_relaxed);
  const int64_t mine_before = crowd_cpu_ns_.exchange(mine, std::memory_order_relaxed);
  // The first reading, or one after an idle gap (no job for a while), gives no rate.
  if (last == 0 || now - last > 4 * kWindowNs) return;
  // The others' share: the machine's busy time less this process's (its own threads taking
  // turns, as a prompt's OpenMP threads beside a spinning worker do, are not crowding).
  const double others = (double)((busy - busy_before) - (mine - mine_before)) / (double)(now - last);
  // Crowded when the cores the others leave are fewer than the pool's threads by half a core
  // (on 2 cores with 2 threads: others at half a core or more).
  if ((double)hardware_cores() - others < (double)size() - 0.5) {
    // Two crowded windows in a row: /proc/stat counts in 10 ms ticks, and one window alone can
    // be a burst of the kernel's own work. The spells chain while the load stays, each twice
    // the last, up to 1.6 s.
    if (crowd_streak_.fetch_add(1, std::memory_order_relaxed) + 1 < 2) return;
    crowd_streak_.store(0, std::memory_order_relaxed);
    const int level = crowd_level_.load(std::memory_order_relaxed);
    solo_until_ns_.store(now + std::min(kMaxSpellNs, kFirstSpellNs << level), std::memory_order_relaxed);
    crowd_level_.store(std::min(level + 1, 4), std::memory_order_relaxed);
  } else {
    crowd_streak_.store(0, std::memory_order_relaxed);
    crowd_level_.store(0, std::memory_order_relaxed);
  }
}

void ThreadPool::run_chunk(int64_t chunk) {
  const int64_t b = guided_ ? bounds_[chunk] : chunk * grain_;
  const int64_t e = guided_ ? bounds_[chunk + 1] : std::min(n_, b + grain_);
  t_in_chunk = true;
  try {
    fn_(ctx_, b, e);
  } catch (...) {
    std::lock_guard<std::mutex> lk(error_mu_);
    if (!error_) error_ = std::current_exception();
  }
  t_in_chunk = false;
}

int64_t ThreadPool::work_on() {
  int64_t ran = 0;
  uint64_t w = claim_.load(std::memory_order_acquire);
  for (;;) {
    const int64_t next = word_next(w), n = word_chunks(w);
    if (next >= n) return ran;
    if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The chunk is ours: its job cannot finish (nor the caller publish another) before we
    // count it done, so the job's fields are stable until then.
    run_chunk(next);
    ran++;
    if ((int64_t)done_.fetch_add(1, std::memory_order_seq_cst) + 1 == n &&
        caller_asleep_.load(std::memory_order_seq_cst))
      futex_wake_all(&done_);
    w = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;  // workers start before any job is published
  for (;;) {
    const int64_t spin = spin_ns_.load(std::memory_order_relaxed);
    auto fresh = [&] { return epoch_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(spin, fresh)) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (!fresh()) futex_wait(&epoch_, seen);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = epoch_.load(std::memory_order_acquire);
    work_on();
  }
}

void ThreadPool::run(int64_t n, int64_t grain, ChunkFn fn, void* ctx, int64_t align, int parts) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if ((n + grain - 1) / grain > kMaxChunks) grain = (n + kMaxChunks - 1) / kMaxChunks;
  int64_t n_chunks = (n + grain - 1) / grain;
  std::unique_lock<std::mutex> own(owner_, std::defer_lock);
  if (!workers_.empty() && !t_in_chunk) check_crowding(now_ns());
  if (workers_.empty() || n_chunks == 1 || t_in_chunk || solo() || !own.try_lock()) {
    // Inline, chunk by chunk as the pool would split it (uniformly). Exceptions propagate directly.
    for (int64_t b = 0; b < n; b += grain) fn(ctx, b, std::min(n, b + grain));
    return;
  }
  guided_ = parts > 0;
  if (guided_) {
    bounds_.assign(1, 0);
    align = std::max<int64_t>(1, align);
    for (int64_t b = 0; b < n;) {
      int64_t c = std::max(grain, (n - b + parts - 1) / parts);
      c = (c + align - 1) / align * align;
      b = std::min(n, b + c);
      bounds_.push_back(b);
    }
    n_chunks = (int64_t)bounds_.size() - 1;
  }
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  grain_ = grain;
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t e = epoch_.load(std::memory_order_relaxed) + 1;
  claim_.store((uint64_t)e << 32 | (uint64_t)n_chunks << 16, std::memory_order_release);
  epoch_.store(e, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&epoch_);

  const int64_t t0 = now_ns();
  const int64_t mine = work_on();
  const int64_t t1 = now_ns();

  auto finished = [&] { return (int64_t)done_.load(std::memory_order_acquire) == n_chunks; };
  if (!spin_until(spin_ns_.load(std::memory_order_relaxed), finished)) {
    caller_asleep_.store(true, std::memory_order_seq_cst);
    for (uint32_t d; (int64_t)(d = done_.load(std::memory_order_seq_cst)) != n_chunks;) futex_wait(&done_, d);
    caller_asleep_.store(false, std::memory_order_relaxed);
  }
  const int64_t stall = stall_ns_.load(std::memory_order_relaxed);
  if (stall > 0) {
    const int64_t t2 = now_ns(), own_chunk = mine > 0 ? (t1 - t0) / mine : 0;
    if (t2 - t1 > std::max(stall, 4 * own_chunk))
      solo_until_ns_.store(t2 + backoff_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  if (error_) {
    std::exception_ptr err = error_;
    error_ = nullptr;
    std::rethrow_exception(err);
  }
}

namespace {
std::mutex g_pool_mu;
std::unique_ptr<ThreadPool> g_pool;
}  // namespace

ThreadPool& shared_pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (!g_pool) g_pool = std::make_unique<ThreadPool>(0);
  return *g_pool;
}

void set_pool_threads(int n) {
  if (n <= 0) n = hardware_cores();
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_pool && g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(n);
}

}  // namespace flops
