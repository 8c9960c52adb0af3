/* Tensors and the compute graph: build once, compile once, replay many times.
 *
 * Model code creates tensors and appends op nodes (engine/ops.h). ve_graph_backward() appends
 * the backward nodes. ve_graph_compile() plans memory (parameters, trainable weights with their
 * gradients contiguous, transient activations placed by liveness and reused), inserts barriers
 * only on real hazards, and records one command buffer. ve_graph_run() replays it. */
#ifndef VE_GRAPH_H
#define VE_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "device.h"

#define VE_MAX_DIMS 4

typedef int32_t ve_tid; /* tensor handle inside one graph; VE_NONE for none */
#define VE_NONE (-1)

typedef enum { VE_F32 = 0, VE_F16 = 1 } ve_dtype;

typedef enum {
    VE_ACTIVATION = 0, /* transient: placed by the liveness planner, contents undefined after run */
    VE_PARAM,          /* persistent, frozen weight */
    VE_TRAINABLE,      /* persistent, trainable weight: gets a gradient in the contiguous buffer */
    VE_INPUT,          /* persistent, written by the host before a run */
    VE_STATE,          /* persistent, engine-owned (gradients, optimiser moments, kept outputs) */
} ve_kind;

typedef struct ve_graph ve_graph;

ve_graph *ve_graph_create(ve_device *dev);
void ve_graph_destroy(ve_graph *g);
ve_device *ve_graph_device(const ve_graph *g);

/* Creates a tensor. Returns VE_NONE (and sets ve_error) on a bad shape. */
ve_tid ve_tensor(ve_graph *g, ve_kind kind, const char *name, int ndim, const int64_t *shape);
ve_tid ve_tensor_2d(ve_graph *g, ve_kind kind, const char *name, int64_t rows, int64_t cols);
/* A view of the same memory with another shape of the same element count. */
ve_tid ve_reshape(ve_graph *g, ve_tid t, int ndim, const int64_t *shape);
/* A view of numel(shape) elements of t starting at element `offset` (a multiple of the device's
 * binding alignment, 16 elements at most): chunked kernels over big flat buffers. */
ve_tid ve_view(ve_graph *g, ve_tid t, int64_t offset, int ndim, const int64_t *shape);
/* Marks a tensor (input or frozen parameter) as needing a gradient; trainables always do. */
void ve_set_requires_grad(ve_graph *g, ve_tid t, int on);
/* Keeps a transient tensor's value after the run so ve_tensor_read can read it. */
void ve_keep(ve_graph *g, ve_tid t);

/* The first tensor created with this name (names are kept to 63 bytes), or VE_NONE. */
ve_tid ve_tensor_find(const ve_graph *g, const char *name);

int ve_tensor_ndim(const ve_graph *g, ve_tid t);
ve_kind ve_tensor_kind(const ve_graph *g, ve_tid t);
int64_t ve_tensor_dim(const ve_graph *g, ve_tid t, int axis); /* negative axis counts from end */
int64_t ve_tensor_numel(const ve_graph *g, ve_tid t);
const char *ve_tensor_name(const ve_graph *g, ve_tid t);
int ve_requires_grad(const ve_graph *g, ve_tid t);
/* Rows x cols view of a tensor: cols = last dim, rows = product of the others. */
void ve_tensor_rows_cols(const ve_graph *g, ve_tid t, int64_t *rows, int64_t *cols);

/* Appends the backward of every recorded op, seeded with d(loss)/d(loss) = 1 (loss must have one
 * element) or, with ve_graph_backward_seed, with a given gradient tensor of y's shape. */
int ve_graph_backward(ve_graph *g, ve_tid loss);
int ve_graph_backward_seed(ve_graph *g, ve_tid y, ve_tid dy);
/* The gradient of t after backward (VE_NONE if t received none). Gradients of inputs, parameters
 * and trainables are persistent; read them with ve_tensor_read after a run. */
ve_tid ve_grad(const ve_graph *g, ve_tid t);

typedef struct {
    int profile; /* record timestamps around every node */
} ve_compile_opts;

int ve_graph_compile(ve_graph *g, const ve_compile_opts *opts);
int ve_graph_run(ve_graph *g);

/* Before compile: ends a segment after the nodes added so far, so the host can run the graph in
 * parts and read or change tensors in between (data-parallel training all-reduces the loss
 * statistics and the gradients there). ve_graph_run still runs every segment, in one
 * submission. At most VE_MAX_SEGMENTS - 1 cuts; a cut where the previous one is does nothing. */
#define VE_MAX_SEGMENTS 8
int ve_graph_cut(ve_graph *g);
int ve_graph_segments(const ve_graph *g);
/* Runs segment k only (0-based) and waits for it. */
int ve_graph_run_segment(ve_graph *g, int k);
/* Runs segments k0 .. k1 - 1 in one submission (e.g. all but a segment of constants that ran
 * once). */
int ve_graph_run_segments(ve_graph *g, int k0, int k1);

/* Host access to persistent tensors (after compile). n = element count, must match. */
int ve_tensor_write(ve_graph *g, ve_tid t, const float *src, size_t n);
int ve_tensor_read(ve_graph *g, ve_tid t, float *dst, size_t n);

/* After compile: number of trainable elements, and the byte sizes the planner chose. */
typedef struct {
    uint64_t persistent_bytes, transient_bytes, transient_naive_bytes, trainable_elements;
    int nodes, barriers;
} ve_graph_stats;
void ve_graph_get_stats(const ve_graph *g, ve_graph_stats *s);

/* Per op kind: calls, ms, GFLOP/s, GB/s of the last run (needs opts.profile). */
void ve_graph_profile_print(const ve_graph *g, FILE *out);
/* Total GPU time of the last profiled run, in ms (0 when not profiled). */
double ve_graph_profile_total_ms(const ve_graph *g);

#endif
