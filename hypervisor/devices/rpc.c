// SPDX-License-Identifier: MIT
/*
 * GuestRPC endpoint: what the hypervisor answers on RPCI channels and how it
 * drives TCLO channels.  See rpc.h.
 *
 * RPCI: each guest message is "<command> <arguments>"; the reply is
 * "1 <result>" or "0 <reason>", as VMware hosts answer.
 *
 * TCLO: the guest tools poll; each poll first sends the result of the
 * previous command (empty the first time), then asks for the next one.  A
 * new TCLO channel is sent "reset" (the tools answer "OK ATR <app>", which
 * names the channel) and then "Capabilities_Register", as VMware hosts do;
 * after that, host commands queued by rpc_tclo_send() go out one at a time.
 *
 * Porthole extension: a command for an application with a wakeup resource
 * (ph_tclo_wakeup_resource, backdoor/desktop.h) also sends it a VMCI
 * datagram, so the desktop agent need not poll while idle.  It never
 * blocks (vmci_hv_send only queues, under the vm->lock we hold) and a
 * wakeup nobody mapped is dropped: the command still waits for a poll.
 * Tools that mapped their wakeup resource count as running for
 * RPC_TOOLS_WOKEN_ALIVE_NS after a poll (their idle safety-net poll is
 * slow); the others, VMware's, for RPC_TOOLS_ALIVE_NS as before.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backdoor/desktop.h"
#include "hypervisor/vm.h"
#include "copypaste.h"
#include "guestinfo.h"
#include "namespace-db.h"
#include "rpc.h"
#include "tools-options.h"
#include "vmci.h"

struct tclo_cmd {
	char *app;		/* target application, NULL for any */
	int owner;		/* only the channel of this guest context; -1 any */
	char *text;
	size_t len;
	uint64_t queued_ns;
	rpc_tclo_done done;	/* NULL for the host's own commands */
	void *opaque;
};

struct tclo_chan {
	bool active;
	char app[32];		/* from "OK ATR <app>", empty until then */
	int owner;		/* the guest context that opened it (msgchan_host_owner) */
	uint64_t opened_ns, last_poll_ns;
	struct tclo_cmd *inflight;
	uint64_t inflight_ns;
	int step;		/* 0: send reset, 1: send Capabilities_Register, 2: ready */
};

struct rpc_state {
	struct vm *vm;
	struct msgchan_host *chans;
	struct tclo_chan tclo[GUESTMSG_MAX_CHANNEL];
	GQueue queue;		/* of struct tclo_cmd */

	GHashTable *guestinfo;	/* key -> value */
	size_t guestinfo_bytes;
	GHashTable *caps;	/* "<owner> <capability>" -> value */
	/* Guest contexts that ended while holding capabilities (owner set). */
	GHashTable *caps_exited;

	uint32_t tools_version;
	bool tools_version_set;
	char *tools_version_type;
	uint64_t rpci_count;
	int rpci_owner;		/* the guest context of the RPCI message being answered */
	uint64_t tclo_wakeups;	/* wakeup datagrams delivered (the tools mapped the resource) */
	uint64_t tclo_polls;	/* TCLO polls, all channels: what idle tools cost */
	/* The last "tools.os.statechange.status <ok> <state id>" (powerOps). */
	uint32_t statechange_id;
	bool statechange_ok, statechange_set;
	unsigned long statechange_reports;	/* so a host can tell a new report from the last */
	/*
	 * RPCI commands answered "0 ...", by name (cut): how often each failed
	 * and when its last three failures were.  Tools that resend what
	 * failed in a loop show up here (the e2e soak, 99-soak-vmtoolsd).
	 */
	GHashTable *failures;	/* name -> struct rpc_failure */
	uint64_t failures_unnamed;	/* past RPC_FAILURE_NAMES_MAX names */
};

struct rpc_failure {
	uint64_t count;
	uint64_t last_ns[3];	/* ring, by count % 3 */
};

/* Distinct command names whose failures are counted; the rest together. */
#define RPC_FAILURE_NAMES_MAX	32
#define RPC_FAILURE_NAME_LEN	64

/* Message bytes all channels may hold at once. */
#define RPC_BUDGET	(8 * (size_t)GUESTMSG_MAX_SIZE)

static uint64_t now_ns(void)
{
	return (uint64_t)g_get_monotonic_time() * 1000u;
}

static void tclo_cmd_finish(struct tclo_cmd *cmd, int status, const char *reply, size_t len)
{
	if (cmd->done)
		cmd->done(cmd->opaque, status, reply, len);
	g_free(cmd->app);
	g_free(cmd->text);
	g_free(cmd);
}

/* A command that never got (or never will get) the guest's reply. */
static void tclo_cmd_fail(struct tclo_cmd *cmd, const char *why)
{
	tclo_cmd_finish(cmd, -1, why, strlen(why));
}

