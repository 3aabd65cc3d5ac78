#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed inputs for the device-model fuzz targets: valid sequences in each
target's input format (see the comment at the top of each fuzz-*.c), so the
fuzzer starts from real protocol structure.  Run from the repository root;
writes tests/fuzz/corpus/fuzz-{backdoor,rpc,vmci,guest-clock,control,guestinfo,dndcp}/seed-*
(reproducers of bugs found live next to them, named for what they found)."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

MAGIC = 0x564D5868
RPCI, TCLO, COOKIE = 0x49435052, 0x4F4C4354, 0x80000000
VMCI_BASE = 0x5680


def u8(v): return struct.pack("<B", v & 0xFF)
def u16(v): return struct.pack("<H", v & 0xFFFF)
def u32(v): return struct.pack("<I", v & 0xFFFFFFFF)
def u64(v): return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(target, name, data):
    assert len(data) < 4096, (target, name, len(data))
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz-backdoor: engine byte, then ops ----
SET_REG, IO, MEM, LB, MSG, HB, VMCI, HOST = range(8)


def b_lb(cmd, sub=0, ebx=0): return u8(LB) + u16(cmd) + u16(sub) + u32(ebx)
def b_msg(slot, typ, ebx=0): return u8(MSG) + u8(slot) + u8(typ) + u32(ebx)
def b_mem(off, data): return u8(MEM) + u16(off) + u16(len(data)) + data
def b_hb(slot, recv, off, count): return u8(HB) + u8(slot) + u8(recv) + u16(off) + u16(count)
def b_vmci(recv, off, count): return u8(VMCI) + u8(recv) + u16(off) + u16(count)
def b_host(what): return u8(HOST) + u8(what)


def b_send_lb(slot, msg):
    out = b_msg(slot, 1, len(msg))
    for i in range(0, len(msg), 4):
        out += b_msg(slot, 2, int.from_bytes(msg[i:i + 4].ljust(4, b"\0"), "little"))
    return out


def b_recv_lb(slot, pieces):
    return b_msg(slot, 3) + b"".join(b_msg(slot, 4, 1) for _ in range(pieces)) + b_msg(slot, 5, 1)


def b_send_hb(slot, msg, off=0):
    return b_mem(off, msg) + b_msg(slot, 1, len(msg)) + b_hb(slot, 0, off, len(msg))


def b_recv_hb(slot, size, off=0x1000):
    return b_msg(slot, 3) + b_hb(slot, 1, off, size) + b_msg(slot, 5, 1)


def vmci_dg(dst_ctx, dst_res, payload, src=(3, 0)):
    return u32(dst_ctx) + u32(dst_res) + u32(src[0]) + u32(src[1]) + u64(len(payload)) + payload


