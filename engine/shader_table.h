/* The embedded SPIR-V of every shader in shaders/ (generated table, see CMakeLists.txt). */
#ifndef VE_SHADER_TABLE_H
#define VE_SHADER_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* file stem */
    const uint32_t *code;
    size_t bytes;
} ve_shader_blob;

extern const ve_shader_blob ve_shader_table[]; /* ends with a NULL name */

#endif
