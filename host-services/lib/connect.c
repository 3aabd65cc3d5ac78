// SPDX-License-Identifier: MIT
/*
 * Talking to a running VM over its control socket.  See porthole-host.h.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "porthole-host.h"

#define PH_ERROR g_quark_from_static_string("porthole-host")

static int socket_path(const char *name, struct sockaddr_un *sa)
{
	char dir[sizeof(sa->sun_path)];
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (ph_ctl_dir(dir, sizeof(dir)))
		return -1;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s" PH_CTL_SUFFIX, dir, name);
	return (n < 0 || (size_t)n >= sizeof(sa->sun_path)) ? -1 : 0;
}

int ph_connect(const char *name, GError **error)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (!*name || strchr(name, '/') || socket_path(name, &sa)) {
		g_set_error(error, PH_ERROR, EINVAL, "bad VM name '%s'", name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		g_set_error(error, PH_ERROR, e, "no running VM named '%s' (%s: %s)", name,
			    sa.sun_path, g_strerror(e));
		return -1;
	}
	/* Only trust a hypervisor run by us (or root). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		close(fd);
		g_set_error(error, PH_ERROR, EPERM, "VM socket %s belongs to another user",
			    sa.sun_path);
		return -1;
	}
	return fd;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *ph_list_vms(void)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	char dir[108];
	DIR *d;
	struct dirent *e;

	if (ph_ctl_dir(dir, sizeof(dir)) || !(d = opendir(dir)))
		return names;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), sl = strlen(PH_CTL_SUFFIX);
		char *name;
		int fd;

		if (n <= sl || strcmp(e->d_name + n - sl, PH_CTL_SUFFIX))
			continue;
		name = g_strndup(e->d_name, n - sl);
		fd = ph_connect(name, NULL);	/* a stale socket doesn't answer */
		if (fd >= 0) {
			close(fd);
			g_ptr_array_add(names, name);
		} else {
			g_free(name);
		}
	}
	closedir(d);
	g_ptr_array_sort(names, compare_names);
	return names;
}

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

int ph_call(int fd, enum ph_ctl_op op, const char *payload, int timeout_ms,
	    struct ph_reply *reply, GError **error)
{
	return ph_call_len(fd, op, payload, payload ? strlen(payload) : 0, timeout_ms, reply,
			   error);
}

int ph_call_len(int fd, enum ph_ctl_op op, const void *payload, size_t plen, int timeout_ms,
		struct ph_reply *reply, GError **error)
{
	static gint next_seq;	/* atomic: porthole-hostd calls from several threads */
	struct ph_ctl_hdr h = {
		.magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION, .op = (uint16_t)op,
		.seq = (uint32_t)g_atomic_int_add(&next_seq, 1) + 1, .len = (uint32_t)plen,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, plen } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	int64_t deadline = now_ms() + timeout_ms;
	char *buf;

	reply->status = 0;
	reply->data = g_string_new(NULL);
	reply->fd = -1;
	if (plen > PH_CTL_MAX_PAYLOAD) {
		g_set_error(error, PH_ERROR, EMSGSIZE, "request too large (%zu bytes)", plen);
		return -1;
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
		g_set_error(error, PH_ERROR, errno, "send: %s", g_strerror(errno));
		return -1;
	}
	buf = g_malloc(sizeof(h) + PH_CTL_MAX_PAYLOAD);
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cm;
		struct ph_ctl_hdr rh;
		struct iovec riov = { buf, sizeof(h) + PH_CTL_MAX_PAYLOAD };
		struct msghdr rmsg = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cm.b,
				       .msg_controllen = sizeof(cm.b) };
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			g_set_error(error, PH_ERROR, ETIMEDOUT, "no reply from the VM in %d ms",
				    timeout_ms);
			break;
		}
		n = recvmsg(fd, &rmsg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error, PH_ERROR, n ? errno : ECONNRESET,
				    "the VM closed the connection");
			break;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&rmsg); c; c = CMSG_NXTHDR(&rmsg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				if (reply->fd >= 0)
					close(reply->fd);
				memcpy(&reply->fd, CMSG_DATA(c), sizeof(int));
			}
		memcpy(&rh, buf, MIN((size_t)n, sizeof(rh)));
		if ((size_t)n < sizeof(rh) || rh.magic != PH_CTL_MAGIC ||
		    (size_t)n != sizeof(rh) + rh.len) {
			g_set_error(error, PH_ERROR, EPROTO, "malformed reply from the VM");
			break;
		}
		if (rh.seq != h.seq)
			continue;	/* a late reply to an earlier request */
		reply->status = rh.status;
		g_string_append_len(reply->data, buf + sizeof(rh), rh.len);
		g_free(buf);
		return 0;
	}
	g_free(buf);
	if (reply->fd >= 0)
		close(reply->fd);
	reply->fd = -1;
	return -1;
}

void ph_reply_clear(struct ph_reply *reply)
{
	if (reply->data)
		g_string_free(reply->data, TRUE);
	reply->data = NULL;
	if (reply->fd >= 0)
		close(reply->fd);
	reply->fd = -1;
}

int ph_call_once(const char *name, enum ph_ctl_op op, const char *payload, int timeout_ms,
		 struct ph_reply *reply, GError **error)
{
	int fd = ph_connect(name, error);
	int r;

	if (fd < 0)
		return -1;
	r = ph_call(fd, op, payload, timeout_ms, reply, error);
	close(fd);
	return r;
}

int ph_map_ram(int ctl_fd, struct ph_guest_ram *ram, GError **error)
{
	struct ph_reply r;
	unsigned long long base, size;
	int ret = -1;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	if (ph_call(ctl_fd, PH_CTL_MEMORY, NULL, 5000, &r, error))
		return -1;
	if (r.status || r.fd < 0 ||
	    sscanf(r.data->str, "ram %llx %llu", &base, &size) != 2 || base != 0 || !size) {
		g_set_error(error, PH_ERROR, EPROTO, "the VM did not describe its memory");
		goto out;
	}
	ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (ram->base == MAP_FAILED) {
		g_set_error(error, PH_ERROR, errno, "mmap guest RAM: %s", g_strerror(errno));
		ram->base = NULL;
		goto out;
	}
	ram->size = size;
	ram->fd = r.fd;
	r.fd = -1;
	ret = 0;
out:
	ph_reply_clear(&r);
	return ret;
}

void ph_unmap_ram(struct ph_guest_ram *ram)
{
	if (ram->base)
		munmap(ram->base, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	ram->base = NULL;
	ram->fd = -1;
}
