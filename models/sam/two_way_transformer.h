/* The mask decoder's two-way transformer (internal to models/sam: mask_decoder.c builds on it). */
#ifndef SAM_TWO_WAY_TRANSFORMER_H
#define SAM_TWO_WAY_TRANSFORMER_H

#include "sam/mask_decoder.h"

/* tokens [B * n_tok, C] (the initial token set, also the token PE), keys [B * hw, C] (image
 * embedding + dense prompt), key_pe [hw * C] (the grid PE, shared by the batch). Returns the
 * final tokens in *tokens_out and the final image keys in *keys_out. */
int sam_two_way_transformer(ve_graph *g, const sam_mask_decoder *d, ve_tid tokens, ve_tid keys,
                            ve_tid key_pe, int64_t batch, int64_t n_tok, int64_t hw,
                            ve_tid *tokens_out, ve_tid *keys_out);
/* x [.., in] through the MLP (ReLU between layers). */
ve_tid sam_mlp_build(ve_graph *g, const sam_mlp *m, ve_tid x);

#endif
