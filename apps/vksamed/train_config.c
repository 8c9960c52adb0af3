/* The train/eval config (train_config.h): a strict reader on libyaml's document API (so every
 * value knows its line), one table of keys (type, range, default) that the file, the
 * command-line overrides and the writer all use, the cross-key validation, and the writer of
 * the effective config. The meaning of every key: docs/config.md. */
#include "train_config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "io/atomic_file.h"
#include "sam/preset.h"
#include "io/file_open.h"
#include "status.h"

/* ---- the schema ---- */

typedef enum {
    T_INT,
    T_DOUBLE,
    T_BOOL,
    T_U64,
    T_WORD,      /* one of `words`, stored as its index */
    T_STR,       /* free text (device) */
    T_PATH,      /* an input file: resolved against the config's folder */
    T_OUTPUT,    /* the run folder: resolved against the current folder */
    T_PRESET,    /* a built-in name or a preset file */
    T_BETAS,     /* [beta1, beta2] */
    T_BLOCKS,    /* all | [i, j, ...] */
    T_INTENSITY, /* minmax | [lo, hi] */
    T_GROUPS,    /* label_groups */
    T_SPLIT,     /* data.train / data.test */
} vtype;

enum {
    K_PRESET,
    K_CHECKPOINT,
    K_LORA,
    K_IMAGE_SIZE,
    K_CLASSES,
    K_FINETUNE,
    K_LORA_RANK,
    K_LORA_BLOCKS,
    K_BATCH,
    K_BASE_LR,
    K_WARMUP,
    K_EPOCHS,
    K_STOP_EPOCH,
    K_MAX_MINUTES,
    K_WEIGHT_DECAY,
    K_BETAS,
    K_EPS,
    K_CE_WEIGHT,
    K_DICE_WEIGHT,
    K_AUGMENT,
    K_ROT90_FLIP,
    K_SEED,
    K_SAVE_EVERY,
    K_NAN,
    K_FORMAT, /* before train and test: it says how to read them */
    K_AXIS,
    K_INTENSITY,
    K_LABEL_GROUPS,
    K_TRAIN,
    K_TEST,
    K_OUTPUT,
    K_DEVICE,
    K_COUNT
};
_Static_assert(K_COUNT <= TC_KEYS, "TC_KEYS in train_config.h is too small");

typedef struct {
    const char *path; /* "section.key" or a top-level "key" */
    vtype type;
    size_t off, size; /* the field in train_config */
    double lo, hi;    /* numbers: the accepted range, inclusive unless lo_open / hi_open */
    int lo_open, hi_open;
    double def;        /* numbers, booleans and words: the default */
    const char *words; /* T_WORD: the names of the values 0, 1, ... separated by '|' */
    int required;
    const char *hint; /* required keys: what the key is, for the "missing" message */
} key_spec;

#define FIELD(f) .off = offsetof(train_config, f), .size = sizeof(((train_config *)0)->f)
#define BIG 1e9

static const key_spec KEYS[K_COUNT] = {
    [K_PRESET] = {"model.preset", T_PRESET, FIELD(preset), .required = 1,
                  .hint = "a built-in preset name or a preset file"},
    [K_CHECKPOINT] = {"model.checkpoint", T_PATH, FIELD(checkpoint)},
    [K_LORA] = {"model.lora", T_PATH, FIELD(lora)},
    [K_IMAGE_SIZE] = {"model.image_size", T_INT, FIELD(image_size), .lo = 16, .hi = 8192},
    [K_CLASSES] = {"model.classes", T_INT, FIELD(classes), .lo = 1, .hi = 255, .required = 1,
                   .hint = "the number of foreground classes"},
    [K_FINETUNE] = {"model.finetune", T_WORD, FIELD(finetune), .words = "lora|full|lora_decoder"},
    [K_LORA_RANK] = {"model.lora_rank", T_INT, FIELD(lora_rank), .lo = 1, .hi = 1024, .def = 4},
    [K_LORA_BLOCKS] = {"model.lora_blocks", T_BLOCKS, FIELD(lora_blocks)},
    [K_BATCH] = {"train.batch", T_INT, FIELD(batch), .lo = 1, .hi = 65536, .def = 12},
    [K_BASE_LR] = {"train.base_lr", T_DOUBLE, FIELD(base_lr), .lo = 0, .hi = 10, .lo_open = 1,
                   .def = 0.005},
    [K_WARMUP] = {"train.warmup", T_INT, FIELD(warmup), .lo = 0, .hi = BIG, .def = 250},
    [K_EPOCHS] = {"train.epochs", T_INT, FIELD(epochs), .lo = 1, .hi = 1e6, .def = 200},
    [K_STOP_EPOCH] = {"train.stop_epoch", T_INT, FIELD(stop_epoch), .lo = 1, .hi = 1e6},
    [K_MAX_MINUTES] = {"train.max_minutes", T_DOUBLE, FIELD(max_minutes), .lo = 0, .hi = BIG},
    [K_WEIGHT_DECAY] = {"train.weight_decay", T_DOUBLE, FIELD(weight_decay), .lo = 0, .hi = 1e3,
                        .def = 0.1},
    [K_BETAS] = {"train.betas", T_BETAS, FIELD(beta1)},
    [K_EPS] = {"train.eps", T_DOUBLE, FIELD(eps), .lo = 0, .hi = 1, .lo_open = 1, .def = 1e-8},
    [K_CE_WEIGHT] = {"train.ce_weight", T_DOUBLE, FIELD(ce_weight), .lo = 0, .hi = 1e6, .def = 0.2},
    [K_DICE_WEIGHT] = {"train.dice_weight", T_DOUBLE, FIELD(dice_weight), .lo = 0, .hi = 1e6,
                       .def = 0.8},
    [K_AUGMENT] = {"train.augment", T_BOOL, FIELD(augment), .def = 1},
    [K_ROT90_FLIP] = {"train.rot90_flip", T_BOOL, FIELD(rot90_flip), .def = 1},
    [K_SEED] = {"train.seed", T_U64, FIELD(seed), .def = 1234},
    [K_SAVE_EVERY] = {"train.save_every", T_INT, FIELD(save_every), .lo = 1, .hi = 1e6, .def = 1},
    [K_NAN] = {"train.nan", T_WORD, FIELD(nan_policy), .words = "stop|skip"},
    [K_FORMAT] = {"data.format", T_WORD, FIELD(data_format), .words = "png|nifti|synapse",
                  .required = 1, .hint = "png, nifti or synapse"},
    [K_AXIS] = {"data.axis", T_INT, FIELD(axis), .lo = 0, .hi = 2, .def = 2},
    [K_INTENSITY] = {"data.intensity", T_INTENSITY, FIELD(window)},
    [K_LABEL_GROUPS] = {"data.label_groups", T_GROUPS, FIELD(label_lut)},
    [K_TRAIN] = {"data.train", T_SPLIT, FIELD(train), .required = 1, .hint = "the training data"},
    [K_TEST] = {"data.test", T_SPLIT, FIELD(test)},
    [K_OUTPUT] = {"output", T_OUTPUT, FIELD(output), .required = 1, .hint = "the run folder"},
    [K_DEVICE] = {"device", T_STR, FIELD(device)},
};
static const char *const SECTIONS[] = {"model", "train", "data"};
#define NSECTIONS 3

