// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-ufs.c: DfotaUfs on a real pseudo-terminal. The test plays the module on the master
 * side with a small scripted responder of its own (not the project's simulator, and with its
 * own checksum code), so a shared misunderstanding cannot hide a bug. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfota-at-channel.h"
#include "dfota-error.h"
#include "dfota-serial.h"
#include "dfota-ufs.h"

#define WAIT_S 20

/* ---- the scripted module ---------------------------------------------------------------- */

typedef struct {
	int fd;
	GSource *source;
	GString *line;
	GByteArray *out; /* bytes to the host not yet taken by the pty */
	guint out_watch;
	GPtrArray *log;    /* every command line received */
	GHashTable *files; /* name → GByteArray */
	gsize total;
	gboolean spaces; /* a space after commas in answers */
	/* AT+QFUPL in progress */
	char *upl_name;
	gsize upl_size;
	gboolean upl_ack;
	guint upl_timeout_s;
	GByteArray *upl_data;
	gsize upl_wire; /* bytes that arrived, dropped ones included */
	guint upl_timer;
	/* faults */
	gssize drop_at;    /* lose the byte at this offset (-1: none) */
	gssize corrupt_at; /* flip the byte at this offset (-1: none) */
	gboolean wrong_dwl_sum;
	gsize pause_after; /* stop reading the pty for a while after this many data bytes */
	gboolean paused_once;
	gsize stall_after;   /* take no data bytes beyond this many (0: never stall) */
	gboolean stall_cme;  /* a stalled upload ends with +CME ERROR: 421, not +QFUPL */
	const char *missing; /* the answer to a command on a missing file ("+CME ERROR: 405") */
	gboolean ufs_prefix; /* AT+QFLST names carry "UFS:" */
	gboolean with_dir;   /* AT+QFLST lists a "security/" directory */
	gboolean upper_sum;  /* +QFUPL/+QFDWL checksums in upper case, zero-padded */
	const char *refuse;  /* AT+QFDEL / AT+QFDWL of an existing file answer this */
} Module;

static guint16
xor16(const guint8 *data, gsize len)
{
	guint16 sum = 0;

	for (gsize i = 0; i < len; i += 2) {
		guint16 hi = data[i];
		guint16 lo = i + 1 < len ? data[i + 1] : 0;
		sum ^= (guint16)(hi << 8 | lo);
	}
	return sum;
}

