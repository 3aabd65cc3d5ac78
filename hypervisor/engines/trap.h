/* SPDX-License-Identifier: MIT */
/*
 * The trap-and-emulate engine: guest programs run natively as ptrace'd
 * processes in a sandbox (sandbox.h).  The instructions a user-mode process
 * may not execute, `in`, `out`, `ins`, `outs` and (with CPUID faulting)
 * `cpuid`, fault; the engine decodes them (x86-decode.h) and carries them
 * out through the device model (vm_io(), vm_cpuid()).
 */
#ifndef PORTHOLE_HV_TRAP_H
#define PORTHOLE_HV_TRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

struct trap_share {
	const char *host_dir;
	const char *guest_dir;		/* NULL: same as host_dir */
};

/*
 * How guest cpuid reaches vm_cpuid(): by CPUID faulting (the CPU raises #GP
 * for cpuid in user mode, Intel since Ivy Bridge), by patching every cpuid
 * into ud2 (cpuid-patch.h; any x86-64 CPU), or not at all (the guest sees
 * the host's CPU).  Auto: fault where the kernel and CPU offer it, else patch.
 */
enum trap_cpuid_mode {
	TRAP_CPUID_AUTO,
	TRAP_CPUID_FAULT,
	TRAP_CPUID_PATCH,
	TRAP_CPUID_OFF,
};

/* "auto", "fault", "patch", "off" -> mode; -1 for anything else. */
int trap_cpuid_mode_parse(const char *s);
const char *trap_cpuid_mode_name(enum trap_cpuid_mode m);

/*
 * Can this host fault cpuid in user mode?  0, or the errno of
 * arch_prctl(ARCH_SET_CPUID, 0) (ENODEV: no CPUID faulting in the CPU or
 * the kernel).  Tried in a throwaway child process.
 */
int trap_probe_cpuid_faulting(void);

/* Where guest processes find the guest vDSO file (the engine maps it at each exec). */
#define TRAP_VDSO_GUEST_PATH	"/run/porthole-vdso"
#define TRAP_VDSO_FILE_NAME	"vdso"

struct trap_options {
	enum trap_cpuid_mode cpuid;
	char *const *argv;		/* guest command (argv[0] looked up in the guest PATH) */
	const struct trap_share *shares;
	size_t n_shares;
	const char *hostname;		/* uts name inside the guest (the VM name) */
	/*
	 * NULL, or a host directory laid read-only over the guest's root:
	 * each of its directories is merged (overlayfs) with the guest's
	 * directory of the same path, as if a package had been unpacked there.
	 */
	const char *overlay;
	/*
	 * NULL: the guest's / is the host's, read-only (--host-root).  Else a
	 * host directory that becomes the guest's / (--root), with the
	 * guest's writes going to an overlayfs upper layer: `state_dir`'s
	 * upper/ and work/ (kept across runs), or with `snapshot` a tmpfs of
	 * `disk_size` bytes thrown away at exit.
	 */
	const char *root;
	const char *state_dir;
	bool snapshot;
	uint64_t disk_size;
	uint64_t ram_size;		/* sizes the guest's tmpfs mounts */
	/*
	 * The VM console's pty slave, made the guest's fds 0-2, controlling
	 * terminal and /dev/console; < 0: the guest shares porthole-hv's own
	 * stdio (--console stdio, for tests).
	 */
	int console_fd;
	/* The VM's cgroups (guest-cgroup.h) the guest runs in, or NULL. */
	const struct guest_cgroup *cgroup;
	/*
	 * NULL, or a private host directory holding the guest vDSO file
	 * (trap-clock.h) as TRAP_VDSO_FILE_NAME: the sandbox binds the file
	 * read-only at TRAP_VDSO_GUEST_PATH in the guest, then removes file
	 * and directory from the host.
	 */
	const char *vdso_dir;
};

/*
 * Runs the guest to completion in the calling thread (which becomes the
 * ptrace tracer).  Returns the guest's exit status as a shell reports it
 * (0..255, 128+signal if killed by a signal), or -1 if the guest could not
 * be started (after logging why).  One engine per process at a time.
 */
int trap_engine_run(struct vm *vm, const struct trap_options *opt);
/*
 * What trap_engine_run() returns when the guest asked for a reset: its pid 1
 * ended by SIGHUP (reboot(2) RESTART in its PID namespace does that, and
 * porthole-init where it may not call reboot(2)).  Power-off (reboot(2)
 * POWER_OFF or HALT: ended by SIGINT) returns 0, as a normal exit does.
 */
#define TRAP_GUEST_RESET	(-2)

/*
 * Thread-safe, async-signal-safe: kill the guest (SIGKILL to its first
 * process, which takes its whole pid namespace with it).  Called before the
 * guest exists, it makes trap_engine_run() return 128 + SIGKILL without
 * starting it; called while the sandbox is set up, it kills the sandbox
 * helper and wakes the start-up, which returns 128 + SIGKILL at once.
 */
void trap_engine_stop(void);

/*
 * Once trap_engine_run() has returned, from a thread whose filter allows
 * unlinkat (the engine thread's does not): remove the host files of a
 * guest sandbox stopped before it removed them itself.
 */
void trap_engine_cleanup(void);

#endif