def backdoor_seeds():
    write("fuzz-backdoor", "lb-commands", u8(0) + b"".join(
        b_lb(c) for c in (10, 1, 45, 17, 19, 20, 15, 13, 23, 46, 55, 24, 36, 68, 99)))
    write("fuzz-backdoor", "rpci-lb", u8(0) + b_msg(0, 0, RPCI | COOKIE) +
          b_send_lb(0, b"info-set guestinfo.a b\0") + b_recv_lb(0, 1) +
          b_send_lb(0, b"info-get guestinfo.a") + b_recv_lb(0, 1) + b_msg(0, 6))
    write("fuzz-backdoor", "rpci-hb", u8(0) + b_msg(1, 0, RPCI | COOKIE) +
          b_send_hb(1, b"tools.set.versiontype 12389 3") + b_recv_hb(1, 2) +
          b_send_hb(1, b"tools.capability.resolution_set 1") + b_recv_hb(1, 2) +
          b_send_hb(1, b"porthole.echo hello") + b_recv_hb(1, 7) + b_host(5) + b_msg(1, 6))
    write("fuzz-backdoor", "tclo", u8(0) + b_msg(2, 0, TCLO | COOKIE) +
          b_msg(2, 1, 0) + b_recv_lb(2, 2) +
          b_send_hb(2, b"OK ATR toolbox") + b_recv_hb(2, 21) +
          b_send_hb(2, b"OK ") + b_host(2) + b_msg(2, 1, 0) + b_recv_hb(2, 4) +
          b_send_hb(2, b"OK ") + b_host(3 | 11 << 3) + b_host(0) + b_host(5))
    write("fuzz-backdoor", "vmmouse", u8(0) + b_lb(41, 0, 0x45414552) + b_lb(40) +
          b_lb(39, 0, 1) + b_lb(41, 0, 0x53424152) + b_lb(40) + b_lb(39, 0, 4))
    write("fuzz-backdoor", "copypaste", u8(0) + b_lb(8, 0, 6) + b_lb(9, 0, 0x6c6c6568) +
          b_lb(9, 0, 0x216f) + b_lb(6) + b_lb(7) + b_lb(7))
    alloc = vmci_dg(0, 32, u64(4))
    qp = vmci_dg(0, 10, u32(3) + u32(5000) + u32(2) + u32(0) + u64(4096) + u64(4096) +
                 u64(4) + b"".join(u64(p) for p in range(0x100, 0x104)))
    write("fuzz-backdoor", "vmci", u8(0) + b_mem(0, vmci_dg(0, 1, b"")) + b_vmci(0, 0, 24) +
          b_mem(0x100, alloc) + b_vmci(0, 0x100, len(alloc)) +
          b_mem(0x200, qp) + b_vmci(0, 0x200, len(qp)) +
          b_mem(0x400, vmci_dg(0, 6, u32(2050))) + b_vmci(0, 0x400, 28) +
          b_mem(0x500, vmci_dg(0, 11, u32(3) + u32(5000))) + b_vmci(0, 0x500, 32) +
          b_vmci(1, 0x1000, 256) + b_host(0))
    # kvm engine: PCI config space and the 16550
    write("fuzz-backdoor", "kvm-pc", u8(1) + u8(SET_REG) + u8(0) + u32(0x80000000) +
          u8(IO) + u8(22) + u8(2) + u8(IO) + u8(24) + u8(6) +
          u8(SET_REG) + u8(0) + u32(0x41) + u8(IO) + u8(16) + u8(0) +
          b_mem(0, b"ab") + u8(SET_REG) + u8(2) + u32(2) + u8(SET_REG) + u8(4) + u32(0x10000) +
          u8(IO) + u8(16) + u8(0x18) + b_lb(10))


# ---- fuzz-rpc: records of kind, u16 length, bytes ----
def r_rec(kind, data=b""): return u8(kind) + u16(len(data)) + data
def r_rpci(slot, msg): return r_rec(0 | slot << 3, msg)
def r_tclo(slot, msg): return r_rec(1 | slot << 3, msg)


