/* vksamed bench matmul: GFLOP/s of ve_matmul_node on SAM's linear-layer shapes beside OpenBLAS
 * sgemm, measured in the same run with the same thread count.
 *
 * For a Linear layer Y[M,N] = X[M,K] W^T (W [N,K]) each shape runs the three products in the
 * layouts the engine uses on the CPU:
 *   fwd  Y  = X  @ Wt     M x N x K  (Wt [K,N]: a transposed copy of the frozen weight, NN)
 *   dX   dX = dY @ W      M x K x N  (the original W [N,K], NN)
 *   dW   dW = dY^T @ X    N x K x M  (TN)
 * The same products, same layouts, go to cblas_sgemm. */
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
#include "ops.h"
#include "status.h"

#ifdef VKSAMED_HAVE_OPENBLAS
#include <cblas.h>
#endif

typedef struct {
    const char *name;
    int64_t m, n, k;
    int ta;           /* A stored [K][M] */
    int64_t lda, ldb; /* row strides of A and B as stored; C is [M][N] */
} product;

static void fill(float *p, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(*s >> 40) / 16777216.0 * 2.0 - 1.0);
    }
}

static float elem_a(const product *p, const float *a, int64_t m, int64_t k) {
    return p->ta ? a[k * p->lda + m] : a[m * p->lda + k];
}

/* Compares sampled outputs with double-precision dot products. Returns 1 when all agree. */
static int check_sampled(const product *p, const float *a, const float *b, const float *c,
                         const char *who) {
    uint64_t s = 12345;
    for (int i = 0; i < 64; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t m = (int64_t)((s >> 33) % (uint64_t)p->m);
        int64_t n = (int64_t)((s >> 13) % (uint64_t)p->n);
        if (i == 0) m = 0, n = 0;
        if (i == 1) m = p->m - 1, n = p->n - 1; /* both tails */
        double want = 0, mag = 0;
        for (int64_t k = 0; k < p->k; k++) {
            double t = (double)elem_a(p, a, m, k) * (double)b[k * p->ldb + n];
            want += t;
            mag += fabs(t);
        }
        double got = c[m * p->n + n];
        /* fp32 accumulation over K terms: far below 1e-4 of the sum of magnitudes. */
        if (!(fabs(got - want) <= 1e-4 * mag + 1e-6)) {
            fprintf(stderr,
                    "bench matmul: %s %s %lldx%lldx%lld wrong at [%lld][%lld]: %.7g, "
                    "want %.7g\n",
                    who, p->name, (long long)p->m, (long long)p->n, (long long)p->k, (long long)m,
                    (long long)n, got, want);
            return 0;
        }
    }
    return 1;
}

typedef struct {
    double ours, blas; /* GFLOP/s, blas < 0 when unavailable */
    const char *variant;
    /* NULL when the product ran and both results agree with the reference; otherwise what went
     * wrong ("WRONG": ours differs, "BLAS WRONG", "FAILED": an engine error). */
    const char *error;
} result;

