// SPDX-License-Identifier: MIT
/*
 * porthole-vmci: the host end of the VMCI channel from a shell.
 *
 *   porthole-vmci VM send SRC_RID GUEST_RID TEXT
 *   porthole-vmci VM recv RID [COUNT]               print COUNT datagrams
 *   porthole-vmci VM echo RID [COUNT]               send each one back
 *   porthole-vmci VM stream-recv RID [-o FILE] [--detach-after BYTES] [--count N]
 *                                   [--blocks] [--progress] [--await-full] [--chunk BYTES]
 *   porthole-vmci VM stream-send RID (FILE | -n BYTES)
 *   porthole-vmci - baseline BYTES                  memcpy and AF_UNIX, 1 MiB writes
 *   (streams take --raw: no per-byte test pattern or checksum, for benchmarks)
 *
 * Streams follow backdoor/vmci-stream.h; a receiver prints
 * "received=N sum=S seconds=T gbps=G".  With --blocks the stream is the
 * block pattern: S is the word checksum (vmci_wsum, a then b in hex) and
 * every byte is checked against the pattern ("pattern=ok", or
 * "pattern=bad offset=O" at the first 8-byte word that differs), also after
 * a failed receive ("error=E received=N pattern=...": what arrived was right).
 * --progress reports every 64 MiB on stderr.  --await-full holds off reading
 * (up to 10 s) until the sender has flagged that it sleeps on a full queue,
 * so its wakeup path runs even when the receiver is much the faster side.
 * --chunk B reads (and checks) B bytes at a time, a multiple of 8 (1 MiB).
 * Timeouts: 60 s without the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backdoor/vmci-stream.h"
#include "host-services/lib/vmci-host.h"

#define CHUNK		(1u << 20)
#define WAIT_MS		60000

static double now_s(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

static uint32_t num(const char *s)
{
	return (uint32_t)strtoul(s, NULL, 0);
}

static int usage(void)
{
	fprintf(stderr, "usage: porthole-vmci VM send SRC_RID GUEST_RID TEXT | recv RID [COUNT] | "
		"echo RID [COUNT] |\n  stream-recv RID [-o FILE] [--detach-after B] [--count N] "
		"[--blocks] [--progress] [--await-full] [--chunk B] | "
		"stream-send RID (FILE | -n BYTES)\n  porthole-vmci - baseline BYTES\n");
	return 2;
}

/* Wait for a stream offer on our bound resource; skips anything else. */
static int wait_offer(struct phh_vmci *h, uint32_t dir, struct vmci_stream_offer *o)
{
	for (;;) {
		struct phh_dg d;
		int r = phh_vmci_recv(h, &d, WAIT_MS);

		if (r)
			return r;
		if (d.hdr.payload_size == sizeof(*o)) {
			memcpy(o, d.payload, sizeof(*o));
			if (o->magic == VMCI_STREAM_MAGIC && o->dir == dir) {
				g_free(d.payload);
				return 0;
			}
		}
		g_free(d.payload);
	}
}

/* The block pattern's chunk 0 with word 0 left to each chunk (backdoor/vmci-stream.h). */
static uint8_t *block_pattern(void)
{
	uint8_t *b = g_malloc0(VMCI_BLOCK_BYTES);

	for (uint64_t i = 1; i < VMCI_BLOCK_WORDS; i++) {
		uint64_t w = vmci_block_word(i);

		memcpy(b + 8 * i, &w, 8);
	}
	return b;
}

/*
 * Check len bytes at stream offset `off` (a multiple of 8) against the block
 * pattern: UINT64_MAX, or the stream offset of the first word that differs.
 */
static uint64_t block_check(const uint8_t *pattern, const uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len;) {
		uint64_t pos = (off + i) % VMCI_BLOCK_BYTES;
		size_t n = MIN(len - i, VMCI_BLOCK_BYTES - pos);

		if (pos == 0) {
			uint64_t seq = vmci_block_seq((off + i) / VMCI_BLOCK_BYTES);
			size_t m = MIN(n, 8);

			if (memcmp(buf + i, &seq, m))
				return off + i;
			pos += m;
			i += m;
			n -= m;
		}
		if (n && memcmp(buf + i, pattern + pos, n)) {
			while (!memcmp(buf + i, pattern + pos, MIN(n, 8))) {
				pos += 8;
				i += 8;
				n -= 8;
			}
			return off + i;
		}
		i += n;
	}
	return UINT64_MAX;
}