static gboolean
on_module_writable(gint fd, GIOCondition cond, gpointer data)
{
	Module *m = data;

	while (m->out->len > 0) {
		ssize_t n = write(m->fd, m->out->data, m->out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return G_SOURCE_CONTINUE;
		g_assert_cmpint(n, >, 0);
		g_byte_array_remove_range(m->out, 0, (guint)n);
	}
	m->out_watch = 0;
	return G_SOURCE_REMOVE;
}

/* Queued and written as the pty takes it: the host reads from the same main loop. */
static void
module_write(Module *m, const void *data, gsize len)
{
	g_byte_array_append(m->out, data, (guint)len);
	if (m->out_watch == 0)
		m->out_watch = g_unix_fd_add(m->fd, G_IO_OUT, on_module_writable, m);
}

G_GNUC_PRINTF(2, 3)
static void
module_line(Module *m, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL;
	g_autofree char *wire = NULL;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	wire = g_strdup_printf("\r\n%s\r\n", text);
	module_write(m, wire, strlen(wire));
}

static const char *
sep(Module *m)
{
	return m->spaces ? ", " : ",";
}

static gsize
used(Module *m)
{
	GHashTableIter it;
	gpointer v;
	gsize n = 0;

	g_hash_table_iter_init(&it, m->files);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += ((GByteArray *)v)->len;
	return n;
}

static void
put_file(Module *m, const char *name, const guint8 *data, gsize len)
{
	GByteArray *a = g_byte_array_new();

	g_byte_array_append(a, data, (guint)len);
	g_hash_table_replace(m->files, g_strdup(name), a);
}

static void
upload_finish(Module *m)
{
	GByteArray *d = m->upl_data;

	g_clear_handle_id(&m->upl_timer, g_source_remove);
	put_file(m, m->upl_name, d->data, d->len);
	if (m->stall_after && d->len < m->upl_size && m->stall_cme)
		module_line(m, "+CME ERROR: 421");
	else if (m->upper_sum)
		module_line(m, "+QFUPL: %u%s%04X", d->len, sep(m), xor16(d->data, d->len));
	else
		module_line(m, "+QFUPL: %u%s%x", d->len, sep(m), xor16(d->data, d->len));
	if (!(m->stall_after && d->len < m->upl_size && m->stall_cme))
		module_line(m, "OK");
	g_clear_pointer(&m->upl_name, g_free);
	g_clear_pointer(&m->upl_data, g_byte_array_unref);
}

static gboolean
on_upload_timeout(gpointer data)
{
	Module *m = data;

	m->upl_timer = 0;
	upload_finish(m); /* like the module: keeps what arrived and reports it */
	return G_SOURCE_REMOVE;
}

static gboolean on_module_readable(gint fd, GIOCondition cond, gpointer data);

static void
module_watch(Module *m)
{
	m->source = g_unix_fd_source_new(m->fd, G_IO_IN);
	g_source_set_callback(m->source, G_SOURCE_FUNC(on_module_readable), m, NULL);
	g_source_attach(m->source, NULL);
}

static gboolean
on_resume(gpointer data)
{
	module_watch(data);
	return G_SOURCE_REMOVE;
}

/* Returns FALSE when the responder stopped reading for a while (back-pressure test). */
static gboolean
upload_byte(Module *m, guint8 b)
{
	gssize off = (gssize)m->upl_wire++;

	if (off == m->drop_at)
		return TRUE;
	if (m->stall_after && m->upl_data->len >= m->stall_after)
		return TRUE; /* stuck: the byte is swallowed, nothing is acknowledged */
	if (off == m->corrupt_at)
		b ^= 0x5a;
	g_byte_array_append(m->upl_data, &b, 1);
	if (m->upl_ack && m->upl_data->len % 1024 == 0)
		module_write(m, "A", 1);
	if (m->upl_data->len == m->upl_size) {
		upload_finish(m);
		return TRUE;
	}
	if (m->pause_after && !m->paused_once && m->upl_wire >= m->pause_after) {
		m->paused_once = TRUE;
		g_source_destroy(m->source);
		g_clear_pointer(&m->source, g_source_unref);
		g_timeout_add(300, on_resume, m);
		return FALSE;
	}
	return TRUE;
}

static char *
quoted_arg(const char *cmd, const char *prefix)
{
	const char *p = cmd + strlen(prefix);
	const char *end;

	if (!g_str_has_prefix(cmd, prefix) || *p != '"' || (end = strchr(p + 1, '"')) == NULL)
		return NULL;
	return g_strndup(p + 1, (gsize)(end - p - 1));
}

static const char *
missing_answer(Module *m)
{
	return m->missing ? m->missing : "+CME ERROR: 405";
}

static void
list_line(Module *m, const char *name, guint len)
{
	module_line(m, "+QFLST: \"%s%s\"%s%u", m->ufs_prefix ? "UFS:" : "", name, sep(m), len);
}

static void
module_command(Module *m, const char *cmd)
{
	g_autofree char *name = NULL;
	GByteArray *f;

	g_ptr_array_add(m->log, g_strdup(cmd));
	if (g_str_equal(cmd, "AT+QFLDS=\"UFS\"")) {
		module_line(m, "+QFLDS: %zu%s%zu", m->total - used(m), sep(m), m->total);
		module_line(m, "OK");
	} else if (g_str_equal(cmd, "AT+QFLST")) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, m->files);
		if (m->with_dir)
			list_line(m, "security/", 0);
		while (g_hash_table_iter_next(&it, &k, &v))
			list_line(m, k, ((GByteArray *)v)->len);
		module_line(m, "OK");
	} else if ((name = quoted_arg(cmd, "AT+QFLST="))) {
		if ((f = g_hash_table_lookup(m->files, name)) == NULL) {
			module_line(m, "%s", missing_answer(m));
			return;
		}
		list_line(m, name, f->len);
		module_line(m, "OK");
	} else if ((name = quoted_arg(cmd, "AT+QFDEL="))) {
		if (m->refuse && g_hash_table_contains(m->files, name)) {
			module_line(m, "%s", m->refuse);
			return;
		}
		if (!g_hash_table_remove(m->files, name)) {
			module_line(m, "%s", missing_answer(m));
			return;
		}
		module_line(m, "OK");
	} else if ((name = quoted_arg(cmd, "AT+QFUPL="))) {
		const char *p = strchr(cmd + strlen("AT+QFUPL=\""), '"') + 1;
		g_auto(GStrv) v = g_strsplit(p + 1, ",", -1);
		g_assert_cmpint((guchar)*p, ==, ',');
		g_assert_cmpuint(g_strv_length(v), ==, 3);
		m->upl_size = strtoul(v[0], NULL, 10);
		m->upl_timeout_s = (guint)strtoul(v[1], NULL, 10);
		m->upl_ack = strtoul(v[2], NULL, 10) == 1;
		if (m->upl_size > m->total - used(m)) {
			module_line(m, "+CME ERROR: 6502");
			return;
		}
		m->upl_name = g_steal_pointer(&name);
		m->upl_data = g_byte_array_new();
		m->upl_wire = 0;
		module_line(m, "CONNECT");
		m->upl_timer = g_timeout_add_seconds(m->upl_timeout_s, on_upload_timeout, m);
	} else if ((name = quoted_arg(cmd, "AT+QFDWL="))) {
		if ((f = g_hash_table_lookup(m->files, name)) == NULL) {
			module_line(m, "%s", missing_answer(m));
			return;
		}
		if (m->refuse) {
			module_line(m, "%s", m->refuse);
			return;
		}
		module_line(m, "CONNECT");
		module_write(m, f->data, f->len);
		module_line(m, m->upper_sum ? "+QFDWL: %u%s%04X" : "+QFDWL: %u%s%x", f->len, sep(m),
		            xor16(f->data, f->len) ^ (m->wrong_dwl_sum ? 0x0100 : 0));
		module_line(m, "OK");
	} else {
		module_line(m, "ERROR");
	}
}

