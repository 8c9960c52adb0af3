/* Graph construction: tensors, views, nodes. Memory, recording and autograd live elsewhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "status.h"

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return VE_OK;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, elem * (size_t)nc);
    if (!p) return ve_fail("out of host memory growing the graph");
    *arr = p;
    *cap = nc;
    return VE_OK;
}

ve_graph *ve_graph_create(ve_device *dev) {
    ve_graph *g = calloc(1, sizeof *g);
    if (!g) {
        ve_fail("out of host memory creating a graph");
        return NULL;
    }
    g->dev = dev;
    const ve_device_info *in = ve_device_get_info(dev);
    g->align = 64;
    if (in->min_storage_offset_align > g->align) g->align = in->min_storage_offset_align;
    if (in->min_texel_offset_align > g->align) g->align = in->min_texel_offset_align;
    g->step_values = g->flat_params = g->flat_grads = VE_NONE;
    return g;
}

void ve_graph_destroy(ve_graph *g) {
    if (!g) return;
    ve_record_destroy(g);
    ve_staging_destroy(g);
    ve_memory_destroy(g);
    free(g->t);
    free(g->nodes);
    free(g->tape);
    free(g);
}

ve_device *ve_graph_device(const ve_graph *g) {
    return g->dev;
}

int ve_tid_valid(const ve_graph *g, ve_tid t) {
    return t >= 0 && t < g->nt;
}

static ve_tid add_tensor(ve_graph *g, ve_kind kind, const char *name, int ndim,
                         const int64_t *shape_in) {
    /* Callers may pass another tensor's shape (a view, a gradient): copy it before the tensor
     * array can move. */
    int64_t shape[VE_MAX_DIMS] = {0};
    if (ndim >= 1 && ndim <= VE_MAX_DIMS) memcpy(shape, shape_in, sizeof *shape * (size_t)ndim);
    char name_copy[64];
    snprintf(name_copy, sizeof name_copy, "%s", name ? name : "t");
    name = name_copy;
    if (g->compiled) {
        ve_fail("tensor %s: the graph is already compiled", name ? name : "?");
        return VE_NONE;
    }
    if (ndim < 1 || ndim > VE_MAX_DIMS) {
        ve_fail("tensor %s: %d dimensions (1..%d supported)", name ? name : "?", ndim,
                VE_MAX_DIMS);
        return VE_NONE;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 40)) {
            ve_fail("tensor %s: dimension %d has size %lld", name ? name : "?", i,
                    (long long)shape[i]);
            return VE_NONE;
        }
        numel *= shape[i];
        if (numel > ((int64_t)1 << 40)) {
            ve_fail("tensor %s: too many elements", name ? name : "?");
            return VE_NONE;
        }
    }
    if (grow((void **)&g->t, &g->capt, g->nt + 1, sizeof *g->t) != VE_OK) return VE_NONE;
    ve_trec *r = &g->t[g->nt];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name ? name : "t");
    r->kind = kind;
    r->ndim = ndim;
    memcpy(r->shape, shape, sizeof *shape * (size_t)ndim);
    r->numel = numel;
    r->dtype = VE_F32;
    r->requires_grad = kind == VE_TRAINABLE;
    r->grad = r->grad_of = r->alias_of = VE_NONE;
    r->block = -1;
    r->first = r->last = -1;
    return g->nt++;
}

ve_kind ve_tensor_kind(const ve_graph *g, ve_tid t) {
    return g->t[t].kind;
}

ve_tid ve_tensor_find(const ve_graph *g, const char *name) {
    for (int i = 0; i < g->nt; i++)
        if (!strncmp(g->t[i].name, name, sizeof g->t[i].name - 1)) return i;
    return VE_NONE;
}

ve_tid ve_tensor(ve_graph *g, ve_kind kind, const char *name, int ndim, const int64_t *shape) {
    return add_tensor(g, kind, name, ndim, shape);
}