/* ---- RPCI commands ---- */

struct rpci_reply {
	GString *s;
};

static void reply_ok(struct rpci_reply *r, const char *text)
{
	g_string_append(r->s, RPCI_SUCCESS_PREFIX);
	if (text)
		g_string_append(r->s, text);
}

static void reply_fail(struct rpci_reply *r, const char *reason)
{
	g_string_append(r->s, RPCI_FAILURE_PREFIX);
	g_string_append(r->s, reason);
}

static bool valid_key(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > RPC_GUESTINFO_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] <= ' ' || (unsigned char)key[i] >= 0x7F)
			return false;
	return true;
}

int rpc_info_set(struct rpc_state *rpc, const char *key, const char *value, const char **why)
{
	const char *old;
	size_t add = strlen(value), sub = 0;

	if (!valid_key(key) || !g_str_has_prefix(key, "guestinfo.") || !key[10]) {
		*why = "Invalid key (expected guestinfo.<name>)";
		return -1;
	}
	old = g_hash_table_lookup(rpc->guestinfo, key);
	if (old)
		sub = strlen(old);
	else if (g_hash_table_size(rpc->guestinfo) >= RPC_GUESTINFO_MAX_KEYS) {
		*why = "Too many guestinfo keys";
		return -1;
	}
	if (rpc->guestinfo_bytes - sub + add > RPC_GUESTINFO_BUDGET) {
		*why = "Guestinfo store is full";
		return -1;
	}
	rpc->guestinfo_bytes = rpc->guestinfo_bytes - sub + add;
	g_hash_table_replace(rpc->guestinfo, g_strdup(key), g_strdup(value));
	if (rpc->vm->notify)
		rpc->vm->notify(rpc->vm, "guestinfo");
	return 0;
}

char *rpc_info_get(struct rpc_state *rpc, const char *key)
{
	return g_strdup(g_hash_table_lookup(rpc->guestinfo, key));
}

void rpc_info_list(struct rpc_state *rpc, GString *out)
{
	GList *keys = g_list_sort(g_hash_table_get_keys(rpc->guestinfo), (GCompareFunc)strcmp);

	for (GList *k = keys; k; k = k->next) {
		g_string_append_len(out, k->data, (gssize)strlen(k->data) + 1);
		g_string_append_len(out, g_hash_table_lookup(rpc->guestinfo, k->data),
				    (gssize)strlen(g_hash_table_lookup(rpc->guestinfo, k->data)) + 1);
	}
	g_list_free(keys);
}

static void cmd_info_set(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	char *sp = args ? strchr(args, ' ') : NULL;
	const char *why;

	if (!sp) {
		reply_fail(r, "Two and exactly two arguments expected");
		return;
	}
	*sp = '\0';
	if (rpc_info_set(rpc, args, sp + 1, &why))
		reply_fail(r, why);
	else
		reply_ok(r, NULL);
}

static void cmd_info_get(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	const char *v;

	if (!args || !*args) {
		reply_fail(r, "One argument expected");
		return;
	}
	g_strchomp(args);
	v = g_hash_table_lookup(rpc->guestinfo, args);
	if (v)
		reply_ok(r, v);
	else
		reply_fail(r, "No value found");
}

static void cmd_log(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	vm_guest_log(rpc->vm, "guest log: %s", args ? args : "");
	reply_ok(r, NULL);
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !g_ascii_isdigit(*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > UINT32_MAX || (*end && *end != ' '))
		return false;
	*out = (uint32_t)v;
	return true;
}

static void cmd_set_version(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	uint32_t v;

	if (!parse_u32(args, &v)) {
		reply_fail(r, "Invalid version");
		return;
	}
	rpc->tools_version = v;
	rpc->tools_version_set = true;
	if (rpc->vm->notify)
		rpc->vm->notify(rpc->vm, "tools");
	reply_ok(r, NULL);
}

static void cmd_set_versiontype(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	char *sp = args ? strchr(args, ' ') : NULL;

	cmd_set_version(rpc, args, r);
	if (sp && r->s->str[0] == '1') {
		g_free(rpc->tools_version_type);
		rpc->tools_version_type = g_strndup(g_strstrip(sp + 1), 32);
	}
}

/*
 * Capabilities are kept per guest context ("<owner> <name>"; names have no
 * space): porthole-agent and VMware's vmusr register under the same names
 * and must not overwrite each other.  (A KVM guest is one context.)
 */
/* Whether guest context `owner` holds any capability. */
static bool owner_has_caps(struct rpc_state *rpc, int owner)
{
	GHashTableIter it;
	gpointer key;
	char prefix[16];
	size_t n = (size_t)g_snprintf(prefix, sizeof(prefix), "%d ", owner);

	g_hash_table_iter_init(&it, rpc->caps);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!strncmp(key, prefix, n))
			return true;
	return false;
}

