/* Fresh parameters for training from scratch, and for the tensors a SAM checkpoint cannot give
 * a SAMed model (a decoder with more mask tokens): PyTorch's default init of each module, chosen
 * by the official key names (SAM_SPEC.md section 6). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sam/lora_keys.h"
#include "sam/params.h"
#include "status.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) {
    return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int contains(const char *s, const char *part) {
    return strstr(s, part) != NULL;
}

typedef enum { I_ZERO, I_ONE, I_NORMAL, I_UNIFORM } init_kind;

/* PyTorch's fan_in of a weight: dim 1 times the receptive field (for ConvTranspose2d's
 * [in, out, k, k] that is out * k * k, as torch computes it). */
static int64_t fan_in_of(const ve_graph *g, ve_tid w) {
    int nd = ve_tensor_ndim(g, w);
    int64_t f = nd > 1 ? ve_tensor_dim(g, w, 1) : 1;
    for (int i = 2; i < nd; i++)
        f *= ve_tensor_dim(g, w, i);
    return f;
}

/* A norm's parameters: LayerNorm (norm*, neck.1/3, LayerNorm2d in the prompt encoder's
 * downscaling (1, 4) and the decoder's upscaling (1)). */
static int is_norm(const char *key) {
    return contains(key, ".norm") || contains(key, "neck.1.") || contains(key, "neck.3.") ||
           contains(key, "mask_downscaling.1.") || contains(key, "mask_downscaling.4.") ||
           contains(key, "output_upscaling.1.");
}

int sam_param_init(ve_graph *g, const sam_params *ps, const sam_param *p, uint64_t *rng) {
    const char *k = p->key;
    const int64_t n = ve_tensor_numel(g, p->t);
    init_kind kind = I_UNIFORM;
    double bound = 0;
    const sam_lora_role lora = sam_lora_key_role(k);
    if (lora == SAM_LORA_B || ends_with(k, "pos_embed") || contains(k, "rel_pos_")) {
        kind = I_ZERO;
    } else if (lora == SAM_LORA_A) {
        bound = 1.0 / sqrt((double)ve_tensor_dim(g, p->t, 1));
    } else if (ends_with(k, "positional_encoding_gaussian_matrix") ||
               ends_with(k, "_token.weight") || ends_with(k, "mask_tokens.weight") ||
               contains(k, "point_embeddings.") || ends_with(k, "not_a_point_embed.weight") ||
               ends_with(k, "no_mask_embed.weight")) {
        kind = I_NORMAL;
    } else if (is_norm(k)) {
        kind = ends_with(k, ".weight") ? I_ONE : I_ZERO;
    } else if (ends_with(k, ".weight")) {
        bound = 1.0 / sqrt((double)fan_in_of(g, p->t));
    } else if (ends_with(k, ".bias")) {
        /* A Linear / Conv bias: bound from its weight's fan_in. */
        char wk[sizeof p->key];
        size_t len = strlen(k) - 4;
        memcpy(wk, k, len);
        strcpy(wk + len, "weight");
        const sam_param *w = sam_params_find(ps, wk);
        if (!w) return ve_fail("init: no weight %s for bias %s", wk, k);
        bound = 1.0 / sqrt((double)fan_in_of(g, w->t));
    } else {
        return ve_fail("init: no initialisation rule for %s", k);
    }
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) return ve_fail("out of host memory initialising %s", k);
    for (int64_t i = 0; i < n; i++) {
        switch (kind) {
        case I_ZERO:
            v[i] = 0.0f;
            break;
        case I_ONE:
            v[i] = 1.0f;
            break;
        case I_NORMAL: {
            /* Box-Muller; u1 in (0, 1] so the log is finite. */
            double u1 = 1.0 - uniform01(rng), u2 = uniform01(rng);
            v[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
            break;
        }
        case I_UNIFORM:
            v[i] = (float)((2.0 * uniform01(rng) - 1.0) * bound);
            break;
        }
    }
    int rc = ve_tensor_write(g, p->t, v, (size_t)n);
    free(v);
    return rc;
}
