/* Error reporting for the whole engine.
 *
 * Every call that can fail returns VE_OK (0) or VE_FAIL (-1) and leaves a message naming what
 * failed (file, key, shape, Vulkan call) in a thread-local buffer, read with ve_error(). */
#ifndef VE_STATUS_H
#define VE_STATUS_H

#define VE_OK 0
#define VE_FAIL (-1)

#if defined(__GNUC__)
#define VE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VE_PRINTF(a, b)
#endif

/* Sets the message and returns VE_FAIL, so callers can write `return ve_fail("...")`. */
int ve_fail(const char *fmt, ...) VE_PRINTF(1, 2);
/* Prepends context ("loading x.pth: ") to the current message; returns VE_FAIL. */
int ve_fail_context(const char *fmt, ...) VE_PRINTF(1, 2);
const char *ve_error(void);
void ve_error_clear(void);

#endif