/*
 * A capability of a context that ended stays (it is the VM's, as on
 * VMware) until a context registers the same name: then the newer value
 * is the one that counts.  A restarting vmusr re-registers its ~25 names
 * each time, and without this filled the table until new tools were
 * refused.  Bounded: at most one exited owner per table entry.
 */
static void supersede_exited_caps(struct rpc_state *rpc, const char *name)
{
	GHashTableIter it;
	gpointer owner;

	g_hash_table_iter_init(&it, rpc->caps_exited);
	while (g_hash_table_iter_next(&it, &owner, NULL)) {
		char *key = g_strdup_printf("%d %s", GPOINTER_TO_INT(owner), name);

		if (GPOINTER_TO_INT(owner) != rpc->rpci_owner &&
		    g_hash_table_remove(rpc->caps, key) &&
		    !owner_has_caps(rpc, GPOINTER_TO_INT(owner)))
			g_hash_table_iter_remove(&it);
		g_free(key);
	}
}

static void cmd_capability(struct rpc_state *rpc, const char *name, char *args,
			   struct rpci_reply *r)
{
	char *key;

	if (!valid_key(name)) {
		reply_fail(r, "Invalid capability name");
		return;
	}
	/* (A pid the kernel gave again is alive: its entries are its own.) */
	g_hash_table_remove(rpc->caps_exited, GINT_TO_POINTER(rpc->rpci_owner));
	supersede_exited_caps(rpc, name);
	key = g_strdup_printf("%d %s", rpc->rpci_owner, name);
	if (!g_hash_table_contains(rpc->caps, key) &&
	    g_hash_table_size(rpc->caps) >= RPC_CAPABILITIES_MAX) {
		g_free(key);
		reply_fail(r, "Too many capabilities");
		return;
	}
	g_hash_table_replace(rpc->caps, key,
			     g_strndup(args ? g_strstrip(args) : "", RPC_GUESTINFO_KEY_MAX));
	/* VMware's desktop tools say which copy/paste protocol they speak. */
	if (!strcmp(name, "copypaste_version"))
		copypaste_guest_version(rpc->vm, rpc->rpci_owner, args ? args : "");
	if (rpc->vm->notify)
		rpc->vm->notify(rpc->vm, "tools");
	reply_ok(r, NULL);
}

/* "<success 0|1> <state id>": the guest tools ran (or failed) a power operation. */
static void cmd_statechange_status(struct rpc_state *rpc, char *args, struct rpci_reply *r)
{
	char *sp = args ? strchr(args, ' ') : NULL;
	uint32_t ok, id;

	if (!sp || !parse_u32(args, &ok) || ok > 1 || !parse_u32(sp + 1, &id)) {
		reply_fail(r, "Invalid arguments");
		return;
	}
	rpc->statechange_id = id;
	rpc->statechange_ok = ok;
	rpc->statechange_set = true;
	rpc->statechange_reports++;
	vm_guest_log(rpc->vm, "guest tools report state change %u: %s", id,
		     ok ? "success" : "failure");
	reply_ok(r, NULL);
}

static void rpci_dispatch(struct rpc_state *rpc, char *msg, struct rpci_reply *r)
{
	char *args = strchr(msg, ' ');

	if (args)
		*args++ = '\0';
	rpc->rpci_count++;

	if (!strcmp(msg, "log"))
		cmd_log(rpc, args, r);
	else if (!strcmp(msg, "info-set"))
		cmd_info_set(rpc, args, r);
	else if (!strcmp(msg, "info-get"))
		cmd_info_get(rpc, args, r);
	else if (!strcmp(msg, "tools.set.version"))
		cmd_set_version(rpc, args, r);
	else if (!strcmp(msg, "tools.set.versiontype"))
		cmd_set_versiontype(rpc, args, r);
	else if (g_str_has_prefix(msg, "tools.capability."))
		cmd_capability(rpc, msg + strlen("tools.capability."), args, r);
	else if (!strcmp(msg, "vmx.capability.unified_loop"))
		reply_ok(r, NULL);
	else if (!strcmp(msg, RPCI_STATECHANGE_STATUS))
		cmd_statechange_status(rpc, args, r);
	else if (!strcmp(msg, "porthole.echo"))	/* round-trip benchmarks and tests */
		reply_ok(r, args);
	else if (tools_options_rpci(rpc->vm, msg, args, r->s))
		;	/* options, guestlib, features off: tools-options.c */
	else {
		tools_options_unknown(rpc->vm, msg);
		reply_fail(r, RPCI_UNKNOWN_COMMAND);
	}
}

