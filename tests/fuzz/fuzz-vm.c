// SPDX-License-Identifier: MIT
/* What the device-model fuzz targets share.  See fuzz-vm.h. */
#include <string.h>
#include <unistd.h>

#include "backdoor/proto.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/devices/guestinfo.h"
#include "hypervisor/devices/rpc.h"
#include "hypervisor/devices/vmci.h"
#include "hypervisor/devices/vmmouse.h"
#include "fuzz-vm.h"

uint64_t fuzz_take(struct fuzz_input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && i < 8 && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

size_t fuzz_take_bytes(struct fuzz_input *in, size_t max, const uint8_t **out)
{
	size_t n = MIN(max, in->left);

	*out = in->p;
	in->p += n;
	in->left -= n;
	return n;
}

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer p)
{
	/* Fatal levels abort after this returns: say what it was first. */
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		fprintf(stderr, "%s: %s\n", domain ? domain : "", msg);
}

static char *runtime_dir;

static void remove_runtime_dir(void)
{
	char *sub = g_build_filename(runtime_dir, PH_CTL_DIR_NAME, NULL);

	rmdir(sub);
	rmdir(runtime_dir);
	g_free(sub);
}

void fuzz_init(void)
{
	if (runtime_dir)
		return;
	g_log_set_default_handler(quiet_log, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	runtime_dir = g_strdup("/tmp/porthole-fuzz-XXXXXX");
	if (!g_mkdtemp_full(runtime_dir, 0700)) {
		perror("mkdtemp");
		abort();
	}
	setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
	atexit(remove_runtime_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

struct vm *fuzz_vm_new(bool kvm)
{
	struct vm_config cfg = {
		.name = "fuzz", .ram_size = FUZZ_RAM_SIZE, .engine = kvm ? "kvm" : "trap",
	};
	struct vm *vm = vm_create(&cfg);

	FUZZ_CHECK(vm);
	return vm;
}

static bool mem_range(struct fuzz_mem *m, uint64_t addr, size_t len)
{
	return addr >= m->base && len <= m->size && addr - m->base <= m->size - len;
}

static void note(bool *seen, uint64_t *lo, uint64_t *hi, uint64_t addr, size_t len)
{
	if (!*seen || addr < *lo)
		*lo = addr;
	if (!*seen || addr + len > *hi)
		*hi = addr + len;
	*seen = true;
}

static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct fuzz_mem *m = opaque;

	if (!mem_range(m, addr, len))
		return -1;
	note(&m->read, &m->read_lo, &m->read_hi, addr, len);
	memcpy(buf, m->buf + (addr - m->base), len);
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct fuzz_mem *m = opaque;

	if (!mem_range(m, addr, len))
		return -1;
	note(&m->written, &m->write_lo, &m->write_hi, addr, len);
	memcpy(m->buf + (addr - m->base), buf, len);
	return 0;
}

void fuzz_mem_init(struct fuzz_mem *m, uint64_t base, uint64_t size)
{
	*m = (struct fuzz_mem){ .buf = g_malloc0(size), .base = base, .size = size };
}

void fuzz_mem_free(struct fuzz_mem *m)
{
	g_free(m->buf);
	m->buf = NULL;
}

void fuzz_mem_clear_log(struct fuzz_mem *m)
{
	m->read = m->written = false;
	m->read_lo = m->read_hi = m->write_lo = m->write_hi = 0;
}

struct guest_mem fuzz_mem_ops(struct fuzz_mem *m)
{
	return (struct guest_mem){ mem_read, mem_write, m };
}

static bool key_char(char c)
{
	return g_ascii_islower(c) || g_ascii_isdigit(c) || c == '.' || c == '-' || c == '_';
}

void fuzz_check_status_text(const char *text, size_t len)
{
	GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *line = text, *end = text + len;

	/* The hypervisor adds a few hundred bytes of its own to this. */
	FUZZ_CHECK(len < PH_CTL_MAX_PAYLOAD - 1024);
	FUZZ_CHECK(g_utf8_validate(text, (gssize)len, NULL));
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eq = memchr(line, '=', (size_t)((nl ? nl : end) - line));
		char *key;

		FUZZ_CHECK(nl);		/* every line ends */
		FUZZ_CHECK(eq && eq > line);
		for (const char *k = line; k < eq; k++)
			FUZZ_CHECK(key_char(*k));
		for (const char *v = eq + 1; v < nl; v++)
			FUZZ_CHECK((unsigned char)*v >= 0x20 && *v != 0x7F);
		key = g_strndup(line, (size_t)(eq - line));
		/* A repeated key would let the last one win in porthole-ctl and hostd. */
		FUZZ_CHECK(!strcmp(key, "tools.app") || !g_hash_table_contains(keys, key));
		g_hash_table_add(keys, key);
		line = nl + 1;
	}
	g_hash_table_destroy(keys);
}

void fuzz_check_vm_status(struct vm *vm)
{
	GString *s = g_string_new(NULL);
	size_t status_len;

	pthread_mutex_lock(&vm->lock);
	rpc_status(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000u, s);
	guestinfo_status(vm, s);
	vmci_status(vm->vmci, s);
	if (vm->vmmouse)
		vmmouse_status(vm->vmmouse, s);
	status_len = s->len;
	if (vm->rpc)
		rpc_info_list(vm->rpc, s);	/* (NUL-separated: printed, not checked) */
	pthread_mutex_unlock(&vm->lock);
	/* FUZZ_TRACE=1 shows what an input did (reproducing a report). */
	if (getenv("FUZZ_TRACE"))
		fwrite(s->str, 1, s->len, stderr);
	fuzz_check_status_text(s->str, status_len);
	g_string_free(s, TRUE);
}

/* Backdoor command 30 of `type` on the channel in v's registers: the status bits. */
static uint32_t message_call(struct vm *vm, struct vcpu *v, uint32_t type, uint32_t ebx)
{
	struct io_access io = { .port = BDOOR_PORT_LB, .size = 4, .in = true, .addr_size = 8 };

	v->regs.rax = BDOOR_MAGIC;
	v->regs.rbx = ebx;
	v->regs.rcx = BDOOR_ECX(BDOOR_CMD_MESSAGE, type);
	v->regs.rdx = (v->regs.rdx & 0xFFFF0000u) | BDOOR_PORT_LB;
	FUZZ_CHECK(vm_io(vm, v, &io) == IO_DONE);
	return BDOOR_ECX_SUB(v->regs.rcx);
}

void fuzz_guest_rpci(struct vm *vm, const void *msg, size_t len)
{
	struct vcpu v = { .vm = vm, .id = 99, .owner = 99 };
	uint64_t chan, hi, lo, size;

	if (!(message_call(vm, &v, MESSAGE_TYPE_OPEN, RPCI_PROTOCOL_NUM | GUESTMSG_FLAG_COOKIE) &
	      MESSAGE_STATUS_SUCCESS))
		return;
	chan = v.regs.rdx & 0xFFFF0000u;
	hi = v.regs.rsi;
	lo = v.regs.rdi;
#define RESTORE() (v.regs.rdx = chan, v.regs.rsi = hi, v.regs.rdi = lo)
	RESTORE();
	if (message_call(vm, &v, MESSAGE_TYPE_SENDSIZE, (uint32_t)len) & MESSAGE_STATUS_SUCCESS) {
		for (size_t i = 0; i < len; i += 4) {
			uint32_t piece = 0;

			memcpy(&piece, (const uint8_t *)msg + i, MIN(4, len - i));
			RESTORE();
			message_call(vm, &v, MESSAGE_TYPE_SENDPAYLOAD, piece);
		}
		RESTORE();
		if (message_call(vm, &v, MESSAGE_TYPE_RECVSIZE, 0) & MESSAGE_STATUS_DORECV) {
			size = (uint32_t)v.regs.rbx;
			for (uint64_t i = 0; i < size; i += 4) {
				RESTORE();
				message_call(vm, &v, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS);
			}
			RESTORE();
			message_call(vm, &v, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS);
		}
	}
	RESTORE();
	message_call(vm, &v, MESSAGE_TYPE_CLOSE, 0);
#undef RESTORE
}