/* ---- messages ---- */

typedef struct {
    const char *file;   /* names the source in messages: the config's path or "command line" */
    int override;       /* 1: a value from the command line (no line numbers) */
    char base[TC_PATH]; /* relative input paths resolve against this folder */
    char cwd[TC_PATH];  /* and the output against this one */
    yaml_document_t *doc;
} ctx;

/* "FILE:LINE: KEY: message" (no line for overrides), returns VE_FAIL. */
VE_PRINTF(4, 5) static int fail(const ctx *x, int line, const char *key, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->override || line <= 0) return ve_fail("%s: %s: %s", x->file, key, msg);
    return ve_fail("%s:%d: %s: %s", x->file, line, key, msg);
}

static int line_of(const yaml_node_t *n) {
    return (int)n->start_mark.line + 1;
}

static const char *kind_of(const yaml_node_t *n) {
    return n->type == YAML_SEQUENCE_NODE  ? "a list"
           : n->type == YAML_MAPPING_NODE ? "a mapping"
                                          : "a value";
}

/* Edit distance with transpositions (optimal string alignment), for "did you mean". */
static int edit_distance(const char *a, const char *b) {
    enum { M = 64 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la >= M || lb >= M) return M;
    int d[M][M];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

static const char *leaf_of(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* Keeps `cand` in best/best_d if it is closer to `typed`; a key of the same name in another
 * section counts as distance 1. */
static void consider(const char *typed, const char *cand, char *best, int *best_d) {
    int d = edit_distance(typed, cand);
    if (d > 1 && strcmp(leaf_of(typed), leaf_of(cand)) == 0) d = 1;
    if (d < *best_d) {
        *best_d = d;
        snprintf(best, TC_PATH, "%s", cand);
    }
}

/* " (did you mean X?)" for an unknown key path, or "". Candidates: this mapping's own keys
 * (prefix + names) and every key and section of the schema. */
static const char *did_you_mean(const char *typed, const char *prefix, const char *const *names,
                                int n, char *out, size_t size) {
    char best[TC_PATH] = "", cand[TC_PATH];
    int best_d = 3;
    for (int i = 0; i < n; i++) {
        snprintf(cand, sizeof cand, "%s%s%s", prefix, *prefix ? "." : "", names[i]);
        consider(typed, cand, best, &best_d);
    }
    for (int k = 0; k < K_COUNT; k++)
        consider(typed, KEYS[k].path, best, &best_d);
    for (int s = 0; s < NSECTIONS; s++)
        consider(typed, SECTIONS[s], best, &best_d);
    int len = (int)strlen(leaf_of(typed));
    if (!best[0] || best_d >= len) return "";
    snprintf(out, size, " (did you mean %s?)", best);
    return out;
}

/* ---- scalar values ---- */

static int is_null(const yaml_node_t *n) {
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The text of a scalar; `number`: quoted text is refused (a string where a number goes). */
static int scalar_text(const ctx *x, const yaml_node_t *n, const char *key, const char *what,
                       int number, const char **text) {
    *text = "";
    if (n->type != YAML_SCALAR_NODE)
        return fail(x, line_of(n), key, "expected %s, got %s", what, kind_of(n));
    *text = (const char *)n->data.scalar.value;
    if (number && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail(x, line_of(n), key, "expected %s, got the string \"%s\"", what, *text);
    return VE_OK;
}

static int parse_long(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return VE_FAIL;
    *out = v;
    return VE_OK;
}

static int parse_double(const char *s, double *out) {
    char *end;
    if (strpbrk(s, "xX")) return VE_FAIL; /* no hexadecimal floats */
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return VE_FAIL;
    *out = v;
    return VE_OK;
}

static int check_range(const ctx *x, const yaml_node_t *n, const key_spec *k, double v,
                       const char *text) {
    int below = k->lo_open ? v <= k->lo : v < k->lo;
    int above = k->hi_open ? v >= k->hi : v > k->hi;
    if (!below && !above) return VE_OK;
    if (k->hi >= BIG)
        return fail(x, line_of(n), k->path, "%s is out of range: must be %s %g", text,
                    k->lo_open ? ">" : ">=", k->lo);
    return fail(x, line_of(n), k->path, "%s is out of range: must be in %s%g, %g%s", text,
                k->lo_open ? "(" : "[", k->lo, k->hi, k->hi_open ? ")" : "]");
}

static int read_int(const ctx *x, const yaml_node_t *n, const key_spec *k, int *out) {
    const char *t;
    long long v;
    if (scalar_text(x, n, k->path, "an integer", 1, &t)) return VE_FAIL;
    if (parse_long(t, &v))
        return fail(x, line_of(n), k->path, "expected an integer, got \"%s\"", t);
    if (check_range(x, n, k, (double)v, t)) return VE_FAIL;
    *out = (int)v;
    return VE_OK;
}

static int read_double(const ctx *x, const yaml_node_t *n, const key_spec *k, double *out) {
    const char *t;
    double v;
    if (scalar_text(x, n, k->path, "a number", 1, &t)) return VE_FAIL;
    if (parse_double(t, &v))
        return fail(x, line_of(n), k->path, "expected a number, got \"%s\"", t);
    if (check_range(x, n, k, v, t)) return VE_FAIL;
    *out = v;
    return VE_OK;
}

/* The index of `s` in a '|'-separated list of words, -1 if absent. */
static int word_index(const char *words, const char *s) {
    size_t n = strlen(s);
    int i = 0;
    for (const char *w = words; w; i++) {
        const char *bar = strchr(w, '|');
        size_t len = bar ? (size_t)(bar - w) : strlen(w);
        if (len == n && !strncmp(w, s, n)) return i;
        w = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* The i-th word into out. */
static const char *word_at(const char *words, int i, char *out, size_t size) {
    const char *w = words;
    for (; i > 0 && w; i--) {
        w = strchr(w, '|');
        if (w) w++;
    }
    if (!w) return "?";
    const char *bar = strchr(w, '|');
    snprintf(out, size, "%.*s", (int)(bar ? (size_t)(bar - w) : strlen(w)), w);
    return out;
}

static int read_word(const ctx *x, const yaml_node_t *n, const key_spec *k, int *out) {
    const char *t;
    char list[128];
    snprintf(list, sizeof list, "%s", k->words);
    for (char *p = list; (p = strchr(p, '|'));)
        *p = '/';
    if (scalar_text(x, n, k->path, "a word", 0, &t)) return VE_FAIL;
    int i = word_index(k->words, t);
    if (i < 0) return fail(x, line_of(n), k->path, "unknown value \"%s\" (expected %s)", t, list);
    *out = i;
    return VE_OK;
}

/* A path: "~" is not expanded (an error, not a surprise), a relative one is joined to base. */
static int read_path(const ctx *x, const yaml_node_t *n, const char *key, const char *base,
                     char *dst, size_t size) {
    const char *t;
    char tmp[TC_PATH];
    if (scalar_text(x, n, key, "a path", 0, &t)) return VE_FAIL;
    if (!*t) return fail(x, line_of(n), key, "empty path");
    if (t[0] == '~' && (t[1] == '/' || !t[1]))
        return fail(x, line_of(n), key, "\"%s\": ~ is not expanded, give the full path", t);
    int len = t[0] == '/' ? snprintf(tmp, sizeof tmp, "%s", t)
                          : snprintf(tmp, sizeof tmp, "%s/%s", base, t);
    if (len < 0 || (size_t)len >= size)
        return fail(x, line_of(n), key, "\"%s\": the path is over %zu characters", t, size - 1);
    memcpy(dst, tmp, (size_t)len + 1);
    return VE_OK;
}

/* "a" or "a-b" (decimal, non-negative, spaces around allowed) within [0, hi]. */
static int parse_range(const char *s, size_t len, long hi, long *a, long *b) {
    char item[64];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (!len || len >= sizeof item) return VE_FAIL;
    memcpy(item, s, len);
    item[len] = 0;
    char *end;
    if (item[0] < '0' || item[0] > '9') return VE_FAIL;
    *a = strtol(item, &end, 10);
    *b = *a;
    if (*end == '-') {
        if (end[1] < '0' || end[1] > '9') return VE_FAIL;
        *b = strtol(end + 1, &end, 10);
    }
    if (*end || *a > hi || *b > hi) return VE_FAIL;
    return VE_OK;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* slices: "10-39,50-79,90" -> ascending list; null or "all" -> NULL (every slice). */
static int read_slices(const ctx *x, const yaml_node_t *n, const char *key, tc_volume *v) {
    enum { MAX_SLICE = 1 << 20 };
    const char *t;
    v->slices = NULL;
    v->n_slices = 0;
    if (is_null(n)) return VE_OK;
    if (scalar_text(x, n, key, "slices such as \"10-39,50-79,90\"", 0, &t)) return VE_FAIL;
    if (!strcmp(t, "all")) return VE_OK;
    int cap = 0, count = 0, *list = NULL;
    for (const char *p = t;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        long a, b;
        if (parse_range(p, len, MAX_SLICE, &a, &b) || a > b) {
            free(list);
            return fail(x, line_of(n), key,
                        "\"%.*s\" in \"%s\" is not a slice index or an a-b range with a <= b",
                        (int)len, p, t);
        }
        if (count + (b - a + 1) > MAX_SLICE) {
            free(list);
            return fail(x, line_of(n), key, "more than %d slices", MAX_SLICE);
        }
        if (count + (b - a + 1) > cap) {
            cap = (int)(count + (b - a + 1)) * 2;
            int *grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                free(list);
                return ve_fail("out of memory");
            }
            list = grown;
        }
        for (long s = a; s <= b; s++)
            list[count++] = (int)s;
        if (!comma) break;
        p = comma + 1;
    }
    qsort(list, (size_t)count, sizeof *list, cmp_int);
    for (int i = 1; i < count; i++)
        if (list[i] == list[i - 1]) {
            int s = list[i];
            free(list);
            return fail(x, line_of(n), key, "slice %d is listed twice in \"%s\"", s, t);
        }
    v->slices = list;
    v->n_slices = count;
    return VE_OK;
}

/* ---- mappings ---- */

/* Checks the keys of mapping m (at key path `prefix`, "" at the top) against `names`: unknown
 * and repeated keys are errors. vals[i] gets the value of names[i] (NULL if absent), klines[i]
 * the line of its key. */
static int map_keys(const ctx *x, const yaml_node_t *m, const char *prefix,
                    const char *const *names, int n, yaml_node_t **vals, int *klines) {
    for (int i = 0; i < n; i++)
        vals[i] = NULL, klines[i] = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE)
            return fail(x, line_of(kn), *prefix ? prefix : "config", "a key must be a word, not %s",
                        kind_of(kn));
        const char *name = (const char *)kn->data.scalar.value;
        char full[TC_PATH], hint[TC_PATH + 32];
        snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", name);
        int i = 0;
        while (i < n && strcmp(names[i], name))
            i++;
        if (i == n)
            return fail(x, line_of(kn), full, "unknown key%s",
                        did_you_mean(full, prefix, names, n, hint, sizeof hint));
        if (vals[i]) return fail(x, line_of(kn), full, "given twice (first at line %d)", klines[i]);
        vals[i] = vn;
        klines[i] = line_of(kn);
    }
    return VE_OK;
}

static int want_mapping(const ctx *x, const yaml_node_t *n, const char *key, const char *example) {
    if (n->type == YAML_MAPPING_NODE) return VE_OK;
    return fail(x, line_of(n), key, "expected a mapping such as %s, got %s", example, kind_of(n));
}

/* ---- compound values ---- */

static int read_betas(const ctx *x, const yaml_node_t *n, train_config *c) {
    const char *key = KEYS[K_BETAS].path;
    key_spec one = {key, T_DOUBLE, .lo = 0, .hi = 1, .hi_open = 1};
    double b[2];
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return fail(x, line_of(n), key, "expected two numbers [beta1, beta2] such as [0.9, 0.999]");
    for (int i = 0; i < 2; i++)
        if (read_double(x, yaml_document_get_node(x->doc, n->data.sequence.items.start[i]), &one,
                        &b[i]))
            return VE_FAIL;
    c->beta1 = b[0];
    c->beta2 = b[1];
    return VE_OK;
}

static int read_blocks(const ctx *x, const yaml_node_t *n, train_config *c) {
    const char *key = KEYS[K_LORA_BLOCKS].path;
    if (n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, "all")) {
        c->n_lora_blocks = -1;
        return VE_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(x, line_of(n), key, "expected all or a list of block indices such as [0, 1]");
    key_spec one = {key, T_INT, .lo = 0, .hi = 63};
    int blocks[64], count = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *v = yaml_document_get_node(x->doc, *it);
        if (count == 64) return fail(x, line_of(v), key, "more than 64 blocks");
        if (read_int(x, v, &one, &blocks[count])) return VE_FAIL;
        if (count && blocks[count] <= blocks[count - 1])
            return fail(x, line_of(v), key, "block indices must increase");
        count++;
    }
    if (!count) return fail(x, line_of(n), key, "empty list: give all or at least one block");
    memcpy(c->lora_blocks, blocks, sizeof blocks);
    c->n_lora_blocks = count;
    return VE_OK;
}

static int read_intensity(const ctx *x, const yaml_node_t *n, train_config *c) {
    const char *key = KEYS[K_INTENSITY].path;
    if (n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, "minmax")) {
        c->window = TC_INTENSITY_MINMAX;
        c->window_lo = c->window_hi = 0;
        return VE_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return fail(x, line_of(n), key, "expected minmax or a window [lo, hi] such as [-125, 275]");
    key_spec one = {key, T_DOUBLE, .lo = -1e30, .hi = 1e30};
    double w[2];
    for (int i = 0; i < 2; i++)
        if (read_double(x, yaml_document_get_node(x->doc, n->data.sequence.items.start[i]), &one,
                        &w[i]))
            return VE_FAIL;
    if (w[0] >= w[1])
        return fail(x, line_of(n), key, "window [%g, %g]: lo must be below hi", w[0], w[1]);
    c->window = TC_INTENSITY_WINDOW;
    c->window_lo = w[0];
    c->window_hi = w[1];
    return VE_OK;
}

/* label_groups: {class: [value or "a-b", ...]} -> label_lut. */
static int read_groups(const ctx *x, const yaml_node_t *n, train_config *c) {
    const char *key = KEYS[K_LABEL_GROUPS].path;
    if (want_mapping(x, n, key, "{1: [\"1-16\", 19], 2: [17]}")) return VE_FAIL;
    int owner[256] = {0}, class_line[256] = {0};
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        long long cls;
        if (kn->type != YAML_SCALAR_NODE || parse_long((const char *)kn->data.scalar.value, &cls) ||
            cls < 1 || cls > 255)
            return fail(x, line_of(kn), key, "a group's key is its class, an integer in 1..255");
        char sub[64];
        snprintf(sub, sizeof sub, "%s.%lld", key, cls);
        if (class_line[cls])
            return fail(x, line_of(kn), sub, "given twice (first at line %d)", class_line[cls]);
        class_line[cls] = line_of(kn);
        yaml_node_item_t one = p->value;
        yaml_node_item_t *start = &one, *top = &one + 1;
        if (vn->type == YAML_SEQUENCE_NODE)
            start = vn->data.sequence.items.start, top = vn->data.sequence.items.top;
        if (start == top) return fail(x, line_of(vn), sub, "empty group");
        for (yaml_node_item_t *it = start; it < top; it++) {
            yaml_node_t *item = yaml_document_get_node(x->doc, *it);
            const char *t;
            long a, b;
            if (scalar_text(x, item, sub, "a label value or an \"a-b\" range", 0, &t))
                return VE_FAIL;
            if (parse_range(t, strlen(t), 255, &a, &b) || a > b)
                return fail(x, line_of(item), sub,
                            "\"%s\" is not a label value in 0..255 or an a-b range with a <= b", t);
            for (long v = a; v <= b; v++) {
                if (owner[v] == cls)
                    return fail(x, line_of(item), sub, "value %ld is listed twice", v);
                if (owner[v])
                    return fail(x, line_of(item), sub, "value %ld is in classes %d and %lld", v,
                                owner[v], cls);
                owner[v] = (int)cls;
            }
        }
    }
    memcpy(c->label_lut, owner, sizeof owner);
    c->has_label_lut = 1;
    return VE_OK;
}

static int read_volume(const ctx *x, const yaml_node_t *n, const char *key, tc_volume *v) {
    static const char *const names[] = {"image", "label", "slices"};
    yaml_node_t *vals[3];
    int lines[3];
    if (want_mapping(x, n, key, "{image: ct.nii.gz, label: seg.nii.gz, slices: \"10-39\"}") ||
        map_keys(x, n, key, names, 3, vals, lines))
        return VE_FAIL;
    char sub[TC_PATH];
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof sub, "%s.%s", key, names[i]);
        if (!vals[i] || is_null(vals[i]))
            return fail(x, line_of(n), sub, "missing (required: the %s volume)", names[i]);
        if (read_path(x, vals[i], sub, x->base, i ? v->label : v->image, TC_PATH)) return VE_FAIL;
    }
    snprintf(sub, sizeof sub, "%s.slices", key);
    return read_slices(x, vals[2], sub, v);
}

