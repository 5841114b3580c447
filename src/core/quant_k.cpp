// Placeholder: the K-quant and IQ4 quantizers come with `flops quantize`.
#include "core/error.h"
#include "core/quant_impl.h"

namespace flops::quant {
void iq4_nl(const float*, BlockIQ4_NL*, int64_t) { fail("quantizing to IQ4_NL is not implemented yet"); }
void q2_k(const float*, BlockQ2_K*, int64_t) { fail("quantizing to Q2_K is not implemented yet"); }
void q3_k(const float*, BlockQ3_K*, int64_t) { fail("quantizing to Q3_K is not implemented yet"); }
void q4_k(const float*, BlockQ4_K*, int64_t) { fail("quantizing to Q4_K is not implemented yet"); }
void q5_k(const float*, BlockQ5_K*, int64_t) { fail("quantizing to Q5_K is not implemented yet"); }
void q6_k(const float*, BlockQ6_K*, int64_t) { fail("quantizing to Q6_K is not implemented yet"); }
void iq4_xs(const float*, BlockIQ4_XS*, int64_t) { fail("quantizing to IQ4_XS is not implemented yet"); }
}  // namespace flops::quant
