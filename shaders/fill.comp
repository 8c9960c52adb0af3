#version 450
// t[i] = value for every element.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) writeonly buffer T { float t[]; };
layout(push_constant) uniform P {
    uint n;
    float value;
} p;

void main() {
    uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u +
             gl_LocalInvocationID.x;
    if (i < p.n) t[i] = p.value;
}
