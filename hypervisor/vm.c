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
#include "devices/copypaste.h"
#include "devices/guestinfo.h"
#include "devices/namespace-db.h"
#include "devices/devices.h"
#include "devices/rpc.h"
#include "devices/tools-options.h"
#include "devices/vmci.h"
#include "guest-clock.h"
#include "vm.h"

#define GUEST_LOG_PER_SECOND 50
#define GUEST_LOG_LINE_MAX 1024	/* bytes of one guest log line, before escaping */

/* TSC rate, measured against CLOCK_MONOTONIC (CPUID 0x40000010, GETMHZ). */
static uint32_t measure_tsc_khz_now(void)
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
	return (uint32_t)((t1 - t0) * 1000000ull / ns);	/* cycles per ms = kHz */
}

/*
 * Once per process: a measurement takes 20 ms, and unit tests and fuzz
 * targets create many VMs (porthole-hv creates one).
 */
static uint32_t measure_tsc_khz(void)
{
	static gsize khz;

	if (g_once_init_enter(&khz))
		g_once_init_leave(&khz, MAX(measure_tsc_khz_now(), 1u));
	return (uint32_t)khz;
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
	/* Shorter signatures are NUL-padded, as KVM's "KVMKVMKVM\0\0\0" is. */
	memset(vm->cpuid_vendor, 0, sizeof(vm->cpuid_vendor));
	memcpy(vm->cpuid_vendor, vendor, MIN(strlen(vendor), 12));
	vm->vmx_type = cfg->vmx_type ? cfg->vmx_type : BDOOR_VMX_TYPE_SCALABLE_SERVER;
	vm->screen_width = cfg->screen_width ? cfg->screen_width : 1024;
	vm->screen_height = cfg->screen_height ? cfg->screen_height : 768;
	vm->offer_hb = !cfg->no_hb;
	vm->tsc_khz = measure_tsc_khz();
	derive_uuid(vm->name, vm->bios_uuid);
	vm->clock = guest_clock_new();
	vm->state = VM_STARTING;

	/* Guest RAM: sparse until touched; sealed so a mapper never sees it shrink. */
	vm->ram_size = cfg->ram_size;
	vm->ram_map = (struct vm_ram_map){ 1, { { 0, cfg->ram_size } } };
	vm->ram_fd = memfd_create("porthole-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)vm->ram_size) ||
	    fcntl(vm->ram_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		g_warning("guest RAM of %llu bytes: %s", (unsigned long long)vm->ram_size,
			  g_strerror(errno));
		vm_destroy(vm);
		return NULL;
	}

	vm->iobus = iobus_new();
	vm->tools_options = tools_options_new(vm, cfg->sync_time);
	vm->rpc = rpc_new(vm, vm->offer_hb);
	vm->namespace_db = namespace_db_open(cfg->state_dir, vm->name);
	if (backdoor_init(vm) || (cfg->testdev && testdev_init(vm))) {
		g_warning("device setup failed");
		vm_destroy(vm);
		return NULL;
	}
	if (!strcmp(vm->engine, "kvm") && (serial_init(vm) || pci_init(vm) || debug_exit_init(vm))) {
		g_warning("PC platform device setup failed");
		vm_destroy(vm);
		return NULL;
	}
	/* After the platform: with a PCI bus the device is also a PCI function. */
	if (vmci_init(vm)) {
		g_warning("VMCI device setup failed");
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
	/* The last window's dropped lines are counted too: nothing goes unsaid. */
	if (vm->log_suppressed)
		g_message("[%s] %u guest log lines suppressed", vm->name, vm->log_suppressed);
	vm->log_suppressed = 0;
	rpc_free(vm->rpc);
	vm->rpc = NULL;
	tools_options_free(vm->tools_options);
	vm->tools_options = NULL;
	vmci_free(vm->vmci);
	vm->vmci = NULL;
	copypaste_free(vm->copypaste);
	vm->copypaste = NULL;
	guestinfo_free(vm);
	namespace_db_free(vm->namespace_db);
	vm->namespace_db = NULL;
	pthread_mutex_unlock(&vm->lock);
	iobus_free(vm->iobus);
	guest_clock_free(vm->clock);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	pthread_mutex_destroy(&vm->lock);
	g_free(vm->engine_status);
	g_free(vm);
}

int vm_ram_map_translate(const struct vm_ram_map *map, uint64_t gpa, uint64_t len,
			 uint64_t *offset)
{
	uint64_t file = 0;

	for (unsigned int i = 0; i < map->n && i < VM_RAM_RANGES_MAX; i++) {
		const struct vm_ram_range *r = &map->range[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			if (len > r->size - (gpa - r->gpa))
				return -1;	/* runs past the range: into a hole or the end */
			*offset = file + (gpa - r->gpa);
			return 0;
		}
		file += r->size;
	}
	return -1;
}

int vm_set_ram_map(struct vm *vm, const struct vm_ram_map *map)
{
	uint64_t total = 0, end = 0;

	if (!map->n || map->n > VM_RAM_RANGES_MAX)
		return -1;
	for (unsigned int i = 0; i < map->n; i++) {
		const struct vm_ram_range *r = &map->range[i];

		if (!r->size || r->gpa < end || r->gpa + r->size < r->gpa ||
		    r->size > vm->ram_size - total)
			return -1;
		end = r->gpa + r->size;
		total += r->size;
	}
	if (total != vm->ram_size)
		return -1;
	pthread_mutex_lock(&vm->lock);
	vm->ram_map = *map;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_gpa_to_ram(const struct vm *vm, uint64_t gpa, uint64_t len, uint64_t *offset)
{
	return vm_ram_map_translate(&vm->ram_map, gpa, len, offset);
}

void vm_append_guest_text(GString *out, const char *s, size_t max, const char *also)
{
	size_t i = 0, n = s ? strnlen(s, max) : 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		gunichar u;

		if (c >= 0x80) {
			/* Whole UTF-8 characters pass, but not C1 controls or broken sequences. */
			u = g_utf8_get_char_validated(s + i, (gssize)(n - i));
			if (u != (gunichar)-1 && u != (gunichar)-2 && u > 0x9F) {
				const char *next = g_utf8_next_char(s + i);

				g_string_append_len(out, s + i, next - (s + i));
				i = (size_t)(next - s);
				continue;
			}
		} else if (c >= 0x20 && c != 0x7F && c != '\\' && !(also && strchr(also, c))) {
			g_string_append_c(out, (char)c);
			i++;
			continue;
		}
		g_string_append_printf(out, "\\x%02x", c);
		i++;
	}
	if (s && s[n])
		g_string_append(out, "...");
}

void vm_set_engine_status(struct vm *vm, const char *lines)
{
	char *copy = g_strdup(lines);

	pthread_mutex_lock(&vm->lock);
	g_free(vm->engine_status);
	vm->engine_status = copy;
	pthread_mutex_unlock(&vm->lock);
}

enum io_result vm_io(struct vm *vm, struct vcpu *vcpu, const struct io_access *io)
{
	enum io_result res;

	pthread_mutex_lock(&vm->lock);
	if (G_UNLIKELY(!vm->first_backdoor_us) &&
	    (io->port == BDOOR_PORT_LB || io->port == BDOOR_PORT_HB))
		vm->first_backdoor_us = g_get_monotonic_time();
	res = iobus_dispatch(vm->iobus, vcpu, io);
	pthread_mutex_unlock(&vm->lock);
	return res;
}

void vm_request_exit(struct vm *vm, int status)
{
	if (vm->exit_requested)
		return;		/* the first request wins */
	vm->exit_requested = true;
	vm->exit_request_status = status;
}

void vm_set_irq(struct vm *vm, unsigned int irq, bool level)
{
	if (vm->irq_line)
		vm->irq_line(vm->irq_opaque, irq, level);
}

/* When the process started, for vm_ms_since_process_start(). */
static int64_t process_start_us;

__attribute__((constructor)) static void note_process_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	process_start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double vm_ms_since_process_start(int64_t mono_us)
{
	return (double)(mono_us - process_start_us) / 1000.0;
}

void vm_owner_exited(struct vm *vm, int owner)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->rpc)
		rpc_owner_exited(vm->rpc, owner);
	vmci_owner_exited(vm->vmci, owner);
	copypaste_owner_exited(vm, owner);
	pthread_mutex_unlock(&vm->lock);
}

