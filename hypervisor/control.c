// SPDX-License-Identifier: MIT
/*
 * The control socket: how host services (porthole-ctl, the viewer, ...) find
 * and talk to a running VM.  Protocol: control-proto.h.
 *
 * Runs in the main thread's GLib main loop.  Device state is reached under
 * vm->lock; completions that happen on the engine thread (a TCLO reply) are
 * handed back to the main loop before anything is written to a client.
 *
 * Status events (PH_CTL_SUBSCRIBE): devices call vm->notify with vm->lock
 * held, on any thread; we only set a bit there and let the main loop send
 * one coalesced PH_CTL_EVENT to every subscriber, at most one per
 * PH_CTL_EVENT_MIN_MS however often a guest changes things (a guest that
 * sets guestinfo in a loop must not make host services spin).
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "control-proto.h"
#include "control.h"
#include "devices/copypaste.h"
#include "devices/guestinfo.h"
#include "devices/namespace-db.h"
#include "devices/rpc.h"
#include "devices/tools-options.h"
#include "devices/vmci.h"
#include "devices/vmmouse.h"
#include "guest-clock.h"
#include "vm.h"

struct control {
	struct vm *vm;
	int listen_fd;
	guint listen_src, expire_src;
	char *dir, *path;
	GHashTable *clients;	/* id -> struct client */
	guint next_client;
	void (*stop)(void *);
	void *stop_opaque;

	/* Status events: set under ev_lock from any thread, sent by the main loop. */
	GMutex ev_lock;
	unsigned int ev_pending;	/* EVENT_* bits */
	guint ev_src;			/* the flush, when one is scheduled */
	gint64 ev_last_us;		/* when the last event went out */
	bool tools_running;		/* as last seen by on_expire */
	uint64_t status_reads;		/* PH_CTL_STATUS requests: shows who polls */
	bool events_stopped;		/* vm->notify unhooked (the VM may be gone) */
	struct console *console;	/* NULL: none (KVM engine) */
};

/* What changed, as PH_CTL_EVENT words: fixed strings, never guest text. */
static const char *const event_words[] = { "state", "tools", "guestinfo", "clipboard" };
#define EVENT_STATE	(1u << 0)
#define EVENT_TOOLS	(1u << 1)
#define EVENT_GUESTINFO	(1u << 2)
#define EVENT_CLIPBOARD	(1u << 3)

struct client {
	struct control *ctl;
	guint id;
	int fd;
	guint src;
	bool in_dispatch, dead;
	bool subscribed;	/* PH_CTL_SUBSCRIBE: gets PH_CTL_EVENT packets */
};

/* A TCLO request waiting for the guest; completes on any thread. */
struct tclo_wait {
	struct control *ctl;
	guint client;
	uint32_t seq;
	int status;
	char *reply;
	size_t len;
};

gboolean control_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= VM_NAME_MAX || name[0] == '.')
		return FALSE;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(name[i]) && !strchr("._-", name[i]))
			return FALSE;
	return TRUE;
}

static void client_free(gpointer p)
{
	struct client *c = p;

	console_detach(c->ctl->console, c->id);
	if (c->src)
		g_source_remove(c->src);
	/*
	 * Shut the connection itself down, not just our descriptor: the VMCI
	 * device holds a dup of it (vmci_control), and a client we drop must
	 * see the end (and the device its hang-up) rather than wait forever
	 * (found by tests/fuzz/fuzz-control).
	 */
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	g_free(c);
}

/* Forget a client; inside its own callback, on_client() finishes the job. */
static void client_drop(struct client *c)
{
	if (c->in_dispatch)
		c->dead = true;
	else
		g_hash_table_remove(c->ctl->clients, GUINT_TO_POINTER(c->id));
}

static int send_reply(struct client *c, uint16_t op, uint32_t seq, int status, const void *data,
		      size_t len, int pass_fd)
{
	struct ph_ctl_hdr hdr = {
		.magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION, .op = op, .seq = seq,
		.status = status, .len = (uint32_t)len,
	};
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)data, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (len > PH_CTL_MAX_PAYLOAD) {
		hdr.status = EMSGSIZE;
		hdr.len = 0;
		msg.msg_iovlen = 1;
	}
	if (pass_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -1;
	return 0;
}

