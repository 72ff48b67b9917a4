// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ufs-upload.c: writing a file into UFS with AT+QFUPL.
 *
 * A small chain of commands on the channel: AT+QFLST="<name>" (is a file being replaced?),
 * AT+QFLDS="UFS" (does it fit?), AT+QFDEL (the old one), then the AT+QFUPL data phase, in
 * acknowledged 1 KiB blocks or streamed. Every failure after AT+QFUPL was sent ends with a
 * best-effort AT+QFDEL of the partial file, so no half-written package can ever be taken for
 * a whole one. A module that stops taking bytes is noticed by a watch of the upload timeout.
 */
#include "dfota-ufs.h"

#include "at-parse.h"
#include "dfota-defaults.h"
#include "dfota-error.h"
#include "dfota-ufs-private.h"
#include "dfota-validate.h"

#define STREAM_MAX_PENDING 4096

typedef struct {
	GTask *task;
	DfotaAtChannel *channel;
	char *name;
	GBytes *data;
	DfotaUfsUploadOptions opts;
	DfotaUfsProgressFunc progress;
	gpointer progress_data;
	gboolean exists;  /* a file of that name is being replaced */
	guint64 existing; /* its size */
	gsize sent;
	gsize acks;
	gboolean connected;
	gboolean upl_sent;   /* AT+QFUPL went out: a partial file may exist */
	DfotaSerial *serial; /* streaming only: its "drained" resumes writing */
	gulong drained_id;
	GError *write_error;
	GError *final_error; /* what the task ends with after the partial file is deleted */
	guint stall_id;      /* no data taken for module_timeout_s while bytes remain */
	gsize stall_pending; /* streaming: bytes queued when the watch was armed */
	gboolean returned;   /* the task completed before the data phase ended (a stall) */
} Upload;

static void
upload_free(Upload *u)
{
	if (u->drained_id)
		g_signal_handler_disconnect(u->serial, u->drained_id);
	g_clear_handle_id(&u->stall_id, g_source_remove);
	g_clear_object(&u->serial);
	g_clear_error(&u->write_error);
	g_clear_error(&u->final_error);
	g_clear_object(&u->channel);
	g_bytes_unref(u->data);
	g_free(u->name);
	g_free(u);
}

static gboolean
upload_cancelled(Upload *u)
{
	return g_cancellable_is_cancelled(g_task_get_cancellable(u->task));
}

/* Completes the task once: after a stall it has already been completed with Timeout, and
 * what follows (the module's late answer, the clean-up) only finishes the work. */
static void
upload_return_error(GTask *task, GError *error)
{
	Upload *u = g_task_get_task_data(task);

	if (u->returned) {
		g_debug("Upload of %s already ended; then: %s", u->name, error->message);
		g_error_free(error);
		return;
	}
	u->returned = TRUE;
	g_task_return_error(task, error);
}

static void
on_partial_deleted(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	Upload *u = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);

	if (lines == NULL)
		g_debug("Deleting the partial file %s failed: %s", u->name, error->message);
	upload_return_error(task, g_steal_pointer(&u->final_error));
}

/* Ends the upload with @error (owned), first deleting the partial file when one may exist. */
static void
upload_fail(GTask *task, GError *error)
{
	Upload *u = g_task_get_task_data(task);
	g_autofree char *cmd = NULL;

	if (upload_cancelled(u) && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_debug("Upload of %s cancelled (%s)", u->name, error->message);
		g_error_free(error);
		error = g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                    "The upload of %s was cancelled", u->name);
	}
	if (!u->upl_sent) {
		upload_return_error(task, error);
		g_object_unref(task);
		return;
	}
	u->final_error = error;
	cmd = g_strdup_printf("AT+QFDEL=\"%s\"", u->name);
	/* No cancellable: the clean-up must run even (especially) after a cancel. */
	dfota_at_channel_send(u->channel, cmd, u->opts.command_timeout_ms, DFOTA_AT_FLAG_NONE, NULL,
	                      on_partial_deleted, task);
}

static void watch_stall(Upload *u);

static GError *
stall_error(Upload *u)
{
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
	                   "The module stopped taking data after %" G_GSIZE_FORMAT
	                   " of %" G_GSIZE_FORMAT
	                   " bytes of %s (nothing taken for %u s, the upload timeout); the "
	                   "partial file is removed, check the module and retry",
	                   u->opts.streaming ? u->sent : MIN(u->acks * UFS_BLOCK, u->sent),
	                   g_bytes_get_size(u->data), u->name, u->opts.module_timeout_s);
}

