/* Shared by the benchmarks: wall clock, medians, the thread count competitors must match. */
#ifndef VKSAMED_BENCH_UTIL_H
#define VKSAMED_BENCH_UTIL_H

double bench_now_s(void);
/* Sorts v in place and returns its median. */
double bench_median(double *v, int n);
/* lavapipe's thread count: LP_NUM_THREADS, else the online CPUs (what OpenBLAS and PyTorch get). */
int bench_thread_count(void);

/* A PyTorch competitor's result: the last "BENCH_TORCH ok first_ms=F median_ms=F ..." line of
 * tests/reference/SCRIPT run with $VKSAMED_PYTHON (default /usr/bin/python3) and ARGS; peak and
 * base RSS when the script reports them (else 0). ok = 0 with why set when it cannot run. */
typedef struct {
    int ok;
    double first_ms, median_ms, peak_rss_mb, base_rss_mb;
    char why[256];
} bench_torch_result;
bench_torch_result bench_run_torch(const char *script, const char *args);

/* The options the model benchmarks share; the caller sets the defaults. */
typedef struct {
    const char *preset;
    int size, iters, batch, profile, torch;
} bench_common;
/* argv[i] as a shared option (--preset P, --size S, --iters N, --batch B, --profile,
 * --no-torch, --device SEL: taken by the device opener): the count of arguments it takes (1 or 2),
 * or 0 when argv[i] is not one of them. */
int bench_common_arg(bench_common *b, int argc, char **argv, int i);

#endif
