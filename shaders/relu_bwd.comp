#version 450
// dx (+)= dy where x > 0, else 0.
#extension GL_GOOGLE_include_directive : require
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer DY;
#define EW_OUT 2
#include "elementwise.glsl"

vec4 ew_value(uint i4, uint col) {
    vec4 x = texelFetch(X, int(i4));
    return mix(vec4(0.0), texelFetch(DY, int(i4)), greaterThan(x, vec4(0.0)));
}
