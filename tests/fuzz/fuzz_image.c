/* libFuzzer target: PNG and JPEG images through ve_image_load (stb_image behind the project's
 * header checks) and the RGB conversion. Seeds: the PNGs of Debian's insighttoolkit5-examples. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ve_image img;
    if (ve_image_load(fuzz_write_input(data, size, "input.img"), &img) != 0) return 0;
    /* The RGB copy only for images of up to 2^22 pixels: larger ones are legal, but three more
     * float planes of them would pass the fuzzer's memory limit for no new coverage. */
    if ((int64_t)img.w * img.h <= ((int64_t)1 << 22)) {
        float *rgb = malloc((size_t)img.w * (size_t)img.h * 3 * sizeof *rgb);
        if (rgb) ve_image_rgb255(&img, rgb);
        free(rgb);
    }
    ve_image_free(&img);
    return 0;
}
