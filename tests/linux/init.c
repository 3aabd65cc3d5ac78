// SPDX-License-Identifier: MIT
/*
 * /init of the initramfs that tests/e2e/21-kvm-linux.sh boots: prove that
 * a real Linux guest reached user space on the serial console, call the
 * backdoor from Linux user space (ioperm, then GETVERSION on port 0x5658),
 * and reboot, which ends the VM.  Built static by the test.
 */
#include <stdio.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	unsigned int ax = 0x564D5868, bx = 0, cx = 10, dx = 0x5658;

	printf("PORTHOLE-LINUX-BOOTED\n");
	if (ioperm(0x5658, 2, 1) == 0) {
		__asm__ __volatile__("inl %%dx, %%eax"
				     : "+a"(ax), "+b"(bx), "+c"(cx), "+d"(dx));
		printf("PORTHOLE-LINUX-BACKDOOR version=%u magic=%s\n", ax,
		       bx == 0x564D5868 ? "ok" : "bad");
	} else {
		perror("ioperm");
	}
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);	/* with reboot=pci: a 0xCF9 reset, which ends the VM */
	for (;;)
		pause();
}
