/* SAM model presets: every size of the model as a value, read from YAML (the files in
 * models/presets, embedded in the binary, or a user's file). */
#ifndef SAM_PRESET_H
#define SAM_PRESET_H

#include <stddef.h>

#define SAM_MAX_BLOCKS 64

typedef struct {
    char name[32];
    int image_size; /* input side S the checkpoint was trained at */
    int patch_size;
    int embed_dim, depth, heads, mlp_ratio;
    int window_size; /* side of the windows of non-global blocks */
    int n_global, global_blocks[SAM_MAX_BLOCKS];
    float encoder_ln_eps;
    int neck_dim, prompt_dim, mask_in_chans;
    int decoder_depth, decoder_heads, decoder_mlp_dim, decoder_downsample;
    int mask_outputs; /* mask tokens: SAM 4, SAMed classes + 1 */
    int iou_head_depth, iou_head_hidden;
} sam_preset;

/* Parses a preset from YAML text; `where` names it in messages (a file name). Every key is
 * required, unknown and repeated keys are errors naming the line, and the values are checked
 * for consistency (embed_dim divisible by heads, global blocks inside depth, ...). */
int sam_preset_parse(const char *yaml, size_t len, const char *where, sam_preset *out);
/* Reads a preset file. */
int sam_preset_load(const char *path, sam_preset *out);
/* One of the embedded presets: "vit_b", "vit_l", "vit_h", "tiny". */
int sam_preset_builtin(const char *name, sam_preset *out);
/* The names of the embedded presets, NULL-terminated. */
const char *const *sam_preset_names(void);

#endif