/* The command word of a raw message: up to its first space or NUL, cut. */
static void count_failure(struct rpc_state *rpc, const char *msg, size_t len)
{
	size_t n = 0;
	char *name;
	struct rpc_failure *f;

	while (n < len && n < RPC_FAILURE_NAME_LEN && msg[n] != ' ' && msg[n] != '\0')
		n++;
	name = g_strndup(msg, n);
	f = g_hash_table_lookup(rpc->failures, name);
	if (!f && g_hash_table_size(rpc->failures) >= RPC_FAILURE_NAMES_MAX) {
		rpc->failures_unnamed++;
		g_free(name);
		return;
	}
	if (!f) {
		f = g_new0(struct rpc_failure, 1);
		g_hash_table_insert(rpc->failures, name, f);
	} else {
		g_free(name);
	}
	f->last_ns[f->count % 3] = now_ns();
	f->count++;
}

static void rpci_received(struct rpc_state *rpc, int chan, const char *msg, size_t len)
{
	struct rpci_reply r = { g_string_sized_new(64) };
	char *text;

	/*
	 * Messages are length-delimited bytes: the guest info commands take
	 * theirs raw (their XDR records hold NULs), the namespace commands
	 * too (NUL-terminated fields), and check them themselves.
	 */
	rpc->rpci_owner = msgchan_host_owner(rpc->chans, chan);
	if (guestinfo_rpci(rpc->vm, msg, len, r.s) || namespace_db_rpci(rpc->vm, msg, len, r.s) ||
	    copypaste_rpci(rpc->vm, rpc->rpci_owner, msg, len, r.s)) {
		rpc->rpci_count++;
		goto send;
	}
	/* vmtoolsd sends strlen + 1 bytes: one trailing NUL is part of the protocol. */
	if (len && msg[len - 1] == '\0')
		len--;
	if (memchr(msg, '\0', len)) {
		vm_guest_log(rpc->vm, "rpci: channel %d: command contains a NUL byte", chan);
		reply_fail(&r, "Invalid command (embedded NUL)");
	} else {
		text = g_strndup(msg, len);
		rpci_dispatch(rpc, text, &r);
		g_free(text);
	}
send:
	if (g_str_has_prefix(r.s->str, RPCI_FAILURE_PREFIX))
		count_failure(rpc, msg, len);
	if (msgchan_host_reply(rpc->chans, chan, r.s->str, r.s->len))
		vm_guest_log(rpc->vm, "rpci: channel %d: reply of %zu bytes dropped", chan, r.s->len);
	g_string_free(r.s, TRUE);
}

/* ---- TCLO ---- */

static void tclo_send(struct rpc_state *rpc, int chan, struct tclo_cmd *cmd)
{
	struct tclo_chan *t = &rpc->tclo[chan];

	t->inflight = cmd;
	t->inflight_ns = now_ns();
	if (msgchan_host_reply(rpc->chans, chan, cmd->text, cmd->len)) {
		t->inflight = NULL;
		tclo_cmd_fail(cmd, "message too large for the channel");
	}
}

static struct tclo_cmd *host_cmd(const char *text)
{
	struct tclo_cmd *cmd = g_new0(struct tclo_cmd, 1);

	cmd->owner = -1;
	cmd->text = g_strdup(text);
	cmd->len = strlen(text);
	cmd->queued_ns = now_ns();
	return cmd;
}

static void tclo_received(struct rpc_state *rpc, int chan, const char *msg, size_t len)
{
	struct tclo_chan *t = &rpc->tclo[chan];
	struct tclo_cmd *cmd = t->inflight;
	char *reply;

	if (len && msg[len - 1] == '\0')
		len--;
	if (!cmd)
		return;		/* the guest's hello, or a result nobody asked for */
	t->inflight = NULL;
	reply = g_strndup(msg, len);
	if (t->step == 1 && !strcmp(cmd->text, "reset")) {
		/* "OK ATR <app>" names the application behind this channel. */
		if (g_str_has_prefix(reply, "OK ATR ") && valid_key(reply + 7)) {
			g_strlcpy(t->app, reply + 7, sizeof(t->app));
			/* Guest-triggered, as often as the guest likes: rate-limited. */
			vm_guest_log(rpc->vm, "guest tools '%s' attached on TCLO channel %d",
				     t->app, chan);
		} else {
			vm_guest_log(rpc->vm, "tclo: channel %d: unexpected reset reply", chan);
		}
		if (rpc->vm->notify)
			rpc->vm->notify(rpc->vm, "tools");
	}
	/* The tools registered: now their options, as VMware sends them (tools-options.c). */
	if (!cmd->done && !strcmp(cmd->text, "Capabilities_Register") && t->app[0]) {
		tools_options_attached(rpc->vm, t->app);
		if (!strcmp(t->app, TOOLS_APP_USER))
			copypaste_desktop_attached(rpc->vm, t->owner);
	}
	tclo_cmd_finish(cmd, 0, reply, strlen(reply));
	g_free(reply);
}

