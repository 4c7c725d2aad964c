/* The program exec.c runs: prints its arguments and environment, exits with 42. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("exec_child: argc %d", argc);
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    printf(" FROM=%s LEVEL=%s\n", getenv("FROM"), getenv("LEVEL"));
    return 42;
}