/*
 * The guest runs on the host's CPU, so it sees the host's CPUID, except that
 * it is told it runs under a hypervisor and which one: VMware-protocol tools
 * (vmware-checkvm, vmtoolsd) look for "VMwareVMware" at 0x40000000.
 */
void vm_cpuid_hv(struct vm *vm, uint32_t leaf, uint32_t out[4])
{
	out[0] = out[1] = out[2] = out[3] = 0;
	if (leaf == CPUID_HV_BASE) {
		out[0] = CPUID_HV_VMWARE_TIMING;
		memcpy(&out[1], vm->cpuid_vendor, 4);
		memcpy(&out[2], vm->cpuid_vendor + 4, 4);
		memcpy(&out[3], vm->cpuid_vendor + 8, 4);
	} else if (leaf == CPUID_HV_VMWARE_TIMING) {
		out[0] = vm->tsc_khz;
		out[1] = 1000000;	/* APIC bus: 1 GHz, as VMware reports */
	}
}

void vm_cpuid(struct vm *vm, struct vcpu_regs *regs)
{
	uint32_t leaf = (uint32_t)regs->rax, sub = (uint32_t)regs->rcx;
	uint32_t a = 0, b = 0, c = 0, d = 0;

	if (leaf >= CPUID_HV_BASE && leaf < 0x50000000u) {
		uint32_t hv[4];

		vm_cpuid_hv(vm, leaf, hv);
		a = hv[0];
		b = hv[1];
		c = hv[2];
		d = hv[3];
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

void vm_guest_log_per(struct vm *vm, unsigned int kind, const char *fmt, ...)
{
	struct guest_log_kind *k = &vm->log_kinds[MIN(kind, VM_GUEST_LOG_KINDS - 1)];
	int64_t now = g_get_monotonic_time();
	unsigned int dropped = 0;
	va_list ap;
	char *line;

	if (now - k->window_us >= 60 * G_USEC_PER_SEC) {
		k->window_us = now;
		k->lines = 0;
	}
	if (++k->lines > VM_GUEST_LOG_KIND_PER_MINUTE) {
		k->dropped++;
		return;
	}
	dropped = k->dropped;
	k->dropped = 0;
	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (dropped)
		vm_guest_log(vm, "%s (and %u more like it dropped before)", line, dropped);
	else
		vm_guest_log(vm, "%s", line);
	g_free(line);
}

void vm_guest_log(struct vm *vm, const char *fmt, ...)
{
	int64_t now = g_get_monotonic_time();
	va_list ap;
	char *line;
	GString *esc;

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
	/* The same rule as guest text in replies: no byte of it can start a line. */
	esc = g_string_sized_new(strlen(line) + 16);
	vm_append_guest_text(esc, line, GUEST_LOG_LINE_MAX, NULL);
	g_message("[%s] %s", vm->name, esc->str);
	g_string_free(esc, TRUE);
	g_free(line);
}