static gboolean
on_module_readable(gint fd, GIOCondition cond, gpointer data)
{
	Module *m = data;
	guint8 buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return G_SOURCE_CONTINUE;
	for (ssize_t i = 0; i < n; i++) {
		if (m->upl_data) {
			if (!m->upl_timer)
				continue;
			g_source_remove(m->upl_timer);
			m->upl_timer =
			        g_timeout_add_seconds(m->upl_timeout_s, on_upload_timeout, m);
			if (!upload_byte(m, buf[i])) {
				/* Paused: the rest of this read has arrived all the same. */
				for (ssize_t j = i + 1; j < n && m->upl_data; j++)
					upload_byte(m, buf[j]);
				return G_SOURCE_REMOVE;
			}
			continue;
		}
		if (buf[i] == '\r') {
			g_autofree char *cmd = g_string_free(g_steal_pointer(&m->line), FALSE);
			m->line = g_string_new(NULL);
			if (*cmd)
				module_command(m, cmd);
		} else if (buf[i] != '\n') {
			g_string_append_c(m->line, (char)buf[i]);
		}
	}
	return G_SOURCE_CONTINUE;
}

/* ---- fixture ----------------------------------------------------------------------------- */

typedef struct {
	Module m;
	DfotaSerial *serial;
	DfotaAtChannel *channel;
	gboolean done;
	GError *error;
	GBytes *bytes;
	GPtrArray *list;
	guint64 free_bytes, total_bytes;
	guint progress_calls;
	guint64 last_done, last_total;
	gboolean progress_decreased;
	gsize max_pending;
	GCancellable *cancellable;
	guint64 cancel_at;
	gboolean check_ahead;  /* acknowledged mode: see on_progress() */
	guint64 late_block_at; /* the first progress (done) the next block had not gone before */
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GError) error = NULL;
	int fd = posix_openpt(O_RDWR | O_NOCTTY);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(grantpt(fd), ==, 0);
	g_assert_cmpint(unlockpt(fd), ==, 0);
	g_assert_true(g_unix_set_fd_nonblocking(fd, TRUE, NULL));
	fx->serial = dfota_serial_open(ptsname(fd), 115200, FALSE, &error);
	g_assert_no_error(error);
	fx->channel = dfota_at_channel_new(fx->serial);
	fx->m.fd = fd;
	fx->m.line = g_string_new(NULL);
	fx->m.out = g_byte_array_new();
	fx->m.log = g_ptr_array_new_with_free_func(g_free);
	fx->m.files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                    (GDestroyNotify)g_byte_array_unref);
	fx->m.total = 1024 * 1024;
	fx->m.drop_at = -1;
	fx->m.corrupt_at = -1;
	module_watch(&fx->m);
}