/* The module took no data for the upload timeout while bytes remain: the upload ends with
 * Timeout now. The data phase itself ends when the module gives up too (it answers after
 * its own <timeout_s> of silence) or at the channel's timeout, which resynchronises; the
 * partial file is deleted then. */
static gboolean
on_upload_stalled(gpointer data)
{
	GTask *task = data;
	Upload *u = g_task_get_task_data(task);

	u->stall_id = 0;
	if (upload_cancelled(u))
		return G_SOURCE_REMOVE; /* the cancel's own end follows */
	if (u->opts.streaming && dfota_at_channel_get_pending(u->channel) != u->stall_pending) {
		/* The line moved bytes, just not a whole queue's worth yet: not a stall. */
		watch_stall(u);
		return G_SOURCE_REMOVE;
	}
	g_message("Upload of %s: the module took no data for %u s", u->name,
	          u->opts.module_timeout_s);
	upload_return_error(task, stall_error(u));
	return G_SOURCE_REMOVE;
}

/* Restarts the stall watch whenever the module takes data; stops it once every byte went.
 * The bound is the upload timeout plus the line time of what may still be on its way (a
 * block, or when streaming the queue too), so that a slow line is not taken for a stall. */
static void
watch_stall(Upload *u)
{
	guint baud = dfota_serial_get_baud(dfota_at_channel_get_serial(u->channel));
	guint64 in_flight = u->opts.streaming ? STREAM_MAX_PENDING + UFS_BLOCK : UFS_BLOCK;
	guint64 line_ms = baud ? in_flight * 10 * 1000 / baud : 0;

	g_clear_handle_id(&u->stall_id, g_source_remove);
	if (!u->connected || u->returned || upload_cancelled(u) ||
	    u->sent >= g_bytes_get_size(u->data))
		return;
	u->stall_pending = dfota_at_channel_get_pending(u->channel);
	u->stall_id =
	        g_timeout_add((guint)MIN(u->opts.module_timeout_s * 1000ULL + line_ms, G_MAXUINT),
	                      on_upload_stalled, u->task);
}

static void
report_upload_progress(Upload *u, guint64 done)
{
	if (u->progress)
		u->progress(done, g_bytes_get_size(u->data), u->progress_data);
}

static gboolean
write_bytes(Upload *u, gsize len)
{
	const guint8 *data = g_bytes_get_data(u->data, NULL);

	if (!dfota_at_channel_write_raw(u->channel, data + u->sent, len, &u->write_error)) {
		g_debug("Writing the data of %s failed: %s", u->name, u->write_error->message);
		return FALSE;
	}
	u->sent += len;
	return TRUE;
}

/* Streaming (flow=rtscts): keep at most STREAM_MAX_PENDING bytes in the serial's queue, so
 * that progress means bytes on the wire and a cancel stops the transfer promptly. */
static void
stream_pump(Upload *u)
{
	gsize size = g_bytes_get_size(u->data);
	gsize pending;

	while (u->sent < size && u->write_error == NULL && !upload_cancelled(u) && !u->returned) {
		pending = dfota_at_channel_get_pending(u->channel);
		if (pending >= STREAM_MAX_PENDING)
			return; /* "drained" brings us back */
		if (!write_bytes(u, MIN(UFS_BLOCK, size - u->sent)))
			return;
		pending = dfota_at_channel_get_pending(u->channel);
		report_upload_progress(u, u->sent - MIN(u->sent, pending));
	}
}

static void
on_drained(DfotaSerial *serial, gpointer user_data)
{
	Upload *u = user_data;

	if (u->connected) {
		report_upload_progress(u, u->sent);
		stream_pump(u);
		watch_stall(u);
	}
}

static void
send_next_block(Upload *u)
{
	gsize size = g_bytes_get_size(u->data);

	/* After a stall was reported, nothing more is sent: the module ends the data phase. */
	if (u->sent < size && u->write_error == NULL && !upload_cancelled(u) && !u->returned)
		write_bytes(u, MIN(UFS_BLOCK, size - u->sent));
}

static void
on_upl_connect(DfotaAtChannel *channel, gpointer user_data)
{
	Upload *u = user_data;

	u->connected = TRUE;
	if (u->opts.streaming)
		stream_pump(u);
	else
		send_next_block(u);
	watch_stall(u);
}