def rpc_seeds():
    write("fuzz-rpc", "rpci", b"".join(r_rpci(i % 4, m) for i, m in enumerate([
        b"info-set guestinfo.vmtools.description open-vm-tools 12.3.5\0",
        b"info-get guestinfo.vmtools.description", b"info-get guestinfo.none",
        b"tools.set.version 12389", b"tools.set.versiontype 12389 3",
        b"tools.capability.resolution_set 1", b"tools.capability.display_topology_set 2",
        b"vmx.capability.unified_loop toolbox", b"tools.os.statechange.status 1 2",
        b"log hello from the guest", b"porthole.echo ping", b"bogus.command x",
        b"info-set guestinfo.porthole.screen 1024x768"])))
    write("fuzz-rpc", "tclo", r_tclo(0, b"") + r_tclo(0, b"OK ATR toolbox") +
          r_tclo(0, b"OK ") + r_rec(2, b"ping") + r_tclo(0, b"") + r_tclo(0, b"OK ") +
          r_tclo(1, b"") + r_tclo(1, b"OK ATR toolbox-dnd") + r_tclo(1, b"OK ") +
          r_rec(2 | 8, b"Resolution_Set 800 600") + r_tclo(1, b"") + r_tclo(1, b"OK ") +
          r_rec(2, b"OS_Halt") + r_rec(5 | 8) + r_rec(4 | 4 << 3, b""))
    # tools-options.c: what open-vm-tools asks a VMware host beyond the basics.
    write("fuzz-rpc", "tools-options", b"".join(r_rpci(i % 4, m) for i, m in enumerate([
        b"vmx.set_option synctime 0 1\0", b"vmx.set_option synctime 1 0",
        b"vmx.set_option synctime 0 7", b"vmx.set_option broadcastIP 1 0",
        b"guestlib.info.get 3\0", b"guestlib.info.get 2", b"guestlib.info.get 99999999999",
        b"guestlib.stat.get text session", b"vmx.capability.dnd_version",
        b"vmx.capability.copypaste_version", b"disk.wiper.enable", b"f ",
        b"deployPkg.update.state 4 0 x", b"vmbackup.eventSet req.aborted 0 x",
        b"unknown.once", b"unknown.once"])) +
          r_tclo(0, b"") + r_tclo(0, b"OK ATR toolbox") + r_tclo(0, b"OK ") +
          r_tclo(0, b"OK ") + r_tclo(0, b"Unknown or invalid option") + r_tclo(0, b"OK ") +
          r_rpci(1, b"vmx.set_option synctime 0 1") + r_tclo(0, b"OK ") + r_tclo(0, b"OK "))
    # namespace-db.c: vmware-namespace-cmd's requests, then lying ones.
    write("fuzz-rpc", "namespace", b"".join(r_rpci(i % 4, m) for i, m in enumerate([
        b"namespace-priv-set-keys demo\0" b"1\0" b"0\0color\0blue\0\0",
        b"namespace-priv-get-values demo\0color\0",
        b"namespace-priv-set-keys demo\0" b"1\0" b"1\0color\0red\0blue\0",
        b"namespace-priv-set-keys demo\0" b"2\0" b"0\0a\0x\0\0" b"0\0b\0y\0\0",
        b"namespace-priv-get-values demo\0a\0b\0color\0",
        b"namespace-priv-set-keys demo\0" b"3\0" b"0\0a\0x\0\0",
        b"namespace-priv-set-keys demo\0" b"1\0" b"0\0a\0x\0\0" b"0\0b\0y\0\0",
        b"namespace-priv-set-keys demo\0" b"1\0" b"0\0" + b"k" * 300 + b"\0v\0\0",
        b"namespace-priv-get-values demo\0color",
        b"namespace-priv-set-keys demo\0" b"1\0" b"0\0color\0\0\0",
        b"namespace-priv-get-values nope\0k\0"])))
    write("fuzz-rpc", "host", r_rec(3, b"guestinfo.x 1") + r_rpci(0, b"info-get guestinfo.x") +
          r_rec(2, b"ping") + r_tclo(0, b"") + r_rec(5 | 16) + r_tclo(0, b"") +
          r_rec(5 | 32) + r_rpci(1, b"info-set guestinfo.y 2"))


# ---- fuzz-vmci: engine byte, then ops ----
def v_hv(res, payload, forged=False):
    return u8(0 | (8 if forged else 0)) + u8(res) + u16(len(payload)) + payload
def v_alloc(count): return u8(2) + u8(count - 1)
def v_qp(res, prod, cons, raw=None):
    out = u8(3) + u16(res - 1024) + u8(prod - 1) + u8(cons - 1) + u8(1 if raw else 0) + u8(0)
    return out + b"".join(u16(p) for p in (raw or []))
def v_host(c, op, payload): return u8(4) + u8(c | (op - 16) << 1) + u16(len(payload)) + payload
def v_attach(c, res, first=0): return u8(4) + u8(0x80 | 3 << 1 | c) + u16(res - 1024) + u8(first)
def handle(res): return u32(3) + u32(res)


