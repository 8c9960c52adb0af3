/* Internal to the elementwise ops (elementwise.c, activation.c): one helper that appends an
 * elementwise kernel node (shaders/elementwise.glsl drives every such kernel). */
#ifndef VE_OPS_ELEMENTWISE_H
#define VE_OPS_ELEMENTWISE_H

#include "node.h"

typedef struct {
    const char *kernel, *op; /* shader stem, profile bucket */
    int n_in;                /* inputs, bound as texel buffers 0..n_in-1 */
    ve_tid in[3];
    ve_tid out; /* bound at n_in, numel(out) elements written */
    int accumulate;
    uint32_t bcast; /* add/mul: 0 same shape, 1 [cols] with cols % 4 == 0, 2 other [cols] */
    uint32_t cols;  /* add/mul broadcast length */
    float s;        /* scale */
    double flops;   /* per element, for the profile */
} ve_ew_desc;

/* Appends the node; inputs must have at least numel(out) elements (or cols when broadcast). */
int ve_ew_node(ve_graph *g, const ve_ew_desc *e);

/* A new activation tensor with x's shape. */
ve_tid ve_ew_like(ve_graph *g, ve_tid x, const char *name);

#endif
