/* Reads input.txt, counts its lines and words, writes a report file and reads it
   back. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    FILE *in = fopen("input.txt", "r");
    if (!in) { perror("input.txt"); return 1; }
    char line[256];
    int lines = 0, words = 0;
    while (fgets(line, sizeof line, in)) {
        lines++;
        for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) words++;
    }
    fclose(in);
    int fd = open("report.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("report.txt"); return 2; }
    char buf[128];
    int n = snprintf(buf, sizeof buf, "lines %d words %d\n", lines, words);
    if (write(fd, buf, n) != n) return 3;
    close(fd);
    struct stat st;
    if (stat("report.txt", &st) != 0) return 4;
    printf("report.txt has %ld bytes\n", (long)st.st_size);
    FILE *back = fopen("report.txt", "r");
    if (!back || !fgets(line, sizeof line, back)) return 5;
    printf("read back: %s", line);
    fclose(back);
    if (open("missing.txt", O_RDONLY) < 0) perror("missing.txt");
    return 0;
}