ve_tid ve_tensor_2d(ve_graph *g, ve_kind kind, const char *name, int64_t rows, int64_t cols) {
    int64_t s[2] = {rows, cols};
    return add_tensor(g, kind, name, 2, s);
}

ve_tid ve_view(ve_graph *g, ve_tid t, int64_t offset, int ndim, const int64_t *shape) {
    if (t == VE_NONE) return VE_NONE; /* an earlier op failed: keep its message */
    if (!ve_tid_valid(g, t)) {
        ve_fail("view: invalid tensor id %d", t);
        return VE_NONE;
    }
    ve_tid root = ve_root(g, t);
    int64_t start = g->t[t].view_offset + offset;
    char name[64];
    snprintf(name, sizeof name, "%.50s.view", g->t[root].name);
    ve_tid v = add_tensor(g, g->t[root].kind, name, ndim, shape);
    if (v == VE_NONE) return VE_NONE;
    ve_trec *r = &g->t[v];
    if (offset < 0 || start + r->numel > g->t[root].numel) {
        ve_fail("view of %s: elements %lld..%lld of %lld", g->t[root].name, (long long)start,
                (long long)(start + r->numel), (long long)g->t[root].numel);
        g->nt--;
        return VE_NONE;
    }
    if ((uint64_t)start * 4 % g->align != 0) {
        ve_fail("view of %s at element %lld: offsets must be multiples of %llu elements (the "
                "device's binding alignment)",
                g->t[root].name, (long long)start, (unsigned long long)(g->align / 4));
        g->nt--;
        return VE_NONE;
    }
    r->alias_of = root;
    r->view_offset = start;
    r->grad_of = g->t[root].grad_of;
    return v;
}

ve_tid ve_reshape(ve_graph *g, ve_tid t, int ndim, const int64_t *shape) {
    if (t == VE_NONE) return VE_NONE; /* an earlier op failed: keep its message */
    if (!ve_tid_valid(g, t)) {
        ve_fail("reshape: invalid tensor id %d", t);
        return VE_NONE;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim && i < VE_MAX_DIMS; i++) n *= shape[i];
    if (n != g->t[t].numel) {
        ve_fail("reshape of %s: %lld elements into a shape of %lld", g->t[t].name,
                (long long)g->t[t].numel, (long long)n);
        return VE_NONE;
    }
    return ve_view(g, t, 0, ndim, shape);
}

void ve_set_requires_grad(ve_graph *g, ve_tid t, int on) {
    if (ve_tid_valid(g, t)) g->t[ve_root(g, t)].requires_grad = on;
}

void ve_keep(ve_graph *g, ve_tid t) {
    if (ve_tid_valid(g, t)) g->t[ve_root(g, t)].keep = 1;
}

int ve_tensor_ndim(const ve_graph *g, ve_tid t) {
    return ve_tid_valid(g, t) ? g->t[t].ndim : 0;
}

int64_t ve_tensor_dim(const ve_graph *g, ve_tid t, int axis) {
    if (!ve_tid_valid(g, t)) return 0;
    const ve_trec *r = &g->t[t];
    if (axis < 0) axis += r->ndim;
    return axis >= 0 && axis < r->ndim ? r->shape[axis] : 0;
}

int64_t ve_tensor_numel(const ve_graph *g, ve_tid t) {
    return ve_tid_valid(g, t) ? g->t[t].numel : 0;
}

const char *ve_tensor_name(const ve_graph *g, ve_tid t) {
    return ve_tid_valid(g, t) ? g->t[t].name : "(invalid tensor)";
}

int ve_requires_grad(const ve_graph *g, ve_tid t) {
    return ve_tid_valid(g, t) && g->t[ve_root(g, t)].requires_grad;
}

void ve_tensor_rows_cols(const ve_graph *g, ve_tid t, int64_t *rows, int64_t *cols) {
    const ve_trec *r = &g->t[t];
    *cols = r->shape[r->ndim - 1];
    *rows = r->numel / *cols;
}

