#pragma once
// Thread count for OpenMP kernels and OpenBLAS together.
namespace flops {
void set_threads(int n);  // n <= 0: all cores; also sizes shared_pool() (core/thread_pool.h)
int get_threads();
int hardware_threads();
// libgomp reads OMP_WAIT_POLICY when it is loaded, before main. Its default (spin, then
// sleep) costs ~20 ms per parallel region when another process holds a core, which makes
// a forward pass 100x slower on a busy machine; passive waiting costs ~60 us. Programs
// call this first thing in main: unless the user chose a policy, it restarts the program
// once with passive waiting (and returns only if it did not restart).
void restart_with_passive_omp_wait(char** argv);
}  // namespace flops
