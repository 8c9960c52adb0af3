/* Shared by the slice loaders (engine/data/slices_*.c): growing a slice set, checking and
 * converting pixel values, and listing the files of a folder or a list file. Not public. */
#ifndef VE_DATA_SLICES_INTERNAL_H
#define VE_DATA_SLICES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "slices.h"

/* Adds a case named name (truncated to fit); returns its id, or -1 with a ve_fail message. */
int ve_set_add_case(ve_slice_set *set, const char *name);
/* Adds a sample with zeroed image [channels][h][w] and label [h][w] of case case_id; NULL with a
 * ve_fail message when out of memory. */
ve_slice *ve_set_add_slice(ve_slice_set *set, int h, int w, int channels, int case_id, int slice);

/* Converts n label values (rows of w) to class indices; a value that is not a whole number in
 * 0..255 fails, naming it and its row and column. */
int ve_labels_to_u8(const float *v, int64_t n, int w, uint8_t *out);
/* Fails on the first NaN or infinite value, naming its row and column. */
int ve_check_finite(const float *v, int64_t n, int w);

/* A malloc'ed "dir/name" (NULL with a ve_fail message when out of memory). */
char *ve_path_join(const char *dir, const char *name);
/* The file name of path without its folder and, if it ends so, without suffix. */
void ve_file_stem(const char *path, const char *suffix, char *out, size_t cap);

typedef struct {
    char **s;
    int n, cap;
} ve_name_list;

/* The regular, non-hidden files in dir whose names end with suffix ("" for all), sorted by
 * name. An empty result is not an error here. */
int ve_list_dir(const char *dir, const char *suffix, ve_name_list *out);
/* The lines of a list file, blanks trimmed, empty lines skipped. */
int ve_read_list_file(const char *path, ve_name_list *out);
void ve_name_list_free(ve_name_list *l);
/* The input files of a loader, as names inside dir: with no list file, the files of dir ending
 * with dir_suffix; else the list file's lines, each with list_suffix appended unless it already
 * ends with dir_suffix (SAMed's lists give stems). An empty result is an error. */
int ve_list_inputs(const char *dir, const char *list_file, const char *dir_suffix,
                   const char *list_suffix, ve_name_list *out);

/* Loads one input file (path; name: its name inside the folder) into set. */
typedef int (*ve_load_one_fn)(const char *path, const char *name, void *ctx, ve_slice_set *set);
/* Empties *out, then calls fn for each of the inputs ve_list_inputs finds; on a failure *out is
 * freed (left empty). */
int ve_load_inputs(const char *dir, const char *list_file, const char *dir_suffix,
                   const char *list_suffix, ve_load_one_fn fn, void *ctx, ve_slice_set *out);

#endif