static gboolean tclo_deliver(gpointer p)
{
	struct tclo_wait *w = p;
	struct client *c = g_hash_table_lookup(w->ctl->clients, GUINT_TO_POINTER(w->client));

	if (c && send_reply(c, PH_CTL_TCLO, w->seq, w->status, w->reply, w->len, -1))
		client_drop(c);
	g_free(w->reply);
	g_free(w);
	return G_SOURCE_REMOVE;
}

/* Called with vm->lock held, possibly on the engine thread. */
static void tclo_done(void *opaque, int status, const char *reply, size_t len)
{
	struct tclo_wait *w = opaque;

	w->status = status ? ETIMEDOUT : 0;
	w->reply = g_strndup(reply, len);
	w->len = len;
	g_idle_add(tclo_deliver, w);
}

static unsigned int count_subscribers(struct control *ctl)
{
	GHashTableIter it;
	gpointer v;
	unsigned int n = 0;

	g_hash_table_iter_init(&it, ctl->clients);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += ((struct client *)v)->subscribed && !((struct client *)v)->dead;
	return n;
}

static void op_status(struct client *c, const struct ph_ctl_hdr *h)
{
	struct vm *vm = c->ctl->vm;
	GString *s = g_string_new(NULL);
	static const char *const states[] = { "starting", "running", "stopped" };

	pthread_mutex_lock(&vm->lock);
	g_string_append_printf(s, "name=%s\nengine=%s\nstate=%s\nuptime=%.1f\nram=%llu\n",
			       vm->name, vm->engine, states[vm->state], vm_uptime(vm),
			       (unsigned long long)vm->ram_size);
	g_string_append_printf(s, "pid=%d\nboots=%u\n", (int)getpid(), vm->boots);
	g_string_append_printf(s, "control.status-reads=%llu\ncontrol.subscribers=%u\n",
			       (unsigned long long)++c->ctl->status_reads, count_subscribers(c->ctl));
	if (vm->engine_status)
		g_string_append(s, vm->engine_status);
	if (!strcmp(vm->engine, "trap"))
		g_string_append_printf(s, "engine.traps=%llu\n", atomic_load(&vm->traps));
	if (vm->first_backdoor_us)
		g_string_append_printf(s, "first-backdoor-ms=%.1f\n",
				       vm_ms_since_process_start(vm->first_backdoor_us));
	if (vm->rpc)
		rpc_status(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000u, s);
	tools_options_status(vm, s);
	copypaste_status(vm, s);
	guestinfo_status(vm, s);
	namespace_db_status(vm, s);
	vmci_status(vm->vmci, s);
	pthread_mutex_unlock(&vm->lock);
	if (send_reply(c, h->op, h->seq, 0, s->str, s->len, -1))
		client_drop(c);
	g_string_free(s, TRUE);
}

static gboolean flush_events(gpointer p);

/* With ctl->ev_lock held. */
static void schedule_flush(struct control *ctl)
{
	gint64 wait_us = ctl->ev_last_us + PH_CTL_EVENT_MIN_MS * 1000 - g_get_monotonic_time();

	if (ctl->ev_src)
		return;
	if (wait_us > 0)
		ctl->ev_src = g_timeout_add((guint)(wait_us / 1000) + 1, flush_events, ctl);
	else
		ctl->ev_src = g_idle_add(flush_events, ctl);
}

static void post_event(struct control *ctl, unsigned int bits)
{
	g_mutex_lock(&ctl->ev_lock);
	ctl->ev_pending |= bits;
	schedule_flush(ctl);
	g_mutex_unlock(&ctl->ev_lock);
}

/* vm->notify: vm->lock held, any thread. */
static void on_vm_notify(struct vm *vm, const char *what)
{
	unsigned int bits = EVENT_TOOLS;

	if (!strcmp(what, "guestinfo"))
		bits = EVENT_GUESTINFO;
	else if (!strcmp(what, "state"))
		bits = EVENT_STATE;
	else if (!strcmp(what, "clipboard"))
		bits = EVENT_CLIPBOARD;
	post_event(vm->notify_opaque, bits);
}