/* Another desktop channel ("toolbox-dnd") than those of guest context `owner`. */
static bool other_desktop_channel(const struct rpc_state *rpc, int owner)
{
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		if (rpc->tclo[i].active && rpc->tclo[i].owner != owner &&
		    !strcmp(rpc->tclo[i].app, TOOLS_APP_USER))
			return true;
	return false;
}

/* Guest context `owner` registered capability `name` with a value other than 0. */
static bool context_has_cap(const struct rpc_state *rpc, int owner, const char *name)
{
	char *key = g_strdup_printf("%d %s", owner, name);
	const char *v = g_hash_table_lookup(rpc->caps, key);

	g_free(key);
	return v && *v && strcmp(v, "0");
}

/* The capability a desktop command needs ("Resolution_Set ..."), or NULL. */
static const char *resize_cap(const char *text, size_t len)
{
	if (len > 15 && !memcmp(text, "Resolution_Set ", 15))
		return "resolution_set";
	if (len > 20 && !memcmp(text, "DisplayTopology_Set ", 20))
		return "display_topology_set";
	return NULL;
}

/*
 * VMware's vmusr (the context that registered copy/paste v4) is sent
 * resize commands only when it said it can resize: where it can't (no
 * VMware display driver, see README) it answers errors and leaves the
 * screen at some other size, as a VMware host never asks it.
 */
static bool channel_can_take(const struct rpc_state *rpc, const struct tclo_chan *t,
			     const char *cap)
{
	int vmusr = copypaste_v4_owner(rpc->vm);

	return !cap || vmusr < 0 || t->owner != vmusr || context_has_cap(rpc, t->owner, cap);
}

/*
 * Whether channel `t` may take `cmd`.  Two programs may attach as the
 * desktop tools ("toolbox-dnd"): porthole-agent and VMware's vmusr.  Each
 * has its own channel and they never share a command: one addressed to a
 * guest context (copy/paste v4 goes to the tools that registered it) goes
 * to that context's channel only, and the others (Resolution_Set,
 * DisplayTopology_Set) go to porthole-agent whenever it is attached, to
 * vmusr only when it is alone.  (A KVM guest is one context: there the
 * first poll takes them, as before.)
 */
static bool cmd_for(const struct rpc_state *rpc, const struct tclo_cmd *cmd,
		    const struct tclo_chan *t)
{
	int vmusr;

	if (!t->app[0] || strcmp(cmd->app ? cmd->app : TOOLS_APP_MAIN, t->app))
		return false;
	if (cmd->owner >= 0)
		return t->owner == cmd->owner;
	if (!channel_can_take(rpc, t, resize_cap(cmd->text, cmd->len)))
		return false;
	vmusr = copypaste_v4_owner(rpc->vm);
	if (!strcmp(t->app, TOOLS_APP_USER) && vmusr >= 0 && t->owner == vmusr)
		return !other_desktop_channel(rpc, vmusr);
	return true;
}

static void tclo_poll(struct rpc_state *rpc, int chan)
{
	struct tclo_chan *t = &rpc->tclo[chan];
	bool was_alive = rpc_tools_running(rpc, now_ns());

	t->last_poll_ns = now_ns();
	rpc->tclo_polls++;
	if (!was_alive && rpc->vm->notify)
		rpc->vm->notify(rpc->vm, "tools");
	if (t->inflight)
		return;		/* still waiting for the result of the last one */
	switch (t->step) {
	case 0:
		t->step = 1;
		tclo_send(rpc, chan, host_cmd("reset"));
		return;
	case 1:
		t->step = 2;
		tclo_send(rpc, chan, host_cmd("Capabilities_Register"));
		return;
	}
	for (GList *l = rpc->queue.head; l; l = l->next) {
		struct tclo_cmd *cmd = l->data;

		if (cmd_for(rpc, cmd, t)) {
			g_queue_delete_link(&rpc->queue, l);
			tclo_send(rpc, chan, cmd);
			return;
		}
	}
}

static bool app_attached(const struct rpc_state *rpc, const char *app)
{
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		if (rpc->tclo[i].active && !strcmp(rpc->tclo[i].app, app))
			return true;
	return false;
}

/* Some attached desktop channel may take command `text` (channel_can_take). */
static bool desktop_can_take(const struct rpc_state *rpc, const char *text, size_t len)
{
	const char *cap = resize_cap(text, len);

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		if (rpc->tclo[i].active && !strcmp(rpc->tclo[i].app, TOOLS_APP_USER) &&
		    channel_can_take(rpc, &rpc->tclo[i], cap))
			return true;
	return false;
}

