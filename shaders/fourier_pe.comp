#version 450
// Random Fourier positional encoding (SAM's PositionEmbeddingRandom):
//   f = 2 pi * ((2 c - 1) @ G),  out[n] = [sin f (F values), cos f (F values)], G [2, F].
// GRID = 0: coordinates c [N, 2] from X. GRID = 1: the dense PE of an H x W grid, n = i W + j,
// c = ((j + 0.5) / W, (i + 0.5) / H) (x first), as PyTorch rounds it.
// The argument is formed in fp32 exactly as PyTorch's ops round it (`precise`: no fused
// multiply-add); sin and cos are then evaluated accurately for any |f| < 2^15: Cody-Waite
// reduction by pi/2 (3-part constant, k * P1 exact) and Taylor polynomials on [-pi/4, pi/4]
// (truncation < 2e-9), so results are within a few 1e-8 of sin/cos of the fp32 argument in
// double. The driver's sin/cos need not be that accurate for large arguments (Vulkan only
// bounds their absolute error on [-pi, pi]).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint GRID = 0;

layout(set = 0, binding = 0) uniform samplerBuffer X; // coords [N, 2] (G again when GRID)
layout(set = 0, binding = 1) uniform samplerBuffer G; // [2, F]
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
    uint units; // N * F
    uint f;     // F
    uint h, w;  // grid size (GRID)
} p;

float at(samplerBuffer t, uint e) { return texelFetch(t, int(e >> 2))[e & 3]; }

// a / b correctly rounded in fp32 (GPU division may be off by an ulp): one Newton correction
// with an exact fma residual.
float div_rn(float a, float b) {
    precise float q = a / b;
    precise float r = fma(-q, b, a);
    precise float q2 = q + r / b;
    return q2;
}

void main() {
    uint u = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x +
             gl_LocalInvocationID.x;
    if (u >= p.units)
        return;
    uint k = u % p.f, n = u / p.f;
    float cx, cy;
    if (GRID == 1) {
        uint j = n % p.w, i = n / p.w;
        cx = div_rn(float(j) + 0.5, float(p.w));
        cy = div_rn(float(i) + 0.5, float(p.h));
    } else {
        cx = at(X, 2 * n);
        cy = at(X, 2 * n + 1);
    }
    precise float ax = 2.0 * cx - 1.0;
    precise float ay = 2.0 * cy - 1.0;
    precise float m = ax * at(G, k) + ay * at(G, p.f + k);
    precise float arg = 6.28318548202514648 * m; // float(2 pi), as PyTorch's scalar multiply

    // Cody-Waite: r = arg - q pi/2, pi/2 = P1 + P2 + P3; P1 has 8 significant bits, P2 12, so
    // q * P1 and q * P2 are exact for |q| < 2^15.
    precise float q = floor(arg * 0.636619772367581343 + 0.5);
    precise float r = ((arg - q * 1.5703125) - q * 4.8351287841796875e-4) -
                      q * 3.1391647865048123e-7;
    // The last part: pi/2 - P1 - P2 = 3.1391647865048123e-7; rounding it to fp32 errs ~2e-14
    // per unit of q: negligible at |q| < 2^15.
    precise float r2 = r * r;
    precise float s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 +
                      r2 * (1.0 / 362880.0))));
    precise float c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 *
                      (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
    int quad = int(q) & 3;
    float sv = quad == 0 ? s : quad == 1 ? c : quad == 2 ? -s : -c;
    float cv = quad == 0 ? c : quad == 1 ? -s : quad == 2 ? -c : s;
    y[n * 2 * p.f + k] = sv;
    y[n * 2 * p.f + p.f + k] = cv;
}
