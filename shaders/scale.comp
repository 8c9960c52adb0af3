#version 450
// y (+)= s * a: ve_scale, its backward, and the backward of add (s = 1).
#extension GL_GOOGLE_include_directive : require
layout(set = 0, binding = 0) uniform samplerBuffer A;
#define EW_OUT 1
#include "elementwise.glsl"

vec4 ew_value(uint i4, uint col) { return p.s * texelFetch(A, int(i4)); }
