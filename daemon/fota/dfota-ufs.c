// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ufs.c: UFS list/space/delete/upload/download over Quectel's FILE AT commands.
 *
 * Upload is a small chain of commands on the channel: AT+QFLST="<name>" (is a file being
 * replaced?), AT+QFLDS="UFS" (does it fit?), AT+QFDEL (the old one), then the AT+QFUPL data
 * phase. Every failure after AT+QFUPL was sent ends with a best-effort AT+QFDEL of the
 * partial file, so no half-written package can ever be taken for a whole one.
 */
#include "dfota-ufs.h"

#include "at-parse.h"
#include "dfota-error.h"
#include "dfota-validate.h"

#define UFS_BLOCK 1024
#define STREAM_MAX_PENDING 4096
#define DEFAULT_MODULE_TIMEOUT_S 5
#define DEFAULT_COMMAND_TIMEOUT_MS 5000

void
dfota_ufs_file_free(DfotaUfsFile *file)
{
	if (file == NULL)
		return;
	g_free(file->name);
	g_free(file);
}

static char **
lines_finish(GObject *channel, GAsyncResult *result, GError **error)
{
	return dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(channel), result, error);
}

static gboolean
is_cme_error(const GError *error)
{
	return error->domain == DFOTA_MODULE_ERROR ||
	       g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
}

/* ---- list, space, delete ---------------------------------------------------------------- */

static void
on_list_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	GPtrArray *files;

	if (lines == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	files = g_ptr_array_new_with_free_func((GDestroyNotify)dfota_ufs_file_free);
	for (gsize i = 0; lines[i]; i++) {
		DfotaUfsFile *file = g_new0(DfotaUfsFile, 1);
		if (dfota_at_parse_qflst(lines[i], &file->name, &file->size)) {
			g_ptr_array_add(files, file);
		} else {
			g_debug("Ignoring an unexpected line in the AT+QFLST answer: %s", lines[i]);
			dfota_ufs_file_free(file);
		}
	}
	g_task_return_pointer(task, files, (GDestroyNotify)g_ptr_array_unref);
}

void
dfota_ufs_list(DfotaAtChannel *channel, guint timeout_ms, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(channel, cancellable, callback, user_data);

	g_task_set_source_tag(task, dfota_ufs_list);
	dfota_at_channel_send(channel, "AT+QFLST", timeout_ms, DFOTA_AT_FLAG_NONE, cancellable,
	                      on_list_done, task);
}

GPtrArray *
dfota_ufs_list_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_ufs_list, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

typedef struct {
	guint64 free_bytes;
	guint64 total_bytes;
} Space;

static gboolean
parse_space(char **lines, Space *space, GError **error)
{
	for (gsize i = 0; lines[i]; i++) {
		if (dfota_at_parse_qflds(lines[i], &space->free_bytes, &space->total_bytes))
			return TRUE;
	}
	g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
	                    "The module answered AT+QFLDS=\"UFS\" without a +QFLDS line");
	return FALSE;
}

static void
on_space_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	Space *space = g_new0(Space, 1);

	if (lines == NULL || !parse_space(lines, space, &error)) {
		g_free(space);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, space, g_free);
}

void
dfota_ufs_query_space(DfotaAtChannel *channel, guint timeout_ms, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(channel, cancellable, callback, user_data);

	g_task_set_source_tag(task, dfota_ufs_query_space);
	dfota_at_channel_send(channel, "AT+QFLDS=\"UFS\"", timeout_ms, DFOTA_AT_FLAG_NONE,
	                      cancellable, on_space_done, task);
}

gboolean
dfota_ufs_query_space_finish(GAsyncResult *result, guint64 *free_bytes, guint64 *total_bytes,
                             GError **error)
{
	g_autofree Space *space = NULL;

	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_ufs_query_space, FALSE);
	space = g_task_propagate_pointer(G_TASK(result), error);
	if (space == NULL)
		return FALSE;
	if (free_bytes)
		*free_bytes = space->free_bytes;
	if (total_bytes)
		*total_bytes = space->total_bytes;
	return TRUE;
}

