#pragma once
// Row-wise elementwise kernels of the forward pass. Each adds its FLOPs to counter::add_other.
#include <cstdint>

namespace flops {

// y = x / sqrt(mean(x^2) + eps) * w, for `rows` rows of n (in place allowed).
void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);
// y = (x - mean) / sqrt(var + eps) * w + b.
void layernorm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps);
// x[r, :] += b for each row.
void add_bias(float* x, const float* b, int64_t rows, int64_t n);
// gate = silu(gate) * up, elementwise over n.
void swiglu(float* gate, const float* up, int64_t n);
// GELU, tanh approximation (as GPT-2 was trained with).
void gelu(float* x, int64_t n);
// gate = gelu(gate) * up (GeGLU, gemma's FFN).
void geglu(float* gate, const float* up, int64_t n);
// x = cap * tanh(x / cap): gemma2's soft-capping of attention scores and logits.
void softcap(float* x, int64_t n, float cap);
// Rotary position embedding on one head vector of `head_dim` floats, rotating the first n_rot dims.
// neox=false: adjacent pairs (x[2i], x[2i+1]) (GGUF llama); neox=true: pairs (x[i], x[i + n_rot/2]) (qwen2).
void rope(float* x, int head_dim, int n_rot, int pos, float theta_base, bool neox);
// The same rotation with the angle's cos/sin precomputed (n_rot/2 of each): one table per
// position serves every head of every layer. Pair i turns by
//   freq_scale * pos * theta_base^(-2i/n_rot) / freq_factors[i]
// (freq_scale: linear rope scaling; freq_factors: Llama 3.1's rope_freqs, null = all 1), with the
// powers formed as ggml forms them (repeated float products), so that angles agree to the bit.
void rope_table(int n_rot, int pos, float theta_base, float* cos_out, float* sin_out, float freq_scale = 1.0f,
                const float* freq_factors = nullptr);
void rope_apply(float* x, int n_rot, const float* cs, const float* sn, bool neox);
// x[i] = exp(x[i] - shift), returns their sum: the vector kernel of the active variant, within
// ~2 ulp of std::exp (core/kernels_x86_math.inc). Counts no FLOPs (its callers do).
float exp_sum(float* x, int64_t n, float shift);
// Numerically stable in-place softmax; returns log of the normaliser (max + log sum exp).
double softmax(float* x, int64_t n);
// log-softmax value of x[target] (double accumulation).
double log_softmax_at(const float* x, int64_t n, int64_t target);

}  // namespace flops
