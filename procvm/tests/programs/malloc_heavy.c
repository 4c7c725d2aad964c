/* Builds and frees many blocks of many sizes (brk and mmap both), checking contents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    enum { N = 2000 };
    static unsigned char *blocks[N];
    unsigned long sum = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            size_t size = (size_t)((i * 7919 + round * 31) % 3000) + 1;
            blocks[i] = malloc(size);
            if (!blocks[i]) { printf("malloc failed\n"); return 1; }
            memset(blocks[i], (i + round) & 0xff, size);
        }
        for (int i = 0; i < N; i += 2) {
            sum += blocks[i][0];
            free(blocks[i]);
        }
        for (int i = 1; i < N; i += 2) {
            sum += blocks[i][0];
            free(blocks[i]);
        }
    }
    unsigned char *big = malloc(1 << 20); /* above the mmap threshold */
    if (!big) return 2;
    memset(big, 0x5a, 1 << 20);
    for (int i = 0; i < (1 << 20); i += 4096) sum += big[i];
    free(big);
    printf("checksum %lu\n", sum);
    return 0;
}