static result run_product(ve_device *dev, const product *p, int iters, uint64_t *seed) {
    result r = {0, -1, "?", "FAILED"};
    int64_t na = p->m * p->k, nb = p->k * p->n, nc = p->m * p->n;
    float *a = malloc(sizeof(float) * (size_t)na), *b = malloc(sizeof(float) * (size_t)nb);
    float *c = malloc(sizeof(float) * (size_t)nc), *cb = malloc(sizeof(float) * (size_t)nc);
    double *t_ours = malloc(sizeof(double) * (size_t)iters);
    double *t_blas = malloc(sizeof(double) * (size_t)iters);
    ve_graph *g = ve_graph_create(dev);
    if (!a || !b || !c || !cb || !t_ours || !t_blas || !g) {
        fprintf(stderr, "bench matmul: out of memory\n");
        goto done;
    }
    fill(a, (size_t)na, seed);
    fill(b, (size_t)nb, seed);
    ve_tid ta = ve_tensor(g, VE_INPUT, "a", 1, &na);
    ve_tid tb = ve_tensor(g, VE_INPUT, "b", 1, &nb);
    ve_tid tc = ve_tensor(g, VE_INPUT, "c", 1, &nc);
    ve_matmul_desc d = {
        .batch = 1,
        .m = p->m,
        .n = p->n,
        .k = p->k,
        .a_sm = p->ta ? 1 : p->lda,
        .a_sk = p->ta ? p->lda : 1,
        .b_sk = p->ldb,
        .b_sn = 1,
        .c_sm = p->n,
        .c_sn = 1,
        .bias = VE_NONE,
    };
    r.variant = ve_matmul_node_kernel(g, ta, tb, &d);
    if (ve_matmul_node(g, ta, tb, tc, &d) != VE_OK || ve_graph_compile(g, NULL) != VE_OK ||
        ve_tensor_write(g, ta, a, (size_t)na) != VE_OK ||
        ve_tensor_write(g, tb, b, (size_t)nb) != VE_OK) {
        fprintf(stderr, "bench matmul: %s\n", ve_error());
        goto done;
    }
    /* Warm-up: lavapipe compiles the pipeline at its first dispatch. */
    if (ve_graph_run(g) != VE_OK || ve_tensor_read(g, tc, c, (size_t)nc) != VE_OK) {
        fprintf(stderr, "bench matmul: %s\n", ve_error());
        goto done;
    }
    if (!check_sampled(p, a, b, c, "vksamed")) {
        r.error = "WRONG";
        goto done;
    }
#ifdef VKSAMED_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, CblasNoTrans, (int)p->m,
                (int)p->n, (int)p->k, 1.0f, a, (int)p->lda, b, (int)p->ldb, 0.0f, cb, (int)p->n);
    int blas_ok = check_sampled(p, a, b, cb, "openblas");
#endif
    /* Interleaved, so both sides see the same background load on this shared machine. */
    for (int i = 0; i < iters; i++) {
        double t0 = bench_now_s();
        if (ve_graph_run(g) != VE_OK) {
            fprintf(stderr, "bench matmul: %s\n", ve_error());
            goto done;
        }
        t_ours[i] = bench_now_s() - t0;
#ifdef VKSAMED_HAVE_OPENBLAS
        t0 = bench_now_s();
        cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, CblasNoTrans, (int)p->m,
                    (int)p->n, (int)p->k, 1.0f, a, (int)p->lda, b, (int)p->ldb, 0.0f, cb,
                    (int)p->n);
        t_blas[i] = bench_now_s() - t0;
#endif
    }
    double flop = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    r.ours = flop / bench_median(t_ours, iters) * 1e-9;
#ifdef VKSAMED_HAVE_OPENBLAS
    r.blas = flop / bench_median(t_blas, iters) * 1e-9;
    r.error = blas_ok ? NULL : "BLAS WRONG";
#else
    r.error = NULL;
#endif
done:
    if (g) ve_graph_destroy(g);
    free(a), free(b), free(c), free(cb), free(t_ours), free(t_blas);
    return r;
}

static int parse_shape(const char *s, int64_t *m, int64_t *n, int64_t *k) {
    long long x, y, z;
    char tail;
    if (sscanf(s, "%lldx%lldx%lld%c", &x, &y, &z, &tail) != 3 || x < 1 || y < 1 || z < 1) return 0;
    *m = x, *n = y, *k = z;
    return 1;
}