static void
fixture_teardown(Fixture *fx, gconstpointer unused)
{
	Module *m = &fx->m;

	g_clear_object(&fx->channel);
	dfota_serial_close(fx->serial);
	g_clear_object(&fx->serial);
	if (m->source) {
		g_source_destroy(m->source);
		g_source_unref(m->source);
	}
	g_clear_handle_id(&m->upl_timer, g_source_remove);
	g_clear_handle_id(&m->out_watch, g_source_remove);
	g_byte_array_unref(m->out);
	g_clear_pointer(&m->upl_data, g_byte_array_unref);
	g_free(m->upl_name);
	close(m->fd);
	g_string_free(m->line, TRUE);
	g_ptr_array_unref(m->log);
	g_hash_table_unref(m->files);
	g_clear_error(&fx->error);
	g_clear_pointer(&fx->bytes, g_bytes_unref);
	g_clear_pointer(&fx->list, g_ptr_array_unref);
	g_clear_object(&fx->cancellable);
	/* Let sources destroyed above run their last dispatches. */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static gboolean
on_deadline(gpointer data)
{
	g_error("the operation did not complete within %d s", WAIT_S);
	return G_SOURCE_REMOVE;
}

static void
wait_done(Fixture *fx)
{
	guint id = g_timeout_add_seconds(WAIT_S, on_deadline, NULL);

	while (!fx->done)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
	g_assert_false(fx->progress_decreased);
	if (fx->error)
		g_test_message("%s", fx->error->message);
}

static void
on_progress(guint64 done, guint64 total, gpointer data)
{
	Fixture *fx = data;
	gsize pending = dfota_at_channel_get_pending(fx->channel);

	if (done < fx->last_done)
		fx->progress_decreased = TRUE;
	fx->progress_calls++;
	fx->last_done = done;
	fx->last_total = total;
	fx->max_pending = MAX(fx->max_pending, pending);
	/* In acknowledged mode the block after an 'A' is written before that 'A' is reported:
	 * the module waits for it. Data bytes written = all bytes written - the command lines the
	 * module logged (each with its CR). */
	if (fx->check_ahead && done < total && fx->late_block_at == 0) {
		guint64 commands = 0;

		for (guint i = 0; i < fx->m.log->len; i++)
			commands += strlen(g_ptr_array_index(fx->m.log, i)) + 1;
		if (dfota_serial_get_written(fx->serial) - commands < MIN(done + 1024, total))
			fx->late_block_at = done;
	}
	if (fx->cancellable && fx->cancel_at && done >= fx->cancel_at)
		g_cancellable_cancel(fx->cancellable);
}

static void
on_uploaded(GObject *source, GAsyncResult *result, gpointer data)
{
	Fixture *fx = data;

	g_assert_true(dfota_ufs_upload_finish(result, &fx->error) == (fx->error == NULL));
	fx->done = TRUE;
}

static void
on_downloaded(GObject *source, GAsyncResult *result, gpointer data)
{
	Fixture *fx = data;

	fx->bytes = dfota_ufs_download_finish(result, &fx->error);
	fx->done = TRUE;
}

static GBytes *
random_bytes(gsize len)
{
	guint8 *p = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		p[i] = (guint8)g_test_rand_int();
	return g_bytes_new_take(p, len);
}

static void
upload(Fixture *fx, const char *name, GBytes *data, gboolean streaming)
{
	DfotaUfsUploadOptions opts = { .streaming = streaming,
		                       .module_timeout_s = 1,
		                       .command_timeout_ms = 2000 };

	fx->done = FALSE;
	fx->last_done = 0;
	g_clear_error(&fx->error);
	dfota_ufs_upload(fx->channel, name, data, &opts, on_progress, fx, fx->cancellable,
	                 on_uploaded, fx);
	wait_done(fx);
}

static gboolean
stored_equals(Fixture *fx, const char *name, GBytes *data)
{
	GByteArray *f = g_hash_table_lookup(fx->m.files, name);
	g_autoptr(GBytes) b = NULL;

	if (f == NULL)
		return FALSE;
	b = g_bytes_new(f->data, f->len);
	return g_bytes_equal(b, data);
}

static gssize
log_index(Fixture *fx, const char *prefix, gsize from)
{
	for (gsize i = from; i < fx->m.log->len; i++) {
		if (g_str_has_prefix(g_ptr_array_index(fx->m.log, i), prefix))
			return (gssize)i;
	}
	return -1;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
check_upload_ok(Fixture *fx, gsize size, gboolean spaces, gboolean streaming)
{
	g_autoptr(GBytes) data = random_bytes(size);
	g_autofree char *want =
	        g_strdup_printf("AT+QFUPL=\"fota.pack\",%zu,1,%d", size, streaming ? 0 : 1);

	fx->m.spaces = spaces;
	upload(fx, "fota.pack", data, streaming);
	g_assert_no_error(fx->error);
	g_assert_true(stored_equals(fx, "fota.pack", data));
	g_assert_cmpint(log_index(fx, want, 0), >=, 0);
	g_assert_cmpint(log_index(fx, "AT+QFDEL", 0), ==, -1); /* nothing to replace or clean */
	g_assert_cmpuint(fx->last_done, ==, size);
	g_assert_cmpuint(fx->last_total, ==, size);
	if (!streaming)
		g_assert_cmpuint(fx->progress_calls, >=, size / 1024);
}

static void
test_upload_ack(Fixture *fx, gconstpointer unused)
{
	check_upload_ok(fx, 5000, FALSE, FALSE); /* a last partial block */
}

static void
test_upload_ack_block_before_progress(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(8 * 1024 + 100);

	fx->check_ahead = TRUE;
	upload(fx, "fota.pack", data, FALSE);
	g_assert_no_error(fx->error);
	g_assert_true(stored_equals(fx, "fota.pack", data));
	g_assert_cmpuint(fx->progress_calls, >=, 8);
	g_assert_cmpuint(fx->late_block_at, ==, 0);
}

static void
test_upload_ack_spaces(Fixture *fx, gconstpointer unused)
{
	check_upload_ok(fx, 4096, TRUE, FALSE); /* whole blocks only */
}

/* Streaming with a module that stops reading for a while: the pty fills, and the uploader
 * must wait for "drained" instead of queueing the whole package. */
static void
test_upload_streaming(Fixture *fx, gconstpointer unused)
{
	fx->m.pause_after = 8192;
	check_upload_ok(fx, 256 * 1024, FALSE, TRUE);
	g_assert_true(fx->m.paused_once);
	g_test_message("most bytes pending in the serial's queue: %zu", fx->max_pending);
	g_assert_cmpuint(fx->max_pending, >, 0); /* the pause did push back */
	g_assert_cmpuint(fx->max_pending, <=, 4096 + 1024);
}

static void
test_upload_replaces(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) old = random_bytes(3000);
	g_autoptr(GBytes) data = random_bytes(4000);
	gssize lst, lds, del, upl;

	fx->m.total = 6000; /* fits only once the old file is gone */
	put_file(&fx->m, "fota.pack", g_bytes_get_data(old, NULL), 3000);
	upload(fx, "fota.pack", data, FALSE);
	g_assert_no_error(fx->error);
	g_assert_true(stored_equals(fx, "fota.pack", data));
	lst = log_index(fx, "AT+QFLST=\"fota.pack\"", 0);
	lds = log_index(fx, "AT+QFLDS=\"UFS\"", 0);
	del = log_index(fx, "AT+QFDEL=\"fota.pack\"", 0);
	upl = log_index(fx, "AT+QFUPL=\"fota.pack\",4000,", 0);
	g_assert_cmpint(lst, >=, 0);
	g_assert_cmpint(lds, >, lst);
	g_assert_cmpint(del, >, lds);
	g_assert_cmpint(upl, >, del);
}

static void
test_upload_no_space(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) other = random_bytes(3000);
	g_autoptr(GBytes) data = random_bytes(4000);

	fx->m.total = 6000;
	put_file(&fx->m, "other.bin", g_bytes_get_data(other, NULL), 3000);
	upload(fx, "fota.pack", data, FALSE);
	g_assert_error(fx->error, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE);
	g_assert_nonnull(strstr(fx->error->message, "4000"));
	g_assert_nonnull(strstr(fx->error->message, "3000"));
	g_assert_cmpint(log_index(fx, "AT+QFUPL", 0), ==, -1);
	g_assert_cmpint(log_index(fx, "AT+QFDEL", 0), ==, -1);
	g_assert_true(stored_equals(fx, "other.bin", other));
}

