/* The per-op-kind timestamp profile of the last run. */
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"

typedef struct {
    const char *op;
    int calls;
    double ms, flops, bytes;
} bucket;

static double node_ms(const ve_graph *g, int n) {
    uint64_t a = g->timestamps[n], b = g->timestamps[n + 1];
    return b > a ? (double)(b - a) * g->dev->info.timestamp_period * 1e-6 : 0.0;
}

double ve_graph_profile_total_ms(const ve_graph *g) {
    if (!g->have_timestamps || g->nn == 0) return 0.0;
    uint64_t a = g->timestamps[0], b = g->timestamps[g->nn];
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
        while (k < nb && strcmp(b[k].op, op) != 0) k++;
        if (k == nb) {
            if (nb == 128) k = 127; /* lump the rest together rather than overflow */
            else b[nb++] = (bucket){op, 0, 0, 0, 0};
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
}
