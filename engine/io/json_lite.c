/* A strict JSON cursor: strings, integers and punctuation, enough for a safetensors header.
 * Errors name the byte offset inside the JSON text. */
#include <string.h>

#include "io_internal.h"
#include "status.h"

static void skip_blanks(ve_json *j) {
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

int ve_json_peek(ve_json *j) {
    skip_blanks(j);
    return j->i < j->n ? (unsigned char)j->s[j->i] : -1;
}

int ve_json_expect(ve_json *j, char c) {
    if (ve_json_peek(j) != (unsigned char)c)
        return ve_fail("JSON: expected '%c' at byte %zu", c, j->i);
    j->i++;
    return VE_OK;
}

static int hex4(ve_json *j, unsigned *out) {
    if (j->n - j->i < 4) return ve_fail("JSON: short \\u escape at byte %zu", j->i);
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = j->s[j->i++];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return ve_fail("JSON: bad \\u escape at byte %zu", j->i - 1);
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return VE_OK;
}

/* A \uXXXX escape (with its surrogate pair) as a code point. */
static int unicode_escape(ve_json *j, unsigned *cp) {
    size_t at = j->i;
    if (hex4(j, cp) != VE_OK) return VE_FAIL;
    if (*cp >= 0xdc00 && *cp < 0xe000) return ve_fail("JSON: lone low surrogate at byte %zu", at);
    if (*cp >= 0xd800 && *cp < 0xdc00) {
        unsigned lo = 0;
        if (j->n - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
            return ve_fail("JSON: unpaired surrogate at byte %zu", at);
        j->i += 2;
        if (hex4(j, &lo) != VE_OK) return VE_FAIL;
        if (lo < 0xdc00 || lo >= 0xe000) return ve_fail("JSON: bad surrogate pair at byte %zu", at);
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (*cp == 0) return ve_fail("JSON: \\u0000 in a string at byte %zu", at);
    return VE_OK;
}

static int put_utf8(char *out, size_t cap, size_t *len, unsigned cp, size_t at) {
    char b[4];
    size_t n;
    if (cp < 0x80)
        b[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    if (*len + n >= cap)
        return ve_fail("JSON: string longer than %zu bytes at byte %zu", cap - 1, at);
    memcpy(out + *len, b, n);
    *len += n;
    return VE_OK;
}

int ve_json_string(ve_json *j, char *out, size_t cap) {
    if (ve_json_expect(j, '"') != VE_OK) return VE_FAIL;
    size_t start = j->i - 1, len = 0;
    for (;;) {
        if (j->i >= j->n) return ve_fail("JSON: unterminated string at byte %zu", start);
        size_t at = j->i;
        unsigned char c = (unsigned char)j->s[j->i++];
        if (c == '"') break;
        if (c < 0x20) return ve_fail("JSON: control character in a string at byte %zu", at);
        if (c == '\\') {
            if (j->i >= j->n) return ve_fail("JSON: unterminated escape at byte %zu", at);
            char e = j->s[j->i++];
            unsigned cp = 0;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *k = e ? strchr(from, e) : NULL;
            if (k)
                cp = (unsigned char)to[k - from];
            else if (e == 'u') {
                if (unicode_escape(j, &cp) != VE_OK) return VE_FAIL;
            } else
                return ve_fail("JSON: unknown escape '\\%c' at byte %zu", e, at);
            if (put_utf8(out, cap, &len, cp, at) != VE_OK) return VE_FAIL;
            continue;
        }
        if (len + 1 >= cap)
            return ve_fail("JSON: string longer than %zu bytes at byte %zu", cap - 1, start);
        out[len++] = (char)c;
    }
    out[len] = 0;
    return VE_OK;
}

int ve_json_int(ve_json *j, int64_t *out) {
    int c = ve_json_peek(j);
    size_t at = j->i;
    int neg = c == '-';
    if (neg) j->i++;
    if (j->i >= j->n || j->s[j->i] < '0' || j->s[j->i] > '9')
        return ve_fail("JSON: expected an integer at byte %zu", at);
    if (j->s[j->i] == '0' && j->i + 1 < j->n && j->s[j->i + 1] >= '0' && j->s[j->i + 1] <= '9')
        return ve_fail("JSON: integer with a leading zero at byte %zu", at);
    uint64_t v = 0;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
        unsigned d = (unsigned)(j->s[j->i++] - '0');
        if (v > (UINT64_C(1) << 62) / 10) return ve_fail("JSON: integer too large at byte %zu", at);
        v = v * 10 + d;
    }
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return ve_fail("JSON: expected an integer, found a fraction at byte %zu", at);
    *out = neg ? -(int64_t)v : (int64_t)v;
    return VE_OK;
}

int ve_json_end(ve_json *j) {
    if (ve_json_peek(j) != -1) return ve_fail("JSON: trailing data at byte %zu", j->i);
    return VE_OK;
}
