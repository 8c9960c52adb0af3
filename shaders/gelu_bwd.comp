#version 450
// dx (+)= dy * (Phi(x) + x phi(x)), the derivative of exact GELU x Phi(x).
#extension GL_GOOGLE_include_directive : require
#include "erf.glsl"
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer DY;
#define EW_OUT 2
#include "elementwise.glsl"

float dgelu(float x) { return ve_normal_cdf(x) + x * ve_normal_pdf(x); }

vec4 ew_value(uint i4, uint col) {
    vec4 x = texelFetch(X, int(i4));
    return texelFetch(DY, int(i4)) * vec4(dgelu(x.x), dgelu(x.y), dgelu(x.z), dgelu(x.w));
}
