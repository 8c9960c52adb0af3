#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_message[1024];

int ve_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return VE_FAIL;
}

int ve_fail_context(const char *fmt, ...) {
    char prefix[512], old[sizeof g_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_message, sizeof old);
    size_t n = strlen(prefix);
    memcpy(g_message, prefix, n);
    /* keep as much of the old message as fits after the prefix */
    size_t room = sizeof g_message - n - 1;
    size_t m = strnlen(old, room);
    memcpy(g_message + n, old, m);
    g_message[n + m] = 0;
    return VE_FAIL;
}

const char *ve_error(void) {
    return g_message[0] ? g_message : "no error recorded";
}

void ve_error_clear(void) {
    g_message[0] = 0;
}
