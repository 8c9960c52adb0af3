#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int bench_thread_count(void) {
    const char *e = getenv("LP_NUM_THREADS");
    if (e && atoi(e) > 0) return atoi(e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#ifndef VKSAMED_SOURCE_DIR
#define VKSAMED_SOURCE_DIR "."
#endif

bench_torch_result bench_run_torch(const char *script_name, const char *args) {
    bench_torch_result r = {0, 0, 0, 0, 0, "did not print a result"};
    const char *py = getenv("VKSAMED_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    char script[512], cmd[1536];
    snprintf(script, sizeof script, "%s/tests/reference/%s", VKSAMED_SOURCE_DIR, script_name);
    if (access(script, R_OK) != 0) {
        snprintf(r.why, sizeof r.why, "script %.200s not found", script);
        return r;
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s 2>&1", py, script, args);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(r.why, sizeof r.why, "cannot run %s", py);
        return r;
    }
    char line[1024], last_other[256] = "";
    int have_reason = 0;
    while (fgets(line, sizeof line, f)) {
        double first, med;
        char reason[200];
        if (sscanf(line, "BENCH_TORCH ok first_ms=%lf median_ms=%lf", &first, &med) == 2) {
            r.ok = 1, r.first_ms = first, r.median_ms = med;
            const char *pk = strstr(line, "peak_rss_mb="), *bs = strstr(line, "base_rss_mb=");
            r.peak_rss_mb = pk ? atof(pk + 12) : 0;
            r.base_rss_mb = bs ? atof(bs + 12) : 0;
        } else if (sscanf(line, "BENCH_TORCH unavailable reason=%199s", reason) == 1) {
            snprintf(r.why, sizeof r.why, "%s", reason);
            have_reason = 1;
        } else if (line[0] != '\n') {
            line[strcspn(line, "\n")] = 0;
            snprintf(last_other, sizeof last_other, "%.200s", line);
        }
    }
    int st = pclose(f);
    if (!r.ok && !have_reason && last_other[0])
        snprintf(r.why, sizeof r.why, "%.200s (exit %d)", last_other, st);
    return r;
}

int bench_common_arg(bench_common *b, int argc, char **argv, int i) {
    const char *a = argv[i];
    if (!strcmp(a, "--profile")) return b->profile = 1;
    if (!strcmp(a, "--no-torch")) return b->torch = 0, 1;
    if (i + 1 >= argc) return 0;
    const char *v = argv[i + 1];
    if (!strcmp(a, "--device")) return 2;
    if (!strcmp(a, "--preset")) return b->preset = v, 2;
    if (!strcmp(a, "--size")) return b->size = atoi(v), 2;
    if (!strcmp(a, "--iters")) return b->iters = atoi(v), 2;
    if (!strcmp(a, "--batch")) return b->batch = atoi(v), 2;
    return 0;
}
