#version 450
// y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), exact GELU (erf.glsl: accurate in both tails).
#extension GL_GOOGLE_include_directive : require
#include "erf.glsl"
layout(set = 0, binding = 0) uniform samplerBuffer X;
#define EW_OUT 1
#include "elementwise.glsl"

vec4 ew_value(uint i4, uint col) {
    vec4 x = texelFetch(X, int(i4));
    return vec4(x.x * ve_normal_cdf(x.x), x.y * ve_normal_cdf(x.y), x.z * ve_normal_cdf(x.z),
                x.w * ve_normal_cdf(x.w));
}
