// SPDX-License-Identifier: MIT
/*
 * The namespace database (see namespace-db.h), as open-vm-tools'
 * vmware-namespace-cmd speaks to a VMware host:
 *
 *   "namespace-priv-get-values NS\0KEY\0[KEY\0...]"
 *       -> "1 VALUE\0[VALUE\0...]", or "0 <why>"
 *   "namespace-priv-set-keys NS\0N\0" then N times "OP\0KEY\0VALUE\0OLD\0"
 *       OP 0 sets KEY, OP 1 only if its value is OLD now; an empty VALUE
 *       deletes KEY.  All N or none: -> "1 " or "0 <why>".
 *
 * Every field is a NUL-terminated string, so a value can't hold a NUL.
 * Namespace names and keys are printable UTF-8 (no control bytes); values
 * are any bytes but NUL, escaped (vm_append_guest_text) wherever they are
 * shown.  Unlike VMware, where only the host creates namespaces, the guest
 * creates one by setting its first key (within NSDB_NAMESPACES_MAX), and a
 * namespace whose last key is deleted is gone.
 *
 * Persistence: the hypervisor's threads may not open files for writing
 * once started (thread-filter.c), so the file is opened at start and kept
 * open.  It holds two slots of NSDB_SLOT_SIZE, each a header (magic,
 * generation, length, SHA-256 of the data) and the data, every
 * "ns\0key\0value\0" in order; a write goes to the slot not holding the
 * newest copy, then fdatasync.  Loading takes the valid slot of the
 * highest generation, through the same limits as the guest's requests.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/vm.h"
#include "namespace-db.h"
#include "rpc.h"

#define NSDB_MAGIC		"PHNSDB01"
#define NSDB_HEADER_SIZE	64
#define NSDB_SLOT_SIZE		(NSDB_HEADER_SIZE + NSDB_BYTES_MAX)
#define SHA256_LEN		32

struct slot_header {
	char magic[8];
	uint64_t generation;
	uint32_t length;
	uint32_t reserved;
	uint8_t sha256[SHA256_LEN];
};
G_STATIC_ASSERT(sizeof(struct slot_header) <= NSDB_HEADER_SIZE);

struct namespace_db {
	GHashTable *spaces;	/* name -> GHashTable key -> value */
	size_t bytes;		/* of the stored form: every "ns\0key\0value\0" */
	uint64_t generation;	/* of the newest copy in the file */
	bool dirty;
	int fd;			/* the state file, -1: memory only */
	char *path;
	uint64_t gets, sets, refused, writes, write_errors;
};

/* A "ns\0key\0value\0" record's share of NSDB_BYTES_MAX. */
static size_t entry_bytes(const char *ns, const char *key, const char *value)
{
	return strlen(ns) + strlen(key) + strlen(value) + 3;
}

static bool valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !g_utf8_validate(s, (gssize)n, NULL))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return true;
}

