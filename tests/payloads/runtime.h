/* SPDX-License-Identifier: MIT */
/*
 * The freestanding payload runtime: serial output on COM1 (0x3F8), exit
 * through isa-debug-exit (0xF4), a small heap, the string functions, the
 * TSC, and TAP-style check reporting.  No libc anywhere.
 */
#ifndef PAYLOAD_RUNTIME_H
#define PAYLOAD_RUNTIME_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RSI at entry: the boot_params address when booted as a Linux kernel. */
extern uint64_t boot_rsi;

/* The payload's main; its return value is the VM's exit status. */
int payload_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* Serial console. */
void serial_putc(char c);
void serial_puts(const char *s);
/* printf subset: %% %c %s %d %i %u %x %p, flags '0' '-', width, l/ll/z. */
int print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprint(const char *fmt, va_list ap);

/* TSC frequency: CPUID 0x40000010, else the backdoor's GETHZ. */
uint32_t tsc_khz(void);
uint64_t tsc_to_ns(uint64_t cycles);
void delay_ms(unsigned int ms);

/* "bench NAME V.VVV UNIT" from a value in thousandths. */
void print_bench(const char *name, uint64_t milli, const char *unit);

/* The heap: a static arena by default; heap_init() switches to another. */
void heap_init(void *base, size_t size);
size_t heap_free_bytes(void);

/* TAP-ish checks: "ok N - what" / "not ok N - what"; failures counted. */
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int check_failures(void);

/* Median of n values (sorts them). */
uint64_t median(uint64_t *v, size_t n);

#endif
