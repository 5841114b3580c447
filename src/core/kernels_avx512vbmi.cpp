// The row dot of the coded F32 layout (core/f32_coded.h) on AVX-512 VBMI (byte permutes), which
// the AVX-512 table takes where the CPU has it (Zen 4 and later, Ice Lake and later). Compiled
// with AVX-512 F/BW/VL/DQ/VNNI/VBMI (CMakeLists.txt).
//
// Per 16 weights: the 48 bytes holding their low 3 bytes are picked out of two aligned
// 64-byte loads into the low 3 bytes of 16 lanes (VPERMT2B); their 16 codes, 8 bytes, are
// spread one nibble into byte 3 of each lane (VPMULTISHIFTQB) and looked up in the table
// (VPERMB: it reads the low 6 bits of an index, so the table holds the 16 top bytes 4 times
// and the nibble's neighbour bits need no masking). A row's escapes, rare, are patched in
// memory. The sums are fdot_f32's (kernels_x86_32.inc), in its order: accumulator k % 4 takes
// the k-th 16 weights of every 64, then (a0 + a1) + (a2 + a3) reduced, so the result is bit
// for bit the F32 row dot of the decoded row.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VBMI__)
#error "kernels_avx512vbmi.cpp must be compiled with AVX-512 F/BW/VBMI enabled (see CMakeLists.txt)"
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <type_traits>

#include "core/kernels.h"
#include "core/prefetch_plan.h"

namespace flops::kern {
namespace {

// Byte b < 3 of lane l of the k-th 16 weights of a block: byte 48k + 3l + b of the block's low
// bytes, counted from the first of the two 64-byte loads it spans (loads 48k / 64 and the next).
struct Indices {
  alignas(64) uint8_t low[8][64];
  alignas(64) uint8_t shift[64];  // VPMULTISHIFTQB: lane 2q's code at bit 8q, lane 2q+1's at 8q + 4
  constexpr Indices() : low{}, shift{} {
    for (int k = 0; k < 8; k++)
      for (int l = 0; l < 16; l++)
        for (int b = 0; b < 4; b++) low[k][4 * l + b] = b < 3 ? (uint8_t)(48 * k + 3 * l + b - 64 * (48 * k / 64)) : 0;
    for (int q = 0; q < 8; q++) {
      shift[8 * q + 3] = (uint8_t)(8 * q);
      shift[8 * q + 7] = (uint8_t)(8 * q + 4);
    }
  }
};
// Built at compile time: a constructor run at start-up from this file could use AVX-512 on a
// CPU without it (kernels.h).
constexpr Indices kIdx{};
static_assert(_MM_HINT_T0 == kPrefetchL1 && _MM_HINT_T1 == kPrefetchL2, "core/prefetch_plan.h's levels are the hints");

// 8 KB ahead, as the F32 row dots (kernels_x86_32.inc). Unlike theirs, this loop needs it: M F32
// tg8 at 2 threads, interleaved 30 times in one process, median 97.5 tok/s at 8 KB, 100.7 at 4 KB,
// 96.1 at 16 KB, 70.6 with the lines prefetched as they are read (none ahead).
constexpr int64_t kPrefetchBytes = 8192;

// The table and the per-block loads of a coded row, and the k-th 16 weights of a block as lanes.
struct Decoder {
  __m512i shift, tab;
  explicit Decoder(const uint8_t* table)
      : shift(_mm512_load_si512(kIdx.shift)), tab(_mm512_loadu_si512(table)) {}
  static void load(const uint8_t* block, __m512i* lo) {
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) lo[j] = _mm512_load_si512(block + 64 * j);
  }
  template <int K>
  __m512i lanes(const uint8_t* block, const __m512i* lo) const {
    constexpr int a = 48 * K / 64;
    constexpr __mmask64 low_bytes = 0x7777777777777777ull, top_bytes = 0x8888888888888888ull;
    const __m512i idx = _mm512_load_si512(kIdx.low[K]);
    __m512i v;
    if constexpr (a + 1 < 6) v = _mm512_maskz_permutex2var_epi8(low_bytes, lo[a], idx, lo[a + 1]);
    else v = _mm512_maskz_permutexvar_epi8(low_bytes, idx, lo[a]);  // the last 48 bytes lie in one load
    int64_t codes;
    __builtin_memcpy(&codes, block + 384 + 8 * K, 8);
    return _mm512_mask_permutexvar_epi8(v, top_bytes, _mm512_multishift_epi64_epi8(shift, _mm512_set1_epi64(codes)), tab);
  }
};

template <int K, typename F>
inline __attribute__((always_inline)) void each_k(F&& f) {
  if constexpr (K < 8) {
    f(std::integral_constant<int, K>{});
    each_k<K + 1>(f);
  }
}

template <int Hint>
float dot_f32_coded(const uint8_t* row, const uint8_t* table, const uint32_t* esc_col, const uint8_t* esc_byte,
                    uint32_t n_esc, const float* x, int64_t n) {
  const Decoder d(table);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  uint32_t e = 0;
  uint32_t next_esc = n_esc ? esc_col[0] : 0xffffffffu;
  for (int64_t i = 0; i < n; i += 128, row += 448) {
    if constexpr (Hint >= 0) {
#pragma GCC unroll 7
      for (int l = 0; l < 7; l++) _mm_prefetch((const char*)row + kPrefetchBytes + 64 * l, (_mm_hint)Hint);
    }
    __m512i lo[6];
    Decoder::load(row, lo);
    each_k<0>([&](auto kc) __attribute__((always_inline)) {
      constexpr int k = decltype(kc)::value;
      __m512i v = d.lanes<k>(row, lo);
      const int64_t j0 = i + 16 * k;
      if (__builtin_expect(next_esc < (uint32_t)(j0 + 16), 0)) {
        alignas(64) uint8_t bytes[64];
        _mm512_store_si512(bytes, v);
        for (; e < n_esc && esc_col[e] < (uint32_t)(j0 + 16); e++) bytes[4 * (esc_col[e] - j0) + 3] = esc_byte[e];
        next_esc = e < n_esc ? esc_col[e] : 0xffffffffu;
        v = _mm512_load_si512(bytes);
      }
      acc[k & 3] = _mm512_fmadd_ps(_mm512_castsi512_ps(v), _mm512_loadu_ps(x + j0), acc[k & 3]);
    });
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

// The same lanes stored instead of summed (a prompt's GEMM reads the decoded rows), the
// escapes patched in the output afterwards.
void decode_f32_coded(const uint8_t* row, const uint8_t* table, const uint32_t* esc_col, const uint8_t* esc_byte,
                      uint32_t n_esc, float* out, int64_t n) {
  const Decoder d(table);
  for (int64_t i = 0; i < n; i += 128, row += 448) {
    __m512i lo[6];
    Decoder::load(row, lo);
    each_k<0>([&](auto kc) __attribute__((always_inline)) {
      constexpr int k = decltype(kc)::value;
      _mm512_storeu_si512(out + i + 16 * k, d.lanes<k>(row, lo));
    });
  }
  for (uint32_t e = 0; e < n_esc; e++) ((uint8_t*)(out + esc_col[e]))[3] = esc_byte[e];
}

}  // namespace

F32CodedDotFn f32_coded_dot_vbmi(int prefetch_level) {
  return by_hint<F32CodedDotFn>(prefetch_level, [](auto h) { return dot_f32_coded<decltype(h)::value>; });
}
F32CodedDecodeFn f32_coded_decode_vbmi() { return decode_f32_coded; }

}  // namespace flops::kern
