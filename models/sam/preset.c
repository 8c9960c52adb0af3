/* YAML presets via libyaml's event parser: one flat mapping of known keys. */
#include "sam/preset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "io/file_open.h"
#include "status.h"

typedef enum { K_INT, K_FLOAT, K_STR, K_INTLIST } key_type;

typedef struct {
    const char *name;
    key_type type;
    size_t offset;
    int lo, hi; /* range of integers (and of list items) */
} key_spec;

#define INT_KEY(k, lo, hi)                                                                         \
    { #k, K_INT, offsetof(sam_preset, k), lo, hi }
static const key_spec KEYS[] = {
    {"name", K_STR, offsetof(sam_preset, name), 0, 0},
    INT_KEY(image_size, 16, 8192),
    INT_KEY(patch_size, 1, 64),
    INT_KEY(embed_dim, 1, 8192),
    INT_KEY(depth, 1, SAM_MAX_BLOCKS),
    INT_KEY(heads, 1, 256),
    INT_KEY(mlp_ratio, 1, 16),
    INT_KEY(window_size, 1, 256),
    {"global_blocks", K_INTLIST, offsetof(sam_preset, global_blocks), 0, SAM_MAX_BLOCKS - 1},
    {"encoder_ln_eps", K_FLOAT, offsetof(sam_preset, encoder_ln_eps), 0, 0},
    INT_KEY(neck_dim, 1, 8192),
    INT_KEY(prompt_dim, 1, 8192),
    INT_KEY(mask_in_chans, 4, 1024),
    INT_KEY(decoder_depth, 1, 64),
    INT_KEY(decoder_heads, 1, 256),
    INT_KEY(decoder_mlp_dim, 1, 65536),
    INT_KEY(decoder_downsample, 1, 64),
    INT_KEY(mask_outputs, 1, 1024),
    INT_KEY(iou_head_depth, 1, 16),
    INT_KEY(iou_head_hidden, 1, 65536),
};
#define NKEYS ((int)(sizeof KEYS / sizeof *KEYS))

static int line_of(const yaml_event_t *e) {
    return (int)e->start_mark.line + 1;
}

static int parse_int(const char *s, int lo, int hi, const char *where, int line, const char *key,
                     int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return ve_fail("%s:%d: %s: \"%s\" is not an integer in %d..%d", where, line, key, s, lo,
                       hi);
    *out = (int)v;
    return VE_OK;
}

static int next(yaml_parser_t *p, yaml_event_t *e, const char *where) {
    if (!yaml_parser_parse(p, e))
        return ve_fail("%s:%d: YAML error: %s", where, (int)p->problem_mark.line + 1,
                       p->problem ? p->problem : "malformed");
    return VE_OK;
}

static int read_value(yaml_parser_t *p, const key_spec *k, sam_preset *out, const char *where) {
    yaml_event_t e;
    if (next(p, &e, where) != VE_OK) return VE_FAIL;
    int line = line_of(&e), rc = VE_OK;
    char *field = (char *)out + k->offset;
    if (k->type == K_INTLIST) {
        if (e.type != YAML_SEQUENCE_START_EVENT) {
            yaml_event_delete(&e);
            return ve_fail("%s:%d: %s must be a list of integers, e.g. [2, 5]", where, line,
                           k->name);
        }
        yaml_event_delete(&e);
        out->n_global = 0;
        for (;;) {
            if (next(p, &e, where) != VE_OK) return VE_FAIL;
            if (e.type == YAML_SEQUENCE_END_EVENT) break;
            if (e.type != YAML_SCALAR_EVENT || out->n_global == SAM_MAX_BLOCKS) {
                yaml_event_delete(&e);
                return ve_fail("%s:%d: %s: expected at most %d integers", where, line, k->name,
                               SAM_MAX_BLOCKS);
            }
            rc = parse_int((const char *)e.data.scalar.value, k->lo, k->hi, where, line_of(&e),
                           k->name, &((int *)field)[out->n_global++]);
            yaml_event_delete(&e);
            if (rc != VE_OK) return rc;
        }
        yaml_event_delete(&e);
        return VE_OK;
    }
    if (e.type != YAML_SCALAR_EVENT) {
        yaml_event_delete(&e);
        return ve_fail("%s:%d: %s must be a single value", where, line, k->name);
    }
    const char *s = (const char *)e.data.scalar.value;
    if (k->type == K_INT) {
        rc = parse_int(s, k->lo, k->hi, where, line, k->name, (int *)field);
    } else if (k->type == K_FLOAT) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || !isfinite(v) || v <= 0 || v > 1)
            rc = ve_fail("%s:%d: %s: \"%s\" is not a number in (0, 1]", where, line, k->name, s);
        else
            *(float *)field = (float)v;
    } else {
        if (strlen(s) == 0 || strlen(s) >= sizeof out->name)
            rc = ve_fail("%s:%d: %s must be 1..%zu characters", where, line, k->name,
                         sizeof out->name - 1);
        else
            snprintf(field, sizeof out->name, "%s", s);
    }
    yaml_event_delete(&e);
    return rc;
}

