/* The graph's own records, shared by graph.c, autograd.c, planner.c, record.c, host_io.c. */
#ifndef VE_GRAPH_INTERNAL_H
#define VE_GRAPH_INTERNAL_H

#include "node.h"
#include "vk_device.h"

enum { VE_FLAT_NONE = 0, VE_FLAT_PARAMS = 1, VE_FLAT_GRADS = 2 };

typedef struct {
    char name[64];
    ve_kind kind;
    int ndim;
    int64_t shape[VE_MAX_DIMS];
    int64_t numel;
    ve_dtype dtype;
    int requires_grad;
    ve_tid grad;         /* gradient tensor (on the root) */
    int grad_written;    /* during backward: a node already wrote grad */
    ve_tid grad_of;      /* this tensor is the gradient of grad_of (VE_NONE otherwise) */
    ve_tid alias_of;     /* root tensor whose memory this view shares (VE_NONE for roots) */
    int64_t view_offset; /* a view's first element inside its root */
    int keep;
    int flat; /* VE_FLAT_*: spans the contiguous trainable/gradient region */
    /* placement (roots only) */
    int block; /* index into the graph's memory blocks; -1 = not placed */
    uint64_t offset, bytes;
    int first, last; /* first and last node touching it (transients) */
} ve_trec;

typedef struct {
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;
    void *mapped; /* non-NULL when host-visible */
    int transient;
} ve_block;

struct ve_graph {
    ve_device *dev;
    uint64_t align; /* placement alignment in bytes */
    ve_trec *t;
    int nt, capt;
    ve_node_desc *nodes;
    int nn, capn;
    ve_tape_entry *tape;
    int ntape, captape;
    int in_backward, backward_done;
    ve_tid step_values;
    ve_tid flat_params, flat_grads;
    int64_t flat_numel;
    int compiled;
    /* memory */
    ve_block *blocks;
    int nblocks;
    uint64_t trainable_elements, transient_naive;
    /* host transfers when the memory is not host-visible: one staging buffer, grown as needed
     * and kept, so a training step's uploads and reads allocate nothing (host_io.c) */
    VkBuffer stage_buf;
    VkDeviceMemory stage_mem;
    void *stage_ptr;
    uint64_t stage_bytes;
    /* recording */
    VkDescriptorPool dpool;
    VkBufferView *views;
    int nviews;
    VkCommandBuffer cb[VE_MAX_SEGMENTS]; /* one per segment (ve_graph_cut) */
    int cuts[VE_MAX_SEGMENTS];           /* first node of segments 1 .. nseg - 1 */
    int nseg;                            /* segments (1 without cuts) */
    int prof_from; /* first node of the last timed submission (earlier nodes: stale times) */
    VkFence fence;
    VkQueryPool qpool;
    int profile;
    uint64_t *timestamps;
    int have_timestamps;
    int barriers;
};

static inline ve_tid ve_root(const ve_graph *g, ve_tid t) {
    return g->t[t].alias_of == VE_NONE ? t : g->t[t].alias_of;
}
/* Byte offset of t's first element inside its memory block. */
static inline uint64_t ve_byte_offset(const ve_graph *g, ve_tid t) {
    return g->t[ve_root(g, t)].offset + (uint64_t)g->t[t].view_offset * 4;
}
static inline int ve_is_persistent(const ve_trec *r) {
    return r->kind != VE_ACTIVATION || r->keep;
}
int ve_tid_valid(const ve_graph *g, ve_tid t);

int ve_plan_memory(ve_graph *g);      /* planner.c */
int ve_record(ve_graph *g);           /* record.c */
void ve_record_destroy(ve_graph *g);  /* record.c */
void ve_memory_destroy(ve_graph *g);  /* planner.c */
void ve_staging_destroy(ve_graph *g); /* host_io.c */

#endif