static gboolean flush_events(gpointer p)
{
	struct control *ctl = p;
	GHashTableIter it;
	gpointer v;
	GPtrArray *dead = g_ptr_array_new();
	GString *words = g_string_new(NULL);
	unsigned int bits;

	g_mutex_lock(&ctl->ev_lock);
	ctl->ev_src = 0;
	if (g_get_monotonic_time() - ctl->ev_last_us < PH_CTL_EVENT_MIN_MS * 1000) {
		schedule_flush(ctl);	/* too soon after the last one: later */
		g_mutex_unlock(&ctl->ev_lock);
		goto out;
	}
	bits = ctl->ev_pending;
	ctl->ev_pending = 0;
	ctl->ev_last_us = g_get_monotonic_time();
	g_mutex_unlock(&ctl->ev_lock);

	for (unsigned int i = 0; i < G_N_ELEMENTS(event_words); i++)
		if (bits & (1u << i))
			g_string_append_printf(words, "%s%s", words->len ? " " : "",
					       event_words[i]);
	if (!words->len)
		goto out;
	g_hash_table_iter_init(&it, ctl->clients);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct client *c = v;

		if (!c->subscribed || c->dead)
			continue;
		/* A full socket holds unread events already: this one may go. */
		if (send_reply(c, PH_CTL_EVENT, 0, 0, words->str, words->len, -1) &&
		    errno != EAGAIN)
			g_ptr_array_add(dead, c);
	}
	for (guint i = 0; i < dead->len; i++)
		client_drop(dead->pdata[i]);
out:
	g_string_free(words, TRUE);
	g_ptr_array_free(dead, TRUE);
	return G_SOURCE_REMOVE;
}