static GHashTable *space_new(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

/* ---- changes, all through one function that keeps the limits ---- */

/*
 * Whether setting ns/key to value (NULL or "": delete) fits the limits,
 * given the database as it is; *why says what would not.
 */
static bool change_fits(const struct namespace_db *db, const char *ns, const char *key,
			const char *value, size_t *bytes, const char **why)
{
	GHashTable *space = g_hash_table_lookup(db->spaces, ns);
	const char *old = space ? g_hash_table_lookup(space, key) : NULL;
	size_t after = *bytes - (old ? entry_bytes(ns, key, old) : 0);

	if (!value || !*value) {
		*bytes = after;
		return true;
	}
	if (strlen(value) > NSDB_VALUE_MAX) {
		*why = "Value too long";
		return false;
	}
	if (!space && g_hash_table_size(db->spaces) >= NSDB_NAMESPACES_MAX) {
		*why = "Too many namespaces";
		return false;
	}
	if (!old && space && g_hash_table_size(space) >= NSDB_KEYS_MAX) {
		*why = "Too many keys in the namespace";
		return false;
	}
	after += entry_bytes(ns, key, value);
	if (after > NSDB_BYTES_MAX) {
		*why = "Namespace database is full";
		return false;
	}
	*bytes = after;
	return true;
}

static void apply(struct namespace_db *db, const char *ns, const char *key, const char *value)
{
	GHashTable *space = g_hash_table_lookup(db->spaces, ns);
	const char *old = space ? g_hash_table_lookup(space, key) : NULL;

	if (old)
		db->bytes -= entry_bytes(ns, key, old);
	if (!value || !*value) {
		if (space) {
			g_hash_table_remove(space, key);
			if (!g_hash_table_size(space))
				g_hash_table_remove(db->spaces, ns);
		}
	} else {
		if (!space) {
			space = space_new();
			g_hash_table_insert(db->spaces, g_strdup(ns), space);
		}
		g_hash_table_replace(space, g_strdup(key), g_strdup(value));
		db->bytes += entry_bytes(ns, key, value);
	}
	db->dirty = true;
}

/* ---- the stored form ---- */

static GList *sorted_keys(GHashTable *t)
{
	return g_list_sort(g_hash_table_get_keys(t), (GCompareFunc)strcmp);
}

static void serialize(const struct namespace_db *db, GString *out)
{
	GList *spaces = sorted_keys(db->spaces);

	for (GList *s = spaces; s; s = s->next) {
		GHashTable *space = g_hash_table_lookup(db->spaces, s->data);
		GList *keys = sorted_keys(space);

		for (GList *k = keys; k; k = k->next) {
			g_string_append_len(out, s->data, (gssize)strlen(s->data) + 1);
			g_string_append_len(out, k->data, (gssize)strlen(k->data) + 1);
			g_string_append_len(out, g_hash_table_lookup(space, k->data),
					    (gssize)strlen(g_hash_table_lookup(space, k->data)) + 1);
		}
		g_list_free(keys);
	}
	g_list_free(spaces);
}

/*
 * Split `len` bytes of NUL-terminated fields into at most `max` pointers
 * into `data`; -1 when a field has no NUL or there are more than `max`.
 */
static int split_fields(const char *data, size_t len, const char **field, int max)
{
	int n = 0;
	size_t at = 0;

	while (at < len) {
		const char *nul = memchr(data + at, '\0', len - at);

		if (!nul || n == max)
			return -1;
		field[n++] = data + at;
		at = (size_t)(nul - data) + 1;
	}
	return n;
}

/* A stored copy, checked as the guest's requests are; false leaves db untouched. */
static bool deserialize(struct namespace_db *db, const char *data, size_t len)
{
	struct namespace_db tmp = { .spaces = g_hash_table_new_full(g_str_hash, g_str_equal,
								    g_free,
								    (GDestroyNotify)g_hash_table_destroy) };
	const char *why = NULL;
	size_t at = 0;

	while (at < len) {
		const char *f[3];
		size_t bytes = tmp.bytes, rec = 0;

		for (int i = 0; i < 3; i++) {
			const char *nul = at + rec < len ?
					  memchr(data + at + rec, '\0', len - at - rec) : NULL;

			if (!nul)
				goto bad;
			f[i] = data + at + rec;
			rec = (size_t)(nul - (data + at)) + 1;
		}
		if (!valid_name(f[0], NSDB_NAME_MAX) || !valid_name(f[1], NSDB_KEY_MAX) || !*f[2] ||
		    !change_fits(&tmp, f[0], f[1], f[2], &bytes, &why))
			goto bad;
		apply(&tmp, f[0], f[1], f[2]);
		at += rec;
	}
	g_hash_table_destroy(db->spaces);
	db->spaces = tmp.spaces;
	db->bytes = tmp.bytes;
	return true;
bad:
	g_hash_table_destroy(tmp.spaces);
	return false;
}

static void checksum(const char *data, size_t len, uint8_t out[SHA256_LEN])
{
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = SHA256_LEN;

	g_checksum_update(c, (const guchar *)data, (gssize)len);
	g_checksum_get_digest(c, out, &n);
	g_checksum_free(c);
}

/* Slot `i` of the file, when it holds a valid copy: its generation, its data in *data. */
static bool read_slot(int fd, int i, uint64_t *generation, char **data, size_t *len)
{
	struct slot_header h;
	uint8_t sum[SHA256_LEN];
	char *buf;
	off_t base = (off_t)i * NSDB_SLOT_SIZE;

	if (pread(fd, &h, sizeof(h), base) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, NSDB_MAGIC, sizeof(h.magic)) || h.length > NSDB_BYTES_MAX)
		return false;
	buf = g_malloc(h.length + 1);
	if (pread(fd, buf, h.length, base + NSDB_HEADER_SIZE) != (ssize_t)h.length) {
		g_free(buf);
		return false;
	}
	checksum(buf, h.length, sum);
	if (memcmp(sum, h.sha256, SHA256_LEN)) {
		g_free(buf);
		return false;
	}
	*generation = h.generation;
	*data = buf;
	*len = h.length;
	return true;
}

