#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/stat.h>

#include "status.h"

static int g_pass, g_fail;

ve_device *tu_device(void) {
    ve_device *d = ve_device_open(NULL);
    if (!d) {
        fprintf(stderr, "FAIL: cannot open a Vulkan device: %s\n", ve_error());
        exit(1);
    }
    return d;
}

int tu_device_done(ve_device *dev) {
    int n = ve_device_close(dev);
    if (n) fprintf(stderr, "FAIL: %d Vulkan validation message(s)\n", n);
    tu_check(n == 0, "no validation messages");
    return n != 0;
}

uint64_t tu_seed(uint64_t s) {
    return s * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
}

static uint64_t next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float tu_uniform(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((next(s) >> 40) * (1.0 / 16777216.0));
}

int tu_int(uint64_t *s, int lo, int hi) {
    return lo + (int)(next(s) % (uint64_t)(hi - lo + 1));
}

float *tu_rand(uint64_t *s, size_t n, float lo, float hi) {
    float *p = malloc(sizeof *p * (n ? n : 1));
    if (!p) abort();
    for (size_t i = 0; i < n; i++)
        p[i] = tu_uniform(s, lo, hi);
    return p;
}

size_t tu_numel(int nd, const int64_t *shape) {
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    return n;
}

int tu_rand_shape(uint64_t *state, int64_t *shape, size_t max_numel) {
    static const int64_t sizes[] = {1,  1,  2,  3,  4,  5,  7,  8,   9,
                                    13, 16, 17, 31, 33, 64, 97, 130, 257};
    int nd = tu_int(state, 1, 4);
    for (;;) {
        for (int i = 0; i < nd; i++)
            shape[i] = sizes[tu_int(state, 0, (int)(sizeof sizes / sizeof *sizes) - 1)];
        if (tu_numel(nd, shape) <= max_numel) return nd;
    }
}

int tu_close(const char *what, const float *got, const float *want, size_t n, double rtol,
             double floor) {
    double maxw = 0, maxd = 0;
    size_t worst = 0;
    int nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i])) {
            nonfinite = 1;
            worst = i;
            break;
        }
        double w = fabs((double)want[i]);
        if (w > maxw) maxw = w;
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > maxd) {
            maxd = d;
            worst = i;
        }
    }
    double tol = rtol * (maxw > floor ? maxw : floor);
    int ok = !nonfinite && maxd <= tol;
    if (!ok)
        fprintf(stderr,
                "FAIL %s: max|diff| %.3g > tol %.3g (max|want| %.3g) at [%zu]: got %.9g want "
                "%.9g%s\n",
                what, maxd, tol, maxw, worst, n ? got[worst] : 0.0f, n ? want[worst] : 0.0f,
                nonfinite ? " (non-finite)" : "");
    return ok;
}

void tu_check(int ok, const char *what) {
    if (ok)
        g_pass++;
    else {
        g_fail++;
        fprintf(stderr, "FAIL: %s\n", what);
    }
}

int tu_exit(void) {
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}

static void die(const char *what) {
    fprintf(stderr, "FAIL: %s: %s\n", what, ve_error());
    exit(1);
}

void tu_compile(ve_graph *g) {
    if (ve_graph_compile(g, NULL) != VE_OK) die("compile");
}

void tu_run(ve_graph *g) {
    if (ve_graph_run(g) != VE_OK) die("run");
}

void tu_write(ve_graph *g, ve_tid t, const float *src) {
    if (ve_tensor_write(g, t, src, (size_t)ve_tensor_numel(g, t)) != VE_OK) die("write");
}

float *tu_read(ve_graph *g, ve_tid t) {
    size_t n = (size_t)ve_tensor_numel(g, t);
    float *p = malloc(sizeof *p * (n ? n : 1));
    if (!p) abort();
    if (ve_tensor_read(g, t, p, n) != VE_OK) die("read");
    return p;
}

static double loss_of(tu_fwd_fn fwd, void *ctx, float *const *inputs, float *out, size_t out_n,
                      const float *r) {
    fwd(ctx, inputs, out);
    double s = 0;
    for (size_t i = 0; i < out_n; i++)
        s += (double)out[i] * (double)r[i];
    return s;
}

int tu_fd_check(const char *what, tu_fwd_fn fwd, void *ctx, int n_in, float *const *inputs,
                const size_t *in_sizes, size_t out_size, const float *r, float *const *grads,
                double h, double rtol, size_t max_probe) {
    float *out = malloc(sizeof *out * (out_size ? out_size : 1));
    if (!out) abort();
    int ok = 1;
    for (int j = 0; j < n_in && ok; j++) {
        if (!grads[j]) continue;
        size_t n = in_sizes[j];
        double maxg = 1e-3;
        for (size_t i = 0; i < n; i++)
            if (fabs(grads[j][i]) > maxg) maxg = fabs(grads[j][i]);
        size_t step = (max_probe && n > max_probe) ? n / max_probe : 1;
        for (size_t i = 0; i < n && ok; i += step) {
            float x0 = inputs[j][i];
            inputs[j][i] = (float)(x0 + h);
            double hp = (double)inputs[j][i] - x0; /* the step actually taken in float */
            double lp = loss_of(fwd, ctx, inputs, out, out_size, r);
            inputs[j][i] = (float)(x0 - h);
            double hm = x0 - (double)inputs[j][i];
            double lm = loss_of(fwd, ctx, inputs, out, out_size, r);
            inputs[j][i] = x0;
            double fd = (lp - lm) / (hp + hm);
            if (fabs(fd - grads[j][i]) > rtol * maxg) {
                fprintf(stderr,
                        "FAIL %s: finite differences, input %d element %zu: fd %.6g vs "
                        "reference backward %.6g\n",
                        what, j, i, fd, (double)grads[j][i]);
                ok = 0;
            }
        }
    }
    free(out);
    return ok;
}

static char g_scratch[96];

void tu_scratch_open(const char *tag) {
    snprintf(g_scratch, sizeof g_scratch, "/tmp/vksamed_%s_XXXXXX", tag);
    if (!mkdtemp(g_scratch)) {
        perror("mkdtemp");
        exit(1);
    }
}

const char *tu_scratch_dir(void) {
    return g_scratch;
}

void tu_scratch_close(void) {
    char cmd[160];
    if (!g_scratch[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_scratch);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", g_scratch);
    g_scratch[0] = 0;
}

char *tu_scratch_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", g_scratch, name);
    return p;
}

void tu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "FAIL: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

uint8_t *tu_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = len >= 0 ? malloc((size_t)len + 1) : NULL;
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

long tu_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}