/* Tell an application that maps its wakeup resource to poll now (see the top). */
static void tclo_wakeup(struct rpc_state *rpc, const char *app)
{
	struct ph_tclo_wakeup w = { .type = PH_TCLO_WAKEUP };
	uint32_t resource = ph_tclo_wakeup_resource(app);

	/*
	 * The main tools' wakeup only where guestd mapped it: a KVM guest's
	 * kernel gets unmapped datagrams, and commands for "toolbox" are many.
	 */
	if (resource == PH_DESKTOP_RES_TOOLS_WAKEUP && !vmci_hv_mapped(rpc->vm->vmci, resource))
		return;
	if (resource && rpc->vm->vmci &&
	    vmci_hv_send(rpc->vm->vmci, resource, &w, sizeof(w)) == VMCI_SUCCESS)
		rpc->tclo_wakeups++;
}

int rpc_tclo_send(struct rpc_state *rpc, const char *app, const char *text, size_t len,
		  rpc_tclo_done done, void *opaque)
{
	return rpc_tclo_send_to(rpc, app, -1, text, len, done, opaque);
}

int rpc_tclo_send_to(struct rpc_state *rpc, const char *app, int owner, const char *text,
		     size_t len, rpc_tclo_done done, void *opaque)
{
	struct tclo_cmd *cmd;

	if (g_queue_get_length(&rpc->queue) >= RPC_TCLO_QUEUE_MAX)
		return -EBUSY;
	if (len == 0 || len > GUESTMSG_MAX_SIZE)
		return -EINVAL;
	/*
	 * The main tools may be between channels (a reset) and get the command
	 * when they are back; a session application (the desktop agent) that
	 * isn't attached may never come: say so at once instead of after the
	 * timeout.
	 */
	if (app && strcmp(app, TOOLS_APP_MAIN) && !app_attached(rpc, app))
		return -ENOTCONN;
	if (app && !strcmp(app, TOOLS_APP_USER) && owner < 0 && !desktop_can_take(rpc, text, len))
		return -EOPNOTSUPP;	/* say so at once: nobody will ever take it */
	cmd = g_new0(struct tclo_cmd, 1);
	cmd->app = app ? g_strdup(app) : NULL;
	cmd->owner = owner;
	/* Binary commands (copy/paste v4 packets) hold NULs: copy every byte. */
	cmd->text = g_malloc(len + 1);
	memcpy(cmd->text, text, len);
	cmd->text[len] = '\0';
	cmd->len = len;
	cmd->queued_ns = now_ns();
	cmd->done = done;
	cmd->opaque = opaque;
	g_queue_push_tail(&rpc->queue, cmd);
	tclo_wakeup(rpc, app);
	return 0;
}

void rpc_expire(struct rpc_state *rpc, uint64_t now)
{
	GList *l = rpc->queue.head;

	while (l) {
		GList *next = l->next;
		struct tclo_cmd *cmd = l->data;

		if (now - cmd->queued_ns > RPC_TCLO_TIMEOUT_NS) {
			g_queue_delete_link(&rpc->queue, l);
			tclo_cmd_fail(cmd, "no guest tools took the command in time");
		}
		l = next;
	}
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++) {
		struct tclo_chan *t = &rpc->tclo[i];

		if (t->inflight && now - t->inflight_ns > RPC_TCLO_TIMEOUT_NS) {
			struct tclo_cmd *cmd = t->inflight;

			t->inflight = NULL;
			tclo_cmd_fail(cmd, "the guest tools did not answer in time");
		}
	}
}

/* ---- channel callbacks ---- */

static void on_received(void *opaque, int chan, uint32_t proto, const char *msg, size_t len)
{
	struct rpc_state *rpc = opaque;

	if (proto == RPCI_PROTOCOL_NUM)
		rpci_received(rpc, chan, msg, len);
	else
		tclo_received(rpc, chan, msg, len);
}

static void on_poll(void *opaque, int chan, uint32_t proto)
{
	if (proto == TCLO_PROTOCOL_NUM)
		tclo_poll(opaque, chan);
}

static void on_opened(void *opaque, int chan, uint32_t proto)
{
	struct rpc_state *rpc = opaque;

	if (proto == TCLO_PROTOCOL_NUM) {
		memset(&rpc->tclo[chan], 0, sizeof(rpc->tclo[chan]));
		rpc->tclo[chan].active = true;
		rpc->tclo[chan].owner = msgchan_host_owner(rpc->chans, chan);
		rpc->tclo[chan].opened_ns = now_ns();
	}
}

static void on_closed(void *opaque, int chan, uint32_t proto)
{
	struct rpc_state *rpc = opaque;
	struct tclo_chan *t = &rpc->tclo[chan];
	struct tclo_cmd *cmd = t->inflight;

	if (proto != TCLO_PROTOCOL_NUM)
		return;
	if (t->app[0])
		vm_guest_log(rpc->vm, "guest tools '%s' left TCLO channel %d", t->app, chan);
	memset(t, 0, sizeof(*t));
	if (cmd)
		tclo_cmd_fail(cmd, "the guest tools closed their channel");
	if (rpc->vm->notify)
		rpc->vm->notify(rpc->vm, "tools");
}