static int stream_recv(struct phh_vmci *h, uint32_t rid, int argc, char **argv)
{
	uint64_t detach_after = UINT64_MAX;
	size_t chunk = CHUNK;	/* bytes read (and checked) at a time */
	const char *out = NULL;
	unsigned int count = 1;
	bool raw = false, blocks = false, progress = false, await_full = false;
	uint8_t *pattern = NULL;
	int ret = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--detach-after") && i + 1 < argc)
			detach_after = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = num(argv[++i]);
		else if (!strcmp(argv[i], "--raw"))
			raw = true;
		else if (!strcmp(argv[i], "--blocks"))
			blocks = true;
		else if (!strcmp(argv[i], "--progress"))
			progress = true;
		else if (!strcmp(argv[i], "--await-full"))
			await_full = true;
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = strtoul(argv[++i], NULL, 0) / 8 * 8;
	}
	chunk = CLAMP(chunk, 8, CHUNK);
	if (blocks)
		pattern = block_pattern();
	printf("ready\n");
	for (unsigned int s = 0; s < count; s++) {
		struct vmci_stream_offer o;
		struct phh_qp qp;
		uint64_t bytes = 0, done = 0, sum = 0, bad = UINT64_MAX;
		struct vmci_wsum wsum = { 0, 0, 0 };
		char verdict[48];
		uint8_t *buf;
		int fd = -1, r;
		double t0, dt;

		r = wait_offer(h, VMCI_STREAM_TO_HOST, &o);
		if (r) {
			printf("error=%d waiting for an offer\n", r);
			ret = 1;
			break;
		}
		r = phh_qp_attach(h, &qp, o.qp_resource, rid);
		if (r) {
			printf("error=%d attaching queue pair %u\n", r, o.qp_resource);
			ret = 1;
			break;
		}
		if (out && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
			perror(out);
			phh_qp_detach(h, &qp);
			ret = 1;
			break;
		}
		if (await_full) {
			double end = now_s() + 10;

			while (!ring_peer_waiting(&qp.view, VMCI_RING_WAIT_SPACE) && now_s() < end)
				g_usleep(1000);
			printf("sender-asleep=%s\n",
			       ring_peer_waiting(&qp.view, VMCI_RING_WAIT_SPACE) ? "yes" : "no");
		}
		buf = g_malloc(chunk);
		r = phh_qp_read_all(h, &qp, &bytes, sizeof(bytes));
		t0 = now_s();
		while (!r && done < bytes) {
			size_t n = (size_t)MIN(bytes - done, chunk);

			r = phh_qp_read_all(h, &qp, buf, n);
			if (r)
				break;
			if (blocks) {
				vmci_wsum_add(&wsum, buf, n);
				if (bad == UINT64_MAX)
					bad = block_check(pattern, buf, n, done);
			} else if (!raw) {
				sum = vmci_stream_sum(sum, buf, n);
			}
			if (fd >= 0 && write(fd, buf, n) != (ssize_t)n)
				r = -EIO;
			done += n;
			if (progress && done % (64u << 20) == 0)
				fprintf(stderr, "porthole-vmci: %llu MiB of %llu received "
					"(%.1f s)\n", (unsigned long long)(done >> 20),
					(unsigned long long)(bytes >> 20), now_s() - t0);
			if (done >= detach_after) {
				printf("detaching after %llu bytes\n", (unsigned long long)done);
				break;
			}
		}
		dt = now_s() - t0;
		g_free(buf);
		if (fd >= 0)
			close(fd);
		if (bad == UINT64_MAX)
			snprintf(verdict, sizeof(verdict), "ok");
		else
			snprintf(verdict, sizeof(verdict), "bad offset=%llu", (unsigned long long)bad);
		if (r)
			printf("error=%d%s received=%llu%s%s\n", r, r == -EPIPE ? " peer-detached" : "",
			       (unsigned long long)done, blocks ? " pattern=" : "",
			       blocks ? verdict : "");
		else if (blocks)
			printf("received=%llu sum=%016llx%016llx pattern=%s seconds=%.3f gbps=%.3f\n",
			       (unsigned long long)done, (unsigned long long)wsum.a,
			       (unsigned long long)wsum.b, verdict, dt,
			       dt > 0 ? (double)done / dt / 1e9 : 0.0);
		else
			printf("received=%llu sum=%016llx seconds=%.3f gbps=%.2f sleeps=%llu "
			       "doorbells=%llu\n", (unsigned long long)done, (unsigned long long)sum,
			       dt, dt > 0 ? (double)done / dt / 1e9 : 0.0,
			       (unsigned long long)qp.stats.sleeps,
			       (unsigned long long)qp.stats.doorbells);
		phh_qp_detach(h, &qp);
		ret |= r != 0 || bad != UINT64_MAX;
	}
	g_free(pattern);
	return ret;
}

