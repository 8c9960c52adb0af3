/* Vulkan instance, physical-device choice, logical device and compute queue. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status.h"
#include "vk_device.h"

#define NO_DRIVER_HINT                                                                             \
    "no Vulkan driver found. Install one: on Debian/Ubuntu `apt-get install mesa-vulkan-drivers` " \
    "(lavapipe runs on the CPU; it also provides AMD and Intel GPU drivers), or your GPU "         \
    "vendor's driver"

int ve_vk_fail(const char *call, VkResult r) {
    return ve_fail("Vulkan call %s failed with %s", call, ve_vk_result_name(r));
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x1002: return "AMD";
    case 0x10DE: return "NVIDIA";
    case 0x8086: return "Intel";
    case 0x106B: return "Apple";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x10005: return "Mesa";
    default: return "unknown";
    }
}

static int validation_wanted(void) {
    const char *v = getenv("VKSAMED_VALIDATION");
    return v && *v && strcmp(v, "0") != 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                    VkDebugUtilsMessageTypeFlagsEXT type,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                    void *user) {
    (void)type;
    ve_device *d = user;
    if (sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        d->validation_messages++;
        fprintf(stderr, "vksamed: Vulkan validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static int has_layer(const char *name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return 0;
    vkEnumerateInstanceLayerProperties(&n, p);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static int create_instance(ve_device *d, int validation) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "vksamed",
                             .pEngineName = "vksamed",
                             .apiVersion = VK_API_VERSION_1_1};
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app};
    if (validation) {
        if (!has_layer(layers[0]))
            return ve_fail("VKSAMED_VALIDATION is set but the Vulkan validation layer is not "
                           "installed (Debian: apt-get install vulkan-validationlayers)");
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = layers;
        ci.enabledExtensionCount = 1;
        ci.ppEnabledExtensionNames = exts;
        /* Synchronisation validation too: a missing barrier is a test failure even on drivers
         * (lavapipe) that happen to run dispatches in order. */
        static const VkValidationFeatureEnableEXT enables[] = {
            VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
        static VkValidationFeaturesEXT features = {
            .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
            .enabledValidationFeatureCount = 1,
            .pEnabledValidationFeatures = enables};
        ci.pNext = &features;
    }
    VkResult r = vkCreateInstance(&ci, NULL, &d->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) return ve_fail("%s", NO_DRIVER_HINT);
    if (r != VK_SUCCESS) return ve_vk_fail("vkCreateInstance", r);
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                d->instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation,
            .pUserData = d};
        if (!create) return ve_fail("vkCreateDebugUtilsMessengerEXT is unavailable");
        VE_VK(create(d->instance, &mi, NULL, &d->messenger));
    }
    return VE_OK;
}

static void fill_info(VkPhysicalDevice pd, int index, ve_device_info *info) {
    VkPhysicalDeviceDriverProperties drv = {.sType =
                                                VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sub = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &drv};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &sub};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    const VkPhysicalDeviceProperties *p = &p2.properties;
    const VkPhysicalDeviceLimits *l = &p->limits;
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 q2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &m3};
    vkGetPhysicalDeviceProperties2(pd, &q2);

    memset(info, 0, sizeof *info);
    info->index = index;
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    info->type = type_name(p->deviceType);
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    snprintf(info->vendor, sizeof info->vendor, "%s", vendor_name(p->vendorID));
    snprintf(info->driver_name, sizeof info->driver_name, "%s", drv.driverName);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", drv.driverInfo);
    info->api_version = p->apiVersion;
    info->device_class =
        p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? VE_CLASS_CPU : VE_CLASS_GPU;
    info->max_storage_buffer_range = l->maxStorageBufferRange;
    info->max_texel_buffer_elements = l->maxTexelBufferElements;
    info->min_storage_offset_align = l->minStorageBufferOffsetAlignment;
    info->min_texel_offset_align = l->minTexelBufferOffsetAlignment;
    info->max_allocation_size = m3.maxMemoryAllocationSize;
    info->max_push_constants = l->maxPushConstantsSize;
    info->max_shared_memory = l->maxComputeSharedMemorySize;
    info->max_workgroup_invocations = l->maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++) info->max_workgroup_count[i] = l->maxComputeWorkGroupCount[i];
    info->subgroup_size = sub.subgroupSize;
    info->timestamp_period = l->timestampPeriod;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info->device_local_bytes += mem.memoryHeaps[h].size;

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
    for (uint32_t i = 0; i < nq; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            info->timestamps = qf[i].timestampValidBits > 0;
            break;
        }

    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .pNext = &s16};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &f16};
    vkGetPhysicalDeviceFeatures2(pd, &f2);
    info->shader_float16 = f16.shaderFloat16;
    info->storage_16bit = s16.storageBuffer16BitAccess;
}

static int enumerate(VkInstance inst, VkPhysicalDevice **out, uint32_t *n) {
    VkResult r = vkEnumeratePhysicalDevices(inst, n, NULL);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return ve_vk_fail("vkEnumeratePhysicalDevices", r);
    if (*n == 0) return ve_fail("%s", NO_DRIVER_HINT);
    *out = calloc(*n, sizeof **out);
    if (!*out) return ve_fail("out of host memory listing devices");
    VE_VK(vkEnumeratePhysicalDevices(inst, n, *out));
    return VE_OK;
}