/* (The attribute lets clang check the callers' formats, as gcc does through ops.) */
static __attribute__((format(printf, 2, 3))) void on_log(void *opaque, const char *fmt, ...)
{
	struct rpc_state *rpc = opaque;
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	vm_guest_log(rpc->vm, "guestrpc: %s", line);
	g_free(line);
}

static uint64_t on_random(void *opaque)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)g_random_int() << 32 | g_random_int();
	return v;
}

static int mem_read(void *mem, uint64_t addr, void *buf, size_t len)
{
	return guest_read(mem, addr, buf, len);
}

static int mem_write(void *mem, uint64_t addr, const void *buf, size_t len)
{
	return guest_write(mem, addr, buf, len);
}

static const struct msgchan_host_ops chan_ops = {
	.received = on_received,
	.poll = on_poll,
	.opened = on_opened,
	.closed = on_closed,
	.log = on_log,
	.random = on_random,
	.mem_read = mem_read,
	.mem_write = mem_write,
};

struct rpc_state *rpc_new(struct vm *vm, bool offer_hb)
{
	struct rpc_state *rpc = g_new0(struct rpc_state, 1);
	/*
	 * One guest process may hold a quarter of the channels and of the
	 * bytes: a full-size message and its full-size reply, and far more
	 * channels than any tools program opens, but never enough to lock
	 * the others out.  A KVM guest is one owner (0) to the device model,
	 * so there only the global limits apply.
	 */
	struct msgchan_host_config cfg = {
		.offer_hb = offer_hb,
		.max_message = GUESTMSG_MAX_SIZE,
		.budget = RPC_BUDGET,
		.owner_idle_ns = 30ull * 1000000000ull,
		.owner_channels = GUESTMSG_MAX_CHANNEL / 4,
		.owner_budget = RPC_BUDGET / 4,
	};

	rpc->vm = vm;
	rpc->chans = msgchan_host_new(&cfg, &chan_ops, rpc);
	rpc->guestinfo = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rpc->caps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rpc->caps_exited = g_hash_table_new(g_direct_hash, g_direct_equal);
	rpc->failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_queue_init(&rpc->queue);
	return rpc;
}

void rpc_free(struct rpc_state *rpc)
{
	struct tclo_cmd *cmd;

	if (!rpc)
		return;
	msgchan_host_reset(rpc->chans);	/* fails in-flight commands */
	while ((cmd = g_queue_pop_head(&rpc->queue)))
		tclo_cmd_fail(cmd, "the VM stopped");
	msgchan_host_free(rpc->chans);
	g_hash_table_destroy(rpc->guestinfo);
	g_hash_table_destroy(rpc->caps);
	g_hash_table_destroy(rpc->caps_exited);
	g_hash_table_destroy(rpc->failures);
	g_free(rpc->tools_version_type);
	g_free(rpc);
}

struct msgchan_host *rpc_channels(struct rpc_state *rpc)
{
	return rpc->chans;
}

void rpc_reset_channels(struct rpc_state *rpc)
{
	bool agent = app_attached(rpc, PH_AGENT_TCLO_APP);
	bool tools = app_attached(rpc, TOOLS_APP_MAIN);

	msgchan_host_reset(rpc->chans);
	/* Idle tools find out at once, not at their next slow safety poll. */
	if (agent)
		tclo_wakeup(rpc, PH_AGENT_TCLO_APP);
	if (tools)
		tclo_wakeup(rpc, TOOLS_APP_MAIN);
}

void rpc_owner_exited(struct rpc_state *rpc, int owner)
{
	/*
	 * Its capabilities stay: registered by a short-lived process, such as
	 * vmware-rpctool or porthole-rpc, they are the VM's, as on VMware.
	 * A later registration of the same name replaces them.
	 */
	if (owner_has_caps(rpc, owner))
		g_hash_table_add(rpc->caps_exited, GINT_TO_POINTER(owner));
	msgchan_host_close_owner(rpc->chans, owner);
}

bool rpc_tools_running(struct rpc_state *rpc, uint64_t now)
{
	uint64_t alive_ns = RPC_TOOLS_ALIVE_NS;

	if (vmci_hv_mapped(rpc->vm->vmci, ph_tclo_wakeup_resource(TOOLS_APP_MAIN)))
		alive_ns = RPC_TOOLS_WOKEN_ALIVE_NS;
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++) {
		struct tclo_chan *t = &rpc->tclo[i];

		if (t->active && !strcmp(t->app, TOOLS_APP_MAIN) &&
		    now - t->last_poll_ns < alive_ns)
			return true;
	}
	return false;
}

static void format_version(GString *out, uint32_t v)
{
	if (v == TOOLS_VERSION_UNMANAGED)
		g_string_append(out, "unmanaged");
	else
		g_string_append_printf(out, "%u.%u.%u", v >> 10, (v >> 5) & 31, v & 31);
}

