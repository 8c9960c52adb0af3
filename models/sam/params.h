/* The parameters a model part declares in a graph, by official checkpoint key, and their
 * loading from a checkpoint (after the graph is compiled). */
#ifndef SAM_PARAMS_H
#define SAM_PARAMS_H

#include "graph.h"
#include "io/checkpoint.h"

typedef enum {
    SAM_LOAD_EXACT = 0, /* shapes must match */
    SAM_LOAD_POS_EMBED, /* [1, g0, g0, D] resized bilinearly to the graph's grid */
    SAM_LOAD_REL_POS,   /* [L0, d] resized linearly along rows to the graph's length */
} sam_load_kind;

typedef struct {
    char key[96];
    ve_tid t;
    sam_load_kind kind;
} sam_param;

typedef struct {
    sam_param *p;
    int n, cap;
} sam_params;

/* Creates a parameter tensor (VE_PARAM, or VE_TRAINABLE when trainable) named by its checkpoint
 * key and records it. Returns VE_NONE on failure. */
ve_tid sam_param_new(ve_graph *g, sam_params *ps, const char *key, int ndim, const int64_t *shape,
                     sam_load_kind kind, int trainable);
/* Writes every recorded parameter from the checkpoint into the compiled graph. A missing key or
 * a shape that cannot be adapted is reported with the key and both shapes. */
int sam_params_load(ve_graph *g, const sam_params *ps, ve_checkpoint *ck);
/* One parameter from ck (same rules as sam_params_load). */
int sam_param_load(ve_graph *g, const sam_param *p, ve_checkpoint *ck);
/* Whether ck holds p's key with a shape that fits (equal, or adaptable by p's load kind). */
int sam_param_fits(const ve_graph *g, const sam_param *p, const ve_checkpoint *ck);
/* The parameter recorded under key, or NULL. */
const sam_param *sam_params_find(const sam_params *ps, const char *key);
/* PyTorch's default initialisation of the module that owns p (models/sam/param_init.c): Linear
 * and Conv weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform a = sqrt 5),
 * LayerNorm weight 1 and bias 0, Embedding rows and the Fourier Gaussian N(0, 1), pos_embed and
 * rel_pos 0, LoRA A Kaiming-uniform and B 0 (SAMed). The values come from a splitmix64 stream
 * advanced in *rng (not PyTorch's generator: same distributions, other draws). */
int sam_param_init(ve_graph *g, const sam_params *ps, const sam_param *p, uint64_t *rng);
void sam_params_free(sam_params *ps);

#endif
