/* What an op appends to a graph: kernel nodes and the backward that autograd calls later.
 * Internal to the engine (the files under ops/); models use engine/ops.h. */
#ifndef VE_NODE_H
#define VE_NODE_H

#include "graph.h"

#define VE_MAX_BINDINGS 10
#define VE_PUSH_WORDS 32 /* 128 bytes: the minimum every device guarantees */
#define VE_MAX_SPEC 8

typedef enum {
    VE_READ = 1,
    VE_WRITE = 2,
    VE_RW = 3, /* accumulating writes read the destination too */
} ve_access;

typedef enum {
    VE_BIND_STORAGE = 0, /* layout(std430) buffer: float data[] (or vec4, as the shader says) */
    VE_BIND_TEXEL = 1,   /* uniform samplerBuffer, RGBA32F view: texelFetch gives 4 floats */
} ve_bind_type;

typedef struct {
    ve_tid tensor;
    ve_access access;
    ve_bind_type type;
} ve_binding;

typedef struct {
    const char *kernel; /* shader file stem in shaders/, e.g. "add" for shaders/add.comp */
    const char *op;     /* profile bucket, e.g. "matmul", "layernorm_bwd" */
    int n_bind;
    ve_binding bind[VE_MAX_BINDINGS];
    uint32_t push[VE_PUSH_WORDS]; /* push constants, as the shader declares them */
    uint32_t push_bytes;
    int n_spec; /* specialisation constants 0..n_spec-1 (uint), part of the pipeline key */
    uint32_t spec[VE_MAX_SPEC];
    uint32_t groups[3];  /* workgroup counts */
    double flops, bytes; /* for the profile */
} ve_node_desc;

/* Kernel authors: lavapipe (Mesa 22) silently ends any shader loop after 65535 iterations per
 * invocation, counting nested iterations too (LP_MAX_TGSI_LOOP_ITERATIONS): results are then
 * wrong with no error. Keep every invocation's total loop trip count well below that (split
 * long rows over invocations or nodes), and refuse sizes a kernel cannot split. */

/* Appends a node. Checks every tensor id, and that no binding exceeds the device's limits
 * (maxStorageBufferRange, maxTexelBufferElements). */
int ve_node_add(ve_graph *g, const ve_node_desc *d);

/* Splits n workgroups over x and y so neither exceeds the device limit; the shader computes its
 * linear group as gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x and bounds-checks. */
void ve_groups_1d(const ve_graph *g, uint64_t n_groups, uint32_t groups[3]);

static inline uint32_t ve_f2u(float f) {
    union {
        float f;
        uint32_t u;
    } v = {.f = f};
    return v.u;
}

/* ---- autograd ---- */

#define VE_TAPE_MAX_IO 8
#define VE_TAPE_CTX_BYTES 128

typedef struct ve_tape_entry ve_tape_entry;
/* Called by ve_graph_backward for every recorded op whose output received a gradient (in
 * reverse order). It appends nodes writing the gradient of each input that needs one, using
 * ve_grad_dest() for the destination and the accumulate flag. */
typedef int (*ve_backward_fn)(ve_graph *g, const ve_tape_entry *e);

struct ve_tape_entry {
    ve_backward_fn backward;
    int n_in, n_out;
    ve_tid in[VE_TAPE_MAX_IO];
    ve_tid out[VE_TAPE_MAX_IO];
    unsigned char ctx[VE_TAPE_CTX_BYTES]; /* op parameters, copied */
};

/* Records an op for autograd if any input needs a gradient (and marks outputs so). */
int ve_tape_record(ve_graph *g, ve_backward_fn fn, int n_in, const ve_tid *in, int n_out,
                   const ve_tid *out, const void *ctx, size_t ctx_bytes);
/* The gradient of an op's output during backward (VE_NONE if it received none). */
ve_tid ve_grad_of(const ve_graph *g, ve_tid t);
/* Where to write the gradient of t. *accumulate is 1 when an earlier backward node already
 * wrote it, so the kernel must add to it; 0 means overwrite. Returns VE_NONE when t needs no
 * gradient (skip the kernel entirely: this is how frozen weights cost nothing). */
ve_tid ve_grad_dest(ve_graph *g, ve_tid t, int *accumulate);

/* The common start of a one-input op's backward: dy = the gradient of out[0], dx = where the
 * gradient of in[0] goes. Returns 0 when there is nothing to do (no incoming gradient, or the
 * input needs none); dx is only claimed when dy exists. */
static inline int ve_unary_grads(ve_graph *g, const ve_tape_entry *e, ve_tid *dy, ve_tid *dx,
                                 int *accumulate) {
    *dy = ve_grad_of(g, e->out[0]);
    if (*dy == VE_NONE) return 0;
    *dx = ve_grad_dest(g, e->in[0], accumulate);
    return *dx != VE_NONE;
}

/* A uniform buffer of per-step values (learning rate, bias corrections): VE_INPUT, 16 floats,
 * written by the host before a replay so the command buffer is never re-recorded. */
ve_tid ve_graph_step_values(ve_graph *g);

/* Flat views over every trainable that received a gradient, laid out contiguously by the
 * planner (same order in both), for one-dispatch optimisers. Call after backward. Sets *n. */
int ve_trainable_flat(ve_graph *g, ve_tid *params, ve_tid *grads, int64_t *n);

#endif
