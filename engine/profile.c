/* The per-op-kind timestamp profile of the last run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

typedef struct {
    const char *op;
    int calls;
    double ms, flops, bytes;
} bucket;

static double node_ms(const ve_graph *g, int n) {
    if (n < g->prof_from) return 0.0; /* in a segment the last timed run did not include */
    uint64_t a = g->timestamps[n], b = g->timestamps[n + 1];
    return b > a ? (double)(b - a) * g->dev->info.timestamp_period * 1e-6 : 0.0;
}

double ve_graph_profile_total_ms(const ve_graph *g) {
    if (!g->have_timestamps || g->nn == 0) return 0.0;
    uint64_t a = g->timestamps[g->prof_from], b = g->timestamps[g->nn];
    return b > a ? (double)(b - a) * g->dev->info.timestamp_period * 1e-6 : 0.0;
}

void ve_graph_profile_print(const ve_graph *g, FILE *out) {
    if (!g->have_timestamps) {
        fprintf(out, "profile: not available (compile with profile on a device with "
                     "timestamps)\n");
        return;
    }
    bucket b[128];
    int nb = 0;
    for (int n = 0; n < g->nn; n++) {
        const char *op = g->nodes[n].op ? g->nodes[n].op : g->nodes[n].kernel;
        int k = 0;
        while (k < nb && strcmp(b[k].op, op) != 0)
            k++;
        if (k == nb) {
            if (nb == 128)
                k = 127; /* lump the rest together rather than overflow */
            else
                b[nb++] = (bucket){op, 0, 0, 0, 0};
        }
        b[k].calls++;
        b[k].ms += node_ms(g, n);
        b[k].flops += g->nodes[n].flops;
        b[k].bytes += g->nodes[n].bytes;
    }
    double total = ve_graph_profile_total_ms(g);
    fprintf(out, "%-24s %7s %10s %6s %10s %10s\n", "op", "calls", "ms", "%", "GFLOP/s", "GB/s");
    for (int k = 0; k < nb; k++) {
        double s = b[k].ms * 1e-3;
        fprintf(out, "%-24s %7d %10.3f %6.1f %10.2f %10.2f\n", b[k].op, b[k].calls, b[k].ms,
                total > 0 ? 100.0 * b[k].ms / total : 0.0, s > 0 ? b[k].flops / s * 1e-9 : 0.0,
                s > 0 ? b[k].bytes / s * 1e-9 : 0.0);
    }
    fprintf(out, "%-24s %7d %10.3f\n", "total", g->nn, total);
    /* VKSAMED_PROFILE_TOP=N: the N slowest nodes, with the tensors they bind (where to look). */
    const char *top = getenv("VKSAMED_PROFILE_TOP");
    int ntop = top ? atoi(top) : 0;
    if (ntop <= 0) return;
    int order[64];
    if (ntop > 64) ntop = 64;
    int have = 0;
    for (int n = 0; n < g->nn; n++) {
        int k;
        if (have < ntop) {
            k = have++;
        } else { /* full: replace the slowest kept only by a slower node */
            k = ntop - 1;
            if (node_ms(g, order[k]) >= node_ms(g, n)) continue;
        }
        order[k] = n;
        for (; k > 0 && node_ms(g, order[k - 1]) < node_ms(g, order[k]); k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    }
    fprintf(out, "slowest nodes:\n");
    for (int i = 0; i < have; i++) {
        const ve_node_desc *d = &g->nodes[order[i]];
        fprintf(out, "  #%-5d %-18s %8.3f ms %8.2f GFLOP/s ", order[i], d->kernel,
                node_ms(g, order[i]),
                node_ms(g, order[i]) > 0 ? d->flops / node_ms(g, order[i]) * 1e-6 : 0.0);
        for (int b = 0; b < d->n_bind; b++) {
            const ve_trec *r = &g->t[d->bind[b].tensor];
            fprintf(out, " %s[%lld", r->name, (long long)r->shape[0]);
            for (int j = 1; j < r->ndim; j++)
                fprintf(out, "x%lld", (long long)r->shape[j]);
            fprintf(out, "]");
        }
        fprintf(out, "\n");
    }
}