static void free_split(tc_split *s) {
    for (int i = 0; i < s->n_vol; i++) {
        free(s->vol[i].slices);
        s->vol[i].slices = NULL;
    }
}

/* Reads the folders (png: images + labels, synapse: dir + optional list) of a split. */
static int read_folders(const ctx *x, const yaml_node_t *n, const char *key, tc_split *s) {
    int png = s->format == TC_DATA_PNG;
    const char *const names[] = {png ? "images" : "dir", png ? "labels" : "list"};
    char *dst[] = {png ? s->images : s->dir, png ? s->labels : s->list};
    yaml_node_t *vals[2];
    int lines[2];
    if (want_mapping(x, n, key, png ? "{images: DIR, labels: DIR}" : "{dir: DIR, list: FILE}") ||
        map_keys(x, n, key, names, 2, vals, lines))
        return VE_FAIL;
    char sub[TC_PATH];
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof sub, "%s.%s", key, names[i]);
        if (!vals[i] || is_null(vals[i])) {
            if (png || i == 0)
                return fail(x, line_of(n), sub, "missing (required: %s)",
                            png ? "a folder" : "the folder of the data set");
            continue;
        }
        if (read_path(x, vals[i], sub, x->base, dst[i], TC_PATH)) return VE_FAIL;
    }
    return VE_OK;
}

