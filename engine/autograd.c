/* Reverse-mode autograd over the op tape: backward nodes only where a gradient is needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "ops.h"
#include "status.h"

int ve_tape_record(ve_graph *g, ve_backward_fn fn, int n_in, const ve_tid *in, int n_out,
                   const ve_tid *out, const void *ctx, size_t ctx_bytes) {
    if (n_in > VE_TAPE_MAX_IO || n_out > VE_TAPE_MAX_IO || ctx_bytes > VE_TAPE_CTX_BYTES)
        return ve_fail("tape: too many inputs/outputs or context bytes");
    if (g->backward_done) return ve_fail("tape: ops added after backward are not differentiated");
    int needs = 0;
    for (int i = 0; i < n_in; i++) needs |= in[i] != VE_NONE && ve_requires_grad(g, in[i]);
    if (!needs) return VE_OK; /* nothing upstream wants a gradient: no backward at all */
    if (g->ntape == g->captape) {
        int cap = g->captape ? 2 * g->captape : 64;
        ve_tape_entry *p = realloc(g->tape, sizeof *p * (size_t)cap);
        if (!p) return ve_fail("out of host memory growing the tape");
        g->tape = p;
        g->captape = cap;
    }
    ve_tape_entry *e = &g->tape[g->ntape++];
    memset(e, 0, sizeof *e);
    e->backward = fn;
    e->n_in = n_in;
    e->n_out = n_out;
    memcpy(e->in, in, sizeof *in * (size_t)n_in);
    memcpy(e->out, out, sizeof *out * (size_t)n_out);
    if (ctx_bytes) memcpy(e->ctx, ctx, ctx_bytes);
    for (int i = 0; i < n_out; i++) g->t[ve_root(g, out[i])].requires_grad = 1;
    return VE_OK;
}

/* A view of the root's gradient with t's shape (t itself may be a view). */
static ve_tid grad_view(ve_graph *g, ve_tid t, ve_tid root_grad) {
    if (ve_root(g, t) == t) return root_grad;
    return ve_view(g, root_grad, g->t[t].view_offset, g->t[t].ndim, g->t[t].shape);
}

ve_tid ve_grad_of(const ve_graph *g, ve_tid t) {
    if (!ve_tid_valid(g, t)) return VE_NONE;
    const ve_trec *r = &g->t[ve_root(g, t)];
    if (r->grad == VE_NONE || !r->grad_written) return VE_NONE;
    return grad_view((ve_graph *)g, t, r->grad);
}

ve_tid ve_grad(const ve_graph *g, ve_tid t) {
    return ve_grad_of(g, t);
}

ve_tid ve_grad_dest(ve_graph *g, ve_tid t, int *accumulate) {
    *accumulate = 0;
    if (!ve_tid_valid(g, t)) return VE_NONE;
    ve_tid root = ve_root(g, t);
    ve_trec *r = &g->t[root];
    if (!r->requires_grad) return VE_NONE;
    if (r->grad == VE_NONE) {
        char name[64];
        snprintf(name, sizeof name, "grad(%.56s)", r->name);
        /* Gradients of persistent tensors are persistent so the host can read them. */
        ve_kind kind = r->kind == VE_ACTIVATION ? VE_ACTIVATION : VE_STATE;
        ve_tid gt = ve_tensor(g, kind, name, r->ndim, r->shape);
        if (gt == VE_NONE) return VE_NONE;
        r = &g->t[root]; /* the tensor array may have moved */
        r->grad = gt;
        g->t[gt].grad_of = root;
    }
    if (!r->grad_written && g->t[t].numel < r->numel) {
        /* The first write covers only part of the gradient (a view): zero the whole gradient
         * and accumulate into it, so the parts no view writes are 0, not last step's values. */
        if (ve_fill_node(g, r->grad, 0.0f) != VE_OK) return VE_NONE;
        r = &g->t[root];
        r->grad_written = 1;
    }
    *accumulate = r->grad_written;
    r->grad_written = 1;
    return grad_view(g, t, r->grad);
}

static int run_tape(ve_graph *g) {
    for (int i = g->ntape - 1; i >= 0; i--) {
        const ve_tape_entry e = g->tape[i]; /* copy: backward may grow the tape array */
        int any = 0;
        for (int o = 0; o < e.n_out; o++) any |= ve_grad_of(g, e.out[o]) != VE_NONE;
        if (!any) continue;
        if (e.backward(g, &e) != VE_OK) return ve_fail_context("backward of op %d: ", i);
    }
    g->backward_done = 1;
    return VE_OK;
}

int ve_graph_backward(ve_graph *g, ve_tid loss) {
    if (!ve_tid_valid(g, loss)) return ve_fail("backward: invalid loss tensor");
    if (g->t[loss].numel != 1)
        return ve_fail("backward: the loss %s has %lld elements; it must be a scalar (or use "
                       "ve_graph_backward_seed)",
                       g->t[loss].name, (long long)g->t[loss].numel);
    int acc;
    ve_tid d = ve_grad_dest(g, loss, &acc);
    if (d == VE_NONE)
        return ve_fail("backward: %s depends on nothing that needs a gradient", g->t[loss].name);
    if (ve_fill_node(g, d, 1.0f) != VE_OK) return VE_FAIL;
    return run_tape(g);
}

int ve_graph_backward_seed(ve_graph *g, ve_tid y, ve_tid dy) {
    if (!ve_tid_valid(g, y) || !ve_tid_valid(g, dy)) return ve_fail("backward: invalid tensor");
    if (g->t[y].numel != g->t[dy].numel)
        return ve_fail("backward: seed %s has %lld elements, %s has %lld", g->t[dy].name,
                       (long long)g->t[dy].numel, g->t[y].name, (long long)g->t[y].numel);
    int acc;
    ve_tid d = ve_grad_dest(g, y, &acc);
    if (d == VE_NONE)
        return ve_fail("backward: %s depends on nothing that needs a gradient", g->t[y].name);
    if (ve_copy_node(g, dy, d, 0) != VE_OK) return VE_FAIL;
    return run_tape(g);
}

int ve_trainable_flat(ve_graph *g, ve_tid *params, ve_tid *grads, int64_t *n) {
    if (g->flat_params == VE_NONE) {
        int64_t total = 0;
        for (int i = 0; i < g->nt; i++) {
            const ve_trec *r = &g->t[i];
            if (r->kind == VE_TRAINABLE && r->alias_of == VE_NONE && r->grad != VE_NONE &&
                r->grad_written)
                total += (int64_t)(((uint64_t)r->numel * 4 + g->align - 1) / g->align * g->align / 4);
        }
        if (total == 0) return ve_fail("optimiser: no trainable tensor received a gradient");
        g->flat_params = ve_tensor(g, VE_STATE, "trainables(flat)", 1, &total);
        g->flat_grads = ve_tensor(g, VE_STATE, "gradients(flat)", 1, &total);
        if (g->flat_params == VE_NONE || g->flat_grads == VE_NONE) return VE_FAIL;
        g->t[g->flat_params].flat = VE_FLAT_PARAMS;
        g->t[g->flat_grads].flat = VE_FLAT_GRADS;
        g->flat_numel = total;
    }
    *params = g->flat_params;
    *grads = g->flat_grads;
    *n = g->flat_numel;
    return VE_OK;
}
