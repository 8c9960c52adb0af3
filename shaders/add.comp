#version 450
// y (+)= a + b, b of a's shape (BCAST 0) or [cols] repeated over a's rows (BCAST 1 when
// cols % 4 == 0: one texel per vec4; BCAST 2 otherwise: element by element).
#extension GL_GOOGLE_include_directive : require
layout(constant_id = 2) const uint BCAST = 0;

layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
#define EW_OUT 2
#define EW_COLS
#include "elementwise.glsl"
#include "elementwise_bcast.glsl"

vec4 ew_value(uint i4, uint col) { return texelFetch(A, int(i4)) + ew_b(i4, col); }
