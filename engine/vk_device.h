/* The Vulkan objects behind ve_device, shared by the engine's own files (never by models/apps). */
#ifndef VE_VK_DEVICE_H
#define VE_VK_DEVICE_H

#include <vulkan/vulkan.h>

#include "device.h"
#include "node.h"

typedef struct {
    char key[96]; /* kernel name + specialisation values */
    int n_bind;
    ve_bind_type types[VE_MAX_BINDINGS];
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
} ve_pipeline;

struct ve_device {
    ve_device_info info;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;
    VkPhysicalDeviceMemoryProperties mem;
    int validation_messages;
    int lost;    /* VK_ERROR_DEVICE_LOST seen: nothing more may run on the device */
    long runs;   /* graph submissions so far (VKSAMED_FAULT=device_lost:N counts them) */
    long allocs; /* device memory blocks allocated so far (VKSAMED_FAULT=oom:N counts them) */
    ve_pipeline *pipelines;
    int n_pipelines, cap_pipelines;
};

/* Fails with the Vulkan call's name and result. */
int ve_vk_fail(const char *call, VkResult r);
/* "VK_ERROR_DEVICE_LOST" and the like; "VkResult <n>" for others (static or thread-local). */
const char *ve_vk_result_name(VkResult r);
/* Fault injection for tests: VKSAMED_FAULT=KIND:N (KIND device_lost: the N-th graph submission
 * of the process reports VK_ERROR_DEVICE_LOST; oom: the N-th graph memory block's allocation
 * reports VK_ERROR_OUT_OF_DEVICE_MEMORY). Returns 1 when this event (the count-th of kind) is the
 * one. */
int ve_fault_due(const char *kind, long count);
#define VE_VK(call)                                                                                \
    do {                                                                                           \
        VkResult r_ = (call);                                                                      \
        if (r_ != VK_SUCCESS) return ve_vk_fail(#call, r_);                                        \
    } while (0)

/* Finds (or builds) the pipeline for a kernel with these bindings and specialisation values. */
ve_pipeline *ve_pipeline_get(ve_device *d, const char *kernel, int n_bind,
                             const ve_bind_type *types, int n_spec, const uint32_t *spec);
void ve_pipelines_destroy(ve_device *d);

/* Picks a memory type with all of `want` (falls back to `fallback`); -1 if none. */
int ve_memory_type(const ve_device *d, uint32_t type_bits, VkMemoryPropertyFlags want,
                   VkMemoryPropertyFlags fallback, VkMemoryPropertyFlags *got);

/* One-shot command buffer: begin, then end+submit+wait. */
int ve_oneshot_begin(ve_device *d, VkCommandBuffer *cb);
int ve_oneshot_end(ve_device *d, VkCommandBuffer cb);

#endif
