#include "core/threads.h"
#include "core/thread_pool.h"
#include <omp.h>
#include <cstdlib>
#include <thread>
#include <unistd.h>

extern "C" void openblas_set_num_threads(int);

namespace flops {
namespace {
int g_threads = 0;
}
int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 1;
}
void set_threads(int n) {
  if (n <= 0) n = hardware_threads();
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  set_pool_threads(n);  // the pool runs the quantized products; same thread count as OpenMP
}
void restart_with_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then go on as we are
}
int get_threads() { return g_threads > 0 ? g_threads : hardware_threads(); }
}  // namespace flops
