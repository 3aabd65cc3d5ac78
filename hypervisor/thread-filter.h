/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for porthole-hv's own threads: a seccomp filter per
 * thread, installed by the thread itself once its start-up (files, sockets,
 * memfds, KVM fds, the guest's fork) is behind it, allowing only the
 * system calls that thread's job needs after that.  (The guest's processes
 * have their own, unrelated filter: engines/sandbox.c.)
 *
 * The threads:
 *   control       the main thread: the GLib main loop, serving the control
 *                 socket and the host side of the devices (VMCI sockets)
 *   trap-engine   the ptrace tracer; the device model runs on it (vm_io)
 *   kvm-engine    the vCPU thread (KVM_RUN); the device model runs on it
 *   kvm-watchdog  kicks the vCPU out of a long KVM_RUN (inherits kvm-engine's
 *                 filter, and narrows it)
 *
 * A refused call kills the whole process after one line on stderr:
 *   porthole-hv: thread kvm-engine made forbidden syscall 59 (execve); stopping
 */
#ifndef PORTHOLE_HV_THREAD_FILTER_H
#define PORTHOLE_HV_THREAD_FILTER_H

enum hv_thread {
	HV_THREAD_CONTROL,
	HV_THREAD_TRAP_ENGINE,
	HV_THREAD_KVM_ENGINE,
	HV_THREAD_KVM_WATCHDOG,
	HV_THREAD_KINDS
};

enum thread_filter_mode {
	THREAD_FILTER_ON,	/* refused calls kill the process (the default) */
	THREAD_FILTER_OFF,	/* no filters (debugging) */
	THREAD_FILTER_LOG,	/* nothing refused; would-be refusals go to the kernel's audit log */
};

/* "on", "off" or "log" -> the mode, or -1. */
int thread_filter_mode_parse(const char *s);

/*
 * Once, in the main thread, before any thread of ours starts: chooses the
 * mode for every later thread_filter_install() and sets up the SIGSYS
 * handler that reports refused calls.
 */
int thread_filter_setup(enum thread_filter_mode mode);

/*
 * The calling thread restricts itself to what `kind` needs (nothing happens
 * with THREAD_FILTER_OFF).  0, or -1 after a log line: the thread must not
 * go on to serve the guest unfiltered.
 */
int thread_filter_install(enum hv_thread kind);

const char *thread_filter_thread_name(enum hv_thread kind);
/* "control", ... -> the kind, or -1. */
int thread_filter_thread_parse(const char *s);

/*
 * Test hooks (tests/e2e/17-seccomp.sh), reachable only where the
 * hypervisor's environment has PORTHOLE_TEST_HOOKS=1 (main.c): arm() asks
 * thread `kind` to make a forbidden system call; each thread polls at a
 * point it passes often (the engines in vm_io(), the watchdog at each tick).
 */
void thread_filter_test_arm(enum hv_thread kind);
void thread_filter_test_poll(void);

#endif