int bench_matmul(int argc, char **argv) {
    int iters = 10;
    int64_t shapes[4][3] = {
        {1024, 2304, 768}, {1764, 2304, 768}, {1024, 3072, 768}, {1024, 768, 3072}};
    int nshapes = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            i++;
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            iters = atoi(argv[++i]);
            if (iters < 1) {
                fprintf(stderr, "bench matmul: --iters wants a positive count\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            if (!parse_shape(argv[++i], &shapes[0][0], &shapes[0][1], &shapes[0][2])) {
                fprintf(stderr, "bench matmul: --shape wants MxNxK, e.g. 1024x2304x768\n");
                return 2;
            }
            nshapes = 1;
        } else {
            fprintf(stderr, "usage: vksamed bench matmul [--device SEL] [--iters N] "
                            "[--shape MxNxK]\n");
            return 2;
        }
    }
    ve_device *dev = ve_device_open(cli_device_option(argc, argv));
    if (!dev) {
        fprintf(stderr, "bench matmul: %s\n", ve_error());
        return 1;
    }
    const ve_device_info *info = ve_device_get_info(dev);
    int threads = bench_thread_count();
    printf("device: %s (%s, %s kernels)\n", info->name, info->driver_info,
           info->device_class == VE_CLASS_CPU ? "CPU-class" : "GPU-class");
#ifdef VKSAMED_HAVE_OPENBLAS
    openblas_set_num_threads(threads);
    printf("competitor: OpenBLAS sgemm, %d threads (lavapipe: LP_NUM_THREADS or online CPUs = "
           "%d)\n",
           threads, threads);
#else
    (void)threads;
    printf("competitor: OpenBLAS unavailable (built without it): no ratios\n");
#endif
    printf("timing: median of %d runs each, interleaved, after a warm-up run\n\n", iters);
    printf("%-6s %-18s %-10s %10s %10s %7s\n", "prod", "MxNxK", "kernel", "ours GF/s", "BLAS GF/s",
           "ratio");
    uint64_t seed = 42;
    int n_bad = 0, all_fast = 1, n_ratios = 0;
    double worst = 0;
    for (int s = 0; s < nshapes; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        product prods[3] = {
            {"fwd", M, N, K, 0, K, N}, /* X[M,K] @ Wt[K,N] */
            {"dX", M, K, N, 0, N, K},  /* dY[M,N] @ W[N,K] */
            {"dW", N, K, M, 1, N, K},  /* dY^T (dY [M,N]) @ X[M,K] */
        };
        for (int j = 0; j < 3; j++) {
            const product *p = &prods[j];
            result r = run_product(dev, p, iters, &seed);
            char shape[48];
            snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)p->m, (long long)p->n,
                     (long long)p->k);
            const char *note = r.error ? r.error : "";
            if (r.error) {
                /* A wrong or failed product has no meaningful speed: it fails the target. */
                n_bad++;
                all_fast = 0;
                printf("%-6s %-18s %-10s %10s %10s %7s  %s\n", p->name, shape, r.variant, "-", "-",
                       "-", note);
            } else if (r.blas > 0) {
                double ratio = r.ours / r.blas;
                if (n_ratios++ == 0 || ratio < worst) worst = ratio;
                if (ratio < 0.30) all_fast = 0;
                printf("%-6s %-18s %-10s %10.1f %10.1f %7.2f\n", p->name, shape, r.variant, r.ours,
                       r.blas, ratio);
            } else {
                printf("%-6s %-18s %-10s %10.1f %10s %7s\n", p->name, shape, r.variant, r.ours, "-",
                       "-");
            }
            fflush(stdout);
        }
    }
    if (n_bad) {
        printf("\nevery ratio >= 0.30: NO (FAILED: %d product%s wrong or not run)\n", n_bad,
               n_bad == 1 ? "" : "s");
        printf("correctness: FAILED (see the messages above)\n");
    } else if (n_ratios) {
        printf("\nevery ratio >= 0.30: %s (worst %.2f)\n", all_fast ? "yes" : "NO", worst);
    } else {
        printf("\nevery ratio >= 0.30: - (no OpenBLAS to compare with)\n");
    }
    int vm = ve_device_close(dev);
    /* Exit status: correctness (and clean shutdown), not speed. */
    return n_bad == 0 && vm == 0 ? 0 : 1;
}