static void
check_mismatch(Fixture *fx, gboolean drop, gboolean spaces)
{
	g_autoptr(GBytes) data = random_bytes(3000);
	gssize upl, del;

	fx->m.spaces = spaces;
	if (drop)
		fx->m.drop_at = 2500; /* in the last block: the module waits in vain, times out */
	else
		fx->m.corrupt_at = 2100;
	upload(fx, "fota.pack", data, FALSE);
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH);
	/* Both sizes and checksums are in the message: what was sent and what was stored. */
	g_assert_nonnull(strstr(fx->error->message, "3000 bytes"));
	g_assert_nonnull(strstr(fx->error->message, drop ? "2999 bytes" : "3000 bytes"));
	upl = log_index(fx, "AT+QFUPL=\"fota.pack\"", 0);
	del = log_index(fx, "AT+QFDEL=\"fota.pack\"", 0);
	g_assert_cmpint(upl, >=, 0);
	g_assert_cmpint(del, >, upl);
	g_assert_null(g_hash_table_lookup(fx->m.files, "fota.pack"));
}

static void
test_upload_dropped_byte(Fixture *fx, gconstpointer unused)
{
	check_mismatch(fx, TRUE, FALSE);
}

static void
test_upload_corrupted_byte(Fixture *fx, gconstpointer unused)
{
	check_mismatch(fx, FALSE, TRUE);
}

/* The module stops taking bytes (no more acks, or it just swallows them): Timeout within
 * the upload timeout (1 s here), the partial file deleted, the channel usable afterwards.
 * @how: 0 the module reports the short file after its own timeout, 1 it answers
 * +CME ERROR: 421, 2 a byte lost early (the module then never acknowledges the block). */