static gsize
on_upl_raw(DfotaAtChannel *channel, const guint8 *data, gsize len, gpointer user_data)
{
	Upload *u = user_data;
	gsize size = g_bytes_get_size(u->data);
	gsize blocks = (size + UFS_BLOCK - 1) / UFS_BLOCK;
	gsize n = 0;

	if (u->opts.streaming)
		return 0;
	/* Only the acks we can still expect: one per block sent (the last, partial block may or
	 * may not get one). Anything else is the start of the final result lines. */
	while (n < len && data[n] == 'A' && u->acks < blocks && u->acks * UFS_BLOCK < u->sent) {
		n++;
		u->acks++;
		/* The next block goes out first: the module waits for it, while the progress
		 * report (a property, a signal, the journal's side file for a job) and the stall
		 * watch can wait for the bytes to be on their way. */
		send_next_block(u);
		report_upload_progress(u, MIN((guint64)u->acks * UFS_BLOCK, size));
		watch_stall(u);
	}
	return n;
}

static void
on_upl_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Upload *u = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	const guint8 *data;
	gsize size;
	guint64 got_size = 0;
	guint16 got_sum = 0, want_sum;
	gboolean found = FALSE;

	u->connected = FALSE;
	g_clear_handle_id(&u->stall_id, g_source_remove);
	if (u->drained_id)
		g_clear_signal_handler(&u->drained_id, u->serial);
	size = g_bytes_get_size(u->data);
	if (lines == NULL) {
		/* Refused in the middle of the data: the module gave up waiting (+CME ERROR: 421
		 * "time out", or another code) because it stopped taking bytes. */
		if (dfota_ufs_is_refusal(error) && u->sent < size && !upload_cancelled(u)) {
			g_debug("The module ended the upload of %s: %s", u->name, error->message);
			g_clear_error(&error);
			error = stall_error(u);
		}
		upload_fail(task, error);
		return;
	}
	if (upload_cancelled(u)) {
		upload_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                              "The upload of %s was cancelled", u->name));
		return;
	}
	if (u->write_error) {
		upload_fail(task, g_steal_pointer(&u->write_error));
		return;
	}
	for (gsize i = 0; lines[i] && !found; i++)
		found = dfota_at_parse_transfer_result(lines[i], "+QFUPL:", &got_size, &got_sum);
	if (!found) {
		upload_fail(task, g_error_new(DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                              "The module ended the upload of %s without a +QFUPL "
		                              "result",
		                              u->name));
		return;
	}
	/* Fewer bytes stored than announced while bytes were still to go: the module stopped
	 * taking them. With every byte sent, a short or different file is a transfer error. */
	if (got_size < size && u->sent < size) {
		upload_fail(task, stall_error(u));
		return;
	}
	data = g_bytes_get_data(u->data, &size);
	want_sum = dfota_xor16(data, size);
	if (got_size != size || got_sum != want_sum) {
		upload_fail(task, g_error_new(DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH,
		                              "The module stored %" G_GUINT64_FORMAT " bytes with "
		                              "checksum %04x as %s, but %" G_GSIZE_FORMAT " bytes "
		                              "with checksum %04x were sent; the partial file is "
		                              "removed, retry the upload",
		                              got_size, got_sum, u->name, size, want_sum));
		return;
	}
	report_upload_progress(u, size);
	if (u->returned) {
		/* Ended as stalled, yet the module stored it all in the end: keep nothing the
		 * caller was told is not there. */
		upload_fail(task, stall_error(u));
		return;
	}
	g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

static void
upload_send_qfupl(GTask *task)
{
	Upload *u = g_task_get_task_data(task);
	g_autofree char *cmd = NULL;
	guint timeout_ms = u->opts.module_timeout_s * 1000 + u->opts.command_timeout_ms;

	if (upload_cancelled(u)) {
		upload_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                              "The upload of %s was cancelled", u->name));
		return;
	}
	cmd = g_strdup_printf("AT+QFUPL=\"%s\",%" G_GSIZE_FORMAT ",%u,%d", u->name,
	                      g_bytes_get_size(u->data), u->opts.module_timeout_s,
	                      u->opts.streaming ? 0 : 1);
	if (u->opts.streaming) {
		u->serial = g_object_ref(dfota_at_channel_get_serial(u->channel));
		u->drained_id = g_signal_connect(u->serial, "drained", G_CALLBACK(on_drained), u);
	}
	u->upl_sent = TRUE;
	/* The module's own inactivity bound fires first, so its final result is what ends the
	 * data phase. The cancellable only stops a command still queued: once written, the
	 * channel reports the end of the data phase (we stop writing when cancelled). */
	dfota_at_channel_send_data(u->channel, cmd, timeout_ms, on_upl_connect, on_upl_raw, u,
	                           g_task_get_cancellable(task), on_upl_done, task);
}

