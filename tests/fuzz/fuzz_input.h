/* Shared by the libFuzzer targets of tests/fuzz: the project's parsers take file paths, so each
 * input is written to a file in a private temporary folder (in /dev/shm when it exists, so no
 * disk is touched) and the real loader reads it from there. */
#ifndef VKSAMED_FUZZ_INPUT_H
#define VKSAMED_FUZZ_INPUT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[256];

static void fuzz_remove_dir(void) {
    /* Only the names fuzz_write_input made live here. */
    static const char *const names[] = {"input.pth", "input.safetensors", "input.nii",  "input.npy",
                                        "input.npz", "input.img",         "config.yaml"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_dir, names[i]);
        unlink(p);
    }
    rmdir(fuzz_dir);
}

/* The folder, made at the first call. Aborts (a harness failure, not a finding) when it cannot
 * be made. */
static const char *fuzz_folder(void) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/vksamed-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_remove_dir);
    return fuzz_dir;
}

/* Writes data to FOLDER/name (replacing it) and returns the path (valid until the next call). */
static const char *fuzz_write_input(const uint8_t *data, size_t size, const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_folder(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("fuzz: open");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            perror("fuzz: write");
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

#endif
