/* Interactive SAM, the one prompting path of `vksamed segment`, `vksamed eval` and vksamed-view:
 * the image encoder runs once per image (sam_predictor_set_image) and its embedding is kept;
 * each prompt then runs only the prompt encoder, the mask decoder and the mask upsampling (one
 * graph per prompt shape, built on first use and kept), reusing that embedding. */
#ifndef SAM_PREDICTOR_H
#define SAM_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "device.h"
#include "io/checkpoint.h"
#include "sam/preset.h"

typedef struct sam_predictor sam_predictor;

/* How images enter the model. */
typedef enum {
    SAM_INPUT_SAM,   /* official SAM: long side resized to S, normalised by SAM's pixel mean and
                        std, padded to S x S; masks cropped to the resized image */
    SAM_INPUT_SAMED, /* SAMed: stretched to S x S from [0, 1] values (sam_samed_preprocess) */
} sam_input_mode;

/* Builds the encoder graph for input side img_size and loads the weights: everything from base;
 * with lora (a SAMed LoRA file), its prompt encoder / mask decoder tensors replace the base's and
 * its adapters are merged: the encoder's qkv pairs (w_a/w_b 2i = q, 2i + 1 = v of block i,
 * W += B A, no alpha / r scaling, as SAMed) and SAMed_s's decoder adapters
 * (sam_lora_merge_decoder). The prompt encoder's and decoder's weights are kept as host copies
 * (each prompt shape's graph loads from them), so the checkpoints may be closed afterwards.
 * NULL (ve_error) on failure. */
sam_predictor *sam_predictor_create(ve_device *dev, const sam_preset *p, int img_size,
                                    sam_input_mode mode, ve_checkpoint *base, ve_checkpoint *lora);
/* The same with random weights (PyTorch's default initialisation, sam_param_init, from seed)
 * and p->mask_outputs mask tokens: benchmarks and tests without a checkpoint. */
sam_predictor *sam_predictor_create_random(ve_device *dev, const sam_preset *p, int img_size,
                                           sam_input_mode mode, uint64_t seed);
void sam_predictor_destroy(sam_predictor *pr);

/* Runs the image encoder on rgb (3 planes of h x w floats in 0..255) and keeps the embedding.
 * The slow call (seconds on a CPU): callers with a UI run it on a worker thread; no other call
 * on the same predictor may run at the same time. */
int sam_predictor_set_image(sam_predictor *pr, const float *rgb, int h, int w);
/* The same for an input the caller preprocessed: 3 planes of S x S, for an image of h x w (SAM:
 * resized into the input's top-left corner as sam_resized_size says; SAMed: stretched). */
int sam_predictor_set_input(sam_predictor *pr, const float *input, int h, int w);
/* An embedding computed earlier ([C, g, g], the official layout, as read_embedding gives it) for
 * an image of h x w: no encoder run. */
int sam_predictor_set_embedding(sam_predictor *pr, const float *emb, int h, int w);

/* Prompts in pixels of the original image (mapped to the model input as the official
 * predictor does). Everything may be empty: no points, no box, no mask (SAMed's semantic mode). */
typedef struct {
    int n_points;
    const float *points; /* [n, 2] (x, y) */
    const float *labels; /* [n]: 1 foreground, 0 background */
    const float *box;    /* [4] x0, y0, x1, y1, or NULL */
    const float *mask;   /* [4g, 4g] low-res logits (an earlier prediction's), or NULL */
} sam_prompt_set;

/* Whether the prompts fit an h x w image: every point inside (0 <= x < w, 0 <= y < h), the box
 * inside with x0 <= x1 and y0 <= y1. Fails naming the first that does not ("point 2 (x,y) lies
 * outside the WxH image"). sam_predictor_predict checks the same; callers may check early. */
int sam_prompts_check(const sam_prompt_set *ps, int h, int w);

/* One prediction, malloc'd (sam_prediction_free). */
typedef struct {
    int m;         /* masks: every mask token (SAM: 4, mask 0 single, 1..3 multimask) */
    int h, w;      /* the image's size */
    int g;         /* embedding grid side; the low-res masks are 4g x 4g */
    float *masks;  /* [m, h, w] logits at the image size (> 0: inside) */
    float *lowres; /* [m, 4g, 4g] logits */
    float *iou;    /* [m] predicted IoU */
} sam_prediction;

/* Runs the prompts against the kept embedding. Fails (naming it) when no image is set or a point
 * or box lies outside the image. */
int sam_predictor_predict(sam_predictor *pr, const sam_prompt_set *ps, sam_prediction *out);
/* The same without the masks at the image size (masks NULL): prompt encoder, mask decoder and
 * the low-res logits only, for callers that upsample (or only show) the low-res masks. */
int sam_predictor_predict_lowres(sam_predictor *pr, const sam_prompt_set *ps, sam_prediction *out);
void sam_prediction_free(sam_prediction *r);

/* Benchmarks: decoder graphs built from now on record per-op GPU timestamps (ve_compile_opts
 * profile); the profile of the last prediction's graph (VKSAMED_PROFILE_TOP=N adds its N
 * slowest nodes). */
void sam_predictor_set_profile(sam_predictor *pr, int on);
void sam_predictor_profile_print(const sam_predictor *pr, FILE *out);

/* The kept embedding [C, g, g] (the official layout); n must be C * g * g. */
int sam_predictor_read_embedding(sam_predictor *pr, float *dst, size_t n);
int sam_predictor_grid(const sam_predictor *pr);      /* g */
int sam_predictor_outputs(const sam_predictor *pr);   /* mask tokens M */
int sam_predictor_embed_dim(const sam_predictor *pr); /* C */
int sam_predictor_img_size(const sam_predictor *pr);  /* S */

#endif