static void
on_old_deleted(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	GError *error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);

	if (lines == NULL) {
		upload_fail(task, error);
		return;
	}
	upload_send_qfupl(task);
}

static void
on_upload_space(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Upload *u = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	guint64 size = g_bytes_get_size(u->data);
	DfotaUfsSpace space;

	if (lines == NULL || !dfota_ufs_parse_space(lines, &space, &error)) {
		upload_fail(task, error);
		return;
	}
	if (size > space.free_bytes + u->existing) {
		guint64 room = space.free_bytes + u->existing;
		error = g_error_new(DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
		                    "%s needs %" G_GUINT64_FORMAT " bytes but the module's UFS "
		                    "has only %" G_GUINT64_FORMAT
		                    " bytes free (of %" G_GUINT64_FORMAT
		                    "); delete files to make room",
		                    u->name, size, room, space.total_bytes);
		upload_fail(task, error);
		return;
	}
	/* An existing file (even an empty one) is replaced: deleted first. */
	if (u->exists) {
		g_autofree char *cmd = g_strdup_printf("AT+QFDEL=\"%s\"", u->name);
		dfota_at_channel_send(u->channel, cmd, u->opts.command_timeout_ms,
		                      DFOTA_AT_FLAG_NONE, g_task_get_cancellable(task),
		                      on_old_deleted, task);
		return;
	}
	upload_send_qfupl(task);
}

static void
on_upload_lookup(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Upload *u = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);

	if (lines == NULL && !dfota_ufs_is_refusal(error)) {
		upload_fail(task, error);
		return;
	}
	if (lines) {
		for (gsize i = 0; lines[i]; i++) {
			g_autofree char *name = NULL;
			guint64 size;
			if (dfota_at_parse_qflst(lines[i], &name, &size) &&
			    g_str_equal(name, u->name)) {
				u->existing = size;
				u->exists = TRUE;
			}
		}
	}
	g_clear_error(&error); /* refused: the file does not exist */
	dfota_at_channel_send(u->channel, "AT+QFLDS=\"UFS\"", u->opts.command_timeout_ms,
	                      DFOTA_AT_FLAG_NONE, g_task_get_cancellable(task), on_upload_space,
	                      task);
}

void
dfota_ufs_upload(DfotaAtChannel *channel, const char *name, GBytes *data,
                 const DfotaUfsUploadOptions *options, DfotaUfsProgressFunc progress,
                 gpointer progress_data, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data)
{
	g_autoptr(GCancellable) own = cancellable ? NULL : g_cancellable_new();
	GTask *task;
	Upload *u;
	g_autofree char *cmd = NULL;
	GError *error = NULL;

	g_return_if_fail(DFOTA_IS_AT_CHANNEL(channel));
	g_return_if_fail(data != NULL && options != NULL);

	/* Always a cancellable, so that "cancelled?" needs no NULL checks below. */
	task = g_task_new(channel, cancellable ? cancellable : own, callback, user_data);
	g_task_set_source_tag(task, dfota_ufs_upload);
	u = g_new0(Upload, 1);
	u->channel = g_object_ref(channel);
	u->name = g_strdup(name);
	u->data = g_bytes_ref(data);
	u->opts = *options;
	if (u->opts.module_timeout_s == 0)
		u->opts.module_timeout_s = DFOTA_DEFAULT_UPLOAD_TIMEOUT_S;
	if (u->opts.command_timeout_ms == 0)
		u->opts.command_timeout_ms = DFOTA_DEFAULT_COMMAND_TIMEOUT_MS;
	u->progress = progress;
	u->progress_data = progress_data;
	u->task = task; /* not a reference: the task owns u */
	g_task_set_task_data(task, u, (GDestroyNotify)upload_free);
	if (!dfota_validate_filename(name, &error)) {
		upload_fail(task, error);
		return;
	}
	cmd = g_strdup_printf("AT+QFLST=\"%s\"", name);
	dfota_at_channel_send(channel, cmd, u->opts.command_timeout_ms, DFOTA_AT_FLAG_NONE,
	                      g_task_get_cancellable(task), on_upload_lookup, task);
}

gboolean
dfota_ufs_upload_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_ufs_upload, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
