/* SPDX-License-Identifier: MIT */
/*
 * The VMware-compatible backdoor protocol: every constant and layout that
 * crosses the guest <-> hypervisor boundary lives here, and only here.
 *
 * Facts come from public sources (open-vm-tools lib/include/backdoor_def.h,
 * guest_msg_def.h, rpcout.h, rpcin.c); see ../shared/notes.  Both the guest
 * additions and the hypervisor include this file; neither includes the other.
 */
#ifndef PORTHOLE_BACKDOOR_PROTO_H
#define PORTHOLE_BACKDOOR_PROTO_H

#include <stdint.h>

#define BDOOR_MAGIC		0x564D5868u	/* "VMXh" */
#define BDOOR_PORT_LB		0x5658		/* low bandwidth: one `in` per call */
#define BDOOR_PORT_HB		0x5659		/* high bandwidth: rep insb/outsb */

/* GETVERSION answers: open-vm-tools requires version 6 exactly. */
#define BDOOR_VERSION		6u
enum bdoor_vmx_type {
	BDOOR_VMX_TYPE_UNSET = 0,
	BDOOR_VMX_TYPE_EXPRESS = 1,
	BDOOR_VMX_TYPE_SCALABLE_SERVER = 2,	/* "ESX" */
	BDOOR_VMX_TYPE_WGS = 3,
	BDOOR_VMX_TYPE_WORKSTATION = 4,
	BDOOR_VMX_TYPE_WORKSTATION_ENTERPRISE = 5,
};

/* Low-bandwidth commands: low 16 bits of ECX. */
enum bdoor_cmd {
	BDOOR_CMD_GETMHZ = 1,
	BDOOR_CMD_GETPTRLOCATION = 4,
	BDOOR_CMD_SETPTRLOCATION = 5,
	BDOOR_CMD_GETSELLENGTH = 6,
	BDOOR_CMD_GETNEXTPIECE = 7,
	BDOOR_CMD_SETSELLENGTH = 8,
	BDOOR_CMD_SETNEXTPIECE = 9,
	BDOOR_CMD_GETVERSION = 10,
	BDOOR_CMD_GETDEVICELISTELEMENT = 11,
	BDOOR_CMD_TOGGLEDEVICE = 12,
	BDOOR_CMD_GETGUIOPTIONS = 13,
	BDOOR_CMD_GETSCREENSIZE = 15,
	BDOOR_CMD_GETHWVERSION = 17,
	BDOOR_CMD_GETBIOSUUID = 19,
	BDOOR_CMD_GETMEMSIZE = 20,
	BDOOR_CMD_GETTIME = 23,
	BDOOR_CMD_STOPCATCHUP = 24,
	BDOOR_CMD_MESSAGE = 30,
	BDOOR_CMD_ISMOUSEABSOLUTE = 36,
	BDOOR_CMD_ABSPOINTER_DATA = 39,
	BDOOR_CMD_ABSPOINTER_STATUS = 40,
	BDOOR_CMD_ABSPOINTER_COMMAND = 41,
	BDOOR_CMD_GETHZ = 45,
	BDOOR_CMD_GETTIMEFULL = 46,
	BDOOR_CMD_GETTIMEFULL_WITH_LAG = 55,
	BDOOR_CMD_GET_VCPU_INFO = 68,
};

/*
 * GETPTRLOCATION's answer (x << 16 | y) while the host pointer is not over
 * the guest: both coordinates this value, "ungrabbed" to the desktop tools.
 */
#define BDOOR_PTR_UNGRABBED	(-100)

/* ECX = (subcommand << 16) | command */
#define BDOOR_ECX(cmd, sub)	((uint32_t)(cmd) | ((uint32_t)(sub) << 16))
#define BDOOR_ECX_CMD(ecx)	((uint32_t)(ecx) & 0xFFFFu)
#define BDOOR_ECX_SUB(ecx)	(((uint32_t)(ecx) >> 16) & 0xFFFFu)
/* EDX = (channel id << 16) | port */
#define BDOOR_EDX(port, chan)	((uint32_t)(port) | ((uint32_t)(chan) << 16))
#define BDOOR_EDX_CHAN(edx)	(((uint32_t)(edx) >> 16) & 0xFFFFu)

/* Reply to an unknown command or a call without the magic (as QEMU does). */
#define BDOOR_UNSUPPORTED	0xFFFFFFFFu

/* GETSCREENSIZE: EAX = (width << 16) | height. */
#define BDOOR_SCREENSIZE(w, h)	(((uint32_t)(w) << 16) | ((uint32_t)(h) & 0xFFFF))