static void load(struct namespace_db *db)
{
	uint64_t gen[2] = { 0 };
	char *data[2] = { NULL };
	size_t len[2] = { 0 };
	bool ok[2];
	int newest;

	for (int i = 0; i < 2; i++)
		ok[i] = read_slot(db->fd, i, &gen[i], &data[i], &len[i]);
	newest = ok[1] && (!ok[0] || gen[1] > gen[0]);
	for (int tries = 0; tries < 2; tries++, newest ^= 1) {
		if (ok[newest] && deserialize(db, data[newest], len[newest])) {
			db->generation = gen[newest];
			break;
		}
		if (ok[newest])
			g_warning("namespace database %s: copy %d breaks the limits; ignored",
				  db->path, newest);
	}
	g_free(data[0]);
	g_free(data[1]);
}

struct namespace_db *namespace_db_open(const char *state_dir, const char *vm_name)
{
	struct namespace_db *db = g_new0(struct namespace_db, 1);
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	db->spaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify)g_hash_table_destroy);
	db->fd = -1;
	if (!state_dir)
		return db;
	db->path = g_strdup_printf("%s/%s.nsdb", state_dir, vm_name);
	if (g_mkdir_with_parents(state_dir, 0700)) {
		g_warning("namespace database: cannot create %s (%s); kept in memory only",
			  state_dir, g_strerror(errno));
		return db;
	}
	db->fd = open(db->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (db->fd < 0) {
		g_warning("namespace database %s: %s; kept in memory only", db->path,
			  g_strerror(errno));
		return db;
	}
	/* Another VM of this name (its control socket refuses us next) owns the file. */
	if (fcntl(db->fd, F_SETLK, &lock)) {
		g_warning("namespace database %s is in use by another porthole-hv; "
			  "kept in memory only", db->path);
		close(db->fd);
		db->fd = -1;
		return db;
	}
	load(db);
	return db;
}

void namespace_db_free(struct namespace_db *db)
{
	if (!db)
		return;
	if (db->fd >= 0)
		close(db->fd);
	g_hash_table_destroy(db->spaces);
	g_free(db->path);
	g_free(db);
}

void namespace_db_flush(struct vm *vm)
{
	struct namespace_db *db;
	GString *data = g_string_new(NULL);
	struct slot_header h = { .magic = NSDB_MAGIC };
	char header[NSDB_HEADER_SIZE] = { 0 };
	off_t base;
	int fd;
	bool ok;

	pthread_mutex_lock(&vm->lock);
	db = vm->namespace_db;
	if (!db || !db->dirty || db->fd < 0) {
		pthread_mutex_unlock(&vm->lock);
		g_string_free(data, TRUE);
		return;
	}
	serialize(db, data);
	db->dirty = false;
	h.generation = ++db->generation;
	fd = db->fd;
	pthread_mutex_unlock(&vm->lock);

	/* Only this thread writes the file, and the VM outlives the flushes. */
	h.length = (uint32_t)data->len;
	checksum(data->str, data->len, h.sha256);
	memcpy(header, &h, sizeof(h));
	base = (off_t)(h.generation % 2) * NSDB_SLOT_SIZE;
	ok = pwrite(fd, data->str, data->len, base + NSDB_HEADER_SIZE) == (ssize_t)data->len &&
	     pwrite(fd, header, sizeof(header), base) == (ssize_t)sizeof(header) &&
	     fdatasync(fd) == 0;
	pthread_mutex_lock(&vm->lock);
	if (ok) {
		db->writes++;
	} else {
		/* Logged on the first failure; the change is written again next time. */
		if (!db->write_errors++)
			g_warning("namespace database %s: write failed: %s", db->path,
				  g_strerror(errno));
		db->dirty = true;
	}
	pthread_mutex_unlock(&vm->lock);
	g_string_free(data, TRUE);
}

