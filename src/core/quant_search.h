#pragma once
// Scale searches shared by the K-quant and IQ4 quantizers (internal to src/core).
//
// Each fits one group of n values x (importance weights w) to a grid of integer codes and
// returns the weighted squared error sum_i w_i (x_i - value_i)^2:
//   fit_affine:  x ~ s * q + lo,  q in [0, nmax], lo <= 0 (K-quants with a min);
//   fit_signed:  x ~ s * q,       q in [-nneg, npos] (Q3_K, Q6_K);
//   fit_grid:    x ~ s * grid[q], q in [0, 16) (IQ4_NL, IQ4_XS; grid sorted ascending).
// Method: for each of many trial scales (around the ones that map the extreme values to the
// ends of the grid), round every x to its nearest code, then solve the weighted least-squares
// problem for the scale (and offset) with those codes fixed; the best fit is then refined by
// alternating rounding and least squares until it stops improving.
//
// After the group scales are themselves quantized (6 or 4 bits times a super-block fp16
// scale), codes are re-rounded against the scales actually stored (round_* below), and
// refine_* tries the neighbouring integer scales of each group.
#include <cstdint>

namespace flops::quant {

float fit_affine(const float* x, const float* w, int n, int nmax, float& s, float& lo);
float fit_signed(const float* x, const float* w, int n, int nneg, int npos, float& s);
float fit_grid(const float* x, const float* w, int n, const int8_t* grid, float& s);

// Codes for a stored scale (and offset); return the weighted squared error.
float round_affine(const float* x, const float* w, int n, int nmax, float s, float lo, uint8_t* q);
float round_signed(const float* x, const float* w, int n, int nneg, int npos, float s, int8_t* q);
float round_grid(const float* x, const float* w, int n, const int8_t* grid, float s, uint8_t* q);

// Importance weights of a block's values when no activation statistics are given.
void default_weights(const float* x, int n, float* w);

}  // namespace flops::quant