static void
on_delete_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);

	if (lines == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
}

void
dfota_ufs_delete(DfotaAtChannel *channel, const char *name, guint timeout_ms,
                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(channel, cancellable, callback, user_data);
	g_autofree char *cmd = NULL;
	GError *error = NULL;

	g_task_set_source_tag(task, dfota_ufs_delete);
	if (!dfota_validate_filename(name, &error)) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	cmd = g_strdup_printf("AT+QFDEL=\"%s\"", name);
	dfota_at_channel_send(channel, cmd, timeout_ms, DFOTA_AT_FLAG_NONE, cancellable,
	                      on_delete_done, task);
}

gboolean
dfota_ufs_delete_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_ufs_delete, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- upload ------------------------------------------------------------------------------ */

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
} Upload;

static void
upload_free(Upload *u)
{
	if (u->drained_id)
		g_signal_handler_disconnect(u->serial, u->drained_id);
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

static void
on_partial_deleted(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	Upload *u = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);

	if (lines == NULL)
		g_debug("Deleting the partial file %s failed: %s", u->name, error->message);
	g_task_return_error(task, g_steal_pointer(&u->final_error));
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
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	u->final_error = error;
	cmd = g_strdup_printf("AT+QFDEL=\"%s\"", u->name);
	/* No cancellable: the clean-up must run even (especially) after a cancel. */
	dfota_at_channel_send(u->channel, cmd, u->opts.command_timeout_ms, DFOTA_AT_FLAG_NONE, NULL,
	                      on_partial_deleted, task);
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

	while (u->sent < size && u->write_error == NULL && !upload_cancelled(u)) {
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
	}
}

static void
send_next_block(Upload *u)
{
	gsize size = g_bytes_get_size(u->data);

	if (u->sent < size && u->write_error == NULL && !upload_cancelled(u))
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
		report_upload_progress(u, MIN((guint64)u->acks * UFS_BLOCK, size));
		send_next_block(u);
	}
	return n;
}

static void
on_upl_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Upload *u = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	const guint8 *data;
	gsize size;
	guint64 got_size = 0;
	guint16 got_sum = 0, want_sum;
	gboolean found = FALSE;

	u->connected = FALSE;
	if (u->drained_id)
		g_clear_signal_handler(&u->drained_id, u->serial);
	if (lines == NULL) {
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
	g_auto(GStrv) lines = lines_finish(source, result, &error);

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
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	guint64 size = g_bytes_get_size(u->data);
	Space space;

	if (lines == NULL || !parse_space(lines, &space, &error)) {
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
	g_auto(GStrv) lines = lines_finish(source, result, &error);

	if (lines == NULL && !is_cme_error(error)) {
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
	g_clear_error(&error); /* +CME ERROR: the file does not exist */
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
		u->opts.module_timeout_s = DEFAULT_MODULE_TIMEOUT_S;
	if (u->opts.command_timeout_ms == 0)
		u->opts.command_timeout_ms = DEFAULT_COMMAND_TIMEOUT_MS;
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

/* ---- download ---------------------------------------------------------------------------- */

typedef struct {
	DfotaAtChannel *channel;
	char *name;
	guint64 max_size;
	guint timeout_ms;
	DfotaUfsProgressFunc progress;
	gpointer progress_data;
	guint64 size; /* from AT+QFLST */
	GByteArray *body;
	DfotaXor16 sum;
} Download;

static void
download_free(Download *d)
{
	g_clear_object(&d->channel);
	g_clear_pointer(&d->body, g_byte_array_unref);
	g_free(d->name);
	g_free(d);
}

static gsize
on_dwl_raw(DfotaAtChannel *channel, const guint8 *data, gsize len, gpointer user_data)
{
	Download *d = user_data;
	gsize n;

	/* Exactly the announced size is file content; what follows is the final result. */
	if (d->body->len >= d->size)
		return 0;
	n = (gsize)MIN((guint64)len, d->size - d->body->len);
	g_byte_array_append(d->body, data, (guint)n);
	dfota_xor16_update(&d->sum, data, n);
	if (d->progress)
		d->progress(d->body->len, d->size, d->progress_data);
	return n;
}

static void
on_dwl_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	Download *d = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	guint64 got_size = 0;
	guint16 got_sum = 0, own_sum;
	gboolean found = FALSE;

	if (lines == NULL) {
		g_task_return_error(task, error);
		return;
	}
	for (gsize i = 0; lines[i] && !found; i++)
		found = dfota_at_parse_transfer_result(lines[i], "+QFDWL:", &got_size, &got_sum);
	if (!found) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                        "The module ended the download of %s without a +QFDWL "
		                        "result",
		                        d->name);
		return;
	}
	own_sum = dfota_xor16_finish(&d->sum);
	if (got_size != d->size || d->body->len != d->size || got_sum != own_sum) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_CHECKSUM_MISMATCH,
		                        "The module sent %s as %" G_GUINT64_FORMAT " bytes with "
		                        "checksum %04x, but %u bytes with checksum %04x arrived "
		                        "(the file list said %" G_GUINT64_FORMAT " bytes); retry "
		                        "the download",
		                        d->name, got_size, got_sum, d->body->len, own_sum, d->size);
		return;
	}
	g_task_return_pointer(task, g_byte_array_free_to_bytes(g_steal_pointer(&d->body)),
	                      (GDestroyNotify)g_bytes_unref);
}