static int stream_send(struct phh_vmci *h, uint32_t rid, int argc, char **argv)
{
	struct vmci_stream_offer o;
	struct phh_qp qp;
	uint64_t bytes = 0, done = 0, sum = 0;
	const char *file = NULL;
	uint8_t *buf;
	bool raw = false;
	int fd = -1, r;
	double t0, dt;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			bytes = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--raw"))
			raw = true;
		else
			file = argv[i];
	}
	if (file) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(file);
			return 1;
		}
		bytes = (uint64_t)lseek(fd, 0, SEEK_END);
		lseek(fd, 0, SEEK_SET);
	}
	printf("ready\n");
	r = wait_offer(h, VMCI_STREAM_TO_GUEST, &o);
	if (!r)
		r = phh_qp_attach(h, &qp, o.qp_resource, rid);
	if (r) {
		printf("error=%d\n", r);
		return 1;
	}
	buf = g_malloc(CHUNK);
	vmci_stream_fill(buf, CHUNK, 0);
	t0 = now_s();
	r = phh_qp_write_all(h, &qp, &bytes, sizeof(bytes));
	while (!r && done < bytes) {
		size_t n = (size_t)MIN(bytes - done, CHUNK);

		if (fd >= 0) {
			ssize_t got = read(fd, buf, n);

			if (got <= 0) {
				r = -EIO;
				break;
			}
			n = (size_t)got;
		} else if (!raw) {
			vmci_stream_fill(buf, n, done);
		}
		if (!raw)
			sum = vmci_stream_sum(sum, buf, n);
		r = phh_qp_write_all(h, &qp, buf, n);
		done += n;
	}
	/* The guest detaches once it has read everything. */
	while (!r && !qp.peer_detached) {
		struct phh_dg d;

		if (phh_vmci_recv(h, &d, WAIT_MS))
			break;
		if (d.hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID &&
		    d.hdr.payload_size >= sizeof(struct vmci_event_qp)) {
			struct vmci_event_qp ev;

			memcpy(&ev, d.payload, sizeof(ev));
			if (ev.event == VMCI_EVENT_QP_PEER_DETACH &&
			    ev.handle.resource == qp.handle.resource)
				qp.peer_detached = true;
		}
		g_free(d.payload);
	}
	dt = now_s() - t0;
	g_free(buf);
	if (fd >= 0)
		close(fd);
	if (r)
		printf("error=%d%s sent=%llu\n", r, r == -EPIPE ? " peer-detached" : "",
		       (unsigned long long)done);
	else
		printf("sent=%llu sum=%016llx seconds=%.3f gbps=%.2f sleeps=%llu doorbells=%llu\n",
		       (unsigned long long)done, (unsigned long long)sum, dt,
		       dt > 0 ? (double)done / dt / 1e9 : 0.0, (unsigned long long)qp.stats.sleeps,
		       (unsigned long long)qp.stats.doorbells);
	phh_qp_detach(h, &qp);
	return r != 0;
}

/*
 * memcpy in 1 MiB pieces walking through two buffers far larger than any
 * cache: what copying costs when the data is not already cached.
 */
#define COLD_SPAN	(256u << 20)
static double memcpy_cold_s(uint64_t bytes)
{
	uint8_t *a = g_malloc(COLD_SPAN), *b = g_malloc(COLD_SPAN);
	uint64_t off = 0;
	double t0;

	memset(a, 1, COLD_SPAN);
	memset(b, 2, COLD_SPAN);
	t0 = now_s();
	for (uint64_t done = 0; done < bytes; done += CHUNK) {
		memcpy(b + off, a + off, CHUNK);
		__asm__ __volatile__("" : : "r"(b) : "memory");
		off = (off + CHUNK) % COLD_SPAN;
	}
	t0 = now_s() - t0;
	g_free(a);
	g_free(b);
	return t0;
}