/* ---- RPCI ---- */

static void refuse(struct vm *vm, GString *reply, const char *why)
{
	vm->namespace_db->refused++;
	vm_guest_log(vm, "namespace: request refused: %s", why);
	g_string_append_printf(reply, "%s%s", RPCI_FAILURE_PREFIX, why);
}

/* "NS\0KEY\0...": each value, NUL-terminated, or a failure for the first missing one. */
static void get_values(struct vm *vm, const char *data, size_t len, GString *reply)
{
	struct namespace_db *db = vm->namespace_db;
	const char *f[1 + NSDB_GET_KEYS_MAX];
	int n = split_fields(data, len, f, G_N_ELEMENTS(f));
	GHashTable *space;
	size_t start = reply->len;

	if (n < 2) {
		refuse(vm, reply, n < 0 ? "Malformed request (fields without NUL, or too many keys)"
				       : "Expected a namespace and at least one key");
		return;
	}
	if (!valid_name(f[0], NSDB_NAME_MAX)) {
		refuse(vm, reply, "Invalid namespace name");
		return;
	}
	db->gets++;
	space = g_hash_table_lookup(db->spaces, f[0]);
	if (!space) {
		g_string_append(reply, RPCI_FAILURE_PREFIX "Namespace does not exist");
		return;
	}
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
	for (int i = 1; i < n; i++) {
		const char *v = g_hash_table_lookup(space, f[i]);

		if (!v) {
			g_string_truncate(reply, start);
			g_string_append(reply, RPCI_FAILURE_PREFIX "Key does not exist");
			return;
		}
		g_string_append_len(reply, v, (gssize)strlen(v) + 1);
	}
}

/* "NS\0N\0" then N times "OP\0KEY\0VALUE\0OLD\0": every op checked, then all applied. */
static void set_keys(struct vm *vm, const char *data, size_t len, GString *reply)
{
	struct namespace_db *db = vm->namespace_db;
	const char *f[2 + 4 * NSDB_OPS_MAX];
	int n = split_fields(data, len, f, G_N_ELEMENTS(f));
	size_t bytes = db->bytes;
	const char *why = NULL;
	guint64 ops;
	GHashTable *seen;

	if (n < 2 || !g_ascii_string_to_unsigned(f[1], 10, 1, NSDB_OPS_MAX, &ops, NULL)) {
		refuse(vm, reply, n < 0 ? "Malformed request (fields without NUL, or too many)"
				       : "Expected a namespace and 1..64 operations");
		return;
	}
	/* The count must say exactly what follows: no more, no less. */
	if ((guint64)n != 2 + 4 * ops) {
		refuse(vm, reply, "Operation count does not match the fields sent");
		return;
	}
	if (!valid_name(f[0], NSDB_NAME_MAX)) {
		refuse(vm, reply, "Invalid namespace name");
		return;
	}
	/*
	 * All or nothing: check every op against the database as the ops
	 * before it leave it.  A key set twice in one request is refused, so
	 * each op's condition reads the database as it is now.
	 */
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint64 i = 0; i < ops && !why; i++) {
		const char **op = f + 2 + 4 * i;
		GHashTable *space = g_hash_table_lookup(db->spaces, f[0]);
		const char *cur = space ? g_hash_table_lookup(space, op[1]) : NULL;

		if (strcmp(op[0], "0") && strcmp(op[0], "1"))
			why = "Invalid operation code (expected 0 or 1)";
		else if (!valid_name(op[1], NSDB_KEY_MAX))
			why = "Invalid key";
		else if (!g_hash_table_add(seen, (gpointer)op[1]))
			why = "Key given twice in one request";
		else if (op[0][0] == '1' && g_strcmp0(cur ? cur : "", op[3]))
			why = "Value changed (the old value does not match)";
		else if (!*op[2] && !cur)
			why = "Key does not exist";
		else
			change_fits(db, f[0], op[1], op[2], &bytes, &why);
	}
	/*
	 * change_fits() counted each op against the stored namespace only: a
	 * request creating a namespace and filling it past its key limit is
	 * caught by counting its new keys too.
	 */
	if (!why) {
		GHashTable *space = g_hash_table_lookup(db->spaces, f[0]);
		guint keys = space ? g_hash_table_size(space) : 0;

		for (guint64 i = 0; i < ops; i++) {
			const char **op = f + 2 + 4 * i;
			bool had = space && g_hash_table_contains(space, op[1]);

			keys += (*op[2] && !had) - (!*op[2] && had);
		}
		if (keys > NSDB_KEYS_MAX)
			why = "Too many keys in the namespace";
	}
	g_hash_table_destroy(seen);
	if (why) {
		refuse(vm, reply, why);
		return;
	}
	for (guint64 i = 0; i < ops; i++)
		apply(db, f[0], f[2 + 4 * i + 1], f[2 + 4 * i + 2]);
	db->sets++;
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
}

