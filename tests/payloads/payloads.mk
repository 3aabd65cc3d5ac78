# Freestanding KVM payloads (tests/payloads): flat binaries loaded at
# 0x100000, built from the payload runtime and the project's backdoor
# library compiled freestanding.  Included by the top-level Makefile;
# output in $(BUILD)/payloads.  Never built with sanitizers: a payload runs
# on bare (virtual) metal, with no ASan runtime to call.

PAYLOAD_DIR := tests/payloads
PAYLOAD_OUT := $(BUILD)/payloads
PAYLOAD_NAMES := getversion gettimefull rpc-lb rpc-hb fault platform bench-exit-floor bench-backdoor \
	bench-memory \
	boot-check vmci vmci-64m vmci-high
PAYLOAD_RUNTIME := crt0.o runtime.o call.o msgchan-guest.o rpc-common.o ring.o
PAYLOAD_CFLAGS := -std=gnu11 $(WARN) -O2 -g -ffreestanding -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) -I$(PAYLOAD_DIR)/include -I. \
	-fno-pic -fno-pie -mcmodel=small -mno-red-zone -mgeneral-regs-only \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
	-fno-tree-loop-distribute-patterns -MMD -MP
PAYLOAD_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,-T,$(PAYLOAD_DIR)/payload.ld

PAYLOADS := $(patsubst %,$(PAYLOAD_OUT)/%.bin,$(PAYLOAD_NAMES)) \
	$(PAYLOAD_OUT)/boot-check.elf $(PAYLOAD_OUT)/boot-check-bz.bin $(PAYLOAD_OUT)/kernel-insns.elf
PAYLOAD_LIB := $(patsubst %,$(PAYLOAD_OUT)/obj/%,$(PAYLOAD_RUNTIME))

.PHONY: payloads
payloads: $(PAYLOADS)

$(PAYLOAD_OUT)/obj/%.o: $(PAYLOAD_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c $< -o $@

$(PAYLOAD_OUT)/obj/%.o: $(PAYLOAD_DIR)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c $< -o $@

$(PAYLOAD_OUT)/obj/%.o: backdoor/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c $< -o $@

# vmci.c moving 64 MiB for make check (64 times round its 1 MiB queue: wrap-around and
# back-pressure in seconds); the 1 GiB default is for make bench.
$(PAYLOAD_OUT)/obj/vmci-64m.o: $(PAYLOAD_DIR)/vmci.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -DSTREAM_BYTES='(64ull << 20)' -c $< -o $@

# vmci.c again with its queue pair above 4 GiB (guest-physical), 16 MiB streamed.
$(PAYLOAD_OUT)/obj/vmci-high.o: $(PAYLOAD_DIR)/vmci.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -DQP_HIGH -DSTREAM_BYTES='(16ull << 20)' -c $< -o $@

$(PAYLOAD_OUT)/%.elf: $(PAYLOAD_OUT)/obj/%.o $(PAYLOAD_LIB) $(PAYLOAD_DIR)/payload.ld
	$(CC) $(PAYLOAD_LDFLAGS) -o $@ $(filter %.o,$^)

# boot-check linked 0x200 higher: the 64-bit entry of a bzImage loaded at 1 MiB.
$(PAYLOAD_OUT)/boot-check-bz.elf: $(PAYLOAD_OUT)/obj/boot-check.o $(PAYLOAD_LIB) $(PAYLOAD_DIR)/payload.ld
	$(CC) -Wl,--defsym=__load_addr=0x100200 $(PAYLOAD_LDFLAGS) -o $@ $(filter %.o,$^)

$(PAYLOAD_OUT)/%.bin: $(PAYLOAD_OUT)/%.elf
	objcopy -O binary $< $@

-include $(wildcard $(PAYLOAD_OUT)/obj/*.d)
