#version 450
// y = max(x, 0).
#extension GL_GOOGLE_include_directive : require
layout(set = 0, binding = 0) uniform samplerBuffer X;
#define EW_OUT 1
#include "elementwise.glsl"

vec4 ew_value(uint i4, uint col) { return max(texelFetch(X, int(i4)), vec4(0.0)); }
