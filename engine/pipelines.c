/* Compute pipelines built from the embedded SPIR-V, once per (kernel, specialisation) per device.
 * Every pipeline uses one descriptor set (binding i = node binding i) and a 128-byte push range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shader_table.h"
#include "status.h"
#include "vk_device.h"

static const ve_shader_blob *find_shader(const char *name) {
    for (const ve_shader_blob *b = ve_shader_table; b->name; b++)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

static int build(ve_device *d, ve_pipeline *p, const ve_shader_blob *blob, int n_spec,
                 const uint32_t *spec) {
    VkDescriptorSetLayoutBinding b[VE_MAX_BINDINGS];
    for (int i = 0; i < p->n_bind; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = p->types[i] == VE_BIND_TEXEL ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                           : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo sl = {.sType =
                                              VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = (uint32_t)p->n_bind,
                                          .pBindings = b};
    VE_VK(vkCreateDescriptorSetLayout(d->dev, &sl, NULL, &p->set_layout));
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                              .offset = 0,
                              .size = VE_PUSH_WORDS * 4};
    VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1,
                                     .pSetLayouts = &p->set_layout,
                                     .pushConstantRangeCount = 1,
                                     .pPushConstantRanges = &pr};
    VE_VK(vkCreatePipelineLayout(d->dev, &pl, NULL, &p->layout));
    VkShaderModuleCreateInfo sm = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = blob->bytes,
                                   .pCode = blob->code};
    VkShaderModule mod;
    VE_VK(vkCreateShaderModule(d->dev, &sm, NULL, &mod));
    VkSpecializationMapEntry map[VE_MAX_SPEC];
    for (int i = 0; i < n_spec; i++)
        map[i] = (VkSpecializationMapEntry){
            .constantID = (uint32_t)i, .offset = (uint32_t)(4 * i), .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)n_spec,
                               .pMapEntries = map,
                               .dataSize = (size_t)n_spec * 4,
                               .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod,
                  .pName = "main",
                  .pSpecializationInfo = n_spec ? &si : NULL},
        .layout = p->layout};
    VkResult r = vkCreateComputePipelines(d->dev, VK_NULL_HANDLE, 1, &ci, NULL, &p->pipeline);
    vkDestroyShaderModule(d->dev, mod, NULL);
    if (r != VK_SUCCESS) return ve_vk_fail("vkCreateComputePipelines", r);
    return VE_OK;
}

ve_pipeline *ve_pipeline_get(ve_device *d, const char *kernel, int n_bind,
                             const ve_bind_type *types, int n_spec, const uint32_t *spec) {
    char key[96];
    int len = snprintf(key, sizeof key, "%s", kernel);
    for (int i = 0; i < n_spec && len < (int)sizeof key; i++)
        len += snprintf(key + len, sizeof key - (size_t)len, ":%u", spec[i]);
    for (int i = 0; i < d->n_pipelines; i++) {
        ve_pipeline *p = &d->pipelines[i];
        if (strcmp(p->key, key) != 0) continue;
        if (p->n_bind != n_bind || memcmp(p->types, types, sizeof *types * (size_t)n_bind) != 0) {
            ve_fail("kernel %s used with different binding types than before", kernel);
            return NULL;
        }
        return p;
    }
    const ve_shader_blob *blob = find_shader(kernel);
    if (!blob) {
        ve_fail("no shader named %s is embedded (shaders/%s.comp)", kernel, kernel);
        return NULL;
    }
    if (d->n_pipelines == d->cap_pipelines) {
        int cap = d->cap_pipelines ? 2 * d->cap_pipelines : 32;
        ve_pipeline *np = realloc(d->pipelines, sizeof *np * (size_t)cap);
        if (!np) {
            ve_fail("out of host memory for pipelines");
            return NULL;
        }
        d->pipelines = np;
        d->cap_pipelines = cap;
    }
    ve_pipeline *p = &d->pipelines[d->n_pipelines];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
    p->n_bind = n_bind;
    memcpy(p->types, types, sizeof *types * (size_t)n_bind);
    if (build(d, p, blob, n_spec, spec) != VE_OK) {
        ve_fail_context("building pipeline %s: ", key);
        return NULL;
    }
    d->n_pipelines++;
    return p;
}

void ve_pipelines_destroy(ve_device *d) {
    for (int i = 0; i < d->n_pipelines; i++) {
        ve_pipeline *p = &d->pipelines[i];
        if (p->pipeline) vkDestroyPipeline(d->dev, p->pipeline, NULL);
        if (p->layout) vkDestroyPipelineLayout(d->dev, p->layout, NULL);
        if (p->set_layout) vkDestroyDescriptorSetLayout(d->dev, p->set_layout, NULL);
    }
    free(d->pipelines);
    d->pipelines = NULL;
    d->n_pipelines = d->cap_pipelines = 0;
}
