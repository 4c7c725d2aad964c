/* Prints a greeting and exits with a status of its own. */
#include <stdio.h>

int main(void) {
    printf("hello from an i386 Linux program\n");
    puts("a second line through puts");
    return 7;
}
