// One axis of PyTorch's linear/bilinear resize, align_corners=False, no antialiasing, output
// size given, exactly as ATen computes it on the CPU (torch 1.13): scale = in / out rounded to
// fp32; src = scale * (o + 0.5) - 0.5 in double (exact there), clamped at 0;
// i0 = min(floor(src), in - 1), i1 = i0 + 1 unless at the last sample, l1 = float(src - i0),
// l0 = 1 - l1 in fp32.
// Here in integers, exact on any device: scale = m / 2^sh * 2 (m the 24-bit mantissa, host:
// resize_fixed), so src + 0.5 = m (2o + 1) / 2^sh, a 64-bit product (umulExtended); its
// integer part is i0 and l1 = float(fraction) / 2^sh: one rounding, as ATen's.
void resize_axis(uint o, uint n_in, uint m, uint sh, out uint i0, out uint i1, out float l0,
                 out float l1) {
    uint hi, lo;
    umulExtended(m, 2u * o + 1u, hi, lo); // (src + 0.5) * 2^sh
    uint half_ = 1u << (sh - 1u);
    uint i = 0u, frac = 0u;
    if (hi != 0u || lo > half_) { // src > 0; else clamped to 0
        hi -= lo < half_ ? 1u : 0u;
        lo -= half_;
        if (sh == 32u) {
            i = hi;
            frac = lo;
        } else {
            i = (hi << (32u - sh)) | (lo >> sh);
            frac = lo & ((1u << sh) - 1u);
        }
    }
    float l = ldexp(float(frac), -int(sh));
    if (i > n_in - 1u) { // not reached with align_corners=False; ATen's guard all the same
        i = n_in - 1u;
        l = 1.0;
    }
    i0 = i;
    i1 = i + (i < n_in - 1u ? 1u : 0u);
    l1 = l;
    l0 = 1.0 - l;
}