def vmci_seeds():
    qp_cycle = (v_alloc(4) + v_qp(5000, 1, 1) + v_host(0, 16, u32(5000)) + v_attach(0, 5000) +
                v_hv(11, handle(5000)) + v_alloc(6) + v_qp(5000, 2, 2) + v_attach(0, 5000) +
                v_attach(1, 5000) + v_host(0, 20, handle(5000)) + u8(5) + u16(512) + u8(7 | 8))
    write("fuzz-vmci", "qp-cycle", u8(0) + qp_cycle)
    dg = vmci_dg(3, 2050, b"hi", src=(2, 6000))
    write("fuzz-vmci", "datagrams", u8(0) + v_hv(1, b"") + v_hv(0, u32(3) + u32(0) + u32(6) +
          u32(10) + u32(32)) + v_hv(6, u32(2050)) + v_host(1, 16, u32(6000)) +
          v_host(1, 18, dg) + u8(5) + u16(64) + u8(1) + u16(26) + vmci_dg(2, 6000, b"yo") +
          u8(7 | 16) + u8(4) + b"wake" + u16(2050) + u8(5) + u16(64) + v_hv(7, u32(2050)) +
          u8(6) + u8(0x0C) + u32(3) + u8(6) + u8(0x04) + u32(2) + u8(6 | 8) + u8(0x08) + u32(0))
    write("fuzz-vmci", "doorbells", u8(0) + v_alloc(1) + v_hv(2, u64(0x100)) +
          v_hv(3, handle(7000) + u64(5)) + v_host(0, 21, handle(7000)) + v_hv(5, handle(7000)) +
          v_host(0, 16, u32(7001)) + v_hv(5, u32(2) + u32(7001)) + v_hv(4, handle(7000)) +
          u8(2 | 8) + u8(0) + u8(0) + u8(7 | 2 << 5) + v_alloc(2) + u8(7 | 8))
    dg = vmci_dg(3, 2050, b"hello", src=(2, 6000))
    write("fuzz-vmci", "mailbox", u8(0) + v_alloc(4) + u8(2 | 16) + u8(4) + v_hv(6, u32(2050)) +
          v_host(1, 16, u32(6000)) + v_host(1, 18, dg) + v_host(1, 18, dg) + u8(5) +
          u8(6) + u8(0x38) + u32(29) + u8(5 | 16) + u32(4100) + v_host(1, 18, dg) + u8(5) +
          u8(2 | 8) + u8(0) + u8(0) + v_host(1, 18, dg) + u8(5) + u16(64))
    write("fuzz-vmci", "kvm-qp", u8(1) + v_qp(6000, 1, 2, [0x200, 0x201, 0x202, 0x203, 0x204]) +
          v_attach(0, 6000) + v_hv(11, handle(6000)) +
          v_qp(6000, 2, 2, [0x300 + i for i in range(6)]) + v_attach(0, 6000, 3) +
          v_host(0, 22, b"") + u8(5) + u16(256))


# ---- fuzz-guest-clock: ops ----
def c_adjtimex(modes, offset=0, freq=0, maxerror=0, esterror=0, status=0, constant=0, tick=0,
               sec=0, usec=0):
    return (u8(3) + u32(modes) + u64(offset) + u64(freq) + u32(maxerror) + u32(esterror) +
            u32(status) + u64(constant) + u64(tick) + u64(sec) + u64(usec))


def clock_seeds():
    second = u8(0 | 7 << 3) + u32(7813)          # 7813 << 7 ns: about a millisecond
    reads = b"".join(u8(1 | i << 3) for i in range(13))
    write("fuzz-guest-clock", "ntp", reads + second + c_adjtimex(0x0002, freq=100 << 16) +
          second + reads + c_adjtimex(0x0010 | 0x0001, status=0x0001, offset=250000) +
          second * 4 + u8(1) + c_adjtimex(0x4000, tick=10100) + second + u8(1) +
          c_adjtimex(0x8001, offset=-5000) + second + u8(1) + c_adjtimex(0x2000) + u8(7))
    write("fuzz-guest-clock", "steps", u8(1) + u8(2) + u64(1600000000 * 10**9) + second +
          u8(1) + c_adjtimex(0x0100 | 0x2000, sec=30, usec=5) + u8(1) +
          u8(4) + u64((-3 * 10**9) & (2**64 - 1)) + u8(5) + u64(200000) + second + u8(1) +
          u8(6) + u8(26) + b"offset -1000000000 rate 50" + u8(6) + u8(0) + u8(1) + u8(7))


