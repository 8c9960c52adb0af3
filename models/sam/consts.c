#include "sam/consts.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

ve_tid sam_const_new(ve_graph *g, sam_consts *cs, const char *name, int ndim, const int64_t *shape,
                     const float *data) {
    if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 16;
        sam_const *c = realloc(cs->c, sizeof *c * (size_t)cap);
        if (!c) {
            ve_fail("out of host memory for constant %s", name);
            return VE_NONE;
        }
        cs->c = c;
        cs->cap = cap;
    }
    ve_tid t = ve_tensor(g, VE_INPUT, name, ndim, shape);
    if (t == VE_NONE) return VE_NONE;
    size_t n = (size_t)ve_tensor_numel(g, t);
    float *copy = malloc(sizeof(float) * n);
    if (!copy) {
        ve_fail("out of host memory for constant %s", name);
        return VE_NONE;
    }
    memcpy(copy, data, sizeof(float) * n);
    cs->c[cs->n++] = (sam_const){t, copy};
    return t;
}

int sam_consts_write(ve_graph *g, const sam_consts *cs) {
    for (int i = 0; i < cs->n; i++)
        if (ve_tensor_write(g, cs->c[i].t, cs->c[i].data, (size_t)ve_tensor_numel(g, cs->c[i].t)))
            return ve_fail_context("writing constant %s: ", ve_tensor_name(g, cs->c[i].t));
    return VE_OK;
}

void sam_consts_free(sam_consts *cs) {
    for (int i = 0; i < cs->n; i++)
        free(cs->c[i].data);
    free(cs->c);
    memset(cs, 0, sizeof *cs);
}
