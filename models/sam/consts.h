/* Constant tensors a model part builds from its structure (index tables for the gathers that
 * assemble and split the mask decoder's token set): declared with their values at build time,
 * written into the graph once after it is compiled. They are VE_INPUT tensors no run changes. */
#ifndef SAM_CONSTS_H
#define SAM_CONSTS_H

#include <stddef.h>

#include "graph.h"

typedef struct {
    ve_tid t;
    float *data; /* numel floats, owned */
} sam_const;

typedef struct {
    sam_const *c;
    int n, cap;
} sam_consts;

/* Creates an input tensor of the given shape and records a copy of its values. VE_NONE on
 * failure. */
ve_tid sam_const_new(ve_graph *g, sam_consts *cs, const char *name, int ndim, const int64_t *shape,
                     const float *data);
/* Writes every recorded constant into the compiled graph. */
int sam_consts_write(ve_graph *g, const sam_consts *cs);
void sam_consts_free(sam_consts *cs);

#endif