static void
on_dwl_lookup(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Download *d = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = lines_finish(source, result, &error);
	g_autofree char *cmd = NULL;
	gboolean found = FALSE;

	if (lines == NULL) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	for (gsize i = 0; lines[i] && !found; i++) {
		g_autofree char *name = NULL;
		found = dfota_at_parse_qflst(lines[i], &name, &d->size) &&
		        g_str_equal(name, d->name);
	}
	if (!found) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                        "The module did not list %s in its answer to AT+QFLST",
		                        d->name);
		g_object_unref(task);
		return;
	}
	if (d->size > d->max_size) {
		g_task_return_new_error(
		        task, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
		        "%s is %" G_GUINT64_FORMAT " bytes, more than the %" G_GUINT64_FORMAT
		        " bytes a download may take",
		        d->name, d->size, d->max_size);
		g_object_unref(task);
		return;
	}
	d->body = g_byte_array_sized_new((guint)d->size);
	dfota_xor16_init(&d->sum);
	cmd = g_strdup_printf("AT+QFDWL=\"%s\"", d->name);
	/* A cancel after the command went out only discards the result: the module sends the
	 * whole file whatever we do, and the channel must swallow it. */
	dfota_at_channel_send_data(d->channel, cmd, d->timeout_ms, NULL, on_dwl_raw, d,
	                           g_task_get_cancellable(task), on_dwl_done, task);
}

void
dfota_ufs_download(DfotaAtChannel *channel, const char *name, guint64 max_size, guint timeout_ms,
                   DfotaUfsProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task;
	Download *d;
	g_autofree char *cmd = NULL;
	GError *error = NULL;

	g_return_if_fail(DFOTA_IS_AT_CHANNEL(channel));

	task = g_task_new(channel, cancellable, callback, user_data);
	g_task_set_source_tag(task, dfota_ufs_download);
	if (!dfota_validate_filename(name, &error)) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	d = g_new0(Download, 1);
	d->channel = g_object_ref(channel);
	d->name = g_strdup(name);
	d->max_size = max_size > 0 && max_size < G_MAXUINT32 ? max_size : G_MAXUINT32;
	d->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_COMMAND_TIMEOUT_MS;
	d->progress = progress;
	d->progress_data = progress_data;
	g_task_set_task_data(task, d, (GDestroyNotify)download_free);
	cmd = g_strdup_printf("AT+QFLST=\"%s\"", name);
	dfota_at_channel_send(channel, cmd, d->timeout_ms, DFOTA_AT_FLAG_NONE, cancellable,
	                      on_dwl_lookup, task);
}

GBytes *
dfota_ufs_download_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == dfota_ufs_download, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}
