// Accurate erf, erfc and the standard normal CDF/PDF for fp32 shaders (GLSL has no erf).
//
// erfc(z) = exp(-z^2) * R(z) for z >= 0, where R(z) = erfc(z) * exp(z^2) (the scaled
// complementary error function) is smooth and slowly varying, so one polynomial covers z in
// [0, 10]: R(z) = t * Q(t - ERF_T0), t = 1 / (z + 2), Q of degree 10 (Chebyshev fit in mpmath,
// fit error 6e-9 relative; about 3e-7 after fp32 rounding). Beyond z = 10 exp(-z^2) is below
// fp32's range, so z is clamped there (keeps the polynomial finite: no inf * 0).
//
// exp(-c x^2) is computed from an exact split of the exponent: a plain exp(-x * x) inherits the
// rounding of x * x scaled by x^2 (6e-6 relative at x^2 = 100). With xh = x truncated to 8
// significant bits, xh^2 * K1 (K1 = c log2(e) rounded to 8 bits) is exact in fp32 and the rest,
// xh^2 K2 + (x - xh)(x + xh) K, is small, so no large argument is ever rounded.
//
// erf(z) for |z| < 0.5 uses z * P(z^2) (degree 5, fit error 1e-11) to stay accurate near 0,
// where 1 - erfc(z) would cancel.
//
// Measured on lavapipe (its exp2 is good to 2.6e-7), worst relative error against C's double
// erf/erfc: ve_erf 3.1e-7, ve_erfc 4.7e-7 (z < 9; beyond, the result is an fp32 denormal),
// GELU x * ve_normal_cdf(x) 4.8e-7 on [-10, 10] (tests/unit/test_activation.c checks this).
#ifndef VE_ERF_GLSL
#define VE_ERF_GLSL

const float ERF_T0 = 0.29166666666666667; // centre of t = 1/(z+2) over z in [0, 10]

float ve_erfcx(float z) { // erfc(z) * exp(z^2), z >= 0
    float t = 1.0 / (min(z, 10.0) + 2.0);
    float s = t - ERF_T0;
    float q = 66.35243967;
    q = q * s + 17.77995392;
    q = q * s - 37.05789966;
    q = q * s + 0.5779589776;
    q = q * s + 14.57792884;
    q = q * s - 3.158733939;
    q = q * s - 6.533699842;
    q = q * s + 1.318890916;
    q = q * s + 4.701532274;
    q = q * s + 3.131735973;
    q = q * s + 1.144023952;
    return t * q;
}

// exp(-c x^2) with K = c log2(e) = k1 + k2, k1 having at most 8 significant bits.
float ve_exp_neg_sq(float x, float k1, float k2) {
    x = min(abs(x), 15.0); // exp(-112) is already 0 in fp32; keeps xh * xh finite
    float xh = uintBitsToFloat(floatBitsToUint(x) & 0xFFFF0000u); // 8 significant bits
    float xl = x - xh;                                            // exact
    float big = (xh * xh) * k1;                                   // exact: 16 + 8 bits
    float rest = (xh * xh) * k2 + xl * (x + xh) * (k1 + k2);      // small: |rest| < 3
    // 2^-big = 2^-floor(big) * 2^-fract(big), both parts exact; fract + rest rounds by at most
    // 1.2e-7 absolute. (exp2(-big) * exp2(-rest) would be as good, but llvmpipe folds it into
    // exp2(-big - rest), which rounds the large sum: 3e-6 relative at x^2 = 100.)
    float nb = floor(big);
    return ldexp(exp2(-((big - nb) + rest)), -int(nb));
}

// exp(-x^2): K = log2(e) = 1.4453125 (185 / 128) + k2.
float ve_exp_neg_x2(float x) { return ve_exp_neg_sq(x, 1.4453125, -0.0026174591110366); }
// exp(-x^2 / 2): K = log2(e) / 2 = 0.72265625 (185 / 256) + k2.
float ve_exp_neg_half_x2(float x) { return ve_exp_neg_sq(x, 0.72265625, -0.0013087295555183); }

float ve_erfc(float z) {
    float q = ve_exp_neg_x2(z) * ve_erfcx(abs(z));
    return z < 0.0 ? 2.0 - q : q;
}

float ve_erf(float z) {
    if (abs(z) < 0.5) {
        float u = z * z;
        float p = -0.0007694534279;
        p = p * u + 0.005200413724;
        p = p * u - 0.02686314303;
        p = p * u + 0.1128377401;
        p = p * u - 0.3761263853;
        p = p * u + 1.128379167;
        return z * p;
    }
    float q = ve_exp_neg_x2(z) * ve_erfcx(abs(z));
    return z < 0.0 ? q - 1.0 : 1.0 - q;
}

// Standard normal CDF 0.5 (1 + erf(x / sqrt 2)), accurate relative to its value in both tails.
float ve_normal_cdf(float x) {
    float q = 0.5 * ve_exp_neg_half_x2(x) * ve_erfcx(abs(x) * 0.70710678118654752);
    return x < 0.0 ? q : 1.0 - q;
}

// Standard normal density exp(-x^2 / 2) / sqrt(2 pi).
float ve_normal_pdf(float x) { return 0.39894228040143268 * ve_exp_neg_half_x2(x); }

#endif
