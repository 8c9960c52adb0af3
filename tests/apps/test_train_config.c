/* The train/eval config (apps/vksamed/train_config.c): every malformed config refused with a
 * message naming file, line and key; defaults and relative paths; overrides from the command
 * line; the effective config written and read back unchanged; the shipped configs/ load.
 * Argument: the source folder (for configs/). No Vulkan device needed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"
#include "test_util.h"
#include "train_config.h"

static const char *BASE = "model:\n"              /* 1 */
                          "  preset: tiny\n"      /* 2 */
                          "  classes: 3\n"        /* 3 */
                          "train:\n"              /* 4 */
                          "  batch: 2\n"          /* 5 */
                          "  epochs: 4\n"         /* 6 */
                          "data:\n"               /* 7 */
                          "  format: nifti\n"     /* 8 */
                          "  label_groups:\n"     /* 9 */
                          "    1: [\"1-3\", 7]\n" /* 10 */
                          "    2: [4]\n"          /* 11 */
                          "  train:\n"            /* 12 */
                          "    - {image: a.nii.gz, label: b.nii.gz, slices: \"1-3,7\"}\n"
                          "output: out\n"; /* 14 */

static train_config *new_config(void) {
    train_config *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return c;
}

/* Writes BASE with `old` replaced by `repl` (appended when old is NULL) to x.yaml. */
static const char *write_variant(const char *old, const char *repl) {
    char buf[4096];
    const char *at = old ? strstr(BASE, old) : NULL;
    if (old && !at) return NULL;
    if (at)
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - BASE), BASE, repl, at + strlen(old));
    else
        snprintf(buf, sizeof buf, "%s%s", BASE, repl);
    const char *path = tu_scratch_path("x.yaml");
    tu_write_file(path, buf, strlen(buf));
    return path;
}

static void refused_text(const char *path, const char *want) {
    train_config *c = new_config();
    int rc = train_config_load(path, c);
    int ok = rc == VE_FAIL && strstr(ve_error(), want);
    if (getenv("TC_VERBOSE")) printf("  %s\n", rc ? ve_error() : "success");
    if (!ok)
        fprintf(stderr, "expected failure with \"%s\", got: %s\n", want,
                rc ? ve_error() : "success");
    tu_check(ok, want);
    train_config_free(c);
    free(c);
}

static void refused(const char *old, const char *repl, const char *want) {
    const char *path = write_variant(old, repl);
    if (!path) {
        fprintf(stderr, "test setup: \"%s\" not in BASE\n", old);
        tu_check(0, "test setup");
        return;
    }
    refused_text(path, want);
}

/* The name of the first field that differs (config_path and the bookkeeping excepted). */
static const char *differs(const train_config *a, const train_config *b) {
#define SAME_STR(f)                                                                                \
    if (strcmp(a->f, b->f)) return #f
#define SAME(f)                                                                                    \
    if (a->f != b->f) return #f
    SAME_STR(preset);
    SAME_STR(checkpoint);
    SAME_STR(lora);
    SAME(image_size);
    SAME(classes);
    SAME(finetune);
    SAME(lora_rank);
    SAME(n_lora_blocks);
    for (int i = 0; i < a->n_lora_blocks; i++)
        SAME(lora_blocks[i]);
    SAME(batch);
    SAME(base_lr);
    SAME(warmup);
    SAME(epochs);
    SAME(stop_epoch);
    SAME(max_minutes);
    SAME(weight_decay);
    SAME(beta1);
    SAME(beta2);
    SAME(eps);
    SAME(ce_weight);
    SAME(dice_weight);
    SAME(augment);
    SAME(seed);
    SAME(save_every);
    SAME(nan_policy);
    SAME(data_format);
    SAME(axis);
    SAME(window);
    SAME(window_lo);
    SAME(window_hi);
    SAME(has_label_lut);
    if (memcmp(a->label_lut, b->label_lut, sizeof a->label_lut)) return "label_lut";
    const tc_split *sa[] = {&a->train, &a->test}, *sb[] = {&b->train, &b->test};
    for (int s = 0; s < 2; s++) {
        if (sa[s]->format != sb[s]->format || sa[s]->present != sb[s]->present) return "split";
        if (strcmp(sa[s]->images, sb[s]->images) || strcmp(sa[s]->labels, sb[s]->labels) ||
            strcmp(sa[s]->dir, sb[s]->dir) || strcmp(sa[s]->list, sb[s]->list))
            return "split folders";
        if (sa[s]->n_vol != sb[s]->n_vol) return "n_vol";
        for (int v = 0; v < sa[s]->n_vol; v++) {
            const tc_volume *x = &sa[s]->vol[v], *y = &sb[s]->vol[v];
            if (strcmp(x->image, y->image) || strcmp(x->label, y->label)) return "volume paths";
            if (x->n_slices != y->n_slices || !x->slices != !y->slices) return "n_slices";
            if (x->n_slices && memcmp(x->slices, y->slices, (size_t)x->n_slices * sizeof(int)))
                return "slices";
        }
    }
    SAME_STR(output);
    SAME_STR(device);
    return NULL;
#undef SAME
#undef SAME_STR
}

