/* SPDX-License-Identifier: MIT */
/* The payload runtime's <stdlib.h>: what backdoor/msgchan-guest.c needs. */
#ifndef PAYLOAD_STDLIB_H
#define PAYLOAD_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
void exit(int status) __attribute__((noreturn));

#endif
