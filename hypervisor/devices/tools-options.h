/* SPDX-License-Identifier: MIT */
/*
 * What a VMware host tells and answers the guest tools beyond the GuestRPC
 * basics of rpc.c: the options it pushes (Set_Option) and the guest may
 * change (vmx.set_option), GETGUIOPTIONS, the guestlib statistics, the
 * removable device list, and the replies for features Porthole has off.
 * Everything here runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_TOOLS_OPTIONS_H
#define PORTHOLE_HV_TOOLS_OPTIONS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backdoor/proto.h"

struct vm;
struct tools_options;

/* GETGUIOPTIONS bit: the host wants periodic time sync (open-vm-tools' VMWARE_GUI_SYNC_TIME). */
#define TOOLS_GUI_SYNC_TIME		0x400u
/* The default of time.synchronize.tools.percentCorrection, as open-vm-tools' timeSync. */
#define TOOLS_SYNC_PERCENT_CORRECTION	50
/* guestlib.info.get: the data version answered (open-vm-tools asks for 3 first). */
#define GUESTLIB_DATA_VERSION		3
/* guestlib V3 statistics 1..this, all sent, in order (GUESTLIB_MAX_STATISTIC_ID - 1). */
#define GUESTLIB_STAT_COUNT		38
/* Distinct unknown RPCI command names logged (each once); later ones are not remembered. */
#define TOOLS_UNKNOWN_NAMES_MAX		64
/* ... each remembered by its first this many bytes. */
#define TOOLS_UNKNOWN_NAME_LEN		64
/* Backdoor command 11: RD_Info is name[32], uid, enabled + padding. */
#define TOOLS_DEVICE_NAME_MAX		32
#define TOOLS_DEVICE_INFO_SIZE		40

struct tools_options *tools_options_new(struct vm *vm, bool sync_time);
void tools_options_free(struct tools_options *opts);

/*
 * An RPCI command this file answers: the whole reply ("1 ..." / "0 ...",
 * possibly binary) appended to `reply`, true.  False: not ours.  `args`
 * may be NULL.
 */
bool tools_options_rpci(struct vm *vm, const char *cmd, const char *args, GString *reply);
/* An RPCI command nobody answers: logged once per name (escaped, rate-limited). */
void tools_options_unknown(struct vm *vm, const char *cmd);

/* The main tools ("toolbox") answered Capabilities_Register: push every option. */
void tools_options_attached(struct vm *vm, const char *app);

/* Periodic time sync on or off; pushed to the tools when it changes. */
void tools_options_set_sync_time(struct vm *vm, bool on);
bool tools_options_sync_time(const struct vm *vm);

/* Backdoor: GETGUIOPTIONS, GETDEVICELISTELEMENT and TOGGLEDEVICE. */
uint32_t tools_options_gui(const struct vm *vm);
uint32_t tools_options_device_element(struct vm *vm, struct bdoor_regs *b);
uint32_t tools_options_toggle_device(struct vm *vm, struct bdoor_regs *b);

/* Status lines "key=value\n" for porthole-ctl status. */
void tools_options_status(const struct vm *vm, GString *out);

/*
 * The guestlib.info.get V3 reply body (without "1 "): the little-endian
 * header (version, session id, data size) and the XDR statistics.
 */
void tools_options_guestlib_v3(struct vm *vm, GString *out);

#endif
