#pragma once
// Anonymous memory for weights that every decode step reads from end to end, in 2 MB pages
// where the kernel gives them (transparent huge pages, madvise mode: Debian's default).
//
// Why: a decode step streams the whole model from memory. Over 4 KB pages (a file mapping, or
// malloc) that is one TLB entry per 4 KB, and the hardware prefetchers stop at every 4 KB page
// boundary; over 2 MB pages neither happens. Measured on a 2-core Zen 5 VM: M F32 decode 72-77
// tok/s from the file mapping, 86-104 from huge pages, alternately in one run.
//
// One arena holds all of a model's matrices (each 64-byte aligned inside it), so that at most one
// partly used 2 MB page is wasted, not one per matrix.
#include <cstddef>
#include <cstdint>

namespace flops {

struct HugePages {
  uint8_t* data = nullptr;
  size_t size = 0;  // bytes usable from data
  HugePages() = default;
  explicit HugePages(size_t bytes);
  ~HugePages();
  HugePages(HugePages&& o) noexcept;
  HugePages& operator=(HugePages&& o) noexcept;
  HugePages(const HugePages&) = delete;
  HugePages& operator=(const HugePages&) = delete;
};

}  // namespace flops
