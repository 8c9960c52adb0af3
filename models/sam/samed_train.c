#include "sam/samed_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sam/image_encoder.h"
#include "sam/lora_keys.h"
#include "sam/mask_decoder.h"
#include "sam/params.h"
#include "sam/prompt_encoder.h"
#include "status.h"

struct sam_trainer {
    sam_train_opts o;
    int grid, side; /* token grid g, low-res label side 4g */
    ve_graph *g;
    sam_params ps;
    sam_image_encoder enc;
    sam_prompt_encoder pe;
    sam_mask_decoder dec;
    sam_prompts pr;
    sam_decoder_out out;
    ve_tid image, labels, loss, ce, dice;
    /* data parallelism: the loss's class sums, the flat gradients and a host copy of them */
    ve_tid class_sums, grads;
    int64_t n_grads;
    float *host_grads;
    double allreduce_s;
};

void sam_train_opts_default(sam_train_opts *o, const sam_preset *p, int img_size, int batch) {
    memset(o, 0, sizeof *o);
    o->p = *p;
    o->img_size = img_size;
    o->batch = batch;
    o->finetune = SAM_FT_LORA;
    o->lora_rank = 4;
    memset(o->lora_blocks, 1, sizeof o->lora_blocks);
    o->loss = (ve_seg_loss_opts){0.2f, 0.8f};
    o->adamw = (ve_adamw_opts){0.9f, 0.999f, 1e-8f, 0.1f};
}

double sam_samed_lr(double base, int warmup, int64_t max_it, int64_t step) {
    if (step <= 1) return warmup > 0 ? base / warmup : base;
    const int64_t it = step - 2; /* the iteration whose end set this step's rate */
    if (warmup > 0 && it < warmup) return base * (double)(it + 1) / warmup;
    const int64_t shift = warmup > 0 ? it - warmup : it;
    double f = max_it > 0 ? 1.0 - (double)shift / (double)max_it : 1.0;
    return f > 0 ? base * pow(f, 0.9) : 0.0;
}

static int build(sam_trainer *t) {
    ve_graph *g = t->g;
    const sam_train_opts *o = &t->o;
    const int64_t B = o->batch, S = o->img_size;
    int64_t is[4] = {B, 3, S, S}, ls[3] = {B, t->side, t->side};
    t->image = ve_tensor(g, VE_INPUT, "image", 4, is);
    t->labels = ve_tensor(g, VE_INPUT, "labels", 3, ls);
    const int full = o->finetune == SAM_FT_FULL, dec_lora = o->finetune == SAM_FT_LORA_DECODER;
    sam_encoder_train et = {full, full ? 0 : o->lora_rank, o->lora_blocks};
    ve_tid emb = VE_NONE;
    if (t->image == VE_NONE || t->labels == VE_NONE ||
        sam_image_encoder_declare_train(g, &o->p, o->img_size, &et, &t->ps, &t->enc) != VE_OK ||
        (emb = sam_image_encoder_build(g, &t->enc, t->image)) == VE_NONE)
        return VE_FAIL;
    /* SAMed: no prompts; the decoder outputs every class's mask. */
    sam_prompt_shape ps = {o->batch, 0, 0, 0};
    if (sam_prompt_encoder_declare(g, &o->p, o->img_size, 1, &t->ps, &t->pe) != VE_OK ||
        (dec_lora
             ? sam_mask_decoder_declare_lora(g, &o->p, o->img_size, o->lora_rank, &t->ps, &t->dec)
             : sam_mask_decoder_declare(g, &o->p, o->img_size, 1, &t->ps, &t->dec)) != VE_OK ||
        sam_prompt_encoder_build(g, &t->pe, &ps, &t->pr) != VE_OK ||
        sam_mask_decoder_build(g, &t->dec, emb, &t->pr, &t->out) != VE_OK)
        return VE_FAIL;
    /* Data parallelism: the Dice term's gradient is a sum over the global batch while the
     * gradients are averaged over the ranks, so each rank weighs it by the world size. */
    const int world = o->world > 1 ? o->world : 1;
    ve_seg_loss_opts lo = {o->loss.ce_weight, o->loss.dice_weight * (float)world};
    t->loss = ve_seg_loss(g, t->out.masks, t->labels, &lo, &t->ce, &t->dice);
    if (t->loss == VE_NONE) return VE_FAIL;
    ve_keep(g, t->loss);
    ve_keep(g, t->ce);
    ve_keep(g, t->dice);
    t->class_sums = ve_seg_loss_class_sums(g);
    if (world > 1) {
        ve_keep(g, t->class_sums);
        if (ve_graph_cut(g) != VE_OK) return VE_FAIL; /* forward | backward */
    }
    ve_compile_opts co = {.profile = o->profile};
    /* A NaN or infinite loss leaves the weights and moments as they were (the update is
     * skipped on the device): the host then stops or skips the batch (train.nan). */
    if (ve_graph_backward(g, t->loss) != VE_OK || (world > 1 && ve_graph_cut(g) != VE_OK) ||
        ve_adamw_guarded(g, &o->adamw, t->loss) != VE_OK ||
        ve_adamw_grads(g, &t->grads, &t->n_grads) != VE_OK || ve_graph_compile(g, &co) != VE_OK)
        return VE_FAIL;
    if (world > 1 && !(t->host_grads = malloc(sizeof(float) * (size_t)t->n_grads)))
        return ve_fail("out of host memory for the gradients' all-reduce");
    if (sam_mask_decoder_write_consts(g, &t->dec) != VE_OK ||
        sam_prompts_write(g, &t->pe, &t->pr, NULL, NULL, NULL, NULL) != VE_OK)
        return VE_FAIL;
    /* AdamW's moments need no clearing: the planner starts persistent memory at zero. */
    return VE_OK;
}

