// Included last by the scalar reference quantizers and dequantizers: from here on the compiler may not contract
// a * b + c into an FMA, so the float results keep ggml's operation order bit for bit. Only those files include it.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
