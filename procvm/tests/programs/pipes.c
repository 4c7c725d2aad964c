/* Pipes between a parent and a child: the child writes more than a pipe holds
   through its standard output (dup2); the parent reads to the end and checks it;
   numbers go the other way and come back as the child's exit status. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int down[2], up[2];
    if (pipe(down) || pipe(up)) { perror("pipe"); return 1; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[0]);
        close(up[1]);
        dup2(down[1], 1);
        close(down[1]);
        char line[64];
        for (int i = 0; i < 5000; i++) {
            int n = snprintf(line, sizeof line, "line %d of the child's output\n", i);
            if (write(1, line, n) != n) return 99;
        }
        close(1);
        int sum = 0, x;
        while (read(up[0], &x, sizeof x) == sizeof x) sum += x;
        _exit(sum % 256);
    }
    close(down[1]);
    close(up[0]);
    for (int i = 1; i <= 20; i++) write(up[1], &i, sizeof i);
    close(up[1]);
    char buf[4096];
    long total = 0, lines = 0;
    unsigned long hash = 5381;
    ssize_t n;
    while ((n = read(down[0], buf, sizeof buf)) > 0) {
        for (ssize_t k = 0; k < n; k++) {
            hash = hash * 33 + (unsigned char)buf[k];
            lines += buf[k] == '\n';
        }
        total += n;
    }
    printf("read %ld bytes, %ld lines, hash %lx, then end of file (%zd)\n", total, lines, hash, n);
    int st;
    waitpid(pid, &st, 0);
    printf("child exited %d with %d (the sum of 1..20 is 210)\n", WIFEXITED(st), WEXITSTATUS(st));
    return 0;
}
