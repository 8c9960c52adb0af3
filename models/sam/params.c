#include "sam/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "status.h"

ve_tid sam_param_new(ve_graph *g, sam_params *ps, const char *key, int ndim, const int64_t *shape,
                     sam_load_kind kind, int trainable) {
    if (ps->n == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        sam_param *p = realloc(ps->p, sizeof *p * (size_t)cap);
        if (!p) {
            ve_fail("out of host memory for parameters");
            return VE_NONE;
        }
        ps->p = p;
        ps->cap = cap;
    }
    ve_tid t = ve_tensor(g, trainable ? VE_TRAINABLE : VE_PARAM, key, ndim, shape);
    if (t == VE_NONE) return VE_NONE;
    sam_param *e = &ps->p[ps->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->t = t;
    e->kind = kind;
    return t;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* pos_embed [1, g0, g0, D] -> [1, g, g, D]: 2-D bilinear (align_corners false) as two 1-D passes
 * (rows of g0 x (g0 D), then each row's g0 x D). */
static int resize_pos_embed(const float *src, int64_t g0, int64_t d, float *dst, int64_t gh,
                            int64_t gw) {
    float *tmp = malloc(sizeof(float) * (size_t)(gh * g0 * d));
    if (!tmp) return ve_fail("out of host memory resizing pos_embed");
    int rc = ve_resize_rows_linear_host(src, g0, g0 * d, tmp, gh);
    for (int64_t y = 0; y < gh && rc == VE_OK; y++)
        rc = ve_resize_rows_linear_host(tmp + y * g0 * d, g0, d, dst + y * gw * d, gw);
    free(tmp);
    return rc;
}

/* 1: same shape, 2: adaptable by p's kind, 0: neither. */
static int fit(const ve_graph *g, const sam_param *p, const ve_ckpt_tensor *ct, int64_t *want) {
    int nd = ve_tensor_ndim(g, p->t);
    for (int i = 0; i < nd; i++)
        want[i] = ve_tensor_dim(g, p->t, i);
    int same = ct->ndim == nd;
    for (int i = 0; same && i < nd; i++)
        same = ct->shape[i] == want[i];
    if (same) return 1;
    if (p->kind == SAM_LOAD_POS_EMBED && ct->ndim == 4 && ct->shape[0] == 1 &&
        ct->shape[1] == ct->shape[2] && ct->shape[3] == want[3])
        return 2;
    if (p->kind == SAM_LOAD_REL_POS && ct->ndim == 2 && ct->shape[1] == want[1]) return 2;
    return 0;
}

int sam_param_fits(const ve_graph *g, const sam_param *p, const ve_checkpoint *ck) {
    const ve_ckpt_tensor *ct = ve_checkpoint_find(ck, p->key);
    int64_t want[VE_MAX_DIMS];
    return ct && fit(g, p, ct, want) != 0;
}

const sam_param *sam_params_find(const sam_params *ps, const char *key) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].key, key)) return &ps->p[i];
    return NULL;
}

int sam_param_load(ve_graph *g, const sam_param *p, ve_checkpoint *ck) {
    const ve_ckpt_tensor *ct = ve_checkpoint_find(ck, p->key);
    if (!ct) return ve_fail("%s: missing key %s", ve_checkpoint_path(ck), p->key);
    int64_t want[VE_MAX_DIMS];
    const int nd = ve_tensor_ndim(g, p->t), how = fit(g, p, ct, want), same = how == 1;
    if (!how) {
        char a[96], b[96];
        shape_str(a, sizeof a, ct->ndim, ct->shape);
        shape_str(b, sizeof b, nd, want);
        return ve_fail("%s: key %s has shape %s, the model expects %s", ve_checkpoint_path(ck),
                       p->key, a, b);
    }
    size_t n = 1;
    for (int i = 0; i < ct->ndim; i++)
        n *= (size_t)ct->shape[i];
    float *src = malloc(sizeof(float) * n);
    float *dst = same ? src : malloc(sizeof(float) * (size_t)ve_tensor_numel(g, p->t));
    int rc = src && dst ? VE_OK : ve_fail("out of host memory loading %s", p->key);
    if (rc == VE_OK) rc = ve_checkpoint_read_f32(ck, ct, src, n);
    if (rc == VE_OK && !same && p->kind == SAM_LOAD_POS_EMBED)
        rc = resize_pos_embed(src, ct->shape[1], ct->shape[3], dst, want[1], want[2]);
    if (rc == VE_OK && !same && p->kind == SAM_LOAD_REL_POS)
        rc = ve_resize_rows_linear_host(src, ct->shape[0], ct->shape[1], dst, want[0]);
    if (rc == VE_OK) rc = ve_tensor_write(g, p->t, dst, (size_t)ve_tensor_numel(g, p->t));
    if (dst != src) free(dst);
    free(src);
    return rc;
}

int sam_params_load(ve_graph *g, const sam_params *ps, ve_checkpoint *ck) {
    for (int i = 0; i < ps->n; i++)
        if (sam_param_load(g, &ps->p[i], ck) != VE_OK) return VE_FAIL;
    return VE_OK;
}

void sam_params_free(sam_params *ps) {
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}
