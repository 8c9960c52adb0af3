/* Shared by the checkpoint readers in engine/io/: bounded file reads, the tensor list they fill,
 * the zip directory, the pickle interpreter and the safetensors header parser. Not public. */
#ifndef VE_IO_INTERNAL_H
#define VE_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"

/* ---- files: every read is checked against the size seen at open ---- */
typedef struct {
    int fd;
    uint64_t size;
} ve_file;

int ve_file_open(ve_file *f, const char *path);
void ve_file_close(ve_file *f);
/* Reads exactly n bytes at pos; fails (naming pos and n) if that runs past the end. */
int ve_file_read_at(const ve_file *f, uint64_t pos, void *dst, size_t n);

/* ---- tensor lists: name and storage_key are owned (malloc'ed) strings ---- */
typedef struct {
    ve_ckpt_tensor *t;
    int n, cap;
} ve_tensor_list;

/* Appends a copy of *t, duplicating its two strings. */
int ve_tensor_list_push(ve_tensor_list *l, const ve_ckpt_tensor *t);
void ve_tensor_list_free(ve_tensor_list *l);
/* numel from the shape, and offset + extent within storage_numel; non-negative strides. */
int ve_tensor_check_extent(ve_ckpt_tensor *t);

/* ---- zip: the central directory of an archive of stored entries ---- */
typedef struct {
    char *name;
    uint64_t pos;  /* byte position of the entry's data */
    uint64_t size; /* bytes */
    uint32_t crc;
} ve_zip_entry;

typedef struct {
    ve_zip_entry *e; /* sorted by name */
    int n;
} ve_zip;

int ve_zip_open(ve_zip *z, const ve_file *f);
const ve_zip_entry *ve_zip_find(const ve_zip *z, const char *name);
void ve_zip_free(ve_zip *z);
uint32_t ve_crc32(const uint8_t *p, size_t n);

/* ---- the pickle of a state dict: fills name, dtype, ndim, shape, strides, storage_key,
 * storage_offset and storage_numel (from the persistent id); not the positions ---- */
int ve_pickle_state_dict(const uint8_t *buf, size_t len, ve_tensor_list *out);

/* ---- safetensors "__metadata__": string pairs in file order, owned ---- */
typedef struct {
    char **key, **value;
    int n, cap;
} ve_meta_list;

void ve_meta_list_free(ve_meta_list *m);

/* ---- loaders: fill the list with fully validated tensors (and the metadata) ---- */
int ve_pth_load(const ve_file *f, ve_tensor_list *out);
int ve_safetensors_load(const ve_file *f, ve_tensor_list *out, ve_meta_list *meta);

/* ---- writers ---- */
/* Checks a list to write: n >= 0, names non-empty, at most VE_CKPT_MAX_NAME bytes, valid UTF-8
 * and unique, shapes within VE_CKPT_MAX_DIMS and 2^40 elements, data present. Fills numel[i]
 * when numel is not NULL. */
int ve_st_check(int n, const ve_st_tensor *tensors, int64_t *numel);
/* ve_pth_write with ZIP64 fields from zip64_at bytes on (VE_ZIP64_AT in ve_pth_write): tests
 * lower it to exercise them without writing 4 GiB. */
int ve_pth_write_zip64_at(const char *path, int n, const ve_st_tensor *tensors, uint64_t zip64_at);

/* ---- a strict JSON cursor, just enough for a safetensors header ---- */
typedef struct {
    const char *s;
    size_t n, i;
} ve_json;

/* The next non-blank byte without consuming it, or -1 at the end. */
int ve_json_peek(ve_json *j);
int ve_json_expect(ve_json *j, char c);
/* A string, unescaped to UTF-8 into out (cap bytes with the NUL); \u0000 is refused. */
int ve_json_string(ve_json *j, char *out, size_t cap);
/* An integer: -?(0|[1-9][0-9]*), no fraction or exponent, within int64. */
int ve_json_int(ve_json *j, int64_t *out);
/* Checks that only blanks remain. */
int ve_json_end(ve_json *j);

#endif
