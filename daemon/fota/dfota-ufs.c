// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ufs.c: UFS list/space/delete/download over Quectel's FILE AT commands, and what the
 * upload (dfota-ufs-upload.c) shares with them: refusals, and FileNotFound decided by the full
 * file list.
 */
#include "dfota-ufs.h"

#include "dfota-ufs-private.h"

#include "at-parse.h"
#include "dfota-defaults.h"
#include "dfota-error.h"
#include "dfota-validate.h"

void
dfota_ufs_file_free(DfotaUfsFile *file)
{
	if (file == NULL)
		return;
	g_free(file->name);
	g_free(file);
}

char **
dfota_ufs_lines_finish(GObject *channel, GAsyncResult *result, GError **error)
{
	return dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(channel), result, error);
}

/* The module refused a file command: +CME ERROR (any code) or a bare ERROR. Modules answer
 * a missing file with any of these (405 "not found", 418 "delete failed", 410 "open failed",
 * plain ERROR), so a refusal alone never says whether the file is there. */
gboolean
dfota_ufs_is_refusal(const GError *error)
{
	return error->domain == DFOTA_MODULE_ERROR ||
	       g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR) ||
	       g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED);
}

static GError *
file_not_found(const char *name)
{
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_FILE_NOT_FOUND,
	                   "There is no file %s in the module's UFS; Files.List shows the files "
	                   "that are there",
	                   name);
}

/* ---- "is it there?" after a refusal ------------------------------------------------------ */

typedef struct {
	GTask *task; /* owned: completed here */
	char *name;
	GError *refusal; /* what the module answered, kept when the file is there after all */
} Confirm;

static void
on_confirm_listed(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Confirm *c = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines =
	        dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), result, &error);
	gboolean listed = FALSE;

	if (lines == NULL)
		g_debug("AT+QFLST failed while checking for %s: %s", c->name, error->message);
	for (gsize i = 0; lines && lines[i] && !listed; i++) {
		g_autofree char *name = NULL;
		guint64 size;
		listed = dfota_at_parse_qflst(lines[i], &name, &size) && g_str_equal(name, c->name);
	}
	if (lines == NULL || listed)
		g_task_return_error(c->task, g_steal_pointer(&c->refusal));
	else
		g_task_return_error(c->task, file_not_found(c->name));
	g_object_unref(c->task);
	g_free(c->name);
	g_clear_error(&c->refusal);
	g_free(c);
}

/* Completes @task (taking over the caller's reference) with FileNotFound when the module
 * refused a command on @name and @name is not in the full AT+QFLST list; otherwise with
 * @refusal (owned), the module's own answer. */
static void
fail_refused(GTask *task, DfotaAtChannel *channel, const char *name, GError *refusal,
             guint timeout_ms)
{
	Confirm *c;

	if (!dfota_ufs_is_refusal(refusal)) {
		g_task_return_error(task, refusal);
		g_object_unref(task);
		return;
	}
	c = g_new0(Confirm, 1);
	c->task = task;
	c->name = g_strdup(name);
	c->refusal = refusal;
	dfota_at_channel_send(channel, "AT+QFLST", timeout_ms, DFOTA_AT_FLAG_NONE, NULL,
	                      on_confirm_listed, c);
}

/* ---- list, space, delete ---------------------------------------------------------------- */

static void
on_list_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	GPtrArray *files;

	if (lines == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	files = g_ptr_array_new_with_free_func((GDestroyNotify)dfota_ufs_file_free);
	for (gsize i = 0; lines[i]; i++) {
		DfotaUfsFile *file = g_new0(DfotaUfsFile, 1);
		if (dfota_at_parse_qflst(lines[i], &file->name, &file->size)) {
			if (dfota_at_qflst_is_directory(file->name))
				dfota_ufs_file_free(file); /* "security/": not a file */
			else
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

gboolean
dfota_ufs_parse_space(char **lines, DfotaUfsSpace *space, GError **error)
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
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	DfotaUfsSpace *space = g_new0(DfotaUfsSpace, 1);

	if (lines == NULL || !dfota_ufs_parse_space(lines, space, &error)) {
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
	g_autofree DfotaUfsSpace *space = NULL;

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

typedef struct {
	char *name;
	guint timeout_ms;
} Delete;

static void
delete_free(Delete *d)
{
	g_free(d->name);
	g_free(d);
}

static void
on_delete_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = user_data;
	Delete *d = g_task_get_task_data(task);
	GError *error = NULL;
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);

	if (lines == NULL) {
		fail_refused(task, DFOTA_AT_CHANNEL(source), d->name, error, d->timeout_ms);
		return;
	}
	g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

void
dfota_ufs_delete(DfotaAtChannel *channel, const char *name, guint timeout_ms,
                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(channel, cancellable, callback, user_data);
	g_autofree char *cmd = NULL;
	GError *error = NULL;
	Delete *d;

	g_task_set_source_tag(task, dfota_ufs_delete);
	if (!dfota_validate_filename(name, &error)) {
		g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	d = g_new0(Delete, 1);
	d->name = g_strdup(name);
	d->timeout_ms = timeout_ms;
	g_task_set_task_data(task, d, (GDestroyNotify)delete_free);
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
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	guint64 got_size = 0;
	guint16 got_sum = 0, own_sum;
	gboolean found = FALSE;

	if (lines == NULL) {
		fail_refused(g_steal_pointer(&task), d->channel, d->name, error, d->timeout_ms);
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
	g_auto(GStrv) lines = dfota_ufs_lines_finish(source, result, &error);
	g_autofree char *cmd = NULL;
	gboolean found = FALSE;

	if (lines == NULL) {
		/* AT+QFLST="<name>" of a missing file fails (405, another code, or ERROR). */
		fail_refused(task, d->channel, d->name, error, d->timeout_ms);
		return;
	}
	for (gsize i = 0; lines[i] && !found; i++) {
		g_autofree char *name = NULL;
		found = dfota_at_parse_qflst(lines[i], &name, &d->size) &&
		        g_str_equal(name, d->name);
	}
	if (!found) {
		g_task_return_error(task, file_not_found(d->name));
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
	d->timeout_ms = timeout_ms ? timeout_ms : DFOTA_DEFAULT_COMMAND_TIMEOUT_MS;
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