static int read_split(const ctx *x, const yaml_node_t *n, train_config *c, int k) {
    const char *key = KEYS[k].path;
    if (!c->key_given[K_FORMAT])
        return fail(x, line_of(n), key,
                    "data.format (png, nifti or synapse) must be given to "
                    "read it");
    tc_split *s = calloc(1, sizeof *s);
    if (!s) return ve_fail("out of memory");
    s->format = c->data_format;
    s->present = 1;
    int rc = VE_OK;
    if (s->format != TC_DATA_NIFTI) {
        rc = read_folders(x, n, key, s);
    } else if (n->type != YAML_SEQUENCE_NODE) {
        rc = fail(x, line_of(n), key,
                  "expected a list of volumes [{image: ..., label: ..., slices: ...}], got %s",
                  kind_of(n));
    } else {
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             rc == VE_OK && it < n->data.sequence.items.top; it++) {
            char sub[64];
            snprintf(sub, sizeof sub, "%s[%d]", key, s->n_vol);
            if (s->n_vol == TC_MAX_VOLUMES)
                rc = fail(x, line_of(n), key, "more than %d volumes", TC_MAX_VOLUMES);
            else
                rc = read_volume(x, yaml_document_get_node(x->doc, *it), sub, &s->vol[s->n_vol++]);
        }
        if (rc == VE_OK && !s->n_vol) rc = fail(x, line_of(n), key, "no volumes");
    }
    if (rc == VE_OK) {
        tc_split *dst = k == K_TRAIN ? &c->train : &c->test;
        free_split(dst);
        *dst = *s;
    } else {
        free_split(s);
    }
    free(s);
    return rc;
}

