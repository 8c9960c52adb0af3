/* Shared by the benchmarks: wall clock, medians, the thread count competitors must match. */
#ifndef VKSAMED_BENCH_UTIL_H
#define VKSAMED_BENCH_UTIL_H

double bench_now_s(void);
/* Sorts v in place and returns its median. */
double bench_median(double *v, int n);
/* lavapipe's thread count: LP_NUM_THREADS, else the online CPUs (what OpenBLAS and PyTorch get). */
int bench_thread_count(void);

#endif
