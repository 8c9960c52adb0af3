#include <string.h>

#include "commands.h"

const char *cli_device_option(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--device")) return argv[i + 1];
    return NULL;
}
