// SPDX-License-Identifier: MIT
/*
 * Payload: CPUID identification and the low-bandwidth backdoor's fixed
 * answers (GETVERSION, GETMHZ, GETMEMSIZE, GETHWVERSION, a bad magic).
 */
#include "backdoor/backdoor.h"
#include "runtime.h"

int payload_main(void)
{
	struct bdoor_info info;
	struct bdoor_regs r;
	uint32_t out[4];

	bdoor_identify(&info);
	check(info.hv_bit, "CPUID.1:ECX says a hypervisor is present");
	check(!strcmp(info.vendor, "VMwareVMware"), "CPUID 0x40000000 vendor \"%s\"", info.vendor);
	check(info.hv_max_leaf >= CPUID_HV_VMWARE_TIMING, "hypervisor leaves up to 0x%x",
	      info.hv_max_leaf);
	bdoor_cpuid(CPUID_HV_VMWARE_TIMING, 0, out);
	check(out[0] > 100000 && out[1] == 1000000, "CPUID 0x40000010: TSC %u kHz, bus %u kHz",
	      out[0], out[1]);

	check(bdoor_getversion(&info), "GETVERSION answers with the magic");
	check(info.version == BDOOR_VERSION, "GETVERSION version %u", info.version);
	check(info.vmx_type == BDOOR_VMX_TYPE_SCALABLE_SERVER, "GETVERSION type %u (ESX)",
	      info.vmx_type);

	bdoor_lb_cmd(&r, BDOOR_CMD_GETMHZ, 0);
	bdoor_lb(&r);
	check((uint32_t)r.ax == out[0] / 1000 && (uint32_t)r.bx == BDOOR_MAGIC,
	      "GETMHZ %u MHz matches CPUID", (uint32_t)r.ax);
	bdoor_lb_cmd(&r, BDOOR_CMD_GETMEMSIZE, 0);
	bdoor_lb(&r);
	print("# GETMEMSIZE: %u MiB\n", (uint32_t)r.ax);
	check((uint32_t)r.ax >= 2 && (uint32_t)r.bx == 0x1177, "GETMEMSIZE %u MiB",
	      (uint32_t)r.ax);
	bdoor_lb_cmd(&r, BDOOR_CMD_GETHWVERSION, 0);
	bdoor_lb(&r);
	check((uint32_t)r.bx == BDOOR_MAGIC && (uint32_t)r.ax > 0, "GETHWVERSION %u",
	      (uint32_t)r.ax);

	bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0);
	r.ax = 0x12345678;	/* no magic */
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_UNSUPPORTED, "a call without the magic is refused");

	print("getversion: %d failures\n", check_failures());
	return check_failures() ? 1 : 0;
}