sam_trainer *sam_trainer_create(ve_device *dev, const sam_train_opts *o) {
    const sam_preset *p = &o->p;
    if (o->world > 1 && !o->allreduce) {
        ve_fail("SAMed training: %d ranks but no all-reduce", o->world);
        return NULL;
    }
    if (o->img_size < p->patch_size || o->img_size % p->patch_size || o->batch < 1 ||
        p->mask_outputs < 2 || (o->finetune != SAM_FT_FULL && o->lora_rank < 1)) {
        ve_fail("SAMed training: bad options: input %d (a multiple of %d), batch %d, %d outputs "
                "(classes + 1, at least 2), LoRA rank %d",
                o->img_size, p->patch_size, o->batch, p->mask_outputs, o->lora_rank);
        return NULL;
    }
    sam_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        ve_fail("out of host memory");
        return NULL;
    }
    t->o = *o;
    t->grid = o->img_size / p->patch_size;
    t->side = 4 * t->grid;
    t->g = ve_graph_create(dev);
    if (!t->g || build(t) != VE_OK) {
        ve_fail_context("building the SAMed training step (%s, input %d, batch %d): ", p->name,
                        o->img_size, o->batch);
        sam_trainer_destroy(t);
        return NULL;
    }
    return t;
}

void sam_trainer_destroy(sam_trainer *t) {
    if (!t) return;
    sam_mask_decoder_free(&t->dec);
    sam_params_free(&t->ps);
    free(t->host_grads);
    if (t->g) ve_graph_destroy(t->g);
    free(t);
}

