/* Plain-C matmul references: strided (the ve_matmul_desc contract) and op-level with gradients. */
#include <stddef.h>
#include <stdint.h>

#include "ref.h"

void ref_matmul_strided(const float *a, const float *b, const float *bias, float *c,
                        const ref_matmul_layout *s) {
    for (int64_t z = 0; z < s->batch; z++)
        for (int64_t m = 0; m < s->m; m++)
            for (int64_t n = 0; n < s->n; n++) {
                double sum = bias ? bias[n] : 0.0;
                for (int64_t k = 0; k < s->k; k++)
                    sum += (double)a[s->a_off + z * s->a_sb + m * s->a_sm + k * s->a_sk] *
                           (double)b[s->b_off + z * s->b_sb + k * s->b_sk + n * s->b_sn];
                float *dst = &c[s->c_off + z * s->c_sb + m * s->c_sm + n * s->c_sn];
                *dst = (float)(s->accumulate ? (double)*dst + sum : sum);
            }
}

/* The layout of the op-level problem: contiguous tensors, B shared when b_shared. */
static ref_matmul_layout op_layout(int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a,
                                   int trans_b, int b_shared) {
    ref_matmul_layout s = {
        .batch = batch,
        .m = m,
        .n = n,
        .k = k,
        .a_sb = m * k,
        .a_sm = trans_a ? 1 : k,
        .a_sk = trans_a ? m : 1,
        .b_sb = b_shared ? 0 : k * n,
        .b_sk = trans_b ? 1 : n,
        .b_sn = trans_b ? k : 1,
        .c_sb = m * n,
        .c_sm = n,
        .c_sn = 1,
    };
    return s;
}

void ref_matmul_fwd(const float *a, const float *b, const float *bias, float *c, int64_t batch,
                    int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, int b_shared) {
    ref_matmul_layout s = op_layout(batch, m, n, k, trans_a, trans_b, b_shared);
    ref_matmul_strided(a, b, bias, c, &s);
}

void ref_matmul_bwd(const float *a, const float *b, const float *dc, float *da, float *db,
                    float *dbias, int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a,
                    int trans_b, int b_shared) {
    ref_matmul_layout s = op_layout(batch, m, n, k, trans_a, trans_b, b_shared);
    if (da)
        for (int64_t z = 0; z < batch; z++)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < k; j++) {
                    double sum = 0;
                    for (int64_t q = 0; q < n; q++)
                        sum += (double)dc[z * s.c_sb + i * s.c_sm + q] *
                               (double)b[z * s.b_sb + j * s.b_sk + q * s.b_sn];
                    da[z * s.a_sb + i * s.a_sm + j * s.a_sk] = (float)sum;
                }
    if (db) {
        int64_t nz = b_shared ? 1 : batch, per = b_shared ? batch : 1;
        for (int64_t zb = 0; zb < nz; zb++)
            for (int64_t j = 0; j < k; j++)
                for (int64_t q = 0; q < n; q++) {
                    double sum = 0;
                    for (int64_t zz = 0; zz < per; zz++) {
                        int64_t z = zb + zz;
                        for (int64_t i = 0; i < m; i++)
                            sum += (double)a[z * s.a_sb + i * s.a_sm + j * s.a_sk] *
                                   (double)dc[z * s.c_sb + i * s.c_sm + q];
                    }
                    db[zb * s.b_sb + j * s.b_sk + q * s.b_sn] = (float)sum;
                }
    }
    if (dbias)
        for (int64_t q = 0; q < n; q++) {
            double sum = 0;
            for (int64_t r = 0; r < batch * m; r++)
                sum += dc[r * n + q];
            dbias[q] = (float)sum;
        }
}
