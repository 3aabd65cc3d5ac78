// SPDX-License-Identifier: MIT
/*
 * porthole-vmci-guest: the guest end of the VMCI channel from a shell.
 *
 *   porthole-vmci-guest info
 *   porthole-vmci-guest send HOST_RID TEXT          datagram to {2, HOST_RID}
 *   porthole-vmci-guest recv RID [TIMEOUT_MS]       one datagram for {cid, RID}
 *   porthole-vmci-guest echo RID COUNT              send COUNT datagrams back
 *   porthole-vmci-guest ping HOST_RID COUNT         round trips via a host echo
 *   porthole-vmci-guest stream-send HOST_RID QP_RID (FILE | -n BYTES) [-q QSIZE]
 *                          [--detach-after BYTES] [--die-after BYTES]
 *   porthole-vmci-guest stream-recv HOST_RID QP_RID [-o FILE] [-q QSIZE]
 *   (streams take --raw: no per-byte test pattern or checksum, for benchmarks)
 *
 * Streams follow backdoor/vmci-stream.h.  Output lines are key=value for tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backdoor/vmci-stream.h"
#include "guest-additions/lib/vmci-guest.h"

#define CHUNK		(1u << 20)
#define SRC_RID		1024u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t num(const char *s)
{
	return (uint32_t)strtoul(s, NULL, 0);
}

static int usage(void)
{
	fprintf(stderr, "usage: porthole-vmci-guest info | send HOST_RID TEXT | recv RID [MS] | "
		"echo RID COUNT | ping HOST_RID COUNT |\n"
		"  stream-send HOST_RID QP_RID (FILE | -n BYTES) [-q QSIZE] [--detach-after B] "
		"[--die-after B] |\n  stream-recv HOST_RID QP_RID [-o FILE] [-q QSIZE]\n");
	return 2;
}

static void print_dg(const struct phg_dg *d)
{
	printf("from=%u:%u len=%llu data=%.*s\n", d->hdr.src.context, d->hdr.src.resource,
	       (unsigned long long)d->hdr.payload_size, (int)d->hdr.payload_size,
	       (const char *)d->payload);
}

static int offer(struct phg_vmci *v, uint32_t host_rid, uint32_t qp_rid, uint32_t dir,
		 uint64_t bytes)
{
	struct vmci_stream_offer o = { VMCI_STREAM_MAGIC, dir, qp_rid, 0, bytes };
	int64_t r = phg_vmci_send(v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, host_rid },
				  SRC_RID, &o, sizeof(o));

	if (r < 0)
		fprintf(stderr, "porthole-vmci-guest: offer to host resource %u: VMCI error %lld\n",
			host_rid, (long long)r);
	return r < 0 ? -1 : 0;
}

static int stream_send(struct phg_vmci *v, int argc, char **argv)
{
	uint32_t host_rid = num(argv[0]), qp_rid = num(argv[1]);
	uint64_t qsize = 1 << 20, bytes = 0, detach_after = UINT64_MAX, die_after = UINT64_MAX;
	uint64_t sum = 0, done = 0;
	const char *file = NULL;
	bool raw = false;
	struct phg_qp qp;
	uint8_t *buf;
	int fd = -1, r = 0;
	int64_t res;
	double t0;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			bytes = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-q") && i + 1 < argc)
			qsize = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--detach-after") && i + 1 < argc)
			detach_after = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--die-after") && i + 1 < argc)
			die_after = strtoull(argv[++i], NULL, 0);
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
	res = phg_qp_create(v, &qp, qp_rid, qsize, qsize,
			    (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, host_rid });
	if (res < 0) {
		fprintf(stderr, "porthole-vmci-guest: queue pair: VMCI error %lld\n", (long long)res);
		return 1;
	}
	if (offer(v, host_rid, qp_rid, VMCI_STREAM_TO_HOST, bytes))
		return 1;
	buf = malloc(CHUNK);
	vmci_stream_fill(buf, CHUNK, 0);
	t0 = now_s();
	r = phg_qp_write_all(v, &qp, &bytes, sizeof(bytes));
	while (!r && done < bytes) {
		size_t n = (size_t)(bytes - done < CHUNK ? bytes - done : CHUNK);

		if (fd >= 0) {
			ssize_t got = read(fd, buf, n);

			if (got <= 0) {
				fprintf(stderr, "porthole-vmci-guest: %s: short read\n", file);
				r = -EIO;
				break;
			}
			n = (size_t)got;
		} else if (!raw) {
			vmci_stream_fill(buf, n, done);
		}
		if (!raw)
			sum = vmci_stream_sum(sum, buf, n);
		r = phg_qp_write_all(v, &qp, buf, n);
		done += n;
		if (done >= die_after) {
			printf("dying with the queue pair attached after %llu bytes\n",
			       (unsigned long long)done);
			fflush(stdout);
			raise(SIGKILL);
		}
		if (done >= detach_after) {
			printf("detaching after %llu bytes\n", (unsigned long long)done);
			phg_qp_destroy(v, &qp);
			free(buf);
			return 0;
		}
	}
	if (r) {
		printf("error=%d%s\n", r, r == -EPIPE ? " peer-detached" : "");
		phg_qp_destroy(v, &qp);
		free(buf);
		return 3;
	}
	/* After the last byte: the host detaches when it has read everything. */
	phg_qp_await_peer_detach(v, &qp, 60000);
	printf("sent=%llu sum=%016llx seconds=%.3f sleeps=%llu doorbells=%llu\n",
	       (unsigned long long)done, (unsigned long long)sum, now_s() - t0,
	       (unsigned long long)qp.stats.sleeps, (unsigned long long)qp.stats.doorbells);
	phg_qp_destroy(v, &qp);
	free(buf);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int stream_recv(struct phg_vmci *v, int argc, char **argv)
{
	uint32_t host_rid = num(argv[0]), qp_rid = num(argv[1]);
	uint64_t qsize = 1 << 20, bytes = 0, sum = 0, done = 0;
	const char *out = NULL;
	struct phg_qp qp;
	uint8_t *buf;
	bool raw = false;
	int fd = -1, r;
	int64_t res;
	double t0;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "-q") && i + 1 < argc)
			qsize = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--raw"))
			raw = true;
	}
	if (out && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror(out);
		return 1;
	}
	res = phg_qp_create(v, &qp, qp_rid, qsize, qsize,
			    (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, host_rid });
	if (res < 0) {
		fprintf(stderr, "porthole-vmci-guest: queue pair: VMCI error %lld\n", (long long)res);
		return 1;
	}
	if (offer(v, host_rid, qp_rid, VMCI_STREAM_TO_GUEST, 0))
		return 1;
	buf = malloc(CHUNK);
	r = phg_qp_read_all(v, &qp, &bytes, sizeof(bytes));
	t0 = now_s();
	while (!r && done < bytes) {
		size_t n = (size_t)(bytes - done < CHUNK ? bytes - done : CHUNK);

		r = phg_qp_read_all(v, &qp, buf, n);
		if (r)
			break;
		if (!raw)
			sum = vmci_stream_sum(sum, buf, n);
		if (fd >= 0 && write(fd, buf, n) != (ssize_t)n)
			r = -EIO;
		done += n;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	if (r) {
		printf("error=%d%s received=%llu\n", r, r == -EPIPE ? " peer-detached" : "",
		       (unsigned long long)done);
		phg_qp_destroy(v, &qp);
		return 3;
	}
	printf("received=%llu sum=%016llx seconds=%.3f sleeps=%llu doorbells=%llu\n",
	       (unsigned long long)done, (unsigned long long)sum, now_s() - t0,
	       (unsigned long long)qp.stats.sleeps, (unsigned long long)qp.stats.doorbells);
	phg_qp_destroy(v, &qp);
	return 0;
}