static int check(const sam_preset *p, const char *where) {
    if (p->embed_dim % p->heads)
        return ve_fail("%s: embed_dim %d is not divisible by heads %d", where, p->embed_dim,
                       p->heads);
    if (p->image_size % p->patch_size)
        return ve_fail("%s: image_size %d is not a multiple of patch_size %d", where, p->image_size,
                       p->patch_size);
    for (int i = 0; i < p->n_global; i++) {
        if (p->global_blocks[i] >= p->depth)
            return ve_fail("%s: global block %d is outside depth %d", where, p->global_blocks[i],
                           p->depth);
        if (i && p->global_blocks[i] <= p->global_blocks[i - 1])
            return ve_fail("%s: global_blocks must be increasing", where);
    }
    if (p->prompt_dim % p->decoder_heads ||
        (p->prompt_dim / p->decoder_downsample) % p->decoder_heads)
        return ve_fail("%s: prompt_dim %d / decoder_downsample %d is not divisible by "
                       "decoder_heads %d",
                       where, p->prompt_dim, p->decoder_downsample, p->decoder_heads);
    if (p->neck_dim != p->prompt_dim)
        return ve_fail("%s: neck_dim %d must equal prompt_dim %d (the image embedding feeds the "
                       "decoder)",
                       where, p->neck_dim, p->prompt_dim);
    if (p->prompt_dim % 8)
        return ve_fail("%s: prompt_dim %d must be a multiple of 8 (the upscaling divides it by "
                       "4 then 8)",
                       where, p->prompt_dim);
    return VE_OK;
}

int sam_preset_parse(const char *yaml, size_t len, const char *where, sam_preset *out) {
    memset(out, 0, sizeof *out);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return ve_fail("%s: cannot start the YAML parser", where);
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    int seen[NKEYS] = {0};
    int rc = VE_OK, depth = 0, done = 0;
    while (rc == VE_OK && !done) {
        yaml_event_t e;
        if ((rc = next(&p, &e, where)) != VE_OK) break;
        switch (e.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth++ > 0)
                rc = ve_fail("%s:%d: nested mappings are not allowed", where, line_of(&e));
            break;
        case YAML_MAPPING_END_EVENT:
            done = 1;
            break;
        case YAML_SCALAR_EVENT: {
            if (depth != 1) {
                rc =
                    ve_fail("%s:%d: a preset is a mapping of key: value lines", where, line_of(&e));
                break;
            }
            const char *key = (const char *)e.data.scalar.value;
            int k = 0;
            while (k < NKEYS && strcmp(KEYS[k].name, key) != 0)
                k++;
            if (k == NKEYS)
                rc = ve_fail("%s:%d: unknown key \"%s\"", where, line_of(&e), key);
            else if (seen[k])
                rc = ve_fail("%s:%d: key \"%s\" given twice", where, line_of(&e), key);
            else {
                seen[k] = 1;
                rc = read_value(&p, &KEYS[k], out, where);
            }
            break;
        }
        default:
            rc = ve_fail("%s:%d: a preset is a mapping of key: value lines", where, line_of(&e));
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    if (rc != VE_OK) return rc;
    if (!done) return ve_fail("%s: empty preset", where);
    for (int k = 0; k < NKEYS; k++)
        if (!seen[k]) return ve_fail("%s: missing key \"%s\"", where, KEYS[k].name);
    return check(out, where);
}

int sam_preset_load(const char *path, sam_preset *out) {
    FILE *f = ve_fopen_regular(path, "preset");
    if (!f) return VE_FAIL;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    int big = !feof(f);
    fclose(f);
    if (big) return ve_fail("preset %s is over %zu bytes", path, sizeof buf);
    return sam_preset_parse(buf, n, path, out);
}

/* Generated by CMake from the YAML files in models/presets. */
typedef struct {
    const char *name;
    const unsigned char *text;
    size_t len;
} embedded_preset;
extern const embedded_preset sam_embedded_presets[];

int sam_preset_builtin(const char *name, sam_preset *out) {
    for (const embedded_preset *e = sam_embedded_presets; e->name; e++)
        if (strcmp(e->name, name) == 0) {
            char where[64];
            snprintf(where, sizeof where, "models/presets/%s.yaml", name);
            return sam_preset_parse((const char *)e->text, e->len, where, out);
        }
    return ve_fail("no preset named \"%s\" (built in: vit_b, vit_l, vit_h, tiny)", name);
}

const char *const *sam_preset_names(void) {
    static const char *names[32];
    int n = 0;
    for (const embedded_preset *e = sam_embedded_presets; e->name && n < 31; e++)
        names[n++] = e->name;
    names[n] = NULL;
    return names;
}
