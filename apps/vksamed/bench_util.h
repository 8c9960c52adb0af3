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

#endif