static void handle(struct client *c, const struct ph_ctl_hdr *h, char *payload)
{
	struct vm *vm = c->ctl->vm;
	int status = 0;
	char *value = NULL;
	const char *why = NULL;

	switch (h->op) {
	case PH_CTL_STATUS:
		op_status(c, h);
		return;
	case PH_CTL_VMCI_BIND ... PH_CTL_VMCI_DOORBELL: {
		GByteArray *out = g_byte_array_new();

		pthread_mutex_lock(&vm->lock);
		status = vmci_control(vm->vmci, c->id, c->fd, h->op, payload, h->len, out);
		pthread_mutex_unlock(&vm->lock);
		if (send_reply(c, h->op, h->seq, status, out->data, out->len, -1))
			client_drop(c);
		g_byte_array_free(out, TRUE);
		return;
	}
	case PH_CTL_INFO_GET:
		pthread_mutex_lock(&vm->lock);
		value = vm->rpc ? rpc_info_get(vm->rpc, payload) : NULL;
		pthread_mutex_unlock(&vm->lock);
		status = value ? 0 : ENOENT;
		break;
	case PH_CTL_INFO_LIST: {
		GString *s = g_string_new(NULL);

		pthread_mutex_lock(&vm->lock);
		if (vm->rpc)
			rpc_info_list(vm->rpc, s);
		pthread_mutex_unlock(&vm->lock);
		if (send_reply(c, h->op, h->seq, 0, s->str, s->len, -1))
			client_drop(c);
		g_string_free(s, TRUE);
		return;
	}
	case PH_CTL_INFO_SET: {
		char *sp = strchr(payload, ' ');

		if (!sp) {
			status = EINVAL;
			break;
		}
		*sp = '\0';
		pthread_mutex_lock(&vm->lock);
		if (!vm->rpc || rpc_info_set(vm->rpc, payload, sp + 1, &why))
			status = EINVAL;
		pthread_mutex_unlock(&vm->lock);
		value = g_strdup(why ? why : "");
		break;
	}
	case PH_CTL_TCLO: {
		struct tclo_wait *w = g_new0(struct tclo_wait, 1);
		char *cmd = payload, *app = NULL, *colon = strchr(payload, ':');
		int err;

		/* "app:command" picks the tools application; plain commands go to "toolbox". */
		if (colon && !memchr(payload, ' ', (size_t)(colon - payload))) {
			*colon = '\0';
			app = payload;
			cmd = colon + 1;
		}
		w->ctl = c->ctl;
		w->client = c->id;
		w->seq = h->seq;
		pthread_mutex_lock(&vm->lock);
		err = vm->rpc ? rpc_tclo_send(vm->rpc, app, cmd, strlen(cmd), tclo_done, w) : -ESRCH;
		pthread_mutex_unlock(&vm->lock);
		if (!err)
			return;		/* the reply comes when the guest answers */
		g_free(w);
		status = -err;
		break;
	}
	case PH_CTL_SUBSCRIBE:
		c->subscribed = true;
		break;
	case PH_CTL_MEMORY:
		value = g_strdup_printf("ram 0x0 %llu\n", (unsigned long long)vm->ram_size);
		if (send_reply(c, h->op, h->seq, 0, value, strlen(value), vm->ram_fd))
			client_drop(c);
		g_free(value);
		return;
	case PH_CTL_CONSOLE: {
		int fd = c->ctl->console ? console_attach(c->ctl->console, c->id) : -ENODEV;

		if (fd < 0) {
			status = -fd;
			break;
		}
		value = g_strdup_printf("log=%s\n", console_log_path(c->ctl->console));
		if (send_reply(c, h->op, h->seq, 0, value, strlen(value), fd)) {
			console_detach(c->ctl->console, c->id);
			client_drop(c);
		}
		g_free(value);
		return;
	}
	case PH_CTL_RESET_CHANNELS:
		pthread_mutex_lock(&vm->lock);
		if (vm->rpc)
			rpc_reset_channels(vm->rpc);
		pthread_mutex_unlock(&vm->lock);
		g_message("GuestRPC channels reset by the host");
		break;
	case PH_CTL_CLOCK: {
		GString *s = g_string_new(NULL);

		/* Only the trap engine's guests read this clock; a KVM guest has its own. */
		if (strcmp(vm->engine, "trap")) {
			g_string_append_printf(s, "the %s engine's guest keeps its own clock",
					       vm->engine);
			status = EOPNOTSUPP;
		} else {
			status = guest_clock_control(vm->clock, payload, s);
		}
		value = g_string_free(s, FALSE);
		break;
	}
	case PH_CTL_CLIPBOARD_POLICY_GET ... PH_CTL_CLIPBOARD_GUEST_TEXT: {
		GString *s = g_string_new(NULL);

		pthread_mutex_lock(&vm->lock);
		status = copypaste_control(vm, h->op, payload, h->len, s);
		pthread_mutex_unlock(&vm->lock);
		if (send_reply(c, h->op, h->seq, status, s->str, s->len, -1))
			client_drop(c);
		g_string_free(s, TRUE);
		return;
	}
	case PH_CTL_POINTER:
		pthread_mutex_lock(&vm->lock);
		status = vm->vmmouse ? vmmouse_host_event(vm->vmmouse, payload, &why) : ENODEV;
		pthread_mutex_unlock(&vm->lock);
		value = g_strdup(why ? why : "");
		break;
	case PH_CTL_POINTER_STATUS: {
		GString *s = g_string_new(NULL);

		pthread_mutex_lock(&vm->lock);
		if (vm->vmmouse)
			vmmouse_status(vm->vmmouse, s);
		else
			status = ENODEV;
		pthread_mutex_unlock(&vm->lock);
		value = g_string_free(s, FALSE);
		break;
	}
	case PH_CTL_NAMESPACE: {
		GString *s = g_string_new(NULL);

		pthread_mutex_lock(&vm->lock);
		status = namespace_db_control(vm, payload, s);
		pthread_mutex_unlock(&vm->lock);
		value = g_string_free(s, FALSE);
		break;
	}
	case PH_CTL_SYNC_TIME:
		if (*payload && strcmp(payload, "on") && strcmp(payload, "off")) {
			status = EINVAL;
			value = g_strdup("expected on or off");
			break;
		}
		pthread_mutex_lock(&vm->lock);
		if (*payload)
			tools_options_set_sync_time(vm, !strcmp(payload, "on"));
		value = g_strdup_printf("synctime=%d\n", tools_options_sync_time(vm));
		pthread_mutex_unlock(&vm->lock);
		if (*payload)
			g_message("periodic time sync turned %s by the host", payload);
		break;
	case PH_CTL_STOP:
		g_message("stop requested over the control socket");
		if (c->ctl->stop)
			c->ctl->stop(c->ctl->stop_opaque);
		break;
	default:
		status = EOPNOTSUPP;
		break;
	}
	if (send_reply(c, h->op, h->seq, status, value, value ? strlen(value) : 0, -1))
		client_drop(c);
	g_free(value);
}

