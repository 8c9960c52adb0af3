// Shared by the seg_loss kernels: logits [B, K, HW] planes and labels [B, HW] (class indices as
// floats) read 4 pixels at a time from RGBA32F texel views.
// Needs: constant_id 2 VEC (HW % 4 == 0: every 4-pixel group starts on a texel and is full).

// Elements e .. e + 3 of t; lanes at or past n read as 0 (the padding may hold NaN).
vec4 load4(samplerBuffer t, uint e, uint n) {
    if (VEC == 1)
        return texelFetch(t, int(e >> 2));
    vec4 v = vec4(0.0);
    for (uint j = 0; j < 4; j++)
        if (j < n) {
            const uint k = e + j;
            v[j] = texelFetch(t, int(k >> 2))[k & 3];
        }
    return v;
}

bvec4 lanes_below(uint n) { return lessThan(uvec4(0, 1, 2, 3), uvec4(n)); }

// One-hot of class c for 4 labels (invalid lanes hold -1: never a class).
vec4 onehot(vec4 lab, uint c) { return vec4(lessThan(abs(lab - float(c)), vec4(0.5))); }