int sam_trainer_init_weights(sam_trainer *t, ve_checkpoint *base, ve_checkpoint *lora,
                             uint64_t seed, sam_init_report *rep) {
    sam_init_report r = {0, 0, 0};
    uint64_t rng = seed;
    for (int i = 0; i < t->ps.n; i++) {
        const sam_param *p = &t->ps.p[i];
        int rc;
        if (lora && ve_checkpoint_find(lora, p->key)) {
            rc = sam_param_load(t->g, p, lora);
            r.from_lora++;
        } else if (base && sam_param_fits(t->g, p, base)) {
            rc = sam_param_load(t->g, p, base);
            r.from_base++;
        } else {
            rc = sam_param_init(t->g, &t->ps, p, &rng);
            r.fresh++;
        }
        if (rc != VE_OK) return VE_FAIL;
    }
    if (rep) *rep = r;
    return VE_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The step's three segments with the all-reduces between them (sam_train_opts.world). */
static int run_distributed(sam_trainer *t) {
    const sam_train_opts *o = &t->o;
    const int k = o->p.mask_outputs, world = o->world;
    float st[2 * 32 + 1];
    if (k > 32) return ve_fail("data parallelism: %d classes (at most 32)", k);
    if (ve_graph_run_segment(t->g, 0) != VE_OK) return VE_FAIL;
    double t0 = now_s();
    /* The class sums and CE of every rank: summed, they are the global batch's. */
    if (ve_tensor_read(t->g, t->class_sums, st, (size_t)(2 * k)) != VE_OK ||
        ve_tensor_read(t->g, t->ce, st + 2 * k, 1) != VE_OK ||
        o->allreduce(st, (size_t)(2 * k + 1), o->allreduce_ctx) != VE_OK)
        return ve_fail_context("all-reducing the loss statistics: ");
    /* Each rank's U_c carries one eps, the global one only one. In float, as seg_loss_finish. */
    float dsum = 0;
    for (int c = 0; c < k; c++) {
        st[k + c] -= (float)(world - 1) * VE_SEG_LOSS_EPS;
        dsum += 1.0f - (2.0f * st[c] + VE_SEG_LOSS_EPS) / st[k + c];
    }
    const float ce = st[2 * k] / (float)world, dice = dsum / (float)k;
    const float loss = o->loss.ce_weight * ce + o->loss.dice_weight * dice;
    if (ve_tensor_write(t->g, t->class_sums, st, (size_t)(2 * k)) != VE_OK ||
        ve_tensor_write(t->g, t->ce, &ce, 1) != VE_OK ||
        ve_tensor_write(t->g, t->dice, &dice, 1) != VE_OK ||
        ve_tensor_write(t->g, t->loss, &loss, 1) != VE_OK) /* AdamW's NaN guard reads it */
        return VE_FAIL;
    t->allreduce_s += now_s() - t0;
    if (ve_graph_run_segment(t->g, 1) != VE_OK) return VE_FAIL;
    t0 = now_s();
    const size_t n = (size_t)t->n_grads;
    if (ve_tensor_read(t->g, t->grads, t->host_grads, n) != VE_OK ||
        o->allreduce(t->host_grads, n, o->allreduce_ctx) != VE_OK)
        return ve_fail_context("all-reducing %zu gradients: ", n);
    const float inv = 1.0f / (float)world;
    for (size_t i = 0; i < n; i++)
        t->host_grads[i] *= inv;
    if (ve_tensor_write(t->g, t->grads, t->host_grads, n) != VE_OK) return VE_FAIL;
    t->allreduce_s += now_s() - t0;
    return ve_graph_run_segment(t->g, 2);
}

int sam_trainer_step(sam_trainer *t, const float *images, const float *labels, double lr,
                     int64_t step, sam_train_losses *out) {
    const size_t B = (size_t)t->o.batch, S = (size_t)t->o.img_size, L = (size_t)t->side;
    float v[3];
    if (ve_tensor_write(t->g, t->image, images, B * 3 * S * S) != VE_OK ||
        ve_tensor_write(t->g, t->labels, labels, B * L * L) != VE_OK ||
        ve_adamw_set_step(t->g, &t->o.adamw, lr, step) != VE_OK ||
        (t->o.world > 1 ? run_distributed(t) : ve_graph_run(t->g)) != VE_OK ||
        ve_tensor_read(t->g, t->loss, v, 1) != VE_OK ||
        ve_tensor_read(t->g, t->ce, v + 1, 1) != VE_OK ||
        ve_tensor_read(t->g, t->dice, v + 2, 1) != VE_OK)
        return ve_fail_context("training step %lld: ", (long long)step);
    if (out) *out = (sam_train_losses){v[0], v[1], v[2]};
    return VE_OK;
}

double sam_trainer_allreduce_seconds(const sam_trainer *t) {
    return t->allreduce_s;
}

int sam_trainer_label_side(const sam_trainer *t) {
    return t->side;
}
const sam_train_opts *sam_trainer_opts(const sam_trainer *t) {
    return &t->o;
}
void sam_trainer_profile_print(const sam_trainer *t, void *file) {
    ve_graph_profile_print(t->g, (FILE *)file);
}
uint64_t sam_trainer_device_bytes(const sam_trainer *t) {
    ve_graph_stats s;
    ve_graph_get_stats(t->g, &s);
    return s.persistent_bytes + s.transient_bytes;
}
int64_t sam_trainer_trainable_elements(const sam_trainer *t) {
    ve_graph_stats s;
    ve_graph_get_stats(t->g, &s);
    return (int64_t)s.trainable_elements;
}

/* ---- parameters by key ---- */

int64_t sam_trainer_param_numel(const sam_trainer *t, const char *key) {
    const sam_param *p = sam_params_find(&t->ps, key);
    return p ? ve_tensor_numel(t->g, p->t) : -1;
}

int sam_trainer_read_param(sam_trainer *t, const char *key, float *dst, size_t n) {
    const sam_param *p = sam_params_find(&t->ps, key);
    if (!p) return ve_fail("SAMed training: no parameter %s", key);
    return ve_tensor_read(t->g, p->t, dst, n);
}

int sam_trainer_has_grad(const sam_trainer *t, const char *key) {
    const sam_param *p = sam_params_find(&t->ps, key);
    return p && ve_grad(t->g, p->t) != VE_NONE;
}

int sam_trainer_read_grad(sam_trainer *t, const char *key, float *dst, size_t n) {
    const sam_param *p = sam_params_find(&t->ps, key);
    ve_tid gt = p ? ve_grad(t->g, p->t) : VE_NONE;
    if (gt == VE_NONE) return ve_fail("SAMed training: %s has no gradient", key);
    return ve_tensor_read(t->g, gt, dst, n);
}

/* ---- files ---- */

/* Tensors read back for writing a file: capacity fixed at open, so the shape rows the entries
 * point at never move. */
typedef struct {
    ve_st_tensor *t;
    int64_t (*shape)[VE_MAX_DIMS];
    int n, cap;
} tensor_list;

static int list_open(tensor_list *l, int cap) {
    l->t = calloc((size_t)cap, sizeof *l->t);
    l->shape = calloc((size_t)cap, sizeof *l->shape);
    l->n = 0;
    l->cap = cap;
    return l->t && l->shape ? VE_OK : ve_fail("out of host memory saving a checkpoint");
}

static void list_free(tensor_list *l) {
    for (int i = 0; i < l->n; i++)
        free((float *)l->t[i].data);
    free(l->t);
    free(l->shape);
    memset(l, 0, sizeof *l);
}

/* Appends graph tensor gt (read back from the device) under name. */
static int list_add(tensor_list *l, ve_graph *g, ve_tid gt, const char *name) {
    if (l->n == l->cap) return ve_fail("saving %s: more tensors than planned", name);
    const int64_t n = ve_tensor_numel(g, gt);
    float *d = malloc(sizeof(float) * (size_t)n);
    if (!d) return ve_fail("out of host memory saving %s", name);
    const int i = l->n++, nd = ve_tensor_ndim(g, gt);
    for (int k = 0; k < nd; k++)
        l->shape[i][k] = ve_tensor_dim(g, gt, k);
    l->t[i] = (ve_st_tensor){name, nd, l->shape[i], d};
    return ve_tensor_read(g, gt, d, (size_t)n);
}

static int is_decoder_side(const char *key) {
    return !strncmp(key, "prompt_encoder.", 15) || !strncmp(key, "mask_decoder.", 13);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int write_list(const char *path, const tensor_list *l, int n_meta, const char *const *keys,
                      const char *const *values) {
    if (ends_with(path, ".pth")) {
        if (n_meta) return ve_fail("%s: a training state is written as .safetensors", path);
        return ve_pth_write(path, l->n, l->t);
    }
    return ve_safetensors_write_meta(path, l->n, l->t, n_meta, keys, values);
}

/* Save pass of key k in SAMed's layouts: the adapter groups (0 .. 7), then the prompt encoder
 * and decoder (8; SAMed_s leaves out the frozen transformer), then SAMed_s's fati_* (9); -1:
 * not saved. */
static int save_pass(const char *k, int samed_s) {
    const int grp = sam_lora_save_group(k);
    if (grp >= 0) return grp;
    if (is_decoder_side(k))
        return samed_s && !strncmp(k, "mask_decoder.transformer.", 25) ? -1 : SAM_LORA_SAVE_GROUPS;
    return !strncmp(k, "fati_", 5) ? SAM_LORA_SAVE_GROUPS + 1 : -1;
}

int sam_trainer_save_model(sam_trainer *t, const char *path) {
    tensor_list l = {0};
    int rc = list_open(&l, t->ps.n);
    if (t->o.finetune != SAM_FT_FULL) {
        const int samed_s = t->o.finetune == SAM_FT_LORA_DECODER;
        for (int pass = 0; pass < SAM_LORA_SAVE_GROUPS + 2 && rc == VE_OK; pass++)
            for (int i = 0; i < t->ps.n && rc == VE_OK; i++)
                if (save_pass(t->ps.p[i].key, samed_s) == pass)
                    rc = list_add(&l, t->g, t->ps.p[i].t, t->ps.p[i].key);
    } else {
        for (int i = 0; i < t->ps.n && rc == VE_OK; i++)
            rc = list_add(&l, t->g, t->ps.p[i].t, t->ps.p[i].key);
    }
    if (rc == VE_OK) rc = write_list(path, &l, 0, NULL, NULL);
    list_free(&l);
    return rc;
}

/* The keys of the trainables in the flat optimiser buffer, comma-separated (a fingerprint of the
 * configuration a state belongs to). */
static char *flat_keys(sam_trainer *t) {
    size_t len = 1;
    for (int i = 0; i < t->ps.n; i++)
        len += strlen(t->ps.p[i].key) + 1;
    char *s = malloc(len), *w = s;
    if (!s) return NULL;
    *w = 0;
    for (int i = 0; i < t->ps.n; i++)
        if (ve_grad(t->g, t->ps.p[i].t) != VE_NONE)
            w += sprintf(w, "%s%s", w == s ? "" : ",", t->ps.p[i].key);
    return s;
}

#define STATE_MAX_META 32

int sam_trainer_save_state(sam_trainer *t, const char *path, int n_meta, const char *const *keys,
                           const char *const *values) {
    if (n_meta > STATE_MAX_META - 1) return ve_fail("training state: too many metadata entries");
    tensor_list l = {0};
    ve_tid m, v;
    int rc = list_open(&l, t->ps.n + 2); /* the trainables and the two moments */
    if (rc == VE_OK) rc = ve_adamw_moments(t->g, &m, &v);
    for (int i = 0; i < t->ps.n && rc == VE_OK; i++)
        if (ve_tensor_kind(t->g, t->ps.p[i].t) == VE_TRAINABLE)
            rc = list_add(&l, t->g, t->ps.p[i].t, t->ps.p[i].key);
    if (rc == VE_OK) rc = list_add(&l, t->g, m, "adamw.exp_avg");
    if (rc == VE_OK) rc = list_add(&l, t->g, v, "adamw.exp_avg_sq");
    char *fk = rc == VE_OK ? flat_keys(t) : NULL;
    if (rc == VE_OK && !fk) rc = ve_fail("out of host memory");
    if (rc == VE_OK) {
        const char *k[STATE_MAX_META], *val[STATE_MAX_META];
        for (int i = 0; i < n_meta; i++) {
            k[i] = keys[i];
            val[i] = values[i];
        }
        k[n_meta] = "vksamed.optimised";
        val[n_meta] = fk;
        rc = write_list(path, &l, n_meta + 1, k, val);
    }
    free(fk);
    list_free(&l);
    return rc;
}

int sam_trainer_load_state(sam_trainer *t, ve_checkpoint *ck) {
    const char *saved = ve_checkpoint_meta(ck, "vksamed.optimised");
    char *fk = flat_keys(t);
    int rc = fk ? VE_OK : ve_fail("out of host memory");
    if (rc == VE_OK && (!saved || strcmp(saved, fk)))
        rc = ve_fail("%s: a training state of another configuration (its optimised tensors "
                     "differ from this run's: preset, classes, fine-tuning mode or LoRA blocks)",
                     ve_checkpoint_path(ck));
    free(fk);
    for (int i = 0; i < t->ps.n && rc == VE_OK; i++)
        if (ve_tensor_kind(t->g, t->ps.p[i].t) == VE_TRAINABLE)
            rc = sam_param_load(t->g, &t->ps.p[i], ck);
    ve_tid mv[2];
    if (rc == VE_OK) rc = ve_adamw_moments(t->g, &mv[0], &mv[1]);
    static const char *const names[2] = {"adamw.exp_avg", "adamw.exp_avg_sq"};
    for (int k = 0; k < 2 && rc == VE_OK; k++) {
        const ve_ckpt_tensor *ct = ve_checkpoint_find(ck, names[k]);
        const int64_t n = ve_tensor_numel(t->g, mv[k]);
        if (!ct || ct->numel != n) {
            rc = ve_fail("%s: %s missing or not %lld elements", ve_checkpoint_path(ck), names[k],
                         (long long)n);
            break;
        }
        float *d = malloc(sizeof(float) * (size_t)n);
        rc = d ? ve_checkpoint_read_f32(ck, ct, d, (size_t)n) : ve_fail("out of host memory");
        if (rc == VE_OK) rc = ve_tensor_write(t->g, mv[k], d, (size_t)n);
        free(d);
    }
    return rc;
}
