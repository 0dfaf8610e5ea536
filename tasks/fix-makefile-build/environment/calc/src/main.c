#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops.h"

static void usage(void) {
    fprintf(stderr, "usage: calc add|mul|pow|hypot A B\n");
}

int main(int argc, char **argv) {
    if (argc != 4) {
        usage();
        return 2;
    }
    double a = strtod(argv[2], NULL);
    double b = strtod(argv[3], NULL);
    double r;
    if (strcmp(argv[1], "add") == 0) r = op_add(a, b);
    else if (strcmp(argv[1], "mul") == 0) r = op_mul(a, b);
    else if (strcmp(argv[1], "pow") == 0) r = op_pow(a, b);
    else if (strcmp(argv[1], "hypot") == 0) r = op_hypot(a, b);
    else {
        usage();
        return 2;
    }
    printf("%.4f\n", r);
    return 0;
}
