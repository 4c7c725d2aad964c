/* Anonymous mappings: several sizes, a hole punched with munmap and filled again with
 * MAP_FIXED, read-only pages, and the calls Linux refuses. Prints no addresses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PG 4096

static void *map(void *at, size_t len, int prot, int flags) {
    return mmap(at, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(void) {
    size_t sizes[] = {1, PG, PG + 1, 5 * PG, 64 * PG, 300 * PG};
    char *r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = map(NULL, sizes[i], PROT_READ | PROT_WRITE, 0);
        if (r[i] == MAP_FAILED) { printf("mmap %zu failed\n", sizes[i]); return 1; }
        if ((unsigned long)r[i] % PG) { printf("mmap %zu not page aligned\n", sizes[i]); return 1; }
        for (size_t k = 0; k < sizes[i]; k += 512)
            if (r[i][k]) { printf("mmap %zu not zeroed\n", sizes[i]); return 1; }
        memset(r[i], 'a' + i, sizes[i]);
    }
    int overlaps = 0;
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++) {
            size_t li = (sizes[i] + PG - 1) / PG * PG, lj = (sizes[j] + PG - 1) / PG * PG;
            if (r[i] < r[j] + lj && r[j] < r[i] + li) overlaps++;
        }
    printf("six mappings, %d overlapping\n", overlaps);
    char *big = r[4];
    if (munmap(big + 8 * PG, 4 * PG) != 0) { printf("munmap hole failed\n"); return 2; }
    printf("hole punched: edges still '%c' '%c'\n", big[8 * PG - 1], big[12 * PG]);
    char *fill = map(big + 8 * PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_FIXED);
    printf("MAP_FIXED into the hole: %s, zeroed: %s\n", fill == big + 8 * PG ? "same place" : "elsewhere",
           fill[0] == 0 && fill[4 * PG - 1] == 0 ? "yes" : "no");
    memset(fill, 'z', 4 * PG);
    char *ro = map(NULL, 2 * PG, PROT_READ, 0);
    printf("read-only mapping reads %d\n", ro == MAP_FAILED ? -1 : ro[PG]);
    errno = 0;
    void *zero = map(NULL, 0, PROT_READ, 0);
    printf("mmap of 0 bytes: %s\n", zero == MAP_FAILED && errno == EINVAL ? "EINVAL" : "accepted");
    errno = 0;
    void *odd = map((char *)big + 1, PG, PROT_READ, MAP_FIXED);
    printf("MAP_FIXED at an odd address: %s\n", odd == MAP_FAILED && errno == EINVAL ? "EINVAL" : "accepted");
    errno = 0;
    printf("munmap of an odd address: %s\n", munmap(big + 1, PG) != 0 && errno == EINVAL ? "EINVAL" : "accepted");
    errno = 0;
    printf("munmap of 0 bytes: %s\n", munmap(big, 0) != 0 && errno == EINVAL ? "EINVAL" : "accepted");
    for (int i = 0; i < 6; i++) munmap(r[i], sizes[i]);
    munmap(ro, 2 * PG);
    char *again = map(NULL, 16 * PG, PROT_READ | PROT_WRITE, 0);
    printf("after unmapping everything, a new mapping is %s\n", again != MAP_FAILED && again[0] == 0 ? "zeroed" : "wrong");
    return 0;
}