# ---- fuzz-control: engine byte, then records of kind, u16 length, bytes ----
CTL_OPS = ["status", "info-get", "info-set", "tclo", "memory", "reset", "stop", "clock",
           "info-list", "bind", "unbind", "send", "qp-attach", "qp-detach", "doorbell",
           "datagram", "pointer", "pointer-status", "policy-get", "policy-set", "legacy-set",
           "legacy-get", "namespace", "sync-time"]
def k_req(op, payload=b""): return r_rec(CTL_OPS.index(op) << 2, payload)
def k_guest(msg): return r_rec(2, msg)


def control_seeds():
    write("fuzz-control", "requests", u8(0) + k_req("status") + k_req("info-set", b"guestinfo.a 1") +
          k_req("info-get", b"guestinfo.a") + k_req("info-list") + k_req("memory") +
          k_req("clock", b"offset 1000 rate 5") + k_req("pointer", b"100 200 1 0") +
          k_req("pointer-status") + k_req("policy-set", b"guest-to-host=off max-size=4096") +
          k_req("policy-get") + k_req("legacy-set", b"hello") + k_req("legacy-get") +
          k_req("bind", u32(5000)) + k_req("send", vmci_dg(3, 2050, b"x", src=(2, 5000))) +
          k_req("qp-attach", u32(3) + u32(5000) + u32(0) + u32(0)) +
          k_req("tclo", b"ping") + k_req("reset") + k_req("stop") + r_rec(3))
    write("fuzz-control", "namespace", u8(0) +
          k_guest(b"namespace-priv-set-keys ns\0" b"1\0" b"0\0k\0v\x1b[31m\0\0") +
          k_req("namespace") + k_req("namespace", b"ns") + k_req("namespace", b"ns\nk") +
          k_req("namespace", b"ns\nk\nextra") + k_req("sync-time", b"on") +
          k_req("sync-time") + k_req("sync-time", b"maybe") + k_req("status"))
    write("fuzz-control", "guest-text", u8(0) +
          k_guest(b"info-set guestinfo.vmtools.description x\nstate=hijacked") +
          k_guest(b"tools.set.versiontype 1 \x1b[31mred") +
          k_guest(b"tools.capability.a=b,c 1\nname=evil") + k_req("status") +
          r_rec(1, u32(0x50484354) + u16(1) + u16(1) + u32(7) + u32(0) + u32(0)) +
          r_rec(1, b"junk") + k_req("status"))


# ---- fuzz-guestinfo: records of kind, u16 length, bytes ----
def x32(v): return struct.pack(">I", v & 0xFFFFFFFF)
def xbytes(b): return x32(len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)
def x_ip(addr, prefix): return x32(1 if len(addr) == 4 else 2) + xbytes(addr) + x32(prefix) + x32(0) + x32(0)


def nicinfo_v3():
    """A GuestNicProto (lib/guestRpc/nicinfo.x) as vmtoolsd sends it."""
    nic = (xbytes(b"00:50:56:aa:bb:cc") + x32(2) + x_ip(bytes([192, 168, 1, 20]), 24) +
           x_ip(bytes([0xfe, 0x80] + [0] * 13 + [1]), 64) + x32(0) * 4)
    route = x32(1) + xbytes(bytes(4)) + x32(0) + x32(1) + x32(1) + xbytes(bytes([192, 168, 1, 1])) + \
        x32(0) + x32(4) + x32(100)
    dns = x32(1) + x32(1) + xbytes(b"guesthost") + x32(1) + xbytes(b"example.org") + x32(0) + x32(0)
    return x32(3) + x32(1) + x32(1) + nic + x32(1) + route + dns + x32(0) * 3


