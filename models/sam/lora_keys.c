#include "sam/lora_keys.h"

#include <stdio.h>
#include <string.h>

/* Adapter key prefixes in SAMed_s's save order. */
static const char *const GROUP[SAM_LORA_SAVE_GROUPS] = {"w_a_",   "w_b_",   "sa_a_",  "sa_b_",
                                                        "cti_a_", "cti_b_", "cit_a_", "cit_b_"};

int sam_lora_save_group(const char *key) {
    for (int i = 0; i < SAM_LORA_SAVE_GROUPS; i++)
        if (!strncmp(key, GROUP[i], strlen(GROUP[i]))) return i;
    return -1;
}

sam_lora_role sam_lora_key_role(const char *key) {
    const int g = sam_lora_save_group(key);
    if (g >= 0) return g % 2 ? SAM_LORA_B : SAM_LORA_A;
    if (!strcmp(key, "fati_qa") || !strcmp(key, "fati_va")) return SAM_LORA_A;
    if (!strcmp(key, "fati_qb") || !strcmp(key, "fati_vb")) return SAM_LORA_B;
    return SAM_LORA_NONE;
}

void sam_lora_decoder_keys(sam_dec_attn_kind kind, int layer, int proj, char *a, char *b) {
    if (kind == SAM_DEC_FINAL) {
        snprintf(a, 16, "fati_%ca", proj ? 'v' : 'q');
        snprintf(b, 16, "fati_%cb", proj ? 'v' : 'q');
        return;
    }
    static const char *const pre[3] = {"sa", "cti", "cit"};
    snprintf(a, 16, "%s_a_%03d", pre[kind], 2 * layer + proj);
    snprintf(b, 16, "%s_b_%03d", pre[kind], 2 * layer + proj);
}
