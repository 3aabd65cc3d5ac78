// SPDX-License-Identifier: MIT
/*
 * Times fork + exec + wait of a program, N times, from inside a guest
 * (make bench: the cost of cpuid interception at exec, tests/bench/cpuid.sh).
 *
 *   exec-timer-static N PROGRAM [ARG...]
 *     prints "first_us=F median_us=M n=N": the first run, and the median
 *     of the other N-1
 *
 * Built static only (Makefile): with the patching cpuid mode the engine
 * decodes every file a process maps, once per VM.  A dynamic timer would
 * have brought ld.so and libc into that cache before its first fork, so
 * the first exec timed would not be a cold one.  Static, the first exec of
 * a dynamic PROGRAM decodes its interpreter, libc and itself.
 *
 * CLOCK_MONOTONIC is the guest clock (emulated by the engine); it is good
 * to well under a millisecond, which is the scale of an exec here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One fork + exec + wait, in µs; exits if PROGRAM could not run. */
static double run_once(char **argv)
{
	double t = now_us();
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("exec-timer: fork");
		exit(1);
	}
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "exec-timer: %s did not exit 0 (status %#x)\n", argv[0], status);
		exit(1);
	}
	return now_us() - t;
}

int main(int argc, char **argv)
{
	double first, *rest;
	int n;

	if (argc < 3 || (n = atoi(argv[1])) < 2) {
		fprintf(stderr, "usage: exec-timer-static N PROGRAM [ARG...]  (N >= 2)\n");
		return 2;
	}
	rest = calloc((size_t)n - 1, sizeof(*rest));
	if (!rest)
		return 1;
	first = run_once(argv + 2);
	for (int i = 0; i < n - 1; i++)
		rest[i] = run_once(argv + 2);
	qsort(rest, (size_t)n - 1, sizeof(*rest), cmp_double);
	printf("first_us=%.0f median_us=%.0f n=%d\n", first, rest[(n - 1) / 2], n);
	free(rest);
	return 0;
}
