/* SAMed's adapter key names (sam_lora_image_encoder.py and, for SAMed_s,
 * sam_lora_image_encoder_mask_decoder.py): the encoder's w_a_NNN / w_b_NNN (2i: q of block i,
 * 2i + 1: v), and the mask decoder's per two-way layer i sa_* (self-attention), cti_* (token to
 * image), cit_* (image to token) with the same 2i / 2i + 1 numbering, plus fati_qa, fati_qb,
 * fati_va, fati_vb for the final token-to-image attention. A is [r, in], B is [out, r]. */
#ifndef SAM_LORA_KEYS_H
#define SAM_LORA_KEYS_H

typedef enum { SAM_LORA_NONE = 0, SAM_LORA_A, SAM_LORA_B } sam_lora_role;

/* The decoder's adapted attentions. */
typedef enum { SAM_DEC_SELF = 0, SAM_DEC_T2I, SAM_DEC_I2T, SAM_DEC_FINAL } sam_dec_attn_kind;

/* Whether key names an adapter's A or B (encoder or decoder). */
sam_lora_role sam_lora_key_role(const char *key);
/* The A and B keys of the adapter on proj (0: q_proj, 1: v_proj) of attention kind in two-way
 * layer `layer` (ignored for SAM_DEC_FINAL). a and b hold at least 16 bytes. */
void sam_lora_decoder_keys(sam_dec_attn_kind kind, int layer, int proj, char *a, char *b);
/* SAMed_s's save order of the adapter groups (w_a, w_b, sa_a, sa_b, cti_a, cti_b, cit_a, cit_b;
 * fati_* come last, after the prompt encoder and decoder): the group index of key, or -1. */
int sam_lora_save_group(const char *key);
#define SAM_LORA_SAVE_GROUPS 8

#endif