/*
 * Same-run baselines: memcpy between two 1 MiB buffers (in cache), memcpy
 * through 256 MiB (memory-bound), and an AF_UNIX stream socket.
 */
static int baseline(uint64_t bytes)
{
	uint8_t *a = g_malloc(CHUNK), *b = g_malloc(CHUNK);
	int sv[2];
	double t0, memcpy_s, cold_s, unix_s;
	pid_t pid;

	memset(a, 1, CHUNK);
	memset(b, 2, CHUNK);
	t0 = now_s();
	for (uint64_t done = 0; done < bytes; done += CHUNK) {
		memcpy(b, a, CHUNK);
		__asm__ __volatile__("" : : "r"(b) : "memory");
	}
	memcpy_s = now_s() - t0;
	cold_s = memcpy_cold_s(bytes);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (uint64_t done = 0; done < bytes;) {
			ssize_t n = write(sv[1], a, CHUNK);

			if (n <= 0)
				_exit(1);
			done += (uint64_t)n;
		}
		_exit(0);
	}
	close(sv[1]);
	t0 = now_s();
	for (uint64_t done = 0; done < bytes;) {
		ssize_t n = read(sv[0], b, CHUNK);

		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	unix_s = now_s() - t0;
	waitpid(pid, NULL, 0);
	close(sv[0]);
	printf("memcpy-gbps=%.2f\nmemcpy-cold-gbps=%.2f\nunix-gbps=%.2f\n",
	       (double)bytes / memcpy_s / 1e9, (double)bytes / cold_s / 1e9,
	       (double)bytes / unix_s / 1e9);
	g_free(a);
	g_free(b);
	return 0;
}

int main(int argc, char **argv)
{
	struct phh_vmci h;
	GError *error = NULL;
	const char *cmd;
	int ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return usage();
	cmd = argv[2];
	if (!strcmp(cmd, "baseline") && argc == 4)
		return baseline(strtoull(argv[3], NULL, 0));
	if (argc < 4)
		return usage();
	if (phh_vmci_open(&h, argv[1], &error)) {
		fprintf(stderr, "porthole-vmci: %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	if (!strcmp(cmd, "send") && argc == 6) {
		int r = phh_vmci_bind(&h, num(argv[3]));
		int64_t res = r ? r : phh_vmci_send(&h, num(argv[3]), num(argv[4]), argv[5],
						    strlen(argv[5]));

		printf("result=%lld\n", (long long)res);
		ret = res < 0;
	} else if ((!strcmp(cmd, "recv") || !strcmp(cmd, "echo")) && argc >= 4) {
		uint32_t rid = num(argv[3]), count = argc > 4 ? num(argv[4]) : 1, n = 0;
		bool echo = !strcmp(cmd, "echo");
		int r = phh_vmci_bind(&h, rid);

		if (r) {
			fprintf(stderr, "porthole-vmci: bind %u: %s\n", rid, g_strerror(-r));
			ret = 1;
			goto out;
		}
		printf("ready\n");
		for (; n < count; n++) {
			struct phh_dg d;

			if (phh_vmci_recv(&h, &d, WAIT_MS))
				break;
			if (echo)
				phh_vmci_send(&h, rid, d.hdr.src.resource, d.payload,
					      d.hdr.payload_size);
			else
				printf("from=%u:%u len=%llu data=%.*s\n", d.hdr.src.context,
				       d.hdr.src.resource, (unsigned long long)d.hdr.payload_size,
				       (int)d.hdr.payload_size, (const char *)d.payload);
			g_free(d.payload);
		}
		if (echo)
			printf("echoed=%u\n", n);
		ret = n != count;
	} else if (!strcmp(cmd, "stream-recv") || !strcmp(cmd, "stream-send")) {
		uint32_t rid = num(argv[3]);
		int r = phh_vmci_bind(&h, rid);

		if (r) {
			fprintf(stderr, "porthole-vmci: bind %u: %s\n", rid, g_strerror(-r));
			ret = 1;
		} else if (!strcmp(cmd, "stream-recv")) {
			ret = stream_recv(&h, rid, argc - 4, argv + 4);
		} else {
			ret = stream_send(&h, rid, argc - 4, argv + 4);
		}
	} else {
		ret = usage();
	}
out:
	phh_vmci_close(&h);
	return ret;
}