static void
check_stall(Fixture *fx, int how, gboolean streaming)
{
	g_autoptr(GBytes) data = random_bytes(10 * 1024);
	g_autoptr(GBytes) after = random_bytes(100);
	gint64 start = g_get_monotonic_time();
	gint64 took_ms;
	gssize upl, del;

	if (how == 2)
		fx->m.drop_at = 1500;
	else
		fx->m.stall_after = 3000;
	fx->m.stall_cme = how == 1;
	upload(fx, "fota.pack", data, streaming);
	took_ms = (g_get_monotonic_time() - start) / 1000;
	g_test_message("ended after %" G_GINT64_FORMAT " ms: %s", took_ms,
	               fx->error ? fx->error->message : "no error");
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT);
	g_assert_nonnull(strstr(fx->error->message, "10240 bytes"));
	/* upload timeout 1 s from the stall, and the stall comes within the first second */
	g_assert_cmpint(took_ms, <, 2500);
	g_assert_cmpuint(fx->last_done, <, 10 * 1024);
	/* The channel recovers: the next upload works, and it comes after the clean-up. */
	fx->m.stall_after = 0;
	fx->m.drop_at = -1;
	upload(fx, "after.bin", after, streaming);
	g_assert_no_error(fx->error);
	g_assert_true(stored_equals(fx, "after.bin", after));
	upl = log_index(fx, "AT+QFUPL=\"fota.pack\"", 0);
	del = log_index(fx, "AT+QFDEL=\"fota.pack\"", 0);
	g_assert_cmpint(upl, >=, 0);
	g_assert_cmpint(del, >, upl);
	g_assert_null(g_hash_table_lookup(fx->m.files, "fota.pack"));
}

static void
test_upload_stall_report(Fixture *fx, gconstpointer unused)
{
	check_stall(fx, 0, FALSE);
}

static void
test_upload_stall_cme(Fixture *fx, gconstpointer unused)
{
	check_stall(fx, 1, FALSE);
}

static void
test_upload_stall_lost_byte(Fixture *fx, gconstpointer unused)
{
	check_stall(fx, 2, FALSE);
}

static void
test_upload_checksum_styles(Fixture *fx, gconstpointer unused)
{
	fx->m.upper_sum = TRUE;
	check_upload_ok(fx, 3001, FALSE, FALSE);
}

static void
test_upload_cancel(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(10 * 1024);
	GByteArray *partial_seen;
	gssize upl, del;

	fx->cancellable = g_cancellable_new();
	fx->cancel_at = 2048;
	upload(fx, "fota.pack", data, FALSE);
	g_assert_error(fx->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	/* The module got only part of it before it gave up waiting, and that part is gone. */
	g_assert_cmpuint(fx->last_done, <, 10 * 1024);
	partial_seen = g_hash_table_lookup(fx->m.files, "fota.pack");
	g_assert_null(partial_seen);
	upl = log_index(fx, "AT+QFUPL=\"fota.pack\"", 0);
	del = log_index(fx, "AT+QFDEL=\"fota.pack\"", 0);
	g_assert_cmpint(upl, >=, 0);
	g_assert_cmpint(del, >, upl);
}

static void
test_upload_cancel_before(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(2000);

	fx->cancellable = g_cancellable_new();
	g_cancellable_cancel(fx->cancellable);
	upload(fx, "fota.pack", data, FALSE);
	g_assert_error(fx->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpint(log_index(fx, "AT+QFUPL", 0), ==, -1);
}

static void
test_upload_bad_name(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(10);

	upload(fx, "a\"b", data, FALSE);
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME);
	g_assert_cmpuint(fx->m.log->len, ==, 0);
}

static void
download(Fixture *fx, const char *name, guint64 max_size)
{
	fx->done = FALSE;
	g_clear_error(&fx->error);
	g_clear_pointer(&fx->bytes, g_bytes_unref);
	dfota_ufs_download(fx->channel, name, max_size, 2000, on_progress, fx, NULL, on_downloaded,
	                   fx);
	wait_done(fx);
}

static void
check_download(Fixture *fx, gboolean spaces, gsize size)
{
	g_autoptr(GBytes) data = random_bytes(size);
	guint8 *p = (guint8 *)g_bytes_get_data(data, NULL);

	/* Line terminators and result-like text inside the file must pass as data. */
	if (size > 16) {
		memcpy(p, "\r\nOK\r\n", 6);
		memcpy(p + size - 6, "\r\nOK\r\n", 6);
	}
	fx->m.spaces = spaces;
	put_file(&fx->m, "mcu.bin", p, size);
	download(fx, "mcu.bin", 1024 * 1024);
	g_assert_no_error(fx->error);
	g_assert_true(g_bytes_equal(fx->bytes, data));
	if (size > 0) {
		g_assert_cmpuint(fx->last_done, ==, size);
		g_assert_cmpuint(fx->last_total, ==, size);
	}
}

static void
test_download(Fixture *fx, gconstpointer unused)
{
	check_download(fx, FALSE, 70001);
}

static void
test_download_spaces(Fixture *fx, gconstpointer unused)
{
	check_download(fx, TRUE, 1025);
}

static void
test_download_empty(Fixture *fx, gconstpointer unused)
{
	check_download(fx, FALSE, 0);
}

static void
test_download_wrong_checksum(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(3000);

	fx->m.wrong_dwl_sum = TRUE;
	put_file(&fx->m, "mcu.bin", g_bytes_get_data(data, NULL), 3000);
	download(fx, "mcu.bin", 1024 * 1024);
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH);
	g_assert_null(fx->bytes);
}