int main(int argc, char **argv)
{
	struct phg_vmci v;
	struct phg_dg d;
	int err, ret = 0;

	if (argc < 2)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = phg_vmci_open(&v);
	if (err) {
		fprintf(stderr, "porthole-vmci-guest: no VMCI device: %s\n", strerror(-err));
		return 1;
	}
	if (!strcmp(argv[1], "info")) {
		printf("context-id=%u\nram=%llu\ncaps=0x%x\n", v.cid,
		       (unsigned long long)v.ram_size, phg_vmci_inl(VMCI_REG_CAPS));
	} else if (!strcmp(argv[1], "send") && argc == 4) {
		int64_t r = phg_vmci_send(&v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID,
					  num(argv[2]) }, SRC_RID, argv[3], strlen(argv[3]));

		printf("result=%lld\n", (long long)r);
		ret = r < 0;
	} else if (!strcmp(argv[1], "recv") && argc >= 3) {
		phg_vmci_map(num(argv[2]));
		printf("ready\n");
		err = phg_vmci_recv(&v, &d, argc > 3 ? (int)num(argv[3]) : 10000);
		if (err) {
			printf("error=%d\n", err);
			ret = 1;
		} else {
			print_dg(&d);
			free(d.payload);
		}
	} else if (!strcmp(argv[1], "echo") && argc == 4) {
		uint32_t rid = num(argv[2]), count = num(argv[3]), n = 0;

		phg_vmci_map(rid);
		printf("ready\n");
		while (n < count && !phg_vmci_recv(&v, &d, 30000)) {
			phg_vmci_send(&v, d.hdr.src, rid, d.payload, d.hdr.payload_size);
			free(d.payload);
			n++;
		}
		printf("echoed=%u\n", n);
		ret = n != count;
	} else if (!strcmp(argv[1], "ping") && argc == 4) {
		uint32_t host = num(argv[2]), count = num(argv[3]), n = 0;
		double t0;

		phg_vmci_map(SRC_RID);
		t0 = now_s();
		for (; n < count; n++) {
			uint64_t seq = n;

			if (phg_vmci_send(&v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, host },
					  SRC_RID, &seq, sizeof(seq)) < 0 ||
			    phg_vmci_recv(&v, &d, 5000))
				break;
			free(d.payload);
		}
		printf("round-trips=%u rtt-us=%.1f\n", n, n ? (now_s() - t0) * 1e6 / n : 0.0);
		ret = n != count;
	} else if (!strcmp(argv[1], "stream-send") && argc >= 5) {
		ret = stream_send(&v, argc - 2, argv + 2);
	} else if (!strcmp(argv[1], "stream-recv") && argc >= 4) {
		ret = stream_recv(&v, argc - 2, argv + 2);
	} else {
		ret = usage();
	}
	phg_vmci_close(&v);
	return ret;
}
