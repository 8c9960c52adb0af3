/* SAMed training (SAM_SPEC.md section 5) as one recorded graph: upload, image encoder (frozen
 * with LoRA on qkv, or fully trainable), prompt encoder without prompts, mask decoder with
 * classes + 1 outputs, 0.2 CE + 0.8 Dice on the low-res logits, backward, AdamW. A step writes
 * the batch and the step values and replays the same command buffer. */
#ifndef SAM_SAMED_TRAIN_H
#define SAM_SAMED_TRAIN_H

#include <stdint.h>

#include "device.h"
#include "io/checkpoint.h"
#include "ops.h"
#include "sam/preset.h"

typedef enum {
    SAM_FT_LORA, /* SAMed: LoRA on the encoder's q and v, prompt encoder and decoder trained */
    SAM_FT_FULL, /* every parameter trained (what training without a SAM checkpoint does) */
    SAM_FT_LORA_DECODER, /* SAMed_s: SAM_FT_LORA, but the decoder's two-way transformer frozen
                            with LoRA on its attentions' q and v projections */
} sam_finetune;

typedef struct {
    sam_preset p; /* p.mask_outputs = classes + 1 */
    int img_size; /* S */
    int batch;
    sam_finetune finetune;
    int lora_rank;                             /* SAM_FT_LORA(_DECODER): r (SAMed: 4) */
    unsigned char lora_blocks[SAM_MAX_BLOCKS]; /* blocks with adapters (all ones: every block) */
    ve_seg_loss_opts loss;
    ve_adamw_opts adamw;
    int profile; /* per-node timestamps (ve_graph_profile_print) */
    /* Data parallelism (world > 1; 0 or 1: one process): each rank trains on its shard of the
     * global batch, and a step runs in three graph segments with allreduce (an in-place sum of
     * n floats over the ranks, e.g. MPI_Allreduce) between them: on the loss's per-class sums
     * and CE (so the Dice of the whole global batch drives every rank's backward), then on the
     * gradients (averaged), so N ranks of batch b update exactly as one process of batch N b. */
    int world;
    int (*allreduce)(float *buf, size_t n, void *ctx);
    void *allreduce_ctx;
} sam_train_opts;

/* SAMed's defaults for a preset: LoRA r 4 on every block, 0.2 / 0.8, AdamW (0.9, 0.999, 1e-8,
 * wd 0.1). */
void sam_train_opts_default(sam_train_opts *o, const sam_preset *p, int img_size, int batch);

typedef struct {
    double loss, ce, dice;
} sam_train_losses;

typedef struct sam_trainer sam_trainer;

sam_trainer *sam_trainer_create(ve_device *dev, const sam_train_opts *o);
void sam_trainer_destroy(sam_trainer *t);

/* What sam_trainer_init_weights took from where. */
typedef struct {
    int from_base, from_lora, fresh;
} sam_init_report;

/* Initial weights: each parameter from the LoRA file (a SAMed .pth, or one this program wrote)
 * when it has the key, else from the base SAM checkpoint when its shape fits (pos_embed and
 * rel_pos resized), else PyTorch's default init from seed (SAMed: the extra mask tokens and
 * hypernetworks; everything when training from scratch). base and lora may be NULL. */
int sam_trainer_init_weights(sam_trainer *t, ve_checkpoint *base, ve_checkpoint *lora,
                             uint64_t seed, sam_init_report *rep);

/* One step: images [B, 3, S, S] (SAMed feeds [0, 1] values), labels [B, L, L] class indices as
 * floats (L = sam_trainer_label_side), lr for this step, AdamW's step number from 1 (the updates
 * applied so far + 1). When the loss comes back NaN or infinite, no update was applied: the
 * weights and moments are those before the step. */
int sam_trainer_step(sam_trainer *t, const float *images, const float *labels, double lr,
                     int64_t step, sam_train_losses *out);

int sam_trainer_label_side(const sam_trainer *t); /* low-res side: 4 * S / patch */
const sam_train_opts *sam_trainer_opts(const sam_trainer *t);
void sam_trainer_profile_print(const sam_trainer *t, void *file); /* FILE * */
/* Seconds spent in allreduce (and the host transfers around it) since the trainer was made. */
double sam_trainer_allreduce_seconds(const sam_trainer *t);
/* Device memory the graph holds: persistent + transient bytes. */
uint64_t sam_trainer_device_bytes(const sam_trainer *t);
int64_t sam_trainer_trainable_elements(const sam_trainer *t);

/* A parameter by checkpoint key (w_a_000, mask_decoder.iou_token.weight, ...): its element
 * count (-1 when the model has no such key), its values, whether it received a gradient in the
 * step, and that gradient (after a step). */
int64_t sam_trainer_param_numel(const sam_trainer *t, const char *key);
int sam_trainer_read_param(sam_trainer *t, const char *key, float *dst, size_t n);
int sam_trainer_has_grad(const sam_trainer *t, const char *key);
int sam_trainer_read_grad(sam_trainer *t, const char *key, float *dst, size_t n);

/* The trained model as a file (.safetensors, or .pth written as torch.save would: SAMed's
 * loaders accept it): with LoRA SAMed's layout (w_a_*, w_b_*, then every prompt_encoder.* and
 * mask_decoder.* tensor, the frozen Gaussian included); SAMed_s's (w_a, w_b, sa_a, sa_b, cti_a,
 * cti_b, cit_a, cit_b, the prompt encoder, the decoder outside its transformer, fati_*); fully
 * trained, the whole state dict. */
int sam_trainer_save_model(sam_trainer *t, const char *path);

/* The full training state (every trainable, AdamW's moments, and n_meta string pairs: step,
 * data position, ...) as safetensors, for --resume. */
int sam_trainer_save_state(sam_trainer *t, const char *path, int n_meta, const char *const *keys,
                           const char *const *values);
/* Restores what sam_trainer_save_state wrote (the same configuration: checked). */
int sam_trainer_load_state(sam_trainer *t, ve_checkpoint *ck);

/* SAMed's learning rate for step s (1-based): warmup base * s' / warmup, then poly 0.9 decay over
 * max_it iterations, set after each step (so steps 1 and 2 both use base / warmup). */
double sam_samed_lr(double base, int warmup, int64_t max_it, int64_t step);

#endif
