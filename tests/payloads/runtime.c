// SPDX-License-Identifier: MIT
/*
 * The payload runtime.  See runtime.h.
 */
#include <cpuid.h>

#include "backdoor/backdoor.h"
#include "runtime.h"

#define COM1		0x3F8
#define LSR_THRE	0x20
#define DEBUG_EXIT	0xF4
#define HEAP_SIZE	(4u << 20)

/* ---- console and exit ---- */

void serial_putc(char c)
{
	/* The hypervisor's UART is always ready; a real one may not be. */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & LSR_THRE); i++)
		;
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void exit(int status)
{
	outb(DEBUG_EXIT, (uint8_t)status);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

/* ---- formatting ---- */

static void put_num(uint64_t v, unsigned int base, bool neg, int width, bool zero, bool left)
{
	char buf[24];
	int n = 0, len;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (!left && !zero)
		for (; width > len; width--)
			serial_putc(' ');
	if (neg)
		serial_putc('-');
	if (!left && zero)
		for (; width > len; width--)
			serial_putc('0');
	while (n)
		serial_putc(buf[--n]);
	if (left)
		for (; width > len; width--)
			serial_putc(' ');
}

int vprint(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool zero = false, left = false;
		int width = 0, lng = 0;

		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case '%':
			serial_putc('%');
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len;

			s = s ? s : "(null)";
			len = (int)strlen(s);
			if (!left)
				for (; width > len; width--)
					serial_putc(' ');
			serial_puts(s);
			for (; width > len; width--)
				serial_putc(' ');
			break;
		}
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			put_num(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);

			put_num(v, *fmt == 'x' ? 16 : 10, false, width, zero, left);
			break;
		}
		case 'p':
			serial_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, false, width, zero, left);
			break;
		default:
			serial_putc('%');
			if (!*fmt)
				return 0;
			serial_putc(*fmt);
			break;
		}
	}
	return 0;
}

int print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	return 0;
}

/* ---- checks ---- */

static int checks, failures;

bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	print("%sok %d - ", ok ? "" : "not ", checks);
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	serial_putc('\n');
	return ok;
}

int check_failures(void)
{
	return failures;
}

/* ---- time ---- */

uint32_t tsc_khz(void)
{
	static uint32_t khz;
	uint32_t a, b, c, d;

	if (khz)
		return khz;
	__cpuid(1, a, b, c, d);
	if (c & CPUID_1_ECX_HYPERVISOR) {
		__cpuid(CPUID_HV_BASE, a, b, c, d);
		if (a >= CPUID_HV_VMWARE_TIMING) {
			__cpuid(CPUID_HV_VMWARE_TIMING, a, b, c, d);
			khz = a;
		}
	}
	if (!khz) {
		struct bdoor_regs r;

		bdoor_lb_cmd(&r, BDOOR_CMD_GETHZ, 0);
		bdoor_lb(&r);
		if ((uint32_t)r.ax != BDOOR_UNSUPPORTED)
			khz = (uint32_t)((((uint64_t)(uint32_t)r.bx << 32) | (uint32_t)r.ax) / 1000);
	}
	if (!khz)
		khz = 1000000;	/* a guess beats dividing by zero */
	return khz;
}

uint64_t tsc_to_ns(uint64_t cycles)
{
	return cycles * 1000000u / tsc_khz();
}

void delay_ms(unsigned int ms)
{
	uint64_t end = rdtsc() + (uint64_t)ms * tsc_khz();

	while (rdtsc() < end)
		__asm__ __volatile__("pause");
}

void print_bench(const char *name, uint64_t milli, const char *unit)
{
	print("bench %s %u.%03u %s\n", name, (unsigned int)(milli / 1000),
	      (unsigned int)(milli % 1000), unit);
}

uint64_t median(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

/* ---- memory and strings ---- */

/*
 * String instructions.  Where KVM runs guest code natively they are the
 * fast way; on nested KVM that emulates every guest instruction (as on the
 * project's machines) one emulated `rep movsb` still beats a loop of many
 * emulated instructions.
 */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t words = n / 8, tail = n % 8;

	/* Emulated string instructions cost per element: move 8 bytes at a time. */
	__asm__ __volatile__("rep movsq" : "+D"(d), "+S"(src), "+c"(words) : : "memory");
	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst - (uintptr_t)src >= n)
		return memcpy(dst, src, n);	/* no overlap, or dst below src */
	{
		uint8_t *d = (uint8_t *)dst + n - 1;
		const uint8_t *s = (const uint8_t *)src + n - 1;

		__asm__ __volatile__("std; rep movsb; cld"
				     : "+D"(d), "+S"(s), "+c"(n) : : "memory", "cc");
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const uint8_t *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (uint8_t)c)
			return (void *)(p + i);
	return NULL;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i] || !a[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

/*
 * The heap: first fit over a list of blocks in address order, each with a
 * header; free() merges a block with a free successor, and allocation
 * merges runs of free blocks as it walks.  Plenty for test payloads.
 */
struct block {
	size_t size;		/* bytes after the header */
	bool used;
	struct block *next;
};

#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((size_t)(a) - 1))
#define HDR		ALIGN_UP(sizeof(struct block), 16)

/* In .heap, which crt0 does not zero (malloc needn't): saves seconds when emulated. */
static uint8_t default_arena[HEAP_SIZE] __attribute__((section(".heap"), aligned(16)));
static struct block *heap;

void heap_init(void *base, size_t size)
{
	uintptr_t b = ALIGN_UP((uintptr_t)base, 16);

	size -= b - (uintptr_t)base;
	heap = (struct block *)b;
	heap->size = (size & ~(size_t)15) - HDR;
	heap->used = false;
	heap->next = NULL;
}

static void merge_free(struct block *b)
{
	while (b->next && !b->next->used && (uint8_t *)b + HDR + b->size == (uint8_t *)b->next) {
		b->size += HDR + b->next->size;
		b->next = b->next->next;
	}
}

void *malloc(size_t size)
{
	if (!heap)
		heap_init(default_arena, sizeof(default_arena));
	size = ALIGN_UP(size ? size : 1, 16);
	for (struct block *b = heap; b; b = b->next) {
		if (b->used)
			continue;
		merge_free(b);
		if (b->size < size)
			continue;
		if (b->size >= size + HDR + 16) {
			struct block *rest = (struct block *)((uint8_t *)b + HDR + size);

			rest->size = b->size - size - HDR;
			rest->used = false;
			rest->next = b->next;
			b->next = rest;
			b->size = size;
		}
		b->used = true;
		return (uint8_t *)b + HDR;
	}
	return NULL;
}

void free(void *p)
{
	struct block *b;

	if (!p)
		return;
	b = (struct block *)((uint8_t *)p - HDR);
	b->used = false;
	merge_free(b);
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > (size_t)-1 / size)
		return NULL;
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t size)
{
	struct block *b;
	void *q;

	if (!p)
		return malloc(size);
	b = (struct block *)((uint8_t *)p - HDR);
	if (b->size >= size)
		return p;
	q = malloc(size);
	if (q) {
		memcpy(q, p, b->size);
		free(p);
	}
	return q;
}

size_t heap_free_bytes(void)
{
	size_t n = 0;

	if (!heap)
		heap_init(default_arena, sizeof(default_arena));
	for (struct block *b = heap; b; b = b->next)
		if (!b->used)
			n += b->size;
	return n;
}
