#pragma once
// A fork-join pool for the kernels of one forward pass.
//
// A decode step of a 100M-parameter model is ~100 matrix-vector products of 10-100 us each.
// Splitting every one across the cores needs a hand-off far cheaper than waking a sleeping
// thread (~50 us through the kernel, more on a busy machine), so idle workers first spin on
// the job word for a bounded time, then sleep on a futex. The bound matters on a shared
// machine: a worker that spins on a core another process also wants burns the share of CPU
// time the scheduler would otherwise give it for real work (llama.cpp, which spins, loses
// half its decode speed when one of two cores is held by a busy loop).
//
// Work is split in chunks claimed one at a time from a shared counter, the caller taking
// part, so a thread that loses its core holds up at most the chunk it is running; the rest
// is taken by the others. The caller waits for completed chunks, never for a worker to
// acknowledge, so a worker still asleep when the job ends costs nothing.
//
// A worker that loses its core in the middle of a chunk (another process wants it) makes the
// caller wait for the rest of the other process's time slice, milliseconds on Linux. When the
// caller has waited that long for others' chunks (far longer than its own chunks took), the
// pool runs its jobs on the caller alone for a while (50 ms by default), then tries the
// workers again: on a machine where one of two cores is busy, one thread at full speed beats
// two that keep stopping each other.
//
// Each chunk runs exactly once. A parallel_for from inside a chunk, or from a second thread
// while another caller owns the pool, runs inline on the calling thread (same results: the
// kernels never depend on how the rows are split).
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace flops {

class ThreadPool {
 public:
  // n_threads counts the caller: n_threads - 1 workers are started. n_threads <= 0: all cores.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return (int)workers_.size() + 1; }

  // Runs f(begin, end) over [0, n) in chunks of `grain` items (the last one shorter), on up
  // to size() threads. Returns when every chunk has run. The first exception thrown by a
  // chunk is rethrown here after all chunks have finished.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& f) {
    auto call = [](void* ctx, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e); };
    run(n, grain, call, (void*)&f);
  }
  // The same in guided chunks, which shrink toward the end: chunk k takes 1/parts of the items
  // the chunks before it left (rounded up to a multiple of `align`, at least min_grain). The
  // bounds depend on n and the arguments only, never on which thread claims what.
  template <typename F>
  void parallel_for_guided(int64_t n, int64_t min_grain, int64_t align, int parts, F&& f) {
    auto call = [](void* ctx, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e); };
    run(n, min_grain, call, (void*)&f, align, std::max(1, parts));
  }

  // How long an idle worker spins before it sleeps (default 1 ms; FLOPS_SPIN_US overrides).
  // With packed weights a small model's products below the parallel threshold leave the worker
  // idle for a few hundred microseconds per token; at 200 us it fell asleep each time, and the
  // wake-up delays tripped the stall back-off: S Q4_0 tg128 at 2 threads 2,243 tok/s at 200 us,
  // 3,875 at 1 ms quiet, and 2,723 vs 4,049 with `yes` on one core (M Q4_0 the same either way).
  void set_spin_us(int us) { spin_ns_.store((int64_t)us * 1000, std::memory_order_relaxed); }
  int spin_us() const { return (int)(spin_ns_.load(std::memory_order_relaxed) / 1000); }
  // A wait for other threads' chunks longer than max(stall_us, 4 x the caller's mean chunk
  // time) sends the pool solo for backoff_ms (defaults 500 us and 50 ms; FLOPS_STALL_US,
  // FLOPS_BACKOFF_MS override; stall_us 0 turns it off).
  void set_stall(int stall_us, int backoff_ms) {
    stall_ns_.store((int64_t)stall_us * 1000, std::memory_order_relaxed);
    backoff_ns_.store((int64_t)backoff_ms * 1000000, std::memory_order_relaxed);
    solo_until_ns_.store(0, std::memory_order_relaxed);
  }
  // Crowding: when another process holds a core, the pool's threads take turns with it and
  // every job waits for whichever thread the scheduler put aside, while an idle worker's spin
  // takes time from the caller. So the caller compares, once per 50 ms window, the machine's
  // busy CPU time (/proc/stat) with this process's own (getrusage): others leaving fewer cores
  // than the pool has threads, by half a core or more (on 2 cores with 2 threads: others busy
  // for half a core), two windows in a row, send the pool solo for 100 ms, the next spell twice as
  // long while it lasts, up to 1.6 s (on by default; FLOPS_CROWDING=0 turns it off). The
  // process's own threads crowding each other (a prompt's OpenMP threads beside a spinning
  // worker) do not count, nor does the hypervisor's steal.
  void set_crowding(bool on) {
    crowding_.store(on, std::memory_order_relaxed);
    crowd_level_.store(0, std::memory_order_relaxed);
    crowd_streak_.store(0, std::memory_order_relaxed);
    crowd_check_ns_.store(0, std::memory_order_relaxed);
  }
  // Whether jobs run on the caller alone now (after a stall or while crowded).
  bool solo() const;

 private:
  using ChunkFn = void (*)(void*, int64_t, int64_t);
  // parts > 0: guided chunks (parallel_for_guided), their bounds in bounds_.
  void run(int64_t n, int64_t grain, ChunkFn fn, void* ctx, int64_t align = 1, int parts = 0);
  void worker_loop();
  // Claims and runs chunks of the current job until none is left; returns how many it ran.
  int64_t work_on();
  void run_chunk(int64_t chunk);
  void check_crowding(int64_t now);

  std::vector<std::thread> workers_;
  std::mutex owner_;  // held by the caller of the running job

  // The job: written by the caller before it publishes the epoch, read by a worker only
  // after it has claimed a chunk of that epoch (so it cannot change under the worker).
  ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, grain_ = 0;
  std::vector<int64_t> bounds_;  // chunk c is [bounds_[c], bounds_[c + 1]) when guided_
  bool guided_ = false;
  std::exception_ptr error_;
  std::mutex error_mu_;

  // epoch << 32 | next unclaimed chunk: one word, so a claim (CAS) can never take a chunk
  // of a job other than the one the worker looked at.
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint32_t> epoch_{0};       // futex word the idle workers wait on
  std::atomic<uint32_t> done_{0};        // chunks finished in the current job; the caller's futex word
  std::atomic<int> sleepers_{0};         // workers asleep (or about to sleep) on epoch_
  std::atomic<bool> caller_asleep_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> spin_ns_{1000000};
  std::atomic<int64_t> stall_ns_{500000}, backoff_ns_{50000000};
  std::atomic<int64_t> solo_until_ns_{0};
  std::atomic<bool> crowding_{true};
  std::atomic<int> crowd_level_{0}, crowd_streak_{0};
  std::atomic<int64_t> crowd_check_ns_{0}, crowd_busy_ns_{0}, crowd_cpu_ns_{0};
};

// The process's pool (sized by set_pool_threads, all cores until then). Like the OpenMP
// runtime's thread team it is a resource of the process, not state of any model.
ThreadPool& shared_pool();
// Restarts the shared pool with n threads (n <= 0: all cores) unless it already has n.
// Must not be called while a job runs on it.
void set_pool_threads(int n);

}  // namespace flops
