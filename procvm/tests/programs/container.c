/* What a program sees of its container: its pid and its parent's, a child's pid,
   the host name, a read-only bind mount it can read but not change, and how long
   a fixed piece of work takes on the clock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    struct utsname u;
    uname(&u);
    printf("pid %d, parent %d, host %s\n", (int)getpid(), (int)getppid(), u.nodename);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        printf("child: pid %d, parent %d\n", (int)getpid(), (int)getppid());
        return 0;
    }
    int st;
    waitpid(c, &st, 0);
    printf("forked pid %d\n", (int)c);
    char buf[100] = {0};
    int fd = open("/data/motd", O_RDONLY);
    if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0) printf("mount: %s", buf);
    else printf("mount: /data/motd is not there\n");
    fd = open("/data/motd", O_WRONLY | O_TRUNC);
    printf("write to /data/motd: %s\n", fd < 0 ? strerror(errno) : "allowed");
    printf("mkdir /data/x: %s\n", mkdir("/data/x", 0755) ? strerror(errno) : "allowed");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned long sum = 0;
    for (unsigned long k = 0; k < 1000000; k++) sum += k;
    clock_gettime(CLOCK_MONOTONIC, &b);
    long us = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
    printf("work took %ld us\n", us);
    return 0;
}
