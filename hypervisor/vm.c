// SPDX-License-Identifier: MIT
/*
 * A virtual machine: guest RAM, the I/O bus with its devices, CPUID, and the
 * entry points every engine uses.  See vm.h.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include "backdoor/proto.h"
#include "devices/devices.h"
#include "devices/rpc.h"
#include "vm.h"

#define GUEST_LOG_PER_SECOND 50

/* TSC rate, measured once against CLOCK_MONOTONIC (CPUID 0x40000010, GETMHZ). */
static uint32_t measure_tsc_khz(void)
{
	struct timespec a, b, d = { 0, 20 * 1000 * 1000 };
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = __rdtsc();
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = __rdtsc();
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)(b.tv_nsec - a.tv_nsec);
	if (!ns)
		return 1000000;
	return (uint32_t)((t1 - t0) * 1000000ull / ns / 1000ull);
}

/* A stable BIOS UUID per VM name, so a guest sees the same machine each run. */
static void derive_uuid(const char *name, uint8_t uuid[16])
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	uint8_t digest[32];
	gsize len = sizeof(digest);

	g_checksum_update(ck, (const guchar *)"porthole-vm:", 12);
	g_checksum_update(ck, (const guchar *)name, (gssize)strlen(name));
	g_checksum_get_digest(ck, digest, &len);
	g_checksum_free(ck);
	memcpy(uuid, digest, 16);
	uuid[6] = (uuid[6] & 0x0F) | 0x50;	/* name-based */
	uuid[8] = (uuid[8] & 0x3F) | 0x80;	/* RFC 4122 variant */
}

struct vm *vm_create(const struct vm_config *cfg)
{
	struct vm *vm = g_new0(struct vm, 1);
	const char *vendor = cfg->cpuid_vendor ? cfg->cpuid_vendor : CPUID_HV_VENDOR_VMWARE;

	g_strlcpy(vm->name, cfg->name, sizeof(vm->name));
	g_strlcpy(vm->engine, cfg->engine ? cfg->engine : "trap", sizeof(vm->engine));
	pthread_mutex_init(&vm->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	memset(vm->cpuid_vendor, ' ', 12);
	memcpy(vm->cpuid_vendor, vendor, MIN(strlen(vendor), 12));
	vm->vmx_type = cfg->vmx_type ? cfg->vmx_type : BDOOR_VMX_TYPE_SCALABLE_SERVER;
	vm->screen_width = cfg->screen_width ? cfg->screen_width : 1024;
	vm->screen_height = cfg->screen_height ? cfg->screen_height : 768;
	vm->offer_hb = !cfg->no_hb;
	vm->tsc_khz = measure_tsc_khz();
	derive_uuid(vm->name, vm->bios_uuid);
	vm->state = VM_STARTING;

	/* Guest RAM: sparse until touched; sealed so a mapper never sees it shrink. */
	vm->ram_size = cfg->ram_size;
	vm->ram_fd = memfd_create("porthole-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)vm->ram_size) ||
	    fcntl(vm->ram_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		g_warning("guest RAM of %llu bytes: %s", (unsigned long long)vm->ram_size,
			  g_strerror(errno));
		vm_destroy(vm);
		return NULL;
	}

	vm->iobus = iobus_new();
	vm->rpc = rpc_new(vm, vm->offer_hb);
	if (backdoor_init(vm) || testdev_init(vm)) {
		g_warning("device setup failed");
		vm_destroy(vm);
		return NULL;
	}
	return vm;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&vm->lock);
	rpc_free(vm->rpc);
	vm->rpc = NULL;
	pthread_mutex_unlock(&vm->lock);
	iobus_free(vm->iobus);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	pthread_mutex_destroy(&vm->lock);
	g_free(vm);
}

enum io_result vm_io(struct vm *vm, struct vcpu *vcpu, const struct io_access *io)
{
	enum io_result res;

	pthread_mutex_lock(&vm->lock);
	res = iobus_dispatch(vm->iobus, vcpu, io);
	pthread_mutex_unlock(&vm->lock);
	return res;
}

void vm_owner_exited(struct vm *vm, int owner)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->rpc)
		rpc_owner_exited(vm->rpc, owner);
	pthread_mutex_unlock(&vm->lock);
}

/*
 * The guest runs on the host's CPU, so it sees the host's CPUID, except that
 * it is told it runs under a hypervisor and which one: VMware-protocol tools
 * (vmware-checkvm, vmtoolsd) look for "VMwareVMware" at 0x40000000.
 */
void vm_cpuid(struct vm *vm, struct vcpu_regs *regs)
{
	uint32_t leaf = (uint32_t)regs->rax, sub = (uint32_t)regs->rcx;
	uint32_t a = 0, b = 0, c = 0, d = 0;

	if (leaf >= CPUID_HV_BASE && leaf < 0x50000000u) {
		if (leaf == CPUID_HV_BASE) {
			a = CPUID_HV_VMWARE_TIMING;
			memcpy(&b, vm->cpuid_vendor, 4);
			memcpy(&c, vm->cpuid_vendor + 4, 4);
			memcpy(&d, vm->cpuid_vendor + 8, 4);
		} else if (leaf == CPUID_HV_VMWARE_TIMING) {
			a = vm->tsc_khz;
			b = 1000000;	/* APIC bus: 1 GHz, as VMware reports */
		}
	} else {
		__cpuid_count(leaf, sub, a, b, c, d);
		if (leaf == 1)
			c |= CPUID_1_ECX_HYPERVISOR;
	}
	regs->rax = a;
	regs->rbx = b;
	regs->rcx = c;
	regs->rdx = d;
}

double vm_uptime(const struct vm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - vm->started.tv_sec) +
	       (double)(now.tv_nsec - vm->started.tv_nsec) / 1e9;
}

void vm_guest_log(struct vm *vm, const char *fmt, ...)
{
	int64_t now = g_get_monotonic_time();
	va_list ap;
	char *line;

	if (now - vm->log_window_us >= G_USEC_PER_SEC) {
		if (vm->log_suppressed)
			g_message("[%s] %u guest log lines suppressed", vm->name,
				  vm->log_suppressed);
		vm->log_window_us = now;
		vm->log_lines = 0;
		vm->log_suppressed = 0;
	}
	if (++vm->log_lines > GUEST_LOG_PER_SECOND) {
		vm->log_suppressed++;
		return;
	}
	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_strcanon(line, "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~", '?');
	g_message("[%s] %s", vm->name, line);
	g_free(line);
}