/* Whatever the module answers for a missing file, the caller hears FileNotFound. */
static const char *const missing_answers[] = { "+CME ERROR: 405", "+CME ERROR: 418",
	                                       "+CME ERROR: 410", "ERROR" };

static void
test_download_missing(Fixture *fx, gconstpointer unused)
{
	guint8 buf[10] = { 0 };

	put_file(&fx->m, "other.bin", buf, sizeof(buf));
	for (gsize i = 0; i < G_N_ELEMENTS(missing_answers); i++) {
		fx->m.missing = missing_answers[i];
		fx->m.ufs_prefix = i % 2 == 1;
		download(fx, "nope.bin", 1024);
		g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_FILE_NOT_FOUND);
		g_assert_nonnull(strstr(fx->error->message, "nope.bin"));
		g_assert_cmpint(log_index(fx, "AT+QFDWL", 0), ==, -1);
	}
}

/* A refusal for a file that is there stays the module's own error. */
static void
test_download_refused_present(Fixture *fx, gconstpointer unused)
{
	guint8 buf[10] = { 0 };

	fx->m.ufs_prefix = TRUE;
	fx->m.refuse = "+CME ERROR: 409";
	put_file(&fx->m, "mcu.bin", buf, sizeof(buf));
	download(fx, "mcu.bin", 1024);
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
	g_assert_nonnull(strstr(fx->error->message, "409"));
	g_assert_cmpint(log_index(fx, "AT+QFDWL", 0), >=, 0);
}

static void
test_download_too_large(Fixture *fx, gconstpointer unused)
{
	g_autoptr(GBytes) data = random_bytes(3000);

	put_file(&fx->m, "mcu.bin", g_bytes_get_data(data, NULL), 3000);
	download(fx, "mcu.bin", 2999);
	g_assert_error(fx->error, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE);
	g_assert_cmpint(log_index(fx, "AT+QFDWL", 0), ==, -1);
	/* The channel is still usable afterwards. */
	download(fx, "mcu.bin", 3000);
	g_assert_no_error(fx->error);
}

static void
on_listed(GObject *source, GAsyncResult *result, gpointer data)
{
	Fixture *fx = data;

	fx->list = dfota_ufs_list_finish(result, &fx->error);
	fx->done = TRUE;
}

static void
on_space(GObject *source, GAsyncResult *result, gpointer data)
{
	Fixture *fx = data;

	g_assert_true(dfota_ufs_query_space_finish(result, &fx->free_bytes, &fx->total_bytes,
	                                           &fx->error) == (fx->error == NULL));
	fx->done = TRUE;
}

static void
on_deleted(GObject *source, GAsyncResult *result, gpointer data)
{
	Fixture *fx = data;

	g_assert_true(dfota_ufs_delete_finish(result, &fx->error) == (fx->error == NULL));
	fx->done = TRUE;
}

static void
check_list_space(Fixture *fx, gboolean spaces)
{
	guint8 buf[700] = { 0 };
	guint64 sizes = 0;

	fx->m.spaces = spaces;
	fx->m.total = 100000;
	put_file(&fx->m, "a.bin", buf, 700);
	put_file(&fx->m, "fota.pack", buf, 300);
	dfota_ufs_list(fx->channel, 2000, NULL, on_listed, fx);
	wait_done(fx);
	g_assert_no_error(fx->error);
	g_assert_cmpuint(fx->list->len, ==, 2);
	for (guint i = 0; i < fx->list->len; i++) {
		DfotaUfsFile *f = g_ptr_array_index(fx->list, i);
		g_assert_true(g_str_equal(f->name, "a.bin") || g_str_equal(f->name, "fota.pack"));
		g_assert_cmpuint(f->size, ==, g_str_equal(f->name, "a.bin") ? 700 : 300);
		sizes += f->size;
	}
	g_assert_cmpuint(sizes, ==, 1000);

	fx->done = FALSE;
	dfota_ufs_query_space(fx->channel, 2000, NULL, on_space, fx);
	wait_done(fx);
	g_assert_no_error(fx->error);
	g_assert_cmpuint(fx->free_bytes, ==, 99000);
	g_assert_cmpuint(fx->total_bytes, ==, 100000);
}

static void
test_list_space(Fixture *fx, gconstpointer unused)
{
	check_list_space(fx, FALSE);
}