int ve_device_list(ve_device_info *out, int max) {
    ve_device tmp = {0};
    if (create_instance(&tmp, 0) != VE_OK) return VE_FAIL;
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    int rc = enumerate(tmp.instance, &pds, &n);
    if (rc == VE_OK) {
        for (uint32_t i = 0; i < n && (int)i < max; i++) fill_info(pds[i], (int)i, &out[i]);
        rc = (int)n;
    }
    free(pds);
    vkDestroyInstance(tmp.instance, NULL);
    return rc;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

/* Picks a device: explicit selector (index or name substring), else best type. */
static int choose(VkPhysicalDevice *pds, uint32_t n, const char *sel) {
    ve_device_info info;
    if (sel && *sel) {
        char *end;
        long idx = strtol(sel, &end, 10);
        if (*end == 0) {
            if (idx < 0 || idx >= (long)n)
                return ve_fail("device index %ld out of range: %u device(s) found (see `vksamed "
                               "devices`)",
                               idx, n);
            return (int)idx;
        }
        for (uint32_t i = 0; i < n; i++) {
            fill_info(pds[i], (int)i, &info);
            if (contains_ci(info.name, sel)) return (int)i;
        }
        return ve_fail("no Vulkan device matches \"%s\" (see `vksamed devices`)", sel);
    }
    int best = 0, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (type_rank(p.deviceType) > best_rank) {
            best_rank = type_rank(p.deviceType);
            best = (int)i;
        }
    }
    return best;
}

ve_device *ve_device_open(const char *selector) {
    ve_device *d = calloc(1, sizeof *d);
    if (!d) {
        ve_fail("out of host memory opening the device");
        return NULL;
    }
    if (!selector) selector = getenv("VKSAMED_DEVICE");
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    if (create_instance(d, validation_wanted()) != VE_OK) goto fail;
    if (enumerate(d->instance, &pds, &n) != VE_OK) goto fail;
    int idx = choose(pds, n, selector);
    if (idx < 0) goto fail;
    d->phys = pds[idx];
    fill_info(d->phys, idx, &d->info);
    vkGetPhysicalDeviceMemoryProperties(d->phys, &d->mem);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nq, qf);
    int fam = -1;
    for (uint32_t i = 0; i < nq; i++) /* prefer a compute queue family with timestamps */
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && (fam < 0 || qf[i].timestampValidBits))
            if (fam < 0 || !qf[fam].timestampValidBits) fam = (int)i;
    if (fam < 0) {
        ve_fail("device %s has no compute queue", d->info.name);
        goto fail;
    }
    d->queue_family = (uint32_t)fam;
    d->info.timestamps = qf[fam].timestampValidBits > 0;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = d->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkResult r = vkCreateDevice(d->phys, &dci, NULL, &d->dev);
    if (r != VK_SUCCESS) {
        ve_vk_fail("vkCreateDevice", r);
        goto fail;
    }
    vkGetDeviceQueue(d->dev, d->queue_family, 0, &d->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = d->queue_family};
    r = vkCreateCommandPool(d->dev, &pci, NULL, &d->pool);
    if (r != VK_SUCCESS) {
        ve_vk_fail("vkCreateCommandPool", r);
        goto fail;
    }
    free(pds);
    return d;
fail:
    free(pds);
    ve_device_close(d);
    return NULL;
}

int ve_device_close(ve_device *d) {
    if (!d) return 0;
    if (d->dev) {
        vkDeviceWaitIdle(d->dev);
        ve_pipelines_destroy(d);
        if (d->pool) vkDestroyCommandPool(d->dev, d->pool, NULL);
        vkDestroyDevice(d->dev, NULL);
    }
    if (d->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
                d->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy) destroy(d->instance, d->messenger, NULL);
    }
    if (d->instance) vkDestroyInstance(d->instance, NULL);
    int n = d->validation_messages;
    free(d);
    return n;
}

const ve_device_info *ve_device_get_info(const ve_device *d) {
    return &d->info;
}

int ve_device_validation_messages(const ve_device *d) {
    return d->validation_messages;
}

void ve_device_set_class(ve_device *d, ve_device_class cls) {
    d->info.device_class = cls;
}

int ve_memory_type(const ve_device *d, uint32_t bits, VkMemoryPropertyFlags want,
                   VkMemoryPropertyFlags fallback, VkMemoryPropertyFlags *got) {
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags f = pass == 0 ? want : fallback;
        for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++)
            if ((bits & (1u << i)) && (d->mem.memoryTypes[i].propertyFlags & f) == f) {
                if (got) *got = d->mem.memoryTypes[i].propertyFlags;
                return (int)i;
            }
    }
    return -1;
}

int ve_oneshot_begin(ve_device *d, VkCommandBuffer *cb) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = d->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VE_VK(vkAllocateCommandBuffers(d->dev, &ai, cb));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VE_VK(vkBeginCommandBuffer(*cb, &bi));
    return VE_OK;
}

int ve_oneshot_end(ve_device *d, VkCommandBuffer cb) {
    VE_VK(vkEndCommandBuffer(cb));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &cb};
    VE_VK(vkQueueSubmit(d->queue, 1, &si, VK_NULL_HANDLE));
    VE_VK(vkQueueWaitIdle(d->queue));
    vkFreeCommandBuffers(d->dev, d->pool, 1, &cb);
    return VE_OK;
}
