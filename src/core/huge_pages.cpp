#include "core/huge_pages.h"

#include <sys/mman.h>

#include <utility>

#include "core/error.h"

namespace flops {

namespace {
constexpr size_t kHuge = (size_t)2 << 20;
}

// mmap rather than aligned_alloc: the memory goes back to the system on destruction, and the
// mapping is rounded up to whole huge pages so madvise covers all of it.
HugePages::HugePages(size_t bytes) {
  if (bytes == 0) return;
  const size_t n = (bytes + kHuge - 1) / kHuge * kHuge;
  // Over-allocate one huge page to align the start (mmap only promises 4 KB alignment).
  void* m = mmap(nullptr, n + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) fail("cannot allocate {} MB for the model's weights", (bytes + (1 << 20) - 1) >> 20);
  const uintptr_t b = (uintptr_t)m, a = (b + kHuge - 1) / kHuge * kHuge;
  if (a > b) munmap(m, a - b);
  if (const size_t tail = (b + n + kHuge) - (a + n)) munmap((void*)(a + n), tail);
  // Advice only: without transparent huge pages this is ordinary memory.
  madvise((void*)a, n, MADV_HUGEPAGE);
  data = (uint8_t*)a;
  size = n;
}

HugePages::~HugePages() {
  if (data) munmap(data, size);
}

HugePages::HugePages(HugePages&& o) noexcept : data(std::exchange(o.data, nullptr)), size(std::exchange(o.size, 0)) {}

HugePages& HugePages::operator=(HugePages&& o) noexcept {
  if (this != &o) {
    if (data) munmap(data, size);
    data = std::exchange(o.data, nullptr);
    size = std::exchange(o.size, 0);
  }
  return *this;
}

}  // namespace flops
