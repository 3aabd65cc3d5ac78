// SPDX-License-Identifier: MIT
/*
 * no-cpuid-faulting COMMAND [ARG...]: run COMMAND, and everything it starts,
 * as on a CPU without CPUID faulting (most AMD hosts, many nested ones):
 * arch_prctl(ARCH_SET_CPUID, ...) fails with ENODEV, exactly as the kernel
 * answers there.  A seccomp filter, inherited across fork and exec, so a
 * whole test (porthole-hv, its probe, its guests) sees that host.  The
 * guest's own filter is installed later and wins ties, so what it refuses
 * (turning faulting off: EPERM) it still refuses.  --no-kcmp makes kcmp
 * fail with ENOSYS too, as on a kernel built without it, so the engine's
 * fallback for telling threads from forks is tested as well.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

int main(int argc, char **argv)
{
	/* With --no-kcmp, also as on a kernel without kcmp (CONFIG_KCMP off). */
	bool no_kcmp = argc > 1 && !strcmp(argv[1], "--no-kcmp");
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 7),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, no_kcmp ? __NR_kcmp : ~0u, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_arch_prctl, 0, 4),
		/* arch_prctl's option is an int: the low half of the argument */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_SET_CPUID, 0, 2),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENODEV),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (no_kcmp) {
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: no-cpuid-faulting [--no-kcmp] COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		fprintf(stderr, "no-cpuid-faulting: seccomp: %s\n", strerror(errno));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-cpuid-faulting: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
