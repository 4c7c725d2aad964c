/* String processing: sorting words, reversing, counting letters, formatting numbers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    char text[] = "the quick brown fox jumps over the lazy dog while the cat sleeps";
    char *words[32];
    int n = 0;
    for (char *t = strtok(text, " "); t && n < 32; t = strtok(NULL, " ")) words[n++] = t;
    qsort(words, n, sizeof words[0], cmp);
    for (int i = 0; i < n; i++) printf("%s%c", words[i], i + 1 < n ? ' ' : '\n');
    int counts[26] = {0};
    for (int i = 0; i < n; i++)
        for (char *c = words[i]; *c; c++)
            if (isalpha((unsigned char)*c)) counts[*c - 'a']++;
    for (int i = 0; i < 26; i++)
        if (counts[i]) printf("%c=%d ", 'a' + i, counts[i]);
    printf("\n");
    char rev[64];
    const char *s = "virtual machines";
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) rev[i] = (char)toupper((unsigned char)s[len - 1 - i]);
    rev[len] = 0;
    printf("%s|%-8s|%08x|%ld|%+d\n", rev, "pad", 0xbeefu, -1234567L, 42);
    return 0;
}
