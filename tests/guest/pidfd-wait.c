// SPDX-License-Identifier: MIT
/*
 * Waits for children the way GLib's child watch and systemd do: poll the
 * child's pidfd, then waitid(P_PIDFD, WNOHANG).  On real hardware the child
 * is reapable as soon as its pidfd turns readable; a tracer that holds on to
 * exiting tracees breaks that, and the waiter reads no status at all.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50, bad = 0;

	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		siginfo_t si = { 0 };
		struct pollfd p;
		int fd;

		if (pid == 0)
			_exit(3 + i % 5);
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0) {
			perror("pidfd_open");
			return 2;
		}
		p = (struct pollfd){ fd, POLLIN, 0 };
		poll(&p, 1, -1);
		if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) || si.si_pid != pid ||
		    si.si_code != CLD_EXITED || si.si_status != 3 + i % 5) {
			printf("round %d: pidfd readable but waitid gave pid %d code %d status %d\n",
			       i, si.si_pid, si.si_code, si.si_status);
			bad++;
			waitpid(pid, NULL, 0);
		}
		close(fd);
	}
	printf("%d of %d children reapable when their pidfd said so\n", rounds - bad, rounds);
	return bad ? 1 : 0;
}
