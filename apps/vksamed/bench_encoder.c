/* vksamed bench encoder: SAM's image encoder forward (random frozen weights) beside PyTorch CPU
 * on the same preset, input size, batch and thread count, measured in the same run.
 *
 * The competitor is tests/reference/bench_encoder_torch.py, run with Debian's python3 (or
 * $VKSAMED_PYTHON) through popen after our timings, so the two never share the CPUs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "commands.h"
#include "graph.h"
#include "sam/image_encoder.h"
#include "sam/params.h"
#include "sam/preset.h"
#include "status.h"

/* Uniform in [-1, 1): weights need no distribution, only no zeros (that could take fast paths)
 * and no huge values (that could overflow to inf and slow nothing but hide errors). */
static void fill(float *p, size_t n, float center, float scale, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = center + scale * (float)((double)(*s >> 40) / 8388608.0 - 1.0);
    }
}

static int is_norm_weight(const char *key) {
    size_t n = strlen(key);
    return (strstr(key, "norm") || strstr(key, "neck.1.") || strstr(key, "neck.3.")) && n > 7 &&
           !strcmp(key + n - 7, ".weight");
}

static int write_random_params(ve_graph *g, const sam_params *ps, uint64_t *seed) {
    for (int i = 0; i < ps->n; i++) {
        size_t n = (size_t)ve_tensor_numel(g, ps->p[i].t);
        float *buf = malloc(sizeof(float) * n);
        if (!buf) return ve_fail("bench encoder: out of host memory for %s", ps->p[i].key);
        if (is_norm_weight(ps->p[i].key))
            fill(buf, n, 1.0f, 0.1f, seed);
        else
            fill(buf, n, 0.0f, 0.05f, seed);
        int rc = ve_tensor_write(g, ps->p[i].t, buf, n);
        free(buf);
        if (rc != VE_OK) return rc;
    }
    return VE_OK;
}

static double mib(uint64_t b) {
    return (double)b / (1024.0 * 1024.0);
}

static int usage(void) {
    fprintf(stderr, "usage: vksamed bench encoder [--preset vit_b|vit_l|vit_h|tiny] [--size S] "
                    "[--iters N] [--batch B] [--device SEL] [--profile] [--no-torch]\n");
    return 2;
}

