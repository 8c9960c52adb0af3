/* PyTorch 1.13 AdamW (torch/optim/adamw.py, _single_tensor_adamw) on fp32 arrays.
 *
 * Python computes the scalars in double; each fp32 kernel (mul_, add_, addcmul_, addcdiv_, div,
 * add_ of eps) receives its scalar rounded to float and computes in float, rounding after every
 * kernel. The sequence below mirrors those kernels one by one. */
#include <math.h>

#include "ref.h"

void ref_adamw_step(float *param, const float *grad, float *m, float *v, int64_t n, double lr,
                    double beta1, double beta2, double eps, double weight_decay, int64_t step) {
    const float decay = (float)(1.0 - lr * weight_decay);
    const float b1 = (float)beta1, one_m_b1 = (float)(1.0 - beta1);
    const float b2 = (float)beta2, one_m_b2 = (float)(1.0 - beta2);
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float neg_step_size = (float)(-(lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float feps = (float)eps;
    for (int64_t i = 0; i < n; i++) {
        float p = param[i] * decay;             /* param.mul_(1 - lr * wd) */
        float mi = m[i] * b1;                   /* exp_avg.mul_(beta1) */
        mi = mi + one_m_b1 * grad[i];           /* .add_(grad, alpha=1 - beta1) */
        float vi = v[i] * b2;                   /* exp_avg_sq.mul_(beta2) */
        vi = vi + one_m_b2 * grad[i] * grad[i]; /* .addcmul_(grad, grad, value=1 - beta2) */
        float denom = sqrtf(vi) / bc2_sqrt;     /* exp_avg_sq.sqrt() / bias_correction2_sqrt */
        denom = denom + feps;                   /* .add_(eps) */
        p = p + neg_step_size * mi / denom;     /* param.addcdiv_(exp_avg, denom, -step_size) */
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}
