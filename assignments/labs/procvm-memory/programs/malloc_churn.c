/* malloc, realloc and free from glibc's allocator: small blocks on the brk heap, big
 * ones (above the mmap threshold) in their own mappings, checked byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; int value; char pad[40]; };

int main(void) {
    struct node *list = NULL;
    for (int i = 0; i < 5000; i++) {
        struct node *n = malloc(sizeof *n);
        if (!n) { printf("malloc failed\n"); return 1; }
        n->value = i;
        n->next = list;
        list = n;
    }
    long sum = 0;
    for (struct node *n = list; n; n = n->next) sum += n->value;
    printf("list of 5000: sum %ld\n", sum);
    while (list) { struct node *n = list->next; free(list); list = n; }
    char *grow = NULL;
    size_t len = 0;
    for (int i = 0; i < 40; i++) {
        size_t want = len + 7000 + (size_t)i * 1000;
        char *g = realloc(grow, want);
        if (!g) { printf("realloc failed\n"); return 2; }
        memset(g + len, 'A' + i % 26, want - len);
        grow = g;
        len = want;
    }
    unsigned long check = 0;
    for (size_t k = 0; k < len; k += 13) check = check * 31 + (unsigned char)grow[k];
    printf("realloc to %zu bytes: check %lu\n", len, check);
    free(grow);
    for (int round = 0; round < 3; round++) {
        char *big[4];
        for (int i = 0; i < 4; i++) {
            big[i] = malloc((size_t)(200 + 100 * i) * 1024);
            if (!big[i]) { printf("big malloc failed\n"); return 3; }
            memset(big[i], 0x30 + i, (size_t)(200 + 100 * i) * 1024);
        }
        int ok = 1;
        for (int i = 0; i < 4; i++)
            for (size_t k = 0; k < (size_t)(200 + 100 * i) * 1024; k += 4096)
                if (big[i][k] != 0x30 + i) ok = 0;
        for (int i = 3; i >= 0; i--) free(big[i]);
        printf("round %d: four big blocks %s\n", round, ok ? "intact" : "corrupted");
    }
    return 0;
}