/* Loads path, writes the effective config, loads that: the same struct. Returns the first
 * load (caller frees) or NULL. */
static train_config *round_trip(const char *path, const char *what) {
    train_config *a = new_config(), *b = new_config();
    if (train_config_load(path, a)) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        tu_check(0, what);
        free(a);
        free(b);
        return NULL;
    }
    const char *eff = tu_scratch_path("effective.yaml");
    int ok = train_config_write(a, eff) == VE_OK;
    if (ok && train_config_load(eff, b)) {
        fprintf(stderr, "%s: reading the written config: %s\n", what, ve_error());
        ok = 0;
    }
    const char *d = ok ? differs(a, b) : "write";
    if (d) fprintf(stderr, "%s: round trip differs in %s\n", what, d);
    tu_check(!d, what);
    train_config_free(b);
    free(b);
    return a;
}

/* BASE with one piece replaced (appended when the first is NULL), and the message wanted. */
static const struct {
    const char *old, *repl, *want;
} BAD[] = {
    {"  batch: 2\n", "  bacth: 2\n",
     "x.yaml:5: train.bacth: unknown key (did you mean train.batch?)"},
    {"  epochs: 4\n", "  epochs: 4\n  batch: 3\n",
     "x.yaml:7: train.batch: given twice (first at line 5)"},
    {"  batch: 2\n", "  batch: eight\n",
     "x.yaml:5: train.batch: expected an integer, got \"eight\""},
    {"  batch: 2\n", "  batch: 1.5\n", "train.batch: expected an integer, got \"1.5\""},
    {"  batch: 2\n", "  batch: -2\n", "train.batch: -2 is out of range: must be in [1,"},
    {"  batch: 2\n", "  batch: \"2\"\n", "train.batch: expected an integer, got the string"},
    {"  classes: 3\n", "  classes: 3\n  finetune: partial\n",
     "x.yaml:4: model.finetune: unknown value \"partial\" (expected lora/full/lora_decoder)"},
    {"  preset: tiny\n", "", "model.preset: missing (required"},
    {"  classes: 3\n", "", "model.classes: missing (required"},
    {"  format: nifti\n", "", "data.train: data.format (png, nifti or synapse) must be"},
    {"  format: nifti\n", "  format: null\n", "x.yaml:8: data.format: cannot be null"},
    {"  train:\n", "  test:\n", "data.train: missing (required: the training data)"},
    {"output: out\n", "", "output: missing (required: the run folder)"},
    {"  batch: 2\n", "  batch: [2\n", "YAML syntax error"},
    {"    2: [4]\n", "    2: [4, 7]\n",
     "x.yaml:11: data.label_groups.2: value 7 is in classes 1 and 2"},
    {"    2: [4]\n", "    2: [4, \"4-5\"]\n", "value 4 is listed twice"},
    {"    2: [4]\n", "    9: [4]\n",
     "x.yaml:9: data.label_groups: class 9 is more than model.classes 3"},
    {"    2: [4]\n", "    2: [\"200-300\"]\n", "\"200-300\" is not a label value in 0..255"},
    {"    2: [4]\n", "    1: [4]\n", "data.label_groups.1: given twice (first at line 10)"},
    {"    2: [4]\n", "    2: []\n", "data.label_groups.2: empty group"},
    {"\"1-3,7\"", "\"3-1\"", "x.yaml:13: data.train[0].slices: \"3-1\" in \"3-1\""},
    {"\"1-3,7\"", "\"1,x\"", "\"x\" in \"1,x\" is not a slice index"},
    {"\"1-3,7\"", "\"1-3,2\"", "slice 2 is listed twice"},
    {"image: a.nii.gz", "imgae: a.nii.gz",
     "data.train[0].imgae: unknown key (did you mean data.train[0].image?)"},
    {"label: b.nii.gz, ", "", "data.train[0].label: missing (required: the label volume)"},
    {"image: a.nii.gz", "image: ~/a.nii.gz", "~ is not expanded"},
    {"  batch: 2\n", "  augment: maybe\n", "train.augment: expected true or false"},
    {"  batch: 2\n", "  base_lr: \"0.1\"\n", "train.base_lr: expected a number, got the"},
    {"  batch: 2\n", "  base_lr: 0\n", "train.base_lr: 0 is out of range: must be in (0,"},
    {"  batch: 2\n", "  eps: 1e-8x\n", "train.eps: expected a number, got \"1e-8x\""},
    {"  batch: 2\n", "  stop_epoch: 5\n", "x.yaml:5: train.stop_epoch: 5 is after train.epochs 4"},
    {"  classes: 3\n", "  classes: 3\n  finetune: lora\n",
     "model.finetune: lora needs model.checkpoint"},
    {"  classes: 3\n", "  classes: 3\n  lora: l.pth\n",
     "model.lora: a LoRA file needs model.checkpoint"},
    {"  classes: 3\n", "  classes: 3\n  checkpoint: c.pth\n  lora: l.pth\n  finetune: full\n",
     "model.lora: a LoRA file to start from needs finetune lora or lora_decoder"},
    {"  format: nifti\n", "  format: nifti\n  intensity: [275, -125]\n",
     "data.intensity: window [275, -125]: lo must be below hi"},
    {"  format: nifti\n", "  format: nifti\n  intensity: maxmin\n",
     "data.intensity: expected minmax or a window"},
    {"  batch: 2\n", "  betas: [0.9]\n", "train.betas: expected two numbers"},
    {"  batch: 2\n", "  betas: [0.9, 1]\n", "train.betas: 1 is out of range: must be in [0, 1)"},
    {"  preset: tiny\n", "  preset: vit_x\n",
     "x.yaml:2: model.preset: no built-in preset \"vit_x\" (built in: "},
    {"  preset: tiny\n", "  preset: null\n", "x.yaml:2: model.preset: cannot be null"},
    {"  preset: tiny\n", "  preset: missing.yaml\n", "model.preset: cannot open preset"},
    {"    - {image: a.nii.gz, label: b.nii.gz, slices: \"1-3,7\"}\n", "    image: a.nii.gz\n",
     "data.train: expected a list of volumes"},
    {"  format: nifti\n", "  format: png\n",
     "data.train: expected a mapping such as {images: DIR, labels: DIR}, got a list"},
    {"  format: nifti\n  label_groups:\n    1: [\"1-3\", 7]\n    2: [4]\n  train:\n    - {image: "
     "a.nii.gz, label: b.nii.gz, slices: \"1-3,7\"}\n",
     "  format: png\n  intensity: [0, 1]\n  train: {images: i, labels: l}\n",
     "x.yaml:9: data.intensity: a window applies to nifti volumes only"},
    {"  format: nifti\n", "  format: synapse\n",
     "x.yaml:13: data.train: expected a mapping such as {dir: DIR, list: FILE}, got a list"},
    {"  format: nifti\n  label_groups:\n    1: [\"1-3\", 7]\n    2: [4]\n  train:\n    - {image: "
     "a.nii.gz, label: b.nii.gz, slices: \"1-3,7\"}\n",
     "  format: synapse\n  label_groups:\n    1: [2]\n  train: {dir: d}\n",
     "x.yaml:9: data.label_groups: applies to nifti volumes only"},
    {"  format: nifti\n", "  format: jpeg\n",
     "data.format: unknown value \"jpeg\" (expected png/nifti/synapse)"},
    {"  classes: 3\n", "  classes: 3\n  lora_blocks: [0, 9]\n",
     "model.lora_blocks: block 9 is outside the preset's 6 blocks"},
    {"  classes: 3\n", "  classes: 3\n  lora_blocks: [2, 1]\n", "block indices must increase"},
    {"  classes: 3\n", "  classes: 3\n  image_size: 100\n",
     "model.image_size: 100 is not a multiple of the preset's patch size 16"},
    {"  classes: 3\n", "  classes: 300\n", "model.classes: 300 is out of range"},
    {"  format: nifti\n", "  format: nifti\n  axis: 3\n", "data.axis: 3 is out of range"},
    {"  batch: 2\n", "  nan: ignore\n", "train.nan: unknown value \"ignore\""},
    {"  batch: 2\n", "  seed: -1\n", "train.seed: expected an integer in 0..2^64-1"},
    {"  batch: 2\n", "  ce_weight: 0\n  dice_weight: 0\n", "both 0"},
    {"model:\n  preset: tiny\n  classes: 3\n", "model: big\n",
     "x.yaml:1: model: expected a mapping"},
    {"  batch: 2\n", "  batch: {a: 1}\n", "train.batch: expected an integer, got a mapping"},
    {"output: out\n", "outptu: out\n", "outptu: unknown key (did you mean output?)"},
    {"  classes: 3\n", "  classes: 3\n  batch: 2\n",
     "model.batch: unknown key (did you mean train.batch?)"},
    {NULL, "---\nmodel: {}\n", "a config is one YAML document"},
    {NULL, "  extra: 1\n", "YAML syntax error"},
    {NULL, "device: [0]\n", "device: expected a value, got a list"},
};

