/* The samples of a config's train or test split (train_config.h), loaded with engine/data, and
 * the model preset a config names: shared by `vksamed train` and `vksamed eval`. */
#ifndef VKSAMED_RUN_DATA_H
#define VKSAMED_RUN_DATA_H

#include "data/slices.h"
#include "sam/preset.h"
#include "train_config.h"

/* Loads split (c->train or c->test) by c->data_format; every label value must be below
 * classes + 1 (an error names the sample, the value and the class count). what ("train",
 * "test") names the split in messages. */
int run_load_split(const train_config *c, const tc_split *split, const char *what,
                   ve_slice_set *out);
/* The preset c names (builtin, else a YAML file) with mask_outputs = classes + 1. */
int run_preset(const train_config *c, sam_preset *p);
/* Reads the config at path, applies the assignments pre[0..n_pre) (NULL entries skipped), then
 * every "section.key=value" argument of argv[1..argc) in order (skipping path itself, flags, and
 * the argument after each flag named in value_flags, a NULL-terminated list), then validates.
 * *c must be zeroed; the caller frees it with train_config_free also on failure. */
int run_config_load(const char *path, int n_pre, const char *const *pre, int argc, char **argv,
                    const char *const *value_flags, train_config *c);
/* mkdir -p. */
int run_make_dir(const char *path);

#endif