static void
test_list_space_spaces(Fixture *fx, gconstpointer unused)
{
	check_list_space(fx, TRUE);
}

static void
test_delete(Fixture *fx, gconstpointer unused)
{
	guint8 buf[10] = { 0 };

	put_file(&fx->m, "a.bin", buf, sizeof(buf));
	dfota_ufs_delete(fx->channel, "a.bin", 2000, NULL, on_deleted, fx);
	wait_done(fx);
	g_assert_no_error(fx->error);
	g_assert_null(g_hash_table_lookup(fx->m.files, "a.bin"));

	for (gsize i = 0; i < G_N_ELEMENTS(missing_answers); i++) {
		fx->m.missing = missing_answers[i];
		fx->m.with_dir = TRUE;
		fx->done = FALSE;
		g_clear_error(&fx->error);
		dfota_ufs_delete(fx->channel, "a.bin", 2000, NULL, on_deleted, fx);
		wait_done(fx);
		g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_FILE_NOT_FOUND);
	}

	/* Refused although it is there: the module's own answer, named. */
	put_file(&fx->m, "a.bin", buf, sizeof(buf));
	fx->m.ufs_prefix = TRUE;
	fx->m.refuse = "+CME ERROR: 414";
	fx->done = FALSE;
	g_clear_error(&fx->error);
	dfota_ufs_delete(fx->channel, "a.bin", 2000, NULL, on_deleted, fx);
	wait_done(fx);
	g_assert_error(fx->error, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
	g_assert_nonnull(strstr(fx->error->message, "414"));
	g_assert_nonnull(g_hash_table_lookup(fx->m.files, "a.bin"));
}

/* Field firmware: "UFS:" in front of every name and a directory entry in the list. */
static void
test_list_field(Fixture *fx, gconstpointer unused)
{
	guint8 buf[5] = { 0 };
	g_autoptr(GBytes) data = random_bytes(2100);

	fx->m.ufs_prefix = TRUE;
	fx->m.with_dir = TRUE;
	put_file(&fx->m, "a.bin", buf, sizeof(buf));
	dfota_ufs_list(fx->channel, 2000, NULL, on_listed, fx);
	wait_done(fx);
	g_assert_no_error(fx->error);
	g_assert_cmpuint(fx->list->len, ==, 1);
	g_assert_cmpstr(((DfotaUfsFile *)fx->list->pdata[0])->name, ==, "a.bin");
	g_assert_cmpuint(((DfotaUfsFile *)fx->list->pdata[0])->size, ==, 5);

	/* A file listed as "UFS:a.bin" is recognised when it is replaced. */
	upload(fx, "a.bin", data, FALSE);
	g_assert_no_error(fx->error);
	g_assert_true(stored_equals(fx, "a.bin", data));
	g_assert_cmpint(log_index(fx, "AT+QFDEL=\"a.bin\"", 0), >=, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/ufs/upload/ack", test_upload_ack);
	ADD("/ufs/upload/ack-spaces", test_upload_ack_spaces);
	ADD("/ufs/upload/ack-block-before-progress", test_upload_ack_block_before_progress);
	ADD("/ufs/upload/streaming", test_upload_streaming);
	ADD("/ufs/upload/replaces", test_upload_replaces);
	ADD("/ufs/upload/no-space", test_upload_no_space);
	ADD("/ufs/upload/dropped-byte", test_upload_dropped_byte);
	ADD("/ufs/upload/corrupted-byte", test_upload_corrupted_byte);
	ADD("/ufs/upload/stall-report", test_upload_stall_report);
	ADD("/ufs/upload/stall-cme", test_upload_stall_cme);
	ADD("/ufs/upload/stall-lost-byte", test_upload_stall_lost_byte);
	ADD("/ufs/upload/checksum-upper-padded", test_upload_checksum_styles);
	ADD("/ufs/upload/cancel", test_upload_cancel);
	ADD("/ufs/upload/cancel-before", test_upload_cancel_before);
	ADD("/ufs/upload/bad-name", test_upload_bad_name);
	ADD("/ufs/download/ok", test_download);
	ADD("/ufs/download/spaces", test_download_spaces);
	ADD("/ufs/download/empty", test_download_empty);
	ADD("/ufs/download/wrong-checksum", test_download_wrong_checksum);
	ADD("/ufs/download/missing", test_download_missing);
	ADD("/ufs/download/refused-present", test_download_refused_present);
	ADD("/ufs/download/too-large", test_download_too_large);
	ADD("/ufs/list-space", test_list_space);
	ADD("/ufs/list-space-spaces", test_list_space_spaces);
	ADD("/ufs/delete", test_delete);
	ADD("/ufs/list-field", test_list_field);
	return g_test_run();
}