/* High-bandwidth commands: low 16 bits of EBX; EBX high 16 = status. */
enum bdoor_hb_cmd {
	BDOORHB_CMD_MESSAGE = 0,
	BDOORHB_CMD_VASSERT = 1,
};

/* ---- GuestRPC message channel (command 30) ---- */

/* Subcommands, ECX high 16 bits. */
enum msg_type {
	MESSAGE_TYPE_OPEN = 0,
	MESSAGE_TYPE_SENDSIZE = 1,
	MESSAGE_TYPE_SENDPAYLOAD = 2,
	MESSAGE_TYPE_RECVSIZE = 3,
	MESSAGE_TYPE_RECVPAYLOAD = 4,
	MESSAGE_TYPE_RECVSTATUS = 5,
	MESSAGE_TYPE_CLOSE = 6,
};

/* Status bits: ECX high 16 (low-bandwidth), EBX high 16 (high-bandwidth). */
#define MESSAGE_STATUS_SUCCESS	0x0001u
#define MESSAGE_STATUS_DORECV	0x0002u
#define MESSAGE_STATUS_CLOSED	0x0004u
#define MESSAGE_STATUS_UNSENT	0x0008u
#define MESSAGE_STATUS_CPT	0x0010u
#define MESSAGE_STATUS_POWEROFF	0x0020u
#define MESSAGE_STATUS_TIMEOUT	0x0040u
#define MESSAGE_STATUS_HB	0x0080u
/* Only this bit of a guest-supplied status word means anything. */
#define MESSAGE_STATUS_GUEST_MASK MESSAGE_STATUS_SUCCESS

#define GUESTMSG_FLAG_COOKIE	0x80000000u	/* OPEN: EBX = proto | flag */
#define GUESTMSG_MAX_CHANNEL	128

/*
 * Largest message either side accepts.  VMware caps guest->host messages at
 * 64 KiB; Porthole allows 1 MiB + slack so bulk RPCs fit in one message.
 * Clients written for VMware never get near it.
 */
#define GUESTMSG_MAX_SIZE	(1024u * 1024u + 4096u)

/* Protocol numbers, EBX on OPEN. */
#define RPCI_PROTOCOL_NUM	0x49435052u	/* "RPCI" */
#define TCLO_PROTOCOL_NUM	0x4F4C4354u	/* "TCLO" */

/* RPCI replies start with one of these, then the result text. */
#define RPCI_SUCCESS_PREFIX	"1 "
#define RPCI_FAILURE_PREFIX	"0 "
#define RPCI_UNKNOWN_COMMAND	"Unknown command"
/* TCLO replies from the guest. */
#define TCLO_SUCCESS_PREFIX	"OK "
#define TCLO_FAILURE_PREFIX	"ERROR "
#define TCLO_UNKNOWN_COMMAND	"Unknown Command"

/* TCLO application names (the "reset" reply is "OK ATR <name>"). */
#define TOOLS_APP_MAIN		"toolbox"
#define TOOLS_APP_USER		"toolbox-dnd"

/* Tools version as a number: major << 10 | minor << 5 | patch. */
#define TOOLS_VERSION_ENCODE(ma, mi, pa) (((ma) << 10) | ((mi) << 5) | (pa))
#define TOOLS_VERSION_UNMANAGED	0x7FFFFFFFu

/*
 * Power operations (open-vm-tools vmware/guestrpc/powerops.h): TCLO
 * "OS_Halt" / "OS_Reboot"; the guest reports with the RPCI
 * "tools.os.statechange.status <0|1> <state id>".
 */
#define TCLO_OS_HALT		"OS_Halt"
#define TCLO_OS_REBOOT		"OS_Reboot"
#define RPCI_STATECHANGE_STATUS	"tools.os.statechange.status"
#define GUESTOS_STATECHANGE_HALT	1
#define GUESTOS_STATECHANGE_REBOOT	2

/* ---- CPUID hypervisor leaves ---- */
#define CPUID_HV_BASE		0x40000000u	/* EAX = max leaf, EBX:ECX:EDX vendor */
#define CPUID_HV_VMWARE_TIMING	0x40000010u	/* EAX = TSC kHz, EBX = bus kHz */
#define CPUID_HV_VENDOR_VMWARE	"VMwareVMware"
#define CPUID_1_ECX_HYPERVISOR	(1u << 31)

/*
 * The registers a backdoor call reads and writes, in the order open-vm-tools
 * lays them out.  64-bit wide because the high-bandwidth calls carry guest
 * pointers in RSI/RDI.
 */
struct bdoor_regs {
	uint64_t ax, bx, cx, dx, si, di, bp;
};

#endif
