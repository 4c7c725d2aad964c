/* fork, exit status and wait: each child changes its copy of a global, computes,
   and exits with its own status; the parent collects them in order, then ends one
   child that would run forever with SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int shared = 100;

int main(void) {
    pid_t me = getpid();
    for (int i = 1; i <= 3; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            shared += i;
            unsigned long sum = 0;
            for (unsigned long k = 0; k < 200000UL * i; k++) sum += k % 7;
            printf("child %d: parent %s, shared %d, sum %lu\n", i,
                   getppid() == me ? "is the forker" : "differs", shared, sum);
            fflush(stdout);
            _exit(10 * i + 1);
        }
        int st = 0;
        pid_t got = waitpid(pid, &st, 0);
        printf("parent: waited %s, exited %d, status %d, shared still %d\n",
               got == pid ? "the right child" : "another", WIFEXITED(st), WEXITSTATUS(st),
               shared);
    }
    int st;
    if (waitpid(-1, &st, WNOHANG) != -1) printf("unexpected: a child is left\n");
    fflush(stdout);
    pid_t spin = fork();
    if (spin == 0) {
        for (volatile unsigned long k = 0;; k++) {}
    }
    printf("WNOHANG on a running child: %d\n", (int)waitpid(spin, &st, WNOHANG));
    kill(spin, SIGTERM);
    waitpid(spin, &st, 0);
    printf("spinner: signaled %d, signal %d\n", WIFSIGNALED(st), WTERMSIG(st));
    printf("no children left: %s\n", wait(&st) == -1 ? "yes" : "no");
    return 5;
}