bool namespace_db_rpci(struct vm *vm, const char *msg, size_t len, GString *reply)
{
	size_t get_len = strlen(NSDB_GET_COMMAND), set_len = strlen(NSDB_SET_COMMAND);

	if (!vm->namespace_db)
		return false;
	if (len > get_len && !memcmp(msg, NSDB_GET_COMMAND " ", get_len + 1))
		get_values(vm, msg + get_len + 1, len - get_len - 1, reply);
	else if (len > set_len && !memcmp(msg, NSDB_SET_COMMAND " ", set_len + 1))
		set_keys(vm, msg + set_len + 1, len - set_len - 1, reply);
	else
		return false;
	return true;
}

/* ---- host side ---- */

/* Cut listings here: a reply must fit a control packet (PH_CTL_MAX_PAYLOAD). */
#define NSDB_LIST_MAX	(48u << 10)

int namespace_db_control(struct vm *vm, const char *payload, GString *out)
{
	struct namespace_db *db = vm->namespace_db;
	char **w = g_strsplit(payload ? payload : "", "\n", 3);
	guint n = g_strv_length(w);
	GHashTable *space;
	int status = 0;

	if (!db) {
		status = ENODEV;
	} else if (n == 0 || !*w[0]) {
		GList *names = sorted_keys(db->spaces);

		for (GList *s = names; s; s = s->next) {
			GHashTable *sp = g_hash_table_lookup(db->spaces, s->data);
			GHashTableIter it;
			gpointer k, v;
			size_t bytes = 0;

			g_hash_table_iter_init(&it, sp);
			while (g_hash_table_iter_next(&it, &k, &v))
				bytes += entry_bytes(s->data, k, v);
			vm_append_guest_text(out, s->data, NSDB_NAME_MAX, " ");
			g_string_append_printf(out, " keys=%u bytes=%zu\n", g_hash_table_size(sp),
					       bytes);
		}
		g_list_free(names);
	} else if (n > 2) {
		status = EINVAL;
	} else if (!(space = g_hash_table_lookup(db->spaces, w[0]))) {
		status = ENOENT;
	} else if (n == 2) {
		const char *v = g_hash_table_lookup(space, w[1]);

		/* Escaping may make each byte four: cut so the reply fits a packet. */
		if (v)
			vm_append_guest_text(out, v, NSDB_LIST_MAX / 4, NULL);
		else
			status = ENOENT;
	} else {
		GList *keys = sorted_keys(space);

		for (GList *k = keys; k; k = k->next) {
			if (out->len > NSDB_LIST_MAX) {
				g_string_append(out, "...\n");
				break;
			}
			vm_append_guest_text(out, k->data, NSDB_KEY_MAX, "=");
			g_string_append_c(out, '=');
			vm_append_guest_text(out, g_hash_table_lookup(space, k->data), 1024, NULL);
			g_string_append_c(out, '\n');
		}
		g_list_free(keys);
	}
	g_strfreev(w);
	return status;
}

void namespace_db_status(struct vm *vm, GString *out)
{
	struct namespace_db *db = vm->namespace_db;

	if (!db)
		return;
	g_string_append_printf(out, "namespace.count=%u\nnamespace.bytes=%zu\n"
			       "namespace.gets=%llu\nnamespace.sets=%llu\nnamespace.refused=%llu\n"
			       "namespace.writes=%llu\nnamespace.persisted=%s\n",
			       g_hash_table_size(db->spaces), db->bytes,
			       (unsigned long long)db->gets, (unsigned long long)db->sets,
			       (unsigned long long)db->refused, (unsigned long long)db->writes,
			       db->fd >= 0 ? "yes" : "no");
}