static void client_request(struct client *c)
{
	struct ph_ctl_hdr h;
	char *buf = g_malloc(sizeof(h) + PH_CTL_MAX_PAYLOAD + 1);
	ssize_t n = recv(c->fd, buf, sizeof(h) + PH_CTL_MAX_PAYLOAD + 1, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0) {
		client_drop(c);
		goto out;
	}
	memcpy(&h, buf, MIN((size_t)n, sizeof(h)));
	if ((size_t)n < sizeof(h) || h.magic != PH_CTL_MAGIC || h.version != PH_CTL_VERSION ||
	    h.len > PH_CTL_MAX_PAYLOAD || (size_t)n != sizeof(h) + h.len) {
		g_message("control: malformed request (%zd bytes), dropping client", n);
		client_drop(c);
		goto out;
	}
	buf[sizeof(h) + h.len] = '\0';
	if (!ph_ctl_op_binary(h.op) && strlen(buf + sizeof(h)) != h.len) {
		if (send_reply(c, h.op, h.seq, EINVAL, NULL, 0, -1))
			client_drop(c);
	} else {
		handle(c, &h, buf + sizeof(h));
	}
out:
	g_free(buf);
}

static gboolean on_client(gint fd, GIOCondition cond, gpointer p)
{
	struct client *c = p;

	c->in_dispatch = true;
	client_request(c);
	c->in_dispatch = false;
	if (c->dead) {
		c->src = 0;	/* returning REMOVE destroys the source */
		g_hash_table_remove(c->ctl->clients, GUINT_TO_POINTER(c->id));
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/*
 * Whether process `pid` is in another user namespace than ours: a guest
 * of the trap engine (or any sandboxed process) even where its uid is
 * ours (--host-root, or no range of guest ids).  A peer we may not look
 * at (another uid: root) is not taken for one.
 */
static bool peer_in_other_userns(pid_t pid)
{
	char path[64], theirs[64], ours[64];
	ssize_t n, m;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	n = readlink(path, theirs, sizeof(theirs) - 1);
	err = errno;
	m = readlink("/proc/self/ns/user", ours, sizeof(ours) - 1);
	if (n <= 0 || m <= 0)
		return n <= 0 && err == ENOENT;	/* gone: refuse */
	return n != m || memcmp(theirs, ours, (size_t)n);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer p)
{
	struct control *ctl = p;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		g_message("control: refusing a client of uid %u", (unsigned int)cred.uid);
		close(cfd);
		return G_SOURCE_CONTINUE;
	}
	if (peer_in_other_userns(cred.pid)) {
		g_message("control: refusing process %d: it runs in another user namespace "
			  "(a guest?)", (int)cred.pid);
		close(cfd);
		return G_SOURCE_CONTINUE;
	}
	control_add_client(ctl, cfd);
	return G_SOURCE_CONTINUE;
}

void control_add_client(struct control *ctl, int fd)
{
	struct client *c = g_new0(struct client, 1);

	c->ctl = ctl;
	c->fd = fd;
	c->id = ++ctl->next_client;
	c->src = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client, c);
	g_hash_table_insert(ctl->clients, GUINT_TO_POINTER(c->id), c);
}

static gboolean on_expire(gpointer p)
{
	struct control *ctl = p;
	uint64_t now = (uint64_t)g_get_monotonic_time() * 1000u;
	bool running = false;

	pthread_mutex_lock(&ctl->vm->lock);
	if (ctl->vm->rpc) {
		rpc_expire(ctl->vm->rpc, now);
		running = rpc_tools_running(ctl->vm->rpc, now);
	}
	pthread_mutex_unlock(&ctl->vm->lock);
	/* At most a write a second, whatever the guest sets. */
	namespace_db_flush(ctl->vm);
	/*
	 * Tools that stop polling change the status with no call to notify
	 * (a poll that brings them back does call it).
	 */
	if (!running && ctl->tools_running)
		post_event(ctl, EVENT_TOOLS);
	ctl->tools_running = running;
	return G_SOURCE_CONTINUE;
}

/* The socket directory must be ours and private: other users can't plant sockets there. */
static int prepare_dir(const char *dir, GError **error)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot create %s: %s", dir, g_strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "%s must be a directory owned by uid %u with mode 0700", dir,
			    (unsigned int)getuid());
		return -1;
	}
	return 0;
}

