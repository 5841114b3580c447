#pragma once
// Byte layouts of the quantized GGUF block types (ggml's block_* structs), as plain structs.
// Every scale named d or dmin is an IEEE half. Element i of a block is written e_i; "nibble"
// is 4 bits, low nibble first. The few helpers here are static (one private copy per file),
// so that the per-ISA kernel files can use them without sharing code compiled for another ISA.
#include <cstdint>

namespace flops {

constexpr int QK = 32;     // elements per block of the 32-element types
constexpr int QK_K = 256;  // elements per super-block of the K-quants and IQ4_XS

// Q8_0: e_i = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[QK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: e_i = d * (q_i - 8); q_i (i < 16) is the low nibble of qs[i], q_{i+16} its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[QK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: e_i = d * q_i + m, q_i as in Q4_0.
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[QK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: e_i = d * (q_i - 16); q_i = nibble as in Q4_0 | (bit i of the little-endian 32-bit qh) << 4.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: e_i = d * q_i + m, q_i as in Q5_0.
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// IQ4_NL: e_i = d * kIQ4Values[q_i], q_i as in Q4_0 (a non-uniform 4-bit grid).
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[QK / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

inline constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Q2_K: 16 groups of 16. Group g has scale sc = scales[g] & 15 and min mn = scales[g] >> 4:
// e = (d * sc) * q - (dmin * mn), q 2 bits. Element 128h + 32s + l (h < 2, s < 4, l < 32) is
// bits 2s..2s+1 of qs[32h + l] and lies in group 8h + 2s + l / 16.
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 groups of 16, e = (d * (sc_g - 32)) * q with q in -4..3. Element 128h + 32s + l
// takes its low 2 bits from qs[32h + l] (bits 2s, 2s+1) and its third bit from hmask[l] bit
// 4h + s; q = low2 - (third bit set ? 0 : 4). Group as in Q2_K. The 6-bit sc_g: low 4 bits are
// scales[g] & 15 for g < 8 and scales[g - 8] >> 4 for g >= 8; high 2 bits are bits
// 2(g/4)..2(g/4)+1 of scales[8 + g % 4].
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 groups of 32, e = (d * sc_g) * q - (dmin * mn_g), q 4 bits. Element 64c + l
// (c < 4, l < 32) is the low nibble of qs[32c + l] (group 2c), element 64c + 32 + l its high
// nibble (group 2c + 1). The 6-bit sc_g, mn_g from scales[12]: for g < 4, sc = scales[g] & 63,
// mn = scales[g + 4] & 63; for g >= 4, sc = (scales[g + 4] & 15) | (scales[g - 4] >> 6) << 4,
// mn = (scales[g + 4] >> 4) | (scales[g] >> 6) << 4.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: Q4_K plus a fifth bit: element 32g + l has bit g of qh[l] as its bit 4.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 groups of 16, e = (d * scales[g]) * (q - 32), q 6 bits, scales signed. In half h
// (elements 128h..128h+127, ql + 64h, qh + 32h), for l < 32: element l has the low nibble of
// ql[l] and bits 0-1 of qh[l]; element l+32 the low nibble of ql[l+32] and bits 2-3; element
// l+64 the high nibble of ql[l] and bits 4-5; element l+96 the high nibble of ql[l+32] and
// bits 6-7. Element 16g + j is in group g.
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_XS: 8 groups of 32, e = (d * (ls_g - 32)) * kIQ4Values[q]. ls_g (6 bits) = nibble g of
// scales_l (low nibble of scales_l[g/2] for even g) | (bits 2g..2g+1 of scales_h) << 4. Group g
// holds qs[16g..16g+15] with the nibble layout of IQ4_NL.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// The 6-bit scale and min of group g (< 8) of a Q4_K / Q5_K block's scales[12].
static inline void kquant_scale_min(const uint8_t* s, int g, int& sc, int& mn) {
  if (g < 4) {
    sc = s[g] & 63;
    mn = s[g + 4] & 63;
  } else {
    sc = (s[g + 4] & 15) | ((s[g - 4] >> 6) << 4);
    mn = (s[g + 4] >> 4) | ((s[g] >> 6) << 4);
  }
}

// The 6-bit scale (0..63, stored with a bias of 32) of group g (< 16) of a Q3_K block.
static inline int q3k_scale(const uint8_t* s, int g) {
  const int lo = g < 8 ? s[g] & 15 : s[g - 8] >> 4;
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  return lo | (hi << 4);
}

// The 6-bit scale (0..63, bias 32) of group g (< 8) of an IQ4_XS block.
static inline int iq4xs_scale(const BlockIQ4_XS& b, int g) {
  return ((b.scales_l[g / 2] >> (4 * (g % 2))) & 15) | (((b.scales_h >> (2 * g)) & 3) << 4);
}

}  // namespace flops
