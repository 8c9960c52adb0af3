// The second operand of add/mul for the elements 4 i4 .. 4 i4 + 3 of the first, whose first
// element is in broadcast column col (needs B, BCAST and p.cols; the shader defines EW_COLS).
vec4 ew_b(uint i4, uint col) {
    if (BCAST == 0u)
        return texelFetch(B, int(i4));
    if (BCAST == 1u) // cols % 4 == 0: col is a multiple of 4
        return texelFetch(B, int(col >> 2));
    vec4 b;
    for (uint c = 0u; c < 4u; c++) {
        uint k = col + c;
        while (k >= p.cols)
            k -= p.cols;
        b[c] = texelFetch(B, int(k >> 2))[k & 3u];
    }
    return b;
}
