/* Reading checkpoints (PyTorch zip `.pth` and safetensors) and writing both.
 *
 * Nothing here touches Vulkan: a checkpoint is a list of named tensors whose data stays in the
 * file until ve_checkpoint_read_f32() copies one out, materialised contiguous and converted to
 * f32. Every file is treated as hostile: the `.pth` pickle is read by a strict interpreter that
 * knows only what a state dict needs and never executes anything, every size and offset is
 * checked against the file, and any failure returns VE_FAIL / NULL with a ve_fail() message
 * naming the file, the entry or key, and the offset or shape at fault. */
#ifndef VE_IO_CHECKPOINT_H
#define VE_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define VE_CKPT_MAX_DIMS 8
#define VE_CKPT_MAX_NAME 512          /* bytes, without the terminating NUL */
#define VE_CKPT_MAX_META (1 << 20)    /* bytes of a safetensors metadata key or value */
#define VE_CKPT_MAX_META_ENTRIES 4096 /* safetensors metadata pairs */

typedef enum {
    VE_CKPT_F32,
    VE_CKPT_F16,
    VE_CKPT_BF16,
    VE_CKPT_F64,
    VE_CKPT_I64,
    VE_CKPT_I32,
} ve_ckpt_dtype;

typedef enum { VE_CKPT_PTH, VE_CKPT_SAFETENSORS } ve_ckpt_format;

typedef struct {
    const char *name;
    ve_ckpt_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[VE_CKPT_MAX_DIMS];
    int64_t strides[VE_CKPT_MAX_DIMS]; /* in elements; contiguous for safetensors */
    int64_t numel;
    const char *storage_key; /* `.pth`: the data/<key> entry; safetensors: the name */
    int64_t storage_offset;  /* in elements */
    int64_t storage_numel;   /* elements the storage holds */
    uint64_t storage_pos;    /* byte position of the storage's first element */
} ve_ckpt_tensor;

typedef struct ve_checkpoint ve_checkpoint;

/* Opens a `.pth` (zip magic "PK\3\4") or a safetensors file and validates every tensor's
 * metadata against the file. NULL on failure. */
ve_checkpoint *ve_checkpoint_open(const char *path);
void ve_checkpoint_close(ve_checkpoint *ck);

ve_ckpt_format ve_checkpoint_format(const ve_checkpoint *ck);
const char *ve_checkpoint_path(const ve_checkpoint *ck);
int ve_checkpoint_count(const ve_checkpoint *ck);
/* Tensors in file order (the state dict's order for `.pth`, the header's for safetensors). */
const ve_ckpt_tensor *ve_checkpoint_tensor(const ve_checkpoint *ck, int i);
/* NULL (without setting an error) when absent. */
const ve_ckpt_tensor *ve_checkpoint_find(const ve_checkpoint *ck, const char *name);

/* After ve_checkpoint_open of a safetensors file: the "__metadata__" value for key, or NULL
 * (without setting an error) when absent or for a `.pth`. Valid until ve_checkpoint_close. */
const char *ve_checkpoint_meta(const ve_checkpoint *ck, const char *key);

/* Copies tensor t (which must come from ck) into dst, contiguous row-major, converted to f32.
 * n must equal t->numel. */
int ve_checkpoint_read_f32(ve_checkpoint *ck, const ve_ckpt_tensor *t, float *dst, size_t n);

const char *ve_ckpt_dtype_name(ve_ckpt_dtype dt); /* safetensors spelling: "F32", "BF16", ... */
size_t ve_ckpt_dtype_size(ve_ckpt_dtype dt);

/* One tensor to write: f32, contiguous row-major. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} ve_st_tensor;

/* Writes a safetensors file atomically: the data goes to PATH.tmp in the same directory, is
 * fsync'ed, then renamed over PATH, so a failure at any point leaves an existing PATH as it
 * was. Names must be unique, non-empty and at most VE_CKPT_MAX_NAME bytes. */
int ve_safetensors_write(const char *path, int n, const ve_st_tensor *tensors);

/* Like ve_safetensors_write, plus a "__metadata__" string map: n_meta key/value pairs (valid
 * UTF-8, at most VE_CKPT_MAX_META bytes each, keys unique), JSON-escaped, in order after
 * "format": "pt" (left out when the caller gives its own "format"); at most
 * VE_CKPT_MAX_META_ENTRIES - 1 pairs. */
int ve_safetensors_write_meta(const char *path, int n, const ve_st_tensor *tensors, int n_meta,
                              const char *const *keys, const char *const *values);

/* Writes what torch.save(dict_of_float32_tensors, path) writes with PyTorch 1.13 (for a file
 * named archive.pth, byte for byte): a zip of stored entries archive/data.pkl (a protocol-2
 * pickle of a plain dict, in the order given, of name -> torch._utils._rebuild_tensor_v2 of a
 * contiguous FloatStorage), archive/data/<i> (raw little-endian f32, 64-byte aligned) and
 * archive/version, with ZIP64 fields where sizes or offsets pass 4 GiB. SAMed's
 * load_lora_parameters and torch.load (weights_only too) read it. Same checks and atomic write
 * as ve_safetensors_write. */
int ve_pth_write(const char *path, int n, const ve_st_tensor *tensors);

#endif