static void bad_configs(void) {
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++)
        refused(BAD[i].old, BAD[i].repl, BAD[i].want);
    const char *list = tu_scratch_path("list.yaml");
    tu_write_file(list, "- a\n", 4);
    refused_text(list, "list.yaml:1: a config is a mapping of model, train, data");
    const char *empty = tu_scratch_path("empty.yaml");
    tu_write_file(empty, "", 0);
    refused_text(empty, "empty.yaml: empty config");
    refused_text("/nonexistent/c.yaml", "cannot open config /nonexistent/c.yaml");
}

static void defaults_and_paths(void) {
    char dir[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 32];
    const char *path = write_variant(NULL, "");
    train_config *c = new_config();
    int ok = train_config_load(path, c) == VE_OK;
    if (!ok) fprintf(stderr, "BASE: %s\n", ve_error());
    tu_check(ok, "the base config loads");
    if (!ok || !realpath(tu_scratch_dir(), dir) || !getcwd(cwd, sizeof cwd)) {
        free(c);
        return;
    }
    tu_check(!strcmp(c->preset, "tiny") && c->classes == 3 && c->batch == 2 && c->epochs == 4,
             "given values");
    tu_check(c->stop_epoch == 4 && c->image_size == 1024 && c->finetune == TC_FINETUNE_FULL,
             "defaults that follow other keys: stop_epoch = epochs, preset's S, full");
    tu_check(c->base_lr == 0.005 && c->warmup == 250 && c->weight_decay == 0.1 && c->beta1 == 0.9 &&
                 c->beta2 == 0.999 && c->eps == 1e-8 && c->ce_weight == 0.2 &&
                 c->dice_weight == 0.8 && c->augment == 1 && c->seed == 1234 &&
                 c->save_every == 1 && c->nan_policy == 0 && c->lora_rank == 4 &&
                 c->n_lora_blocks == -1 && c->axis == 2 && c->window == TC_INTENSITY_MINMAX &&
                 c->max_minutes == 0 && !c->checkpoint[0] && !c->device[0],
             "SAMed defaults");
    tu_check(c->has_label_lut && c->label_lut[1] == 1 && c->label_lut[3] == 1 &&
                 c->label_lut[7] == 1 && c->label_lut[4] == 2 && c->label_lut[0] == 0 &&
                 c->label_lut[5] == 0 && c->label_lut[255] == 0,
             "label groups");
    const tc_volume *v = &c->train.vol[0];
    snprintf(want, sizeof want, "%s/a.nii.gz", dir);
    tu_check(c->train.present && c->train.format == TC_DATA_NIFTI && c->train.n_vol == 1 &&
                 !strcmp(v->image, want) && v->n_slices == 4 && v->slices[0] == 1 &&
                 v->slices[2] == 3 && v->slices[3] == 7,
             "data paths resolve against the config's folder; slices");
    snprintf(want, sizeof want, "%s/out", cwd);
    tu_check(!strcmp(c->output, want), "output resolves against the current folder");
    tu_check(!c->test.present && c->test.format == TC_DATA_NIFTI, "test absent");
    train_config_free(c);
    free(c);
}

