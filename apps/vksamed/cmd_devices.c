/* `vksamed devices`: every Vulkan device, its type, vendor, driver, and the limits the engine
 * uses, with the one the engine would pick marked. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "device.h"
#include "status.h"

int cmd_devices(int argc, char **argv) {
    ve_device_info list[16];
    int n = ve_device_list(list, 16);
    if (n < 0) {
        fprintf(stderr, "vksamed: %s\n", ve_error());
        return 1;
    }
    ve_device *chosen = ve_device_open(cli_device_option(argc, argv));
    int pick = chosen ? ve_device_get_info(chosen)->index : -1;
    if (chosen) ve_device_close(chosen);
    for (int i = 0; i < n && i < 16; i++) {
        const ve_device_info *d = &list[i];
        printf("%c %d: %s\n", i == pick ? '*' : ' ', d->index, d->name);
        printf("    type %s, vendor %s (0x%04x), device 0x%04x, Vulkan %u.%u.%u\n", d->type,
               d->vendor, d->vendor_id, d->device_id, d->api_version >> 22,
               (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff);
        printf("    driver %s: %s\n", d->driver_name, d->driver_info);
        printf("    kernel family: %s\n", d->device_class == VE_CLASS_CPU
                                              ? "cpu (register-blocked, texel buffers)"
                                              : "gpu (shared-memory tiles)");
        printf("    device-local memory %.1f GiB, max allocation %.1f GiB\n",
               (double)d->device_local_bytes / (1 << 30),
               (double)d->max_allocation_size / (1 << 30));
        printf("    maxStorageBufferRange %llu MiB, maxTexelBufferElements %llu, offset "
               "alignment storage %llu / texel %llu\n",
               (unsigned long long)(d->max_storage_buffer_range >> 20),
               (unsigned long long)d->max_texel_buffer_elements,
               (unsigned long long)d->min_storage_offset_align,
               (unsigned long long)d->min_texel_offset_align);
        printf("    subgroup %u, shared memory %u KiB, workgroup invocations %u, push constants "
               "%u B, timestamps %s, float16 %s, 16-bit storage %s\n",
               d->subgroup_size, d->max_shared_memory / 1024, d->max_workgroup_invocations,
               d->max_push_constants, d->timestamps ? "yes" : "no",
               d->shader_float16 ? "yes" : "no", d->storage_16bit ? "yes" : "no");
    }
    if (pick < 0) {
        fprintf(stderr, "vksamed: %s\n", ve_error());
        return 1;
    }
    return 0;
}
