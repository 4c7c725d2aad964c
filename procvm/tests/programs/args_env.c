/* Prints its argv and the environment it was given (sorted: QEMU's user mode passes
   the environment in reverse order, Linux in the order given). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    int n = 0;
    while (environ[n]) n++;
    qsort(environ, n, sizeof *environ, cmp);
    for (int i = 0; i < n; i++)
        printf("env %s\n", environ[i]);
    const char *who = getenv("WHO");
    printf("WHO is %s\n", who ? who : "(unset)");
    return argc;
}