/* ---- one key ---- */

/* Sets key k to its default (a null in the file, or before reading). */
static void reset_key(train_config *c, int k) {
    const key_spec *s = &KEYS[k];
    char *f = (char *)c + s->off;
    switch (s->type) {
    case T_INT:
    case T_BOOL:
    case T_WORD:
        *(int *)f = (int)s->def;
        break;
    case T_DOUBLE:
        *(double *)f = s->def;
        break;
    case T_U64:
        *(uint64_t *)f = (uint64_t)s->def;
        break;
    case T_STR:
    case T_PATH:
    case T_OUTPUT:
    case T_PRESET:
        memset(f, 0, s->size);
        break;
    case T_BETAS:
        c->beta1 = 0.9;
        c->beta2 = 0.999;
        break;
    case T_BLOCKS:
        c->n_lora_blocks = -1;
        break;
    case T_INTENSITY:
        c->window = TC_INTENSITY_MINMAX;
        c->window_lo = c->window_hi = 0;
        break;
    case T_GROUPS:
        memset(c->label_lut, 0, sizeof c->label_lut);
        c->has_label_lut = 0;
        break;
    case T_SPLIT: {
        tc_split *sp = (tc_split *)f;
        free_split(sp);
        memset(sp, 0, sizeof *sp);
        sp->format = c->data_format;
        break;
    }
    }
}

static int looks_like_path(const char *s) {
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml")) ||
           (n > 4 && !strcmp(s + n - 4, ".yml"));
}

static int set_value(const ctx *x, train_config *c, int k, const yaml_node_t *n) {
    const key_spec *s = &KEYS[k];
    char *f = (char *)c + s->off;
    switch (s->type) {
    case T_INT:
        return read_int(x, n, s, (int *)f);
    case T_DOUBLE:
        return read_double(x, n, s, (double *)f);
    case T_BOOL: {
        const char *t;
        if (scalar_text(x, n, s->path, "true or false", 1, &t)) return VE_FAIL;
        if (strcmp(t, "true") && strcmp(t, "false"))
            return fail(x, line_of(n), s->path, "expected true or false, got \"%s\"", t);
        *(int *)f = !strcmp(t, "true");
        return VE_OK;
    }
    case T_U64: {
        const char *t;
        char *end;
        if (scalar_text(x, n, s->path, "an integer", 1, &t)) return VE_FAIL;
        errno = 0;
        unsigned long long v = strtoull(t, &end, 10);
        if (t[0] < '0' || t[0] > '9' || errno || *end)
            return fail(x, line_of(n), s->path, "expected an integer in 0..2^64-1, got \"%s\"", t);
        *(uint64_t *)f = v;
        return VE_OK;
    }
    case T_WORD:
        return read_word(x, n, s, (int *)f);
    case T_STR: {
        const char *t;
        if (scalar_text(x, n, s->path, "a value", 0, &t)) return VE_FAIL;
        if (strlen(t) >= s->size)
            return fail(x, line_of(n), s->path, "over %zu characters", s->size - 1);
        snprintf(f, s->size, "%s", t);
        return VE_OK;
    }
    case T_PATH:
        return read_path(x, n, s->path, x->base, f, s->size);
    case T_OUTPUT:
        return read_path(x, n, s->path, x->cwd, f, s->size);
    case T_PRESET: {
        const char *t;
        if (scalar_text(x, n, s->path, "a preset name or file", 0, &t)) return VE_FAIL;
        if (looks_like_path(t)) return read_path(x, n, s->path, x->base, f, s->size);
        if (!*t || strlen(t) >= s->size)
            return fail(x, line_of(n), s->path, "\"%s\" is not a preset name", t);
        snprintf(f, s->size, "%s", t);
        return VE_OK;
    }
    case T_BETAS:
        return read_betas(x, n, c);
    case T_BLOCKS:
        return read_blocks(x, n, c);
    case T_INTENSITY:
        return read_intensity(x, n, c);
    case T_GROUPS:
        return read_groups(x, n, c);
    case T_SPLIT:
        return read_split(x, n, c, k);
    }
    return ve_fail("%s: unhandled key type", s->path);
}

/* One key's value; a null resets an optional key to its default. key_line: -1 for overrides. */
static int apply_key(const ctx *x, train_config *c, int k, const yaml_node_t *n, int key_line) {
    if (is_null(n)) {
        if (KEYS[k].required)
            return fail(x, n ? line_of(n) : key_line, KEYS[k].path, "cannot be null (required: %s)",
                        KEYS[k].hint);
        reset_key(c, k);
        c->key_given[k] = 0;
    } else {
        if (set_value(x, c, k, n)) return VE_FAIL;
        c->key_given[k] = 1;
    }
    c->key_line[k] = key_line;
    return VE_OK;
}

/* ---- the file ---- */

