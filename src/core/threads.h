#pragma once
// Thread count for OpenMP kernels and OpenBLAS together.
namespace flops {
void set_threads(int n);  // n <= 0: all cores
int get_threads();
int hardware_threads();
}  // namespace flops