static void overrides(void) {
    char cwd[PATH_MAX], want[PATH_MAX + 32];
    train_config *c = new_config();
    if (!getcwd(cwd, sizeof cwd) || train_config_load(write_variant(NULL, ""), c)) {
        tu_check(0, "overrides: base loads");
        free(c);
        return;
    }
    int ok = !train_config_set(c, "train.batch=5") && !train_config_set(c, "train.epochs=10") &&
             !train_config_set(c, "output=run2") &&
             !train_config_set(c, "data.intensity=[-125, 275]") &&
             !train_config_set(c, "train.betas=[0.8,0.9]") &&
             !train_config_set(c, "model.checkpoint=ck.pth") &&
             !train_config_set(c, "device=llvmpipe") && !train_config_validate(c);
    if (!ok) fprintf(stderr, "overrides: %s\n", ve_error());
    snprintf(want, sizeof want, "%s/run2", cwd);
    tu_check(ok && c->batch == 5 && c->epochs == 10 && c->stop_epoch == 10 &&
                 !strcmp(c->output, want) && c->window == TC_INTENSITY_WINDOW &&
                 c->window_lo == -125 && c->window_hi == 275 && c->beta1 == 0.8 &&
                 c->beta2 == 0.9 && c->finetune == TC_FINETUNE_LORA &&
                 !strcmp(c->device, "llvmpipe"),
             "overrides applied; stop_epoch and finetune follow");
    ok = !train_config_set(c, "model.checkpoint=null") && !train_config_validate(c);
    tu_check(ok && !c->checkpoint[0] && c->finetune == TC_FINETUNE_FULL, "null resets a key");

    struct {
        const char *set, *want;
    } bad[] = {
        {"train.batch=abc", "command line: train.batch: expected an integer, got \"abc\""},
        {"train.bacth=3", "command line: train.bacth: unknown key (did you mean train.batch?)"},
        {"batch", "expected section.key=value"},
        {"=3", "expected section.key=value"},
        {"model.preset=null", "model.preset: cannot be null"},
        {"model.preset=", "model.preset: cannot be null"},
        {"data.train=[{image: a}]", "data.train[0].label: missing"},
        {"train.batch=[1", "is not a YAML value"},
        {"model.finetune=bogus", "unknown value \"bogus\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = train_config_set(c, bad[i].set);
        ok = rc == VE_FAIL && strstr(ve_error(), bad[i].want);
        if (!ok)
            fprintf(stderr, "override %s: expected \"%s\", got: %s\n", bad[i].set, bad[i].want,
                    rc ? ve_error() : "success");
        tu_check(ok, bad[i].set);
    }
    tu_check(c->batch == 5 && !strcmp(c->preset, "tiny") && c->train.n_vol == 1,
             "a refused override leaves the config as it was");
    ok = !train_config_set(c, "train.stop_epoch=50") && train_config_validate(c) == VE_FAIL &&
         strstr(ve_error(), "command line: train.stop_epoch: 50 is after train.epochs 10");
    tu_check(ok, "validation names an overridden key");
    ok = !train_config_set(c, "train.stop_epoch=null") && !train_config_set(c, "data.format=png") &&
         train_config_validate(c) == VE_FAIL &&
         strstr(ve_error(), "data.train: given in nifti form, but data.format is png");
    if (!ok) fprintf(stderr, "format change: %s\n", ve_error());
    tu_check(ok, "a format change needs the data again");
    ok = !train_config_set(c, "data.train={images: i, labels: l}") &&
         !train_config_set(c, "data.intensity=minmax") &&
         !train_config_set(c, "data.label_groups=null") && !train_config_validate(c) &&
         c->train.format == TC_DATA_PNG && c->test.format == TC_DATA_PNG;
    tu_check(ok, "then the new data is read in the new format");
    train_config_free(c);

    /* A required key missing from the file can come from the command line. */
    const char *path = write_variant("output: out\n", "");
    ok = !train_config_read(path, c) && train_config_validate(c) == VE_FAIL &&
         !train_config_set(c, "output=/tmp/x") && !train_config_validate(c) &&
         !strcmp(c->output, "/tmp/x");
    tu_check(ok, "read + set + validate supplies a required key");
    train_config_free(c);
    free(c);
}

static void round_trips(const char *src) {
    /* Every key away from its default, each format. */
    static const char *ALL =
        "model: {preset: tiny, checkpoint: /ck/sam.pth, lora: lora.pth, image_size: 512,\n"
        "        classes: 5, finetune: lora_decoder, lora_rank: 8, lora_blocks: [0, 2, 5]}\n"
        "train: {batch: 3, base_lr: 0.0001234567890123, warmup: 0, epochs: 7, stop_epoch: 6,\n"
        "        max_minutes: 2.5, weight_decay: 0, betas: [0.5, 0.75], eps: 1.0e-6,\n"
        "        ce_weight: 1, dice_weight: 0.3, augment: false, seed: 18446744073709551615,\n"
        "        save_every: 3, nan: skip}\n"
        "data:\n"
        "  format: nifti\n"
        "  axis: 0\n"
        "  intensity: [-125, 275.5]\n"
        "  label_groups: {5: [0, \"250-255\"], 1: \"2-3\"}\n"
        "  train:\n"
        "    - {image: \"null\", label: \"l b.nii\"}\n"
        "    - {image: /i2.nii, label: /l2.nii, slices: \"5,1-3,9-10\"}\n"
        "  test: [{image: /t.nii, label: /tl.nii, slices: all}]\n"
        "output: /o\n"
        "device: \"null\"\n";
    const char *path = tu_scratch_path("all.yaml");
    tu_write_file(path, ALL, strlen(ALL));
    train_config *c = round_trip(path, "every key round-trips (nifti)");
    if (c) {
        const tc_volume *v = c->train.vol;
        tu_check(c->seed == UINT64_MAX && c->label_lut[0] == 5 && c->label_lut[2] == 1 &&
                     c->label_lut[255] == 5 && !strcmp(c->device, "null") &&
                     c->n_lora_blocks == 3 && c->finetune == TC_FINETUNE_LORA_DECODER &&
                     c->train.n_vol == 2 && !v[0].slices && v[1].n_slices == 6 &&
                     v[1].slices[0] == 1 && v[1].slices[3] == 5 && v[1].slices[5] == 10 &&
                     c->test.n_vol == 1 && !c->test.vol[0].slices,
                 "every key read");
        train_config_free(c);
        free(c);
    }
    static const char *SYN = "model: {preset: vit_b, checkpoint: s.pth, classes: 8}\n"
                             "data: {format: synapse, train: {dir: tr, list: \"lists/a b.txt\"},\n"
                             "       test: {dir: /t}}\n"
                             "output: /o\n";
    path = tu_scratch_path("syn.yaml");
    tu_write_file(path, SYN, strlen(SYN));
    c = round_trip(path, "synapse config round-trips");
    if (c) {
        tu_check(!c->test.list[0] && !strcmp(c->test.dir, "/t") && c->train.list[0] == '/' &&
                     c->finetune == TC_FINETUNE_LORA,
                 "synapse folders read");
        train_config_free(c);
        free(c);
    }
    static const char *PNG = "model: {preset: vit_b, classes: 1}\n"
                             "data: {format: png, train: {images: i, labels: l},\n"
                             "       test: {images: /ti, labels: /tl}}\n"
                             "output: /o\n"
                             "device: 0\n";
    path = tu_scratch_path("png.yaml");
    tu_write_file(path, PNG, strlen(PNG));
    c = round_trip(path, "png config round-trips");
    if (c) {
        train_config_free(c);
        free(c);
    }
    c = round_trip(write_variant(NULL, ""), "base config round-trips");
    if (c) {
        train_config_free(c);
        free(c);
    }

    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/configs/brain.yaml", src);
    c = round_trip(p, "configs/brain.yaml loads and round-trips");
    if (c) {
        const tc_split *tr = &c->train, *te = &c->test;
        tu_check(!strcmp(c->preset, "brain") && c->image_size == 224 && c->classes == 8 &&
                     c->finetune == TC_FINETUNE_FULL && c->batch == 8 && c->epochs > 0 &&
                     c->max_minutes > 0 && c->max_minutes < 15,
                 "brain: model keys, training within the main job's 15 minutes");
        tu_check(c->label_lut[1] == 1 && c->label_lut[16] == 1 && c->label_lut[17] == 2 &&
                     c->label_lut[18] == 2 && c->label_lut[19] == 1 && c->label_lut[30] == 2 &&
                     c->label_lut[42] == 3 && c->label_lut[56] == 4 && c->label_lut[70] == 5 &&
                     c->label_lut[78] == 6 && c->label_lut[90] == 7 && c->label_lut[116] == 8 &&
                     c->label_lut[117] == 0 && c->label_lut[0] == 0,
                 "brain: DATA.md's groups of AAL indices");
        int overlap = 0;
        for (int i = 0; tr->n_vol == 1 && te->n_vol == 1 && i < tr->vol[0].n_slices; i++)
            for (int j = 0; j < te->vol[0].n_slices; j++)
                overlap |= tr->vol[0].slices[i] == te->vol[0].slices[j];
        tu_check(tr->n_vol == 1 && te->n_vol == 1 && tr->vol[0].n_slices == 116 &&
                     te->vol[0].n_slices == 30 && tr->vol[0].slices[0] == 10 &&
                     tr->vol[0].slices[115] == 155 && te->vol[0].slices[0] == 40 && !overlap &&
                     !strcmp(tr->vol[0].label, "/usr/share/mricron/templates/aal.nii.gz"),
                 "brain: 116 train and 30 test slices, disjoint");
        train_config_free(c);
        free(c);
    }
    snprintf(p, sizeof p, "%s/configs/samed_synapse.yaml", src);
    c = round_trip(p, "configs/samed_synapse.yaml loads and round-trips");
    if (c) {
        const char *tail = "/configs/lists/lists_Synapse/train.txt";
        size_t n = strlen(c->train.list), t = strlen(tail);
        tu_check(!strcmp(c->preset, "vit_b") && c->image_size == 512 && c->lora_rank == 4 &&
                     c->finetune == TC_FINETUNE_LORA && c->batch == 12 && c->base_lr == 0.005 &&
                     c->warmup == 250 && c->epochs == 200 && c->stop_epoch == 160 &&
                     c->weight_decay == 0.1 && c->data_format == TC_DATA_SYNAPSE &&
                     c->train.list[0] == '/' && n > t && !strcmp(c->train.list + n - t, tail),
                 "samed_synapse: the paper's recipe");
        train_config_free(c);
        free(c);
    }
}

static void write_failure(void) {
    train_config *c = new_config();
    if (train_config_load(write_variant(NULL, ""), c)) {
        tu_check(0, "write failure: base loads");
        free(c);
        return;
    }
    const char *bad = tu_scratch_path("no_such_dir/eff.yaml");
    tu_check(train_config_write(c, bad) == VE_FAIL && strstr(ve_error(), "no_such_dir/eff.yaml"),
             "writing into a missing folder fails, naming the file");
    train_config_free(c);
    free(c);
}

int main(int argc, char **argv) {
    const char *src = argc > 1 ? argv[1] : ".";
    tu_scratch_open("train_config");
    bad_configs();
    defaults_and_paths();
    overrides();
    round_trips(src);
    write_failure();
    tu_scratch_close();
    return tu_exit();
}