/* Guest strings in the status reply: each cut to this, the capability list to that. */
#define STATUS_TEXT_MAX		256
#define STATUS_CAPS_MAX		(16u << 10)

/*
 * "rpc.failures=NAME:COUNT:SPAN,...", sorted, guest names escaped (at most
 * 32 of them); SPAN is the seconds the last three failures took ("-" for
 * fewer): a small one is a retry loop.
 */
static void append_failures(struct rpc_state *rpc, GString *out)
{
	GList *names = g_list_sort(g_hash_table_get_keys(rpc->failures), (GCompareFunc)strcmp);

	g_string_append(out, "rpc.failures=");
	for (GList *l = names; l; l = l->next) {
		struct rpc_failure *f = g_hash_table_lookup(rpc->failures, l->data);

		if (l != names)
			g_string_append_c(out, ',');
		vm_append_guest_text(out, l->data, RPC_FAILURE_NAME_LEN, ",:=");
		g_string_append_printf(out, ":%llu:", (unsigned long long)f->count);
		if (f->count < 3)
			g_string_append_c(out, '-');
		else	/* the newest minus the oldest of the three */
			g_string_append_printf(out, "%.1f", (double)(f->last_ns[(f->count - 1) % 3] -
						       f->last_ns[f->count % 3]) / 1e9);
	}
	if (rpc->failures_unnamed)
		g_string_append_printf(out, "%s(others):%llu", names ? "," : "",
				       (unsigned long long)rpc->failures_unnamed);
	g_string_append_c(out, '\n');
	g_list_free(names);
}

void rpc_status(struct rpc_state *rpc, uint64_t now, GString *out)
{
	GHashTableIter it;
	gpointer k, v;
	const char *desc = g_hash_table_lookup(rpc->guestinfo, "guestinfo.vmtools.description");
	bool first = true;
	size_t caps_len = 0;
	unsigned int listed = 0;

	g_string_append_printf(out, "tools.status=%s\n",
			       rpc_tools_running(rpc, now) ? "running" : "not-running");
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++) {
		struct tclo_chan *t = &rpc->tclo[i];

		if (t->active && t->app[0])
			g_string_append_printf(out, "tools.app=%s channel=%d last-poll-ms=%llu\n",
					       t->app, i,
					       (unsigned long long)((now - t->last_poll_ns) / 1000000));
	}
	if (rpc->tools_version_set) {
		g_string_append(out, "tools.version=");
		format_version(out, rpc->tools_version);
		g_string_append_printf(out, "\ntools.version.number=%u\n", rpc->tools_version);
	}
	/* Guest text, escaped and cut (vm_append_guest_text): it can't forge lines. */
	if (rpc->tools_version_type) {
		g_string_append(out, "tools.version.type=");
		vm_append_guest_text(out, rpc->tools_version_type, 64, NULL);
		g_string_append_c(out, '\n');
	}
	if (desc) {
		g_string_append(out, "tools.description=");
		vm_append_guest_text(out, desc, STATUS_TEXT_MAX, NULL);
		g_string_append_c(out, '\n');
	}
	g_string_append(out, "tools.capabilities=");
	g_hash_table_iter_init(&it, rpc->caps);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		size_t start = out->len;

		/* The status reply must fit a control packet whatever the guest registered. */
		if (caps_len >= STATUS_CAPS_MAX) {
			g_string_append_printf(out, "%s...(+%u more)", first ? "" : ",",
					       g_hash_table_size(rpc->caps) - listed);
			break;
		}
		if (!first)
			g_string_append_c(out, ',');
		vm_append_guest_text(out, strchr(k, ' ') + 1, STATUS_TEXT_MAX, ",:=");
		if (*(char *)v) {
			g_string_append_c(out, ':');
			vm_append_guest_text(out, v, STATUS_TEXT_MAX, ",:=");
		}
		caps_len += out->len - start;
		listed++;
		first = false;
	}
	g_string_append_printf(out, "\nrpc.channels=%d\nrpc.buffered=%zu\nrpc.rpci-count=%llu\n",
			       msgchan_host_open_count(rpc->chans),
			       msgchan_host_buffered(rpc->chans),
			       (unsigned long long)rpc->rpci_count);
	g_string_append_printf(out, "rpc.tclo-wakeups=%llu\nrpc.tclo-polls=%llu\n",
			       (unsigned long long)rpc->tclo_wakeups,
			       (unsigned long long)rpc->tclo_polls);
	g_string_append_printf(out, "guestinfo.keys=%u\n", g_hash_table_size(rpc->guestinfo));
	if (rpc->statechange_set)
		g_string_append_printf(out, "tools.statechange=%u %s\ntools.statechange-reports=%lu\n",
				       rpc->statechange_id, rpc->statechange_ok ? "success" : "failure",
				       rpc->statechange_reports);
	append_failures(rpc, out);
}
