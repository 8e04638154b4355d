/* The idle and crash modes of bench/app, in C: a process that costs next to
 * nothing to start, so that starting and stopping 100 or 1,000 of them measures
 * the process manager, not the Go runtime's start-up. The harness builds it
 * with cc when there is one, and uses the Go app otherwise.
 *
 *   idle [-notify SOCK] idle        say "up", then wait; SIGINT/SIGTERM end it
 *   idle [-notify SOCK] crash MS    say "up", run MS ms, say "exit", exit 1
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void notify(const char *sock, const char *kind) {
	if (!sock)
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, sock, sizeof a.sun_path - 1);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%s %d %lld", kind, (int)getpid(),
	                 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	sendto(fd, buf, n, 0, (struct sockaddr *)&a, sizeof a);
	close(fd);
}

int main(int argc, char **argv) {
	const char *sock = NULL;
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "-notify") == 0) {
		sock = argv[2];
		i = 3;
	}
	if (i < argc && strcmp(argv[i], "idle") == 0) {
		notify(sock, "up");
		for (;;)
			pause();
	}
	if (i + 1 < argc && strcmp(argv[i], "crash") == 0) {
		notify(sock, "up");
		usleep(atoi(argv[i + 1]) * 1000);
		notify(sock, "exit");
		return 1;
	}
	fprintf(stderr, "usage: idle [-notify sock] idle | crash MS\n");
	return 2;
}
