/* Slice sets: growing, appending and freeing them, and the value checks every loader applies
 * (labels are whole numbers 0..255, images are finite). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slices_internal.h"
#include "status.h"

void ve_slice_set_free(ve_slice_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n; i++) {
        free(set->s[i].image);
        free(set->s[i].label);
    }
    free(set->s);
    free(set->case_names);
    memset(set, 0, sizeof *set);
}

/* Arrays hold count elements in a capacity of cap_for(count): growing by doubling without a
 * capacity field in the public struct. */
static size_t cap_for(int count) {
    size_t c = 4;
    while (c < (size_t)count)
        c *= 2;
    return c;
}

/* Makes room for one more element after count. */
static int grow(void **p, int count, size_t elem) {
    if (*p && cap_for(count + 1) == cap_for(count)) return VE_OK;
    void *q = realloc(*p, cap_for(count + 1) * elem);
    if (!q) return ve_fail("out of memory for %d samples or cases", count + 1);
    *p = q;
    return VE_OK;
}

int ve_set_add_case(ve_slice_set *set, const char *name) {
    if (grow((void **)&set->case_names, set->n_cases, sizeof *set->case_names) != VE_OK) return -1;
    snprintf(set->case_names[set->n_cases], VE_SLICE_NAME_LEN, "%s", name);
    return set->n_cases++;
}

ve_slice *ve_set_add_slice(ve_slice_set *set, int h, int w, int channels, int case_id, int slice) {
    if (grow((void **)&set->s, set->n, sizeof *set->s) != VE_OK) return NULL;
    size_t px = (size_t)h * (size_t)w;
    ve_slice s = {.h = h, .w = w, .channels = channels, .case_id = case_id, .slice = slice};
    s.image = calloc(px * (size_t)channels, sizeof *s.image);
    s.label = calloc(px, 1);
    if (!s.image || !s.label) {
        free(s.image);
        free(s.label);
        ve_fail("out of memory for a %d x %d sample", h, w);
        return NULL;
    }
    set->s[set->n] = s;
    return &set->s[set->n++];
}

int ve_slice_set_append(ve_slice_set *a, ve_slice_set *b) {
    if (b->n == 0 && b->n_cases == 0) return VE_OK;
    /* grow a in one step so that a failure leaves both sets as they were */
    int n = a->n + b->n, m = a->n_cases + b->n_cases;
    ve_slice *s = realloc(a->s, cap_for(n) * sizeof *s);
    if (!s) return ve_fail("out of memory appending %d samples", b->n);
    a->s = s;
    char(*c)[VE_SLICE_NAME_LEN] = realloc(a->case_names, cap_for(m) * sizeof *c);
    if (!c) return ve_fail("out of memory appending %d cases", b->n_cases);
    a->case_names = c;
    for (int i = 0; i < b->n; i++) {
        a->s[a->n + i] = b->s[i];
        a->s[a->n + i].case_id += a->n_cases;
    }
    memcpy(a->case_names + a->n_cases, b->case_names, (size_t)b->n_cases * sizeof *c);
    a->n = n;
    a->n_cases = m;
    b->n = 0; /* the samples now belong to a */
    ve_slice_set_free(b);
    return VE_OK;
}

int ve_labels_to_u8(const float *v, int64_t n, int w, uint8_t *out) {
    for (int64_t i = 0; i < n; i++) {
        float x = v[i];
        if (!(x >= 0.0f && x <= 255.0f) || x != floorf(x))
            return ve_fail("label value %g at row %lld, column %lld is not a whole number in "
                           "0..255",
                           (double)x, (long long)(i / w), (long long)(i % w));
        out[i] = (uint8_t)x;
    }
    return VE_OK;
}

int ve_check_finite(const float *v, int64_t n, int w) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return ve_fail("image value %g at row %lld, column %lld is not finite", (double)v[i],
                           (long long)(i / w), (long long)(i % w));
    return VE_OK;
}
