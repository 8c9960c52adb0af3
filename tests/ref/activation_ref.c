/* Plain-C references for exact GELU and ReLU, in double. */
#include <math.h>

#include "ref.h"

/* Phi(x) = 0.5 (1 + erf(x / sqrt 2)) = 0.5 erfc(-x / sqrt 2): no cancellation for x < 0. */
static double normal_cdf(double x) {
    return 0.5 * erfc(-x / sqrt(2.0));
}

void ref_gelu_fwd(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)x[i] * normal_cdf(x[i]));
}

void ref_gelu_bwd(const float *x, const float *dy, float *dx, size_t n) {
    const double inv_sqrt_2pi = 0.39894228040143267794;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double d = normal_cdf(v) + v * inv_sqrt_2pi * exp(-0.5 * v * v);
        dx[i] = (float)((double)dy[i] * d);
    }
}

void ref_relu_fwd(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ref_relu_bwd(const float *x, const float *dy, float *dx, size_t n) {
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
