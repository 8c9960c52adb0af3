#version 450
// dx[i] (+)= scale * dy[i / cols] for i < n: the backward of row and whole-tensor sums and means.
// PER texels (4 elements) per invocation, lanes interleaved so a subgroup's stores are
// contiguous. ALL (whole-tensor sums): one value everywhere, no division. Exactly n floats are
// written: the last, partial texel element by element.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ALL = 0;
layout(constant_id = 2) const uint PER = 1;

layout(set = 0, binding = 0) uniform samplerBuffer DY;
layout(std430, set = 0, binding = 1) buffer DX { vec4 dx[]; }; // padded to 16 bytes

layout(push_constant) uniform P {
    uint n, cols;
    float scale;
    uint accumulate;
} p;

float v_all;

float value(uint e) {
    if (ALL == 1)
        return v_all;
    const uint r = e / p.cols;
    return texelFetch(DY, int(r >> 2))[r & 3] * p.scale;
}

void main() {
    v_all = texelFetch(DY, 0).x * p.scale;
    const uint wg = gl_WorkGroupSize.x;
    const uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint base = group * wg * PER + gl_LocalInvocationID.x;
    // Fast path, uniform over the workgroup: every texel of the block is whole and in bounds,
    // and a whole texel has one value (one dy for all, or rows of whole texels).
    if ((group + 1) * wg * PER <= p.n / 4 && (ALL == 1 || p.cols % 4 == 0)) {
        if (p.accumulate != 0) {
            for (uint j = 0; j < PER; j++)
                dx[base + j * wg] += vec4(value(4 * (base + j * wg)));
        } else {
            for (uint j = 0; j < PER; j++)
                dx[base + j * wg] = vec4(value(4 * (base + j * wg)));
        }
        return;
    }
    for (uint j = 0; j < PER; j++) {
        const uint t = base + j * wg;
        for (uint c = 0; c < 4; c++) {
            const uint e = 4 * t + c;
            if (e < p.n) {
                float v = value(e);
                if (p.accumulate != 0)
                    v += dx[t][c];
                dx[t][c] = v;
            }
        }
    }
}