void ve_groups_1d(const ve_graph *g, uint64_t n, uint32_t groups[3]) {
    uint64_t maxx = ve_device_get_info(g->dev)->max_workgroup_count[0];
    if (maxx > 65535) maxx = 65535; /* keep y small and the split predictable */
    if (n == 0) n = 1;
    groups[0] = (uint32_t)(n < maxx ? n : maxx);
    groups[1] = (uint32_t)((n + groups[0] - 1) / groups[0]);
    groups[2] = 1;
}

int ve_node_add(ve_graph *g, const ve_node_desc *d) {
    if (g->compiled) return ve_fail("node %s: the graph is already compiled", d->kernel);
    if (d->n_bind < 0 || d->n_bind > VE_MAX_BINDINGS)
        return ve_fail("node %s: %d bindings", d->kernel, d->n_bind);
    if (d->push_bytes > VE_PUSH_WORDS * 4)
        return ve_fail("node %s: %u push-constant bytes (max %d)", d->kernel, d->push_bytes,
                       VE_PUSH_WORDS * 4);
    if (d->n_spec < 0 || d->n_spec > VE_MAX_SPEC)
        return ve_fail("node %s: %d specialisation constants", d->kernel, d->n_spec);
    const ve_device_info *in = ve_device_get_info(g->dev);
    for (int i = 0; i < 3; i++)
        if (d->groups[i] == 0 || d->groups[i] > in->max_workgroup_count[i])
            return ve_fail("node %s: %u workgroups along axis %d (device max %u)", d->kernel,
                           d->groups[i], i, in->max_workgroup_count[i]);
    for (int i = 0; i < d->n_bind; i++) {
        ve_tid t = d->bind[i].tensor;
        if (t == VE_NONE) return VE_FAIL; /* an earlier op failed: keep its message */
        if (!ve_tid_valid(g, t)) return ve_fail("node %s: binding %d: invalid tensor", d->kernel, i);
        uint64_t bytes = ((uint64_t)g->t[t].numel * 4 + 15) & ~(uint64_t)15;
        if (d->bind[i].type == VE_BIND_STORAGE && bytes > in->max_storage_buffer_range)
            return ve_fail("node %s: tensor %s is %llu bytes, over this device's "
                           "maxStorageBufferRange (%llu): split it",
                           d->kernel, g->t[t].name, (unsigned long long)bytes,
                           (unsigned long long)in->max_storage_buffer_range);
        if (d->bind[i].type == VE_BIND_TEXEL && bytes / 16 > in->max_texel_buffer_elements)
            return ve_fail("node %s: tensor %s has %llu texels, over this device's "
                           "maxTexelBufferElements (%llu): split it",
                           d->kernel, g->t[t].name, (unsigned long long)(bytes / 16),
                           (unsigned long long)in->max_texel_buffer_elements);
    }
    if (grow((void **)&g->nodes, &g->capn, g->nn + 1, sizeof *g->nodes) != VE_OK) return VE_FAIL;
    g->nodes[g->nn++] = *d;
    return VE_OK;
}

ve_tid ve_graph_step_values(ve_graph *g) {
    if (g->step_values == VE_NONE) {
        int64_t n = 16;
        g->step_values = ve_tensor(g, VE_INPUT, "step_values", 1, &n);
    }
    return g->step_values;
}

void ve_graph_get_stats(const ve_graph *g, ve_graph_stats *s) {
    memset(s, 0, sizeof *s);
    for (int b = 0; b < g->nblocks; b++) {
        if (g->blocks[b].transient)
            s->transient_bytes += g->blocks[b].size;
        else
            s->persistent_bytes += g->blocks[b].size;
    }
    s->transient_naive_bytes = g->transient_naive;
    s->trainable_elements = g->trainable_elements;
    s->nodes = g->nn;
    s->barriers = g->barriers;
}
