// SPDX-License-Identifier: MIT
/*
 * Backdoor detection that is safe outside a VM.
 *
 * On bare metal (or under a hypervisor without the backdoor) the ring-3
 * `in` of GETVERSION raises #GP, which Linux delivers as SIGSEGV.  We catch
 * it with temporary handlers and siglongjmp out.  The handlers and the
 * signal mask are restored afterwards.
 *
 * Detection runs under a mutex; the jump buffer is per thread, so a fault
 * in some other thread during the window is not swallowed: that thread
 * gets the previous disposition back and re-faults into it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "backdoor.h"

static const int guard_signals[] = { SIGSEGV, SIGILL, SIGBUS };
#define NGUARD (sizeof(guard_signals) / sizeof(guard_signals[0]))

static pthread_mutex_t detect_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction saved_act[NGUARD];
static __thread sigjmp_buf *guard_env;

static void guard_handler(int sig)
{
	sigjmp_buf *env = guard_env;

	if (env) {
		guard_env = NULL;
		siglongjmp(*env, 1);
	}

	/* Not our fault: put the old disposition back and let it re-fault. */
	for (size_t i = 0; i < NGUARD; i++)
		if (guard_signals[i] == sig)
			sigaction(sig, &saved_act[i], NULL);
}

/*
 * GETVERSION with the guards up.  Kept out of line so that nothing the
 * caller keeps in registers is live across the siglongjmp.
 */
static __attribute__((noinline)) bool guarded_getversion(struct bdoor_info *info)
{
	sigjmp_buf env;
	struct sigaction sa;
	sigset_t unblock, oldmask;
	bool ok = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&unblock);
	for (size_t i = 0; i < NGUARD; i++) {
		sigaction(guard_signals[i], &sa, &saved_act[i]);
		sigaddset(&unblock, guard_signals[i]);
	}
	/* A fault with its signal blocked would kill us outright. */
	pthread_sigmask(SIG_UNBLOCK, &unblock, &oldmask);

	if (sigsetjmp(env, 1) == 0) {
		guard_env = &env;
		ok = bdoor_getversion(info);
		guard_env = NULL;
	}
	/* else: the call faulted; siglongjmp restored the mask of sigsetjmp. */

	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	for (size_t i = 0; i < NGUARD; i++)
		sigaction(guard_signals[i], &saved_act[i], NULL);
	return ok;
}

bool bdoor_detect(struct bdoor_info *info)
{
	struct bdoor_info local;
	bool ok;

	if (!info)
		info = &local;
	bdoor_identify(info);

	/* open-vm-tools tries the port even without the CPUID bit; so do we. */
	pthread_mutex_lock(&detect_lock);
	ok = guarded_getversion(info);
	pthread_mutex_unlock(&detect_lock);
	return ok;
}
