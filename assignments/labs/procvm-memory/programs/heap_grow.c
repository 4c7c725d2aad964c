/* The program break: grows and shrinks the heap with sbrk and brk, writes every byte
 * of it, and checks that the break moves exactly as asked. Prints no addresses. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    char *start = sbrk(0);
    long steps[] = {1, 4095, 4096, 10000, 70000, 3, 123456};
    long total = 0;
    unsigned long sum = 0;
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *old = sbrk(steps[i]);
        if (old == (char *)-1) { printf("sbrk(%ld) failed\n", steps[i]); return 1; }
        memset(old, (int)i + 1, (size_t)steps[i]);
        total += steps[i];
        printf("grew by %ld: break at +%ld\n", steps[i], (long)((char *)sbrk(0) - start));
    }
    for (long k = 0; k < total; k += 97) sum += (unsigned char)start[k];
    printf("heap checksum %lu\n", sum);
    if (sbrk(-70000) == (char *)-1) { printf("shrink failed\n"); return 2; }
    printf("shrunk: break at +%ld\n", (long)((char *)sbrk(0) - start));
    if (brk(start + 5000) != 0) { printf("brk failed\n"); return 3; }
    start[4999] = 7;
    printf("set: break at +%ld, last byte %d\n", (long)((char *)sbrk(0) - start), start[4999]);
    brk(start - (1L << 24)); /* below the heap: the break stays */
    printf("break still at +%ld\n", (long)((char *)sbrk(0) - start));
    if (brk(start + 300000) != 0) { printf("regrow failed\n"); return 4; }
    /* Whole pages above the old break are new, so zeroed (the partial page keeps its bytes). */
    char *fresh = (char *)(((unsigned long)(start + 5000) + 4095) & ~4095UL);
    for (char *q = fresh; q < start + 300000; q += 512)
        if (*q != 0) { printf("regrown heap not zeroed at +%ld\n", (long)(q - start)); return 5; }
    printf("regrown heap is zeroed\n");
    return 0;
}