DISK_JSON = (b'{\n"version":"1",\n"disks":[\n{"name":"Lw==","free":"1000","size":"4000",'
             b'"fstype":"ext4","devices":["/dev/sda1"]}\n]}')


def guestinfo_seeds():
    nic = nicinfo_v3()
    write("fuzz-guestinfo", "nicinfo", r_rec(0, nic))
    write("fuzz-guestinfo", "disks", r_rec(1, DISK_JSON))
    write("fuzz-guestinfo", "text", r_rec(2 | 1 << 2, b"guesthost\0") +
          r_rec(2 | 6 << 2, b"debian12-64\0") + r_rec(2 | 5 << 2, b"Debian GNU/Linux 12\0") +
          r_rec(2 | 7 << 2, b"12345\0") + r_rec(2 | 10 << 2, nic) +
          r_rec(2 | 11 << 2, u32(1) + b"debian12-64".ljust(129, b"\0") +
                b"Debian".ljust(513, b"\0") + b"\0\0" + b"prettyName='Debian'\0"))
    write("fuzz-guestinfo", "rpci", r_rec(3, b"SetGuestInfo  10 " + nic) +
          r_rec(3, b"SetGuestDiskInfo " + DISK_JSON + b"\0") + r_rec(3, b"SetGuestInfo  1 h\0"))


# ---- fuzz-dndcp: copy/paste v4 packets (VMware's DnDCPMsgHdrV4), clipboards ----
def cp_hdr(cmd, session, total, offset, size, params=(0,) * 6):
    return u32(cmd) + u32(2) + u32(3) + u32(session) + u32(0) + b"".join(u32(p) for p in params) + \
        u32(total) + u32(offset) + u32(size)


def cp_clip(text):
    items = b""
    for fmt in range(1, 11):
        data = text + b"\0" if fmt == 1 else b""
        items += u8(1 if data else 0) + u32(len(data)) + data
    return u32(11) + items + u8(1)


def dndcp_seeds():
    clip = cp_clip(b"hello from the guest")
    single = cp_hdr(2003, 1, len(clip), 0, len(clip)) + clip
    ping = cp_hdr(1, 0, 0, 0, 0, (4, 0, 0x1F5, 0, 0, 0))
    big = 70000
    pieces = b"".join(r_rec(1, cp_hdr(2003, 2, big, off, 300) + bytes(300)) for off in range(0, 1500, 300))
    write("fuzz-dndcp", "both-ways", r_rec(2 | 8) + r_rec(2 | 16) + r_rec(1, ping) + r_rec(1, single) +
          r_rec(4) + r_rec(3, b"0 5\nhello") + r_rec(4, b"\0"))
    write("fuzz-dndcp", "pieces", r_rec(2 | 8) + pieces + r_rec(1, cp_hdr(2003, 2, big + 1, 1500, 300) +
          bytes(300)) + r_rec(2) + r_rec(1, cp_hdr(2003, 2, big, 1500, 300) + bytes(300)))
    write("fuzz-dndcp", "bare", b"".join(r_rec(0, cp_hdr(2003, 3, big, off, 500) + bytes(500))
                                         for off in range(0, 2500, 500)) + r_rec(0, single) + r_rec(5, clip))
    write("fuzz-dndcp", "owners", r_rec(2 | 8) + r_rec(1 | 8, ping) + r_rec(5 | 8) + r_rec(1, ping) +
          r_rec(4 | 8, bytes(3)) + r_rec(1, single))


if __name__ == "__main__":
    backdoor_seeds()
    rpc_seeds()
    vmci_seeds()
    clock_seeds()
    control_seeds()
    guestinfo_seeds()
    dndcp_seeds()