void control_set_console(struct control *ctl, struct console *con)
{
	ctl->console = con;
}

struct control *control_start(struct vm *vm, void (*stop)(void *), void *stop_opaque,
			      GError **error)
{
	struct control *ctl = g_new0(struct control, 1);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];

	ctl->vm = vm;
	ctl->stop = stop;
	ctl->stop_opaque = stop_opaque;
	ctl->listen_fd = -1;
	ctl->clients = g_hash_table_new_full(NULL, NULL, NULL, client_free);
	g_mutex_init(&ctl->ev_lock);
	if (ph_ctl_dir(dir, sizeof(dir)) || prepare_dir(dir, error))
		goto fail;
	ctl->dir = g_strdup(dir);
	ctl->path = g_strdup_printf("%s/%s" PH_CTL_SUFFIX, dir, vm->name);
	if (strlen(ctl->path) >= sizeof(sa.sun_path)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "socket path too long");
		goto fail;
	}
	strcpy(sa.sun_path, ctl->path);
	ctl->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->listen_fd < 0)
		goto fail_errno;
	/* A socket left by a VM that crashed is stale; one that answers is a live VM. */
	if (connect(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "a VM named '%s' is already running (%s)", vm->name, ctl->path);
		goto fail;
	}
	close(ctl->listen_fd);
	unlink(ctl->path);
	ctl->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->listen_fd < 0 || bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ctl->listen_fd, 16))
		goto fail_errno;
	ctl->listen_src = g_unix_fd_add(ctl->listen_fd, G_IO_IN, on_accept, ctl);
	ctl->expire_src = g_timeout_add_seconds(1, on_expire, ctl);
	pthread_mutex_lock(&vm->lock);
	vm->notify_opaque = ctl;
	vm->notify = on_vm_notify;
	pthread_mutex_unlock(&vm->lock);
	return ctl;

fail_errno:
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "control socket %s: %s",
		    ctl->path ? ctl->path : dir, g_strerror(errno));
fail:
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	g_hash_table_destroy(ctl->clients);
	g_mutex_clear(&ctl->ev_lock);
	g_free(ctl->dir);
	g_free(ctl->path);
	g_free(ctl);
	return NULL;
}

const char *control_socket_path(struct control *ctl)
{
	return ctl->path;
}

/*
 * No more events: the engine thread may still call notify until we unhook
 * it.  Once only: after control_quiesce() the VM may be gone.
 */
static void stop_events(struct control *ctl)
{
	if (ctl->events_stopped)
		return;
	ctl->events_stopped = true;
	pthread_mutex_lock(&ctl->vm->lock);
	if (ctl->vm->notify_opaque == ctl) {
		ctl->vm->notify = NULL;
		ctl->vm->notify_opaque = NULL;
	}
	pthread_mutex_unlock(&ctl->vm->lock);
	g_mutex_lock(&ctl->ev_lock);
	if (ctl->ev_src)
		g_source_remove(ctl->ev_src);
	ctl->ev_src = 0;
	g_mutex_unlock(&ctl->ev_lock);
}

void control_quiesce(struct control *ctl)
{
	GHashTableIter it;
	gpointer c;

	stop_events(ctl);
	if (ctl->listen_src)
		g_source_remove(ctl->listen_src);
	if (ctl->expire_src)
		g_source_remove(ctl->expire_src);
	ctl->listen_src = ctl->expire_src = 0;
	g_hash_table_iter_init(&it, ctl->clients);
	while (g_hash_table_iter_next(&it, NULL, &c)) {
		struct client *cl = c;

		if (cl->src)
			g_source_remove(cl->src);
		cl->src = 0;
	}
}

void control_stop(struct control *ctl)
{
	if (!ctl)
		return;
	stop_events(ctl);
	if (ctl->listen_src)
		g_source_remove(ctl->listen_src);
	if (ctl->expire_src)
		g_source_remove(ctl->expire_src);
	unlink(ctl->path);
	close(ctl->listen_fd);
	g_hash_table_destroy(ctl->clients);
	g_mutex_clear(&ctl->ev_lock);
	g_free(ctl->dir);
	g_free(ctl->path);
	g_free(ctl);
}
