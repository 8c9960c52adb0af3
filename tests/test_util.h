/* Shared helpers for the unit tests: device, random data, tolerant comparison. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "graph.h"

/* Opens the default device (validation on under ctest), aborting the test on failure. */
ve_device *tu_device(void);
/* Closes it; returns 1 if validation messages were seen (the test must fail). */
int tu_device_done(ve_device *dev);

/* Deterministic uniform floats in [lo, hi). */
uint64_t tu_seed(uint64_t s);
float tu_uniform(uint64_t *state, float lo, float hi);
int tu_int(uint64_t *state, int lo, int hi);                   /* inclusive */
float *tu_rand(uint64_t *state, size_t n, float lo, float hi); /* malloc'd */

/* Product of the dims. */
size_t tu_numel(int nd, const int64_t *shape);
/* A random shape of 1-4 dims drawn from awkward sizes (1s, primes, non-multiples of 4), at
 * most max_numel elements. Returns the number of dims. */
int tu_rand_shape(uint64_t *state, int64_t *shape, size_t max_numel);

/* max|got - want| <= rtol * max(max|want|, floor). Prints the worst element on failure.
 * Returns 1 on pass, 0 on failure. */
int tu_close(const char *what, const float *got, const float *want, size_t n, double rtol,
             double floor);

/* Counts failures; tu_exit prints "N passed, N failed" and returns the exit code. */
void tu_check(int ok, const char *what);
int tu_exit(void);

/* Graph helpers: compile (aborting the test on error), write/read whole tensors. */
void tu_compile(ve_graph *g);
void tu_run(ve_graph *g);
void tu_write(ve_graph *g, ve_tid t, const float *src);
float *tu_read(ve_graph *g, ve_tid t); /* malloc'd */

/* A private scratch folder, /tmp/vksamed_TAG_XXXXXX, made by tu_scratch_open (aborting the test
 * on failure) and removed with its files by tu_scratch_close. */
void tu_scratch_open(const char *tag);
const char *tu_scratch_dir(void);
void tu_scratch_close(void);
/* DIR/name inside the scratch folder (one of 8 rotating buffers). */
char *tu_scratch_path(const char *name);
/* Writes a whole file (aborting the test on failure); the size of a file, -1 if absent. */
void tu_write_file(const char *path, const void *data, size_t n);
long tu_file_size(const char *path);
/* A whole file, malloc'd (one spare byte), its size in *n; NULL when it cannot be read. */
uint8_t *tu_read_file(const char *path, size_t *n);

/* Finite-difference check of a plain-C reference backward. The scalar checked is
 * L(inputs) = sum_i fwd(inputs)[i] * r[i]; grads[j] are the reference's dL/d(inputs[j]) (NULL to
 * skip an input). Central differences with step h on each element (or on at most max_probe
 * elements chosen evenly), L accumulated in double. Passes when every probed
 * |fd - grad| <= rtol * max(max|grad|, 1e-3). Returns 1 on pass. */
typedef void (*tu_fwd_fn)(void *ctx, float *const *inputs, float *out);
int tu_fd_check(const char *what, tu_fwd_fn fwd, void *ctx, int n_in, float *const *inputs,
                const size_t *in_sizes, size_t out_size, const float *r, float *const *grads,
                double h, double rtol, size_t max_probe);

#endif