int bench_encoder(int argc, char **argv) {
    bench_common b = {"vit_b", 512, 5, 1, 0, 1};
    for (int i = 1; i < argc; i++) {
        const int k = bench_common_arg(&b, argc, argv, i);
        if (!k) return usage();
        i += k - 1;
    }
    const char *preset_name = b.preset;
    const int size = b.size, iters = b.iters, batch = b.batch, profile = b.profile, torch = b.torch;
    if (size < 16 || iters < 1 || batch < 1) return usage();
    sam_preset p;
    if (sam_preset_builtin(preset_name, &p) != VE_OK) {
        fprintf(stderr, "bench encoder: %s\n", ve_error());
        return 2;
    }
    ve_device *dev = ve_device_open(cli_device_option(argc, argv));
    if (!dev) {
        fprintf(stderr, "bench encoder: %s\n", ve_error());
        return 1;
    }
    const ve_device_info *info = ve_device_get_info(dev);
    int threads = bench_thread_count();
    printf("device: %s (%s, %s kernels)\n", info->name, info->driver_info,
           info->device_class == VE_CLASS_CPU ? "CPU-class" : "GPU-class");
    printf("encoder: %s, input %d x 3 x %d x %d, random frozen weights, threads %d%s\n", p.name,
           batch, size, size, threads, profile ? ", profiled" : "");
    fflush(stdout);

    int rc = 1;
    double *t = malloc(sizeof(double) * (size_t)iters);
    float *img = NULL, *out = NULL;
    sam_params ps = {0};
    sam_image_encoder enc;
    ve_graph *g = ve_graph_create(dev);
    ve_tid image = VE_NONE, y = VE_NONE;
    size_t n_img = (size_t)batch * 3 * (size_t)size * (size_t)size, n_out = 0;
    double t0 = bench_now_s(), t_build = 0, t_compile = 0, t_first = 0;
    if (!t || !g) {
        fprintf(stderr, "bench encoder: out of memory\n");
        goto done;
    }
    int64_t ishape[4] = {batch, 3, size, size};
    if (sam_image_encoder_declare(g, &p, size, &ps, &enc) != VE_OK ||
        (image = ve_tensor(g, VE_INPUT, "image", 4, ishape)) == VE_NONE ||
        (y = sam_image_encoder_build(g, &enc, image)) == VE_NONE) {
        fprintf(stderr, "bench encoder: build: %s\n", ve_error());
        goto done;
    }
    ve_keep(g, y);
    t_build = bench_now_s() - t0;
    ve_compile_opts opts = {.profile = profile};
    t0 = bench_now_s();
    if (ve_graph_compile(g, &opts) != VE_OK) {
        fprintf(stderr, "bench encoder: compile: %s\n", ve_error());
        goto done;
    }
    t_compile = bench_now_s() - t0;
    ve_graph_stats st;
    ve_graph_get_stats(g, &st);
    printf("graph: %d nodes, %d barriers; build %.2f s, compile %.2f s\n", st.nodes, st.barriers,
           t_build, t_compile);
    printf("device memory: persistent %.1f MiB + transient %.1f MiB = %.1f MiB "
           "(naive transient %.1f MiB: planner saves %.1f MiB, %.0f%%)\n",
           mib(st.persistent_bytes), mib(st.transient_bytes),
           mib(st.persistent_bytes + st.transient_bytes), mib(st.transient_naive_bytes),
           mib(st.transient_naive_bytes - st.transient_bytes),
           st.transient_naive_bytes
               ? 100.0 * (double)(st.transient_naive_bytes - st.transient_bytes) /
                     (double)st.transient_naive_bytes
               : 0.0);
    fflush(stdout);

    uint64_t seed = 7;
    n_out = (size_t)ve_tensor_numel(g, y);
    img = malloc(sizeof(float) * n_img);
    out = malloc(sizeof(float) * n_out);
    if (!img || !out) {
        fprintf(stderr, "bench encoder: out of host memory\n");
        goto done;
    }
    fill(img, n_img, 0.0f, 1.0f, &seed);
    if (write_random_params(g, &ps, &seed) != VE_OK ||
        ve_tensor_write(g, image, img, n_img) != VE_OK) {
        fprintf(stderr, "bench encoder: %s\n", ve_error());
        goto done;
    }
    /* First run: lavapipe compiles each pipeline at its first dispatch (Mesa's shader cache can
     * make this fast on a second process), so it is reported on its own. */
    t0 = bench_now_s();
    if (ve_graph_run(g) != VE_OK) {
        fprintf(stderr, "bench encoder: run: %s\n", ve_error());
        goto done;
    }
    t_first = bench_now_s() - t0;
    if (ve_tensor_read(g, y, out, n_out) != VE_OK) {
        fprintf(stderr, "bench encoder: %s\n", ve_error());
        goto done;
    }
    for (size_t i = 0; i < n_out; i++) {
        if (!isfinite(out[i])) {
            fprintf(stderr, "bench encoder: output element %zu is not finite (%g)\n", i, out[i]);
            goto done;
        }
    }
    for (int i = 0; i < iters; i++) {
        t0 = bench_now_s();
        if (ve_graph_run(g) != VE_OK) {
            fprintf(stderr, "bench encoder: run: %s\n", ve_error());
            goto done;
        }
        t[i] = bench_now_s() - t0;
    }
    double lo = t[0], hi = t[0];
    for (int i = 1; i < iters; i++)
        lo = t[i] < lo ? t[i] : lo, hi = t[i] > hi ? t[i] : hi;
    double ours = bench_median(t, iters) * 1e3;
    printf("ours: first run %.1f ms (pipeline compiles), median %.1f ms of %d (min %.1f, max "
           "%.1f)\n",
           t_first * 1e3, ours, iters, lo * 1e3, hi * 1e3);
    if (profile) {
        printf("\nprofile of the last run (GPU timestamps):\n");
        ve_graph_profile_print(g, stdout);
        printf("\n");
    }
    fflush(stdout);
    /* Free the device memory before PyTorch allocates its own (vit_h at 1024 is big). */
    ve_graph_destroy(g);
    g = NULL;

    if (!torch) {
        printf("pytorch: skipped (--no-torch)\n");
    } else {
        char args[256];
        snprintf(args, sizeof args, "'%s' %d %d %d %d", preset_name, size, batch, iters, threads);
        bench_torch_result tr = bench_run_torch("bench_encoder_torch.py", args);
        if (!tr.ok) {
            printf("pytorch: unavailable (%s): ours only\n", tr.why);
        } else {
            printf("pytorch CPU (%d threads): first run %.1f ms, median %.1f ms of %d\n", threads,
                   tr.first_ms, tr.median_ms, iters);
            printf("ratio ours / pytorch: %.2f (target <= 1.3 at vit_b 512)\n",
                   ours / tr.median_ms);
        }
    }
    rc = 0;
done:
    if (g) ve_graph_destroy(g);
    sam_params_free(&ps);
    free(t), free(img), free(out);
    int vm = ve_device_close(dev);
    return rc == 0 && vm == 0 ? 0 : 1;
}
