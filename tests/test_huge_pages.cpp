#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "core/huge_pages.h"

using namespace flops;

// The arena rounds up to whole 2 MB pages, starts on a 2 MB boundary (or madvise could not give
// its first page a huge one), is writable end to end and moves without a double unmap.
TEST(HugePages, AlignedWholePagesWritableMovable) {
  constexpr size_t kHuge = (size_t)2 << 20;
  HugePages a(3 * kHuge + 5);
  ASSERT_NE(a.data, nullptr);
  EXPECT_EQ((uintptr_t)a.data % kHuge, 0u);
  EXPECT_EQ(a.size, 4 * kHuge);
  std::memset(a.data, 0xab, a.size);
  EXPECT_EQ(a.data[a.size - 1], 0xab);
  HugePages b(std::move(a));
  EXPECT_EQ(a.data, nullptr);
  EXPECT_EQ(b.data[0], 0xab);
  HugePages c(1);
  c = std::move(b);
  EXPECT_EQ(c.size, 4 * kHuge);
  EXPECT_EQ(b.data, nullptr);
}

TEST(HugePages, ZeroBytesIsEmpty) {
  HugePages a(0);
  EXPECT_EQ(a.data, nullptr);
  EXPECT_EQ(a.size, 0u);
}
