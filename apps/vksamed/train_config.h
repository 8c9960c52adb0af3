/* The configuration of `vksamed train` and `vksamed eval`: one YAML file (sections model, train,
 * data; top-level output and device), read strictly with libyaml, every key documented in
 * docs/config.md. Command-line overrides ("train.batch=2") go through the same type checks.
 *
 * Paths: model.checkpoint, model.lora, a model.preset given as a file and every data path are
 * inputs and resolve against the config file's folder; output resolves against the current
 * folder (the run folder is made where the command runs). Overrides resolve against the current
 * folder. After loading, every path in the struct is absolute, so the effective config written
 * into a run folder reads back the same from anywhere. */
#ifndef VKSAMED_TRAIN_CONFIG_H
#define VKSAMED_TRAIN_CONFIG_H

#include <stdint.h>

#define TC_MAX_VOLUMES 64
#define TC_PATH 1024
#define TC_KEYS 48 /* bookkeeping slots, one per key of the schema (train_config.c) */

typedef enum { TC_FINETUNE_LORA, TC_FINETUNE_FULL, TC_FINETUNE_LORA_DECODER } tc_finetune;
typedef enum { TC_DATA_PNG, TC_DATA_NIFTI, TC_DATA_SYNAPSE } tc_data_format;
/* data.intensity of NIfTI volumes: "minmax" scales each volume to [0, 1] by its min and max
 * (default); [lo, hi] clips to the window, then scales it to [0, 1]. (The values of
 * ve_nifti_slice_opts.window.) */
enum { TC_INTENSITY_MINMAX = 0, TC_INTENSITY_WINDOW = 1 };

/* One NIfTI image volume with its label volume; slices NULL = every slice along data.axis. */
typedef struct {
    char image[TC_PATH], label[TC_PATH];
    int *slices; /* ascending, no repeats (malloc'd; train_config_free releases it) */
    int n_slices;
} tc_volume;

typedef struct {
    tc_data_format format;                           /* after validation: equal to data.format */
    int present;                                     /* 0: not given (test may be absent) */
    /* png */ char images[TC_PATH], labels[TC_PATH]; /* folders of slices and label PNGs */
    /* synapse */ char dir[TC_PATH], list[TC_PATH];  /* list: optional file of stems, "" = all */
    /* nifti */ tc_volume vol[TC_MAX_VOLUMES];
    int n_vol;
} tc_split;

typedef struct {
    char config_path[TC_PATH]; /* the file read, as given */
    /* model */
    char preset[TC_PATH];     /* builtin name (vit_b, vit_l, vit_h, tiny, brain) or a preset YAML */
    char checkpoint[TC_PATH]; /* "" = none: train from scratch (finetune must then be full) */
    char lora[TC_PATH];       /* "" = none: a SAMed LoRA .pth to start from */
    int image_size;           /* default: the preset's image_size */
    int classes;              /* foreground classes, >= 1; outputs = classes + 1 */
    tc_finetune finetune;     /* default: lora with a checkpoint, full without */
    int lora_rank;            /* default 4 */
    int lora_blocks[64];
    int n_lora_blocks; /* default -1: every block */
    /* train */
    int batch;          /* default 12 */
    double base_lr;     /* 0.005 */
    int warmup;         /* 250; 0 = no warmup */
    int epochs;         /* 200: the poly schedule's horizon (max_epochs) */
    int stop_epoch;     /* default = epochs (SAMed: 160 of 200) */
    double max_minutes; /* 0 = no limit; else stop (with a checkpoint) once the wall time passes */
    double weight_decay, beta1, beta2, eps; /* 0.1, 0.9, 0.999, 1e-8 */
    double ce_weight, dice_weight;          /* 0.2, 0.8 */
    int augment;                            /* 1 */
    int rot90_flip; /* 1 (SAMed); 0: the rot90 + flip branch draws no transform instead */
    uint64_t seed;  /* 1234 */
    int save_every; /* epochs between checkpoints, default 1 */
    int nan_policy; /* 0 "stop" (default), 1 "skip": a NaN/inf loss */
    /* data */
    tc_data_format data_format; /* data.format */
    int axis;                   /* nifti: slicing axis, default 2 */
    int window;                 /* data.intensity: a TC_INTENSITY_* */
    double window_lo, window_hi;
    int label_lut[256]; /* label_groups: file label value -> class; unlisted values -> 0 */
    int has_label_lut;  /* 0: label values are classes already */
    tc_split train, test;
    /* output / device */
    char output[TC_PATH]; /* required: the run folder */
    char device[256];     /* "" = automatic; else an index or a name substring */
    /* bookkeeping (filled by the parser): the line of each key in the file (0: not in the file,
     * -1: set by an override) and whether it was given, so defaults that follow other keys
     * (image_size, finetune, stop_epoch) follow overrides too. */
    int key_line[TC_KEYS];
    unsigned char key_given[TC_KEYS];
} train_config;

/* Reads PATH into *c (zeroed first): defaults applied, relative paths resolved, every key
 * type-checked, but no cross-key validation and no required-key check. Use it when overrides
 * follow (they may supply required keys), then call train_config_validate. */
int train_config_read(const char *path, train_config *c);
/* train_config_read + train_config_validate. */
int train_config_load(const char *path, train_config *c);
/* Frees the slice lists (the struct itself belongs to the caller). Safe on a zeroed struct. */
void train_config_free(train_config *c);
/* An override from the command line, "section.key=value" (train.batch=2, train.epochs=1,
 * output=/tmp/x, data.intensity=[-125,275], model.checkpoint=null): the value is read as YAML
 * with the same type checks as the file. Call train_config_validate after the last one. A null
 * value resets an optional key to its default. */
int train_config_set(train_config *c, const char *assignment);
/* Required keys present, defaults that follow other keys filled (image_size from the preset,
 * finetune from checkpoint, stop_epoch from epochs), cross-key checks (stop_epoch <= epochs,
 * label groups within classes, LoRA blocks within the preset's depth, ...). Loads the preset. */
int train_config_validate(train_config *c);
/* Writes the effective config (every key, defaults filled, absolute paths) as YAML, atomically. */
int train_config_write(const train_config *c, const char *path);

#endif