static int read_section(const ctx *x, train_config *c, const char *sec, const yaml_node_t *m) {
    if (is_null(m)) return VE_OK; /* "train:" with nothing under it: every default */
    char example[64];
    snprintf(example, sizeof example, "%s: {key: value, ...}", sec);
    if (want_mapping(x, m, sec, example)) return VE_FAIL;
    const char *names[K_COUNT];
    int keys[K_COUNT], n = 0, lines[K_COUNT];
    size_t len = strlen(sec);
    for (int k = 0; k < K_COUNT; k++)
        if (!strncmp(KEYS[k].path, sec, len) && KEYS[k].path[len] == '.') {
            names[n] = KEYS[k].path + len + 1;
            keys[n++] = k;
        }
    yaml_node_t *vals[K_COUNT];
    if (map_keys(x, m, sec, names, n, vals, lines)) return VE_FAIL;
    for (int i = 0; i < n; i++)
        if (vals[i] && apply_key(x, c, keys[i], vals[i], lines[i])) return VE_FAIL;
    return VE_OK;
}

static int read_root(const ctx *x, train_config *c, const yaml_node_t *root) {
    static const char *const names[] = {"model", "train", "data", "output", "device"};
    if (!root) return ve_fail("%s: empty config", x->file);
    if (root->type != YAML_MAPPING_NODE)
        return ve_fail("%s:%d: a config is a mapping of model, train, data, output and device, "
                       "got %s",
                       x->file, line_of(root), kind_of(root));
    yaml_node_t *vals[5];
    int lines[5];
    if (map_keys(x, root, "", names, 5, vals, lines)) return VE_FAIL;
    for (int s = 0; s < NSECTIONS; s++)
        if (vals[s] && read_section(x, c, names[s], vals[s])) return VE_FAIL;
    if (vals[3] && apply_key(x, c, K_OUTPUT, vals[3], lines[3])) return VE_FAIL;
    if (vals[4] && apply_key(x, c, K_DEVICE, vals[4], lines[4])) return VE_FAIL;
    return VE_OK;
}

static int current_dir(char *out) {
    if (!getcwd(out, TC_PATH))
        return ve_fail("cannot read the current folder: %s", strerror(errno));
    return VE_OK;
}

/* The absolute folder of the config file. */
static int config_dir(const char *path, char *out) {
    char dir[TC_PATH];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *real = realpath(dir, NULL);
    if (!real) return ve_fail("%s: cannot resolve its folder %s: %s", path, dir, strerror(errno));
    int too_long = strlen(real) >= TC_PATH;
    if (!too_long) snprintf(out, TC_PATH, "%s", real);
    free(real);
    if (too_long) return ve_fail("%s: its folder's path is too long", path);
    return VE_OK;
}

static void set_defaults(train_config *c) {
    for (int k = 0; k < K_COUNT; k++)
        reset_key(c, k);
}

