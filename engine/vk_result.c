/* VkResult names for error messages, and the fault injection tests use to reach the error paths
 * that real drivers take rarely (a lost device, memory exhausted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_device.h"

const char *ve_vk_result_name(VkResult r) {
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
        return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
        return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED:
        return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
        return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
        return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
        return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
        return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
        return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL:
        return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY:
        return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_TIMEOUT:
        return "VK_TIMEOUT";
    default: {
        static _Thread_local char buf[32];
        snprintf(buf, sizeof buf, "VkResult %d", (int)r);
        return buf;
    }
    }
}

int ve_fault_due(const char *kind, long count) {
    const char *f = getenv("VKSAMED_FAULT");
    if (!f || !*f) return 0;
    const size_t k = strlen(kind);
    if (strncmp(f, kind, k) != 0 || f[k] != ':') return 0;
    char *end;
    const long n = strtol(f + k + 1, &end, 10);
    return *end == '\0' && n == count;
}
