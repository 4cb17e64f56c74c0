// Helpers of the NEON level's files, included INSIDE each file's anonymous namespace of lc::cpu::neon (so each
// translation unit has its own copy; see cpu/README.md). Needs <cstring> and <cstdint> before.
#pragma once

// fp16 <-> fp32 by the hardware conversions (round to nearest even; exact for fp16 -> fp32).
inline float h2f(uint16_t h) {
    __fp16 f;
    std::memcpy(&f, &h, 2);
    return static_cast<float>(f);
}
inline uint16_t f2h(float x) {
    const __fp16 f = static_cast<__fp16>(x);
    uint16_t h;
    std::memcpy(&h, &f, 2);
    return h;
}