int train_config_read(const char *path, train_config *c) {
    memset(c, 0, sizeof *c);
    set_defaults(c);
    if (strlen(path) >= sizeof c->config_path) return ve_fail("config path too long: %s", path);
    snprintf(c->config_path, sizeof c->config_path, "%s", path);
    ctx x = {.file = path};
    FILE *f = ve_fopen_regular(path, "config");
    if (!f) return VE_FAIL;
    if (current_dir(x.cwd) || config_dir(path, x.base)) {
        fclose(f);
        return VE_FAIL;
    }
    yaml_parser_t p;
    yaml_document_t doc, extra;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        return ve_fail("%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&p, f);
    int rc;
    if (!yaml_parser_load(&p, &doc)) {
        rc = ve_fail("%s:%d: YAML syntax error: %s%s%s%s", path, (int)p.problem_mark.line + 1,
                     p.problem ? p.problem : "malformed", p.context ? " (" : "",
                     p.context ? p.context : "", p.context ? ")" : "");
    } else {
        x.doc = &doc;
        rc = read_root(&x, c, yaml_document_get_root_node(&doc));
        if (rc == VE_OK) {
            if (!yaml_parser_load(&p, &extra)) {
                rc = ve_fail("%s:%d: YAML syntax error: %s", path, (int)p.problem_mark.line + 1,
                             p.problem ? p.problem : "malformed");
            } else {
                if (yaml_document_get_root_node(&extra))
                    rc = ve_fail("%s:%d: a config is one YAML document, found a second", path,
                                 (int)extra.start_mark.line + 1);
                yaml_document_delete(&extra);
            }
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (rc != VE_OK) train_config_free(c);
    return rc;
}

int train_config_load(const char *path, train_config *c) {
    if (train_config_read(path, c)) return VE_FAIL;
    if (train_config_validate(c)) {
        train_config_free(c);
        return VE_FAIL;
    }
    return VE_OK;
}

void train_config_free(train_config *c) {
    free_split(&c->train);
    free_split(&c->test);
}

/* ---- overrides ---- */

int train_config_set(train_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    char key[128], hint[TC_PATH + 32];
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return ve_fail("override \"%s\": expected section.key=value, e.g. train.batch=2",
                       assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    int k = 0;
    while (k < K_COUNT && strcmp(KEYS[k].path, key))
        k++;
    if (k == K_COUNT)
        return ve_fail("command line: %s: unknown key%s", key,
                       did_you_mean(key, "", NULL, 0, hint, sizeof hint));
    ctx x = {.file = "command line", .override = 1};
    if (current_dir(x.cwd)) return VE_FAIL;
    memcpy(x.base, x.cwd, sizeof x.base);
    const char *value = eq + 1;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return ve_fail("cannot start the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)value, strlen(value));
    int rc;
    if (!yaml_parser_load(&p, &doc)) {
        rc = ve_fail("command line: %s: \"%s\" is not a YAML value: %s", key, value,
                     p.problem ? p.problem : "malformed");
    } else {
        x.doc = &doc;
        rc = apply_key(&x, c, k, yaml_document_get_root_node(&doc), -1);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- validation ---- */

/* "FILE:LINE: KEY: message" with the line where the key was given (or "command line"). */
VE_PRINTF(3, 4) static int vfail(const train_config *c, int k, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *file = c->config_path[0] ? c->config_path : "config";
    if (c->key_line[k] > 0)
        return ve_fail("%s:%d: %s: %s", file, c->key_line[k], KEYS[k].path, msg);
    if (c->key_line[k] < 0) return ve_fail("command line: %s: %s", KEYS[k].path, msg);
    return ve_fail("%s: %s: %s", file, KEYS[k].path, msg);
}

static int load_preset(const train_config *c, sam_preset *p) {
    if (looks_like_path(c->preset)) {
        if (sam_preset_load(c->preset, p)) return vfail(c, K_PRESET, "%s", ve_error());
        return VE_OK;
    }
    const char *const *names = sam_preset_names();
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], c->preset)) {
            if (sam_preset_builtin(c->preset, p)) return vfail(c, K_PRESET, "%s", ve_error());
            return VE_OK;
        }
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
    }
    return vfail(c, K_PRESET, "no built-in preset \"%s\" (built in: %s; or give a .yaml file)",
                 c->preset, list);
}

static int validate_split(train_config *c, int k) {
    tc_split *s = k == K_TRAIN ? &c->train : &c->test;
    char a[16], b[16];
    if (!s->present) {
        s->format = c->data_format;
        return VE_OK;
    }
    if (s->format != c->data_format)
        return vfail(c, k, "given in %s form, but data.format is %s: give %s again",
                     word_at(KEYS[K_FORMAT].words, (int)s->format, a, sizeof a),
                     word_at(KEYS[K_FORMAT].words, (int)c->data_format, b, sizeof b), KEYS[k].path);
    return VE_OK;
}

int train_config_validate(train_config *c) {
    for (int k = 0; k < K_COUNT; k++)
        if (KEYS[k].required && !c->key_given[k])
            return vfail(c, k, "missing (required: %s)", KEYS[k].hint);
    sam_preset p;
    if (load_preset(c, &p)) return VE_FAIL;
    if (!c->key_given[K_IMAGE_SIZE])
        c->image_size = p.image_size;
    else if (c->image_size % p.patch_size)
        return vfail(c, K_IMAGE_SIZE, "%d is not a multiple of the preset's patch size %d",
                     c->image_size, p.patch_size);
    for (int i = 0; i < c->n_lora_blocks; i++)
        if (c->lora_blocks[i] >= p.depth)
            return vfail(c, K_LORA_BLOCKS, "block %d is outside the preset's %d blocks (0..%d)",
                         c->lora_blocks[i], p.depth, p.depth - 1);
    if (!c->key_given[K_FINETUNE])
        c->finetune = c->checkpoint[0] ? TC_FINETUNE_LORA : TC_FINETUNE_FULL;
    else if (c->finetune != TC_FINETUNE_FULL && !c->checkpoint[0])
        return vfail(c, K_FINETUNE,
                     "%s needs model.checkpoint (the frozen base); without a checkpoint only "
                     "finetune: full trains from scratch",
                     c->finetune == TC_FINETUNE_LORA ? "lora" : "lora_decoder");
    if (c->lora[0] && !c->checkpoint[0])
        return vfail(c, K_LORA, "a LoRA file needs model.checkpoint, the base it was trained on");
    if (c->lora[0] && c->finetune == TC_FINETUNE_FULL)
        return vfail(c, K_LORA, "a LoRA file to start from needs finetune lora or lora_decoder");
    if (!c->key_given[K_STOP_EPOCH])
        c->stop_epoch = c->epochs;
    else if (c->stop_epoch > c->epochs)
        return vfail(c, K_STOP_EPOCH, "%d is after train.epochs %d (the schedule's end)",
                     c->stop_epoch, c->epochs);
    if (c->ce_weight + c->dice_weight <= 0)
        return vfail(c, K_DICE_WEIGHT, "ce_weight and dice_weight are both 0: nothing to learn");
    if (c->has_label_lut)
        for (int v = 0; v < 256; v++)
            if (c->label_lut[v] > c->classes)
                return vfail(c, K_LABEL_GROUPS, "class %d is more than model.classes %d",
                             c->label_lut[v], c->classes);
    if (validate_split(c, K_TRAIN) || validate_split(c, K_TEST)) return VE_FAIL;
    /* The loaders apply these to NIfTI volumes only: refuse them rather than ignore them. */
    if (c->data_format != TC_DATA_NIFTI && c->window == TC_INTENSITY_WINDOW)
        return vfail(c, K_INTENSITY,
                     "a window applies to nifti volumes only (png is scaled by its bit depth, "
                     "synapse files are used as stored)");
    if (c->data_format != TC_DATA_NIFTI && c->has_label_lut)
        return vfail(c, K_LABEL_GROUPS,
                     "applies to nifti volumes only (png and synapse labels are the classes)");
    return VE_OK;
}

/* ---- writing ---- */

typedef struct {
    yaml_emitter_t em;
    char *buf;
    size_t n, cap;
    int ok;
} writer;

static int on_output(void *data, unsigned char *bytes, size_t size) {
    writer *w = data;
    if (w->n + size > w->cap) {
        size_t cap = (w->n + size) * 2 + 256;
        char *grown = realloc(w->buf, cap);
        if (!grown) return 0;
        w->buf = grown;
        w->cap = cap;
    }
    memcpy(w->buf + w->n, bytes, size);
    w->n += size;
    return 1;
}

static void emit(writer *w, yaml_event_t *e, int made) {
    if (!made || !yaml_emitter_emit(&w->em, e)) w->ok = 0;
}

static void w_scalar(writer *w, const char *s, yaml_scalar_style_t style) {
    yaml_event_t e;
    if (!w->ok) return;
    emit(w, &e,
         yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style));
}

static void w_plain(writer *w, const char *s) {
    w_scalar(w, s, YAML_PLAIN_SCALAR_STYLE);
}

/* A string: "" -> null; words that would read back as null are quoted. */
static void w_str(writer *w, const char *s) {
    static const char *const nulls[] = {"~", "null", "Null", "NULL"};
    if (!*s) return w_plain(w, "null");
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, nulls[i])) return w_scalar(w, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    w_scalar(w, s, YAML_ANY_SCALAR_STYLE);
}

static void w_int(writer *w, long long v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    w_plain(w, t);
}

/* The shortest text that reads back as exactly v, with a '.' so YAML readers see a float. */
static void w_double(writer *w, double v) {
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    if (!strchr(t, '.')) {
        char *e = strchr(t, 'e');
        char tail[40] = "";
        if (e) {
            snprintf(tail, sizeof tail, "%s", e);
            *e = 0;
        }
        size_t len = strlen(t);
        snprintf(t + len, sizeof t - len, ".0%s", tail);
    }
    w_plain(w, t);
}

static void w_start(writer *w, int mapping, int flow) {
    yaml_event_t e;
    if (!w->ok) return;
    if (mapping)
        emit(w, &e,
             yaml_mapping_start_event_initialize(
                 &e, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
    else
        emit(w, &e,
             yaml_sequence_start_event_initialize(
                 &e, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void w_end(writer *w, int mapping) {
    yaml_event_t e;
    if (!w->ok) return;
    emit(w, &e,
         mapping ? yaml_mapping_end_event_initialize(&e) : yaml_sequence_end_event_initialize(&e));
}

/* "a-b,c,..." from an ascending list (malloc'd; NULL when out of memory). */
static char *slices_text(const int *s, int n) {
    size_t cap = (size_t)n * 24 + 1, len = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    t[0] = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && s[j + 1] == s[j] + 1)
            j++;
        len += (size_t)(j > i ? snprintf(t + len, cap - len, "%s%d-%d", i ? "," : "", s[i], s[j])
                              : snprintf(t + len, cap - len, "%s%d", i ? "," : "", s[i]));
        i = j + 1;
    }
    return t;
}

static void w_split(writer *w, const tc_split *s) {
    if (!s->present) return w_plain(w, "null");
    if (s->format != TC_DATA_NIFTI) {
        int png = s->format == TC_DATA_PNG;
        w_start(w, 1, 0);
        w_plain(w, png ? "images" : "dir");
        w_str(w, png ? s->images : s->dir);
        w_plain(w, png ? "labels" : "list");
        w_str(w, png ? s->labels : s->list);
        return w_end(w, 1);
    }
    w_start(w, 0, 0);
    for (int i = 0; i < s->n_vol; i++) {
        const tc_volume *v = &s->vol[i];
        w_start(w, 1, 0);
        w_plain(w, "image");
        w_str(w, v->image);
        w_plain(w, "label");
        w_str(w, v->label);
        w_plain(w, "slices");
        char *t = v->slices ? slices_text(v->slices, v->n_slices) : NULL;
        if (v->slices && !t) w->ok = 0;
        w_scalar(w, t ? t : "all", YAML_DOUBLE_QUOTED_SCALAR_STYLE);
        free(t);
        w_end(w, 1);
    }
    w_end(w, 0);
}

static void w_groups(writer *w, const train_config *c) {
    if (!c->has_label_lut) return w_plain(w, "null");
    w_start(w, 1, 0);
    for (int cls = 1; cls < 256; cls++) {
        int any = 0;
        for (int v = 0; v < 256 && !any; v++)
            any = c->label_lut[v] == cls;
        if (!any) continue;
        w_int(w, cls);
        w_start(w, 0, 1);
        for (int v = 0; v < 256; v++) {
            if (c->label_lut[v] != cls) continue;
            int e = v;
            while (e + 1 < 256 && c->label_lut[e + 1] == cls)
                e++;
            char t[16];
            snprintf(t, sizeof t, e > v ? "%d-%d" : "%d", v, e);
            w_scalar(w, t, e > v ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE);
            v = e;
        }
        w_end(w, 0);
    }
    w_end(w, 1);
}

/* The value of key k. */
static void w_key(writer *w, const train_config *c, int k) {
    const key_spec *s = &KEYS[k];
    const char *f = (const char *)c + s->off;
    char word[32];
    w_plain(w, leaf_of(s->path));
    switch (s->type) {
    case T_INT:
        return w_int(w, *(const int *)f);
    case T_DOUBLE:
        return w_double(w, *(const double *)f);
    case T_BOOL:
        return w_plain(w, *(const int *)f ? "true" : "false");
    case T_U64: {
        char t[32];
        snprintf(t, sizeof t, "%" PRIu64, *(const uint64_t *)f);
        return w_plain(w, t);
    }
    case T_WORD:
        return w_plain(w, word_at(s->words, *(const int *)f, word, sizeof word));
    case T_STR:
    case T_PATH:
    case T_OUTPUT:
    case T_PRESET:
        return w_str(w, f);
    case T_BETAS:
        w_start(w, 0, 1);
        w_double(w, c->beta1);
        w_double(w, c->beta2);
        return w_end(w, 0);
    case T_BLOCKS:
        if (c->n_lora_blocks < 0) return w_plain(w, "all");
        w_start(w, 0, 1);
        for (int i = 0; i < c->n_lora_blocks; i++)
            w_int(w, c->lora_blocks[i]);
        return w_end(w, 0);
    case T_INTENSITY:
        if (c->window != TC_INTENSITY_WINDOW) return w_plain(w, "minmax");
        w_start(w, 0, 1);
        w_double(w, c->window_lo);
        w_double(w, c->window_hi);
        return w_end(w, 0);
    case T_GROUPS:
        return w_groups(w, c);
    case T_SPLIT:
        return w_split(w, k == K_TRAIN ? &c->train : &c->test);
    }
}

int train_config_write(const train_config *c, const char *path) {
    static const char head[] = "# vksamed: the effective configuration (every key, defaults "
                               "filled, absolute paths); docs/config.md\n";
    writer w = {.ok = 1};
    yaml_event_t e;
    if (!yaml_emitter_initialize(&w.em)) return ve_fail("writing config %s: no emitter", path);
    yaml_emitter_set_output(&w.em, on_output, &w);
    yaml_emitter_set_unicode(&w.em, 1);
    yaml_emitter_set_width(&w.em, 100);
    if (!on_output(&w, (unsigned char *)head, sizeof head - 1)) w.ok = 0;
    emit(&w, &e, yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING));
    if (w.ok) emit(&w, &e, yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1));
    w_start(&w, 1, 0);
    for (int s = 0; s < NSECTIONS; s++) {
        w_plain(&w, SECTIONS[s]);
        w_start(&w, 1, 0);
        size_t len = strlen(SECTIONS[s]);
        for (int k = 0; k < K_COUNT; k++)
            if (!strncmp(KEYS[k].path, SECTIONS[s], len) && KEYS[k].path[len] == '.')
                w_key(&w, c, k);
        w_end(&w, 1);
    }
    w_key(&w, c, K_OUTPUT);
    w_key(&w, c, K_DEVICE);
    w_end(&w, 1);
    if (w.ok) emit(&w, &e, yaml_document_end_event_initialize(&e, 1));
    if (w.ok) emit(&w, &e, yaml_stream_end_event_initialize(&e));
    if (w.ok && !yaml_emitter_flush(&w.em)) w.ok = 0;
    const char *problem = w.em.problem;
    yaml_emitter_delete(&w.em);
    int rc = VE_OK;
    if (!w.ok) {
        rc = ve_fail("writing config %s: %s", path, problem ? problem : "out of memory");
    } else {
        ve_atomic_file a;
        if (ve_atomic_open(&a, path) || ve_atomic_write(&a, w.buf, w.n) || ve_atomic_commit(&a)) {
            rc = ve_fail_context("writing config %s: ", path);
            ve_atomic_abort(&a);
        }
    }
    free(w.buf);
    return rc;
}
