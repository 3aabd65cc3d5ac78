/* SPDX-License-Identifier: MIT */
/*
 * Payload entry: the hypervisor jumps here in 64-bit mode with paging on,
 * interrupts off and a stack below 1 MiB (RSI holds boot_params when the
 * payload is booted as a Linux kernel).  Zero .bss, call payload_main(),
 * and hand its return value to exit() (port 0xF4).
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	mov	%rsi, boot_rsi(%rip)
	cld
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	and	$-16, %rsp
	call	payload_main
	mov	%eax, %edi
	call	exit
1:	cli
	hlt
	jmp	1b

	.data
	.balign 8
	.globl boot_rsi
boot_rsi:
	.quad	0

	.section .note.GNU-stack, "", @progbits
