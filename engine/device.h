/* Vulkan device discovery and selection.
 *
 * One instance, one compute queue. The engine picks discrete > integrated > virtual > CPU
 * unless VKSAMED_DEVICE (index or name substring) or an explicit selector says otherwise.
 * VKSAMED_VALIDATION=1 enables the Khronos validation layer; every message it emits at warning
 * level or above is printed and counted, and tests fail when the count is not zero. */
#ifndef VE_DEVICE_H
#define VE_DEVICE_H

#include <stdint.h>

typedef enum {
    VE_CLASS_CPU = 0, /* lavapipe, SwiftShader: register-blocked texel-buffer kernels */
    VE_CLASS_GPU = 1, /* real GPUs: shared-memory tiled kernels */
} ve_device_class;

typedef struct {
    int index;
    char name[256];
    const char *type; /* "discrete", "integrated", "virtual", "cpu", "other" */
    uint32_t vendor_id, device_id;
    char vendor[32];
    char driver_name[256];
    char driver_info[256];
    uint32_t api_version;
    ve_device_class device_class;
    /* The limits the engine uses. */
    uint64_t max_storage_buffer_range;
    uint64_t max_texel_buffer_elements;
    uint64_t min_storage_offset_align;
    uint64_t min_texel_offset_align;
    uint64_t max_allocation_size;
    uint64_t device_local_bytes;
    uint32_t max_push_constants;
    uint32_t max_shared_memory;
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count[3];
    uint32_t subgroup_size;
    int timestamps;        /* compute queue supports timestamp queries */
    float timestamp_period; /* ns per tick */
    int shader_float16, storage_16bit;
} ve_device_info;

typedef struct ve_device ve_device;

/* Lists every physical device. Returns the count (>= 1) or VE_FAIL with a message that names the
 * missing driver package when none is installed. */
int ve_device_list(ve_device_info *out, int max);

/* Opens a device. selector: NULL (use VKSAMED_DEVICE, else the best by type), an index, or a
 * case-insensitive name substring. Returns NULL and sets ve_error() on failure. */
ve_device *ve_device_open(const char *selector);
/* Returns the number of validation messages seen over the device's life. */
int ve_device_close(ve_device *dev);

const ve_device_info *ve_device_get_info(const ve_device *dev);
int ve_device_validation_messages(const ve_device *dev);
/* Forces a kernel family regardless of the device class (tests run both on lavapipe). */
void ve_device_set_class(ve_device *dev, ve_device_class cls);

#endif
