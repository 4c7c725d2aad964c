/* Writes through a null pointer: the process VM reports SIGSEGV, as Linux does. */
#include <stdio.h>

int main(void) {
    printf("about to crash\n");
    fflush(stdout);
    volatile int *p = 0;
    *p = 1;
    return 0;
}
