/* execve of another static program from a forked child, its output read back
   through a pipe; then an execve that fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int p[2];
    pipe(p);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 1);
        char *argv[] = {"./exec_child", "hello", "from exec", NULL};
        char *envp[] = {"FROM=the parent", "LEVEL=2", NULL};
        execve("./exec_child", argv, envp);
        _exit(127);
    }
    close(p[1]);
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf - 1)) > 0) {
        buf[n] = 0;
        printf("via the pipe: %s", buf);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("exec'd child exited %d with status %d\n", WIFEXITED(st), WEXITSTATUS(st));
    char *none[] = {"nothing", NULL};
    execve("./not-there", none, none);
    printf("execve of a missing file: %s\n", strerror(errno));
    return 0;
}
