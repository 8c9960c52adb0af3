// Driver shared by the elementwise kernels (add, mul, scale, gelu, relu and their backward).
//
// The including shader declares its input bindings, defines EW_OUT (the binding of the output)
// and `vec4 ew_value(uint i4, uint col)`, the result for elements 4 i4 .. 4 i4 + 3, then
// includes this.
// Each invocation handles EW_VEC vec4s; lanes are interleaved (vec4 j of a workgroup's block
// goes to lane j % WG) so a subgroup's texel loads are contiguous. Lavapipe vectorises RGBA32F
// texel loads but scalarises storage-buffer loads, and a few dozen vec4s per invocation
// amortise the per-invocation overhead (LAVAPIPE_NOTES.md, "Memory-bound ops").
//
// Outputs: exactly n floats are written (the last, partial vec4 element by element), and with
// `accumulate` the result is added to what the output holds (autograd accumulation).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint EW_VEC = 32;

layout(std430, set = 0, binding = EW_OUT) buffer EwOut4 { vec4 y4[]; };
layout(std430, set = 0, binding = EW_OUT) buffer EwOut1 { float y1[]; }; // the tail

layout(push_constant) uniform EwPush {
    uint n;          // element count
    uint accumulate; // y += result instead of y = result
    uint cols;       // broadcast operand's length (add, mul)
    float s;         // scale factor (scale)
} p;

// col: (4 i4) % p.cols, the broadcast column of the vec4's first element, tracked without a
// division per vec4 when the shader defines EW_COLS (add, mul); 0 otherwise.
vec4 ew_value(uint i4, uint col);

void main() {
    uint wg = gl_WorkGroupSize.x;
    uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    uint base = group * wg * EW_VEC + gl_LocalInvocationID.x;
    uint col = 0u, step = 0u;
#ifdef EW_COLS
    if (p.cols != 0u) {
        col = (4u * base) % p.cols;
        step = (4u * wg) % p.cols;
    }
#define EW_NEXT_COL()                                                                          \
    col += step;                                                                               \
    if (col >= p.cols)                                                                         \
        col -= p.cols;
#else
#define EW_NEXT_COL()
#endif
    // Fast path, uniform over the workgroup: every vec4 of its block is whole and in bounds.
    // Per-lane bounds and tail tests cost ~40% on lavapipe, so only the last block pays them.
    if ((group + 1u) * wg * EW_VEC <= p.n / 4u) {
        if (p.accumulate != 0u) {
            for (uint j = 0u; j < EW_VEC; j++) {
                y4[base + j * wg] += ew_value(base + j * wg, col);
                EW_NEXT_COL()
            }
        } else {
            for (uint j = 0u; j < EW_VEC; j++) {
                y4[base + j * wg] = ew_value(base + j * wg, col);
                EW_NEXT_COL()
            }
        }
        return;
    }
    uint n4 = (p.n + 3u) / 4u;
    for (uint j = 0u; j < EW_VEC; j++) {
        uint i4 = base + j * wg;
        if (i4 >= n4)
            return;
        vec4 r = ew_value(i4, col);
        EW_NEXT_COL()
        if (4u * i4 + 4u <= p.n) {
            if (p.accumulate != 0u)
                r += y4[i4];
            y4[i4] = r;
        } else {
            for (uint c = 0u; c < p.n - 4u * i4; c++) {
                float v = r[c];
                if (p.accumulate != 0u)
                    v += y1[4u * i4 + c];
                y1[4u * i4 + c] = v;
            }
        }
    }
}
