// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service-files.c: the org.dfotad1.Files methods, one transfer per modem at a time. */
#include "dfota-service-private.h"

#include <unistd.h>

#include "dfota-error.h"
#include "dfota-fdio.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

/* ---- org.dfotad1.Files ---------------------------------------------------------------------- */

static guint
entry_timeout(ModemEntry *e)
{
	return dfota_modem_get_config(e->modem)->command_timeout_ms;
}

static void
list_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) files = dfota_ufs_list_finish(res, &error);
	GVariantBuilder b;

	if (!files) {
		return_error(invocation, error);
		return;
	}
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(st)"));
	for (guint i = 0; i < files->len; i++) {
		DfotaUfsFile *f = files->pdata[i];
		g_variant_builder_add(&b, "(st)", f->name, f->size);
	}
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(a(st))", &b));
}

static void
do_list(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	if (refuse_if_busy(e, invocation))
		return;
	dfota_ufs_list(dfota_modem_get_channel(e->modem), entry_timeout(e), NULL, list_done,
	               g_object_ref(invocation));
}

static void
delete_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;
	g_autoptr(GError) error = NULL;

	dfota_ufs_delete_finish(res, &error);
	return_error_or_empty(invocation, error);
}

static void
do_delete(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *name;
	g_autoptr(GError) error = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &name);
	if (!dfota_validate_filename(name, &error)) {
		return_error(invocation, error);
		return;
	}
	if (refuse_if_busy(e, invocation))
		return;
	dfota_ufs_delete(dfota_modem_get_channel(e->modem), name, entry_timeout(e), NULL,
	                 delete_done, g_object_ref(invocation));
}

typedef struct FileCall FileCall;
typedef void (*FileCallStart)(FileCall *c);

struct FileCall {
	ModemEntry *entry;
	GDBusMethodInvocation *invocation;
	char *name;
	int fd;
	guint64 size;        /* a regular file's size, 0 when unknown */
	FileCallStart start; /* runs once the modem's transfer slot is free */
};

void
file_call_free(gpointer data)
{
	FileCall *c = data;

	g_object_unref(c->invocation);
	g_free(c->name);
	if (c->fd >= 0)
		close(c->fd);
	g_free(c);
}

static void
transfer_next(ModemEntry *e)
{
	FileCall *c;

	if (e->transfer_running)
		return;
	c = g_queue_pop_head(&e->waiting_transfers);
	if (!c)
		return;
	e->transfer_running = TRUE;
	c->start(c);
}

static void
transfer_enqueue(FileCall *c, FileCallStart start)
{
	c->start = start;
	g_queue_push_tail(&c->entry->waiting_transfers, c);
	transfer_next(c->entry);
}

/* The call in the slot is answered: free it and start the next. */
static void
transfer_done(FileCall *c)
{
	ModemEntry *e = c->entry;

	file_call_free(c);
	e->transfer_running = FALSE;
	transfer_next(e);
}

static void
upload_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FileCall *c = user_data;
	g_autoptr(GError) error = NULL;

	dfota_ufs_upload_finish(res, &error);
	return_error_or_empty(c->invocation, error);
	transfer_done(c);
}

static void
upload_read_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FileCall *c = user_data;
	ModemEntry *e = c->entry;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = dfota_fdio_read_all_finish(res, NULL, &error);
	const DfotaModemConfig *mcfg = dfota_modem_get_config(e->modem);
	DfotaUfsUploadOptions opts = {
		.streaming = mcfg->rtscts,
		.module_timeout_s = dfota_fota_get_config(e->fota)->upload_timeout_s,
		.command_timeout_ms = mcfg->command_timeout_ms,
	};

	if (!data) {
		return_error(c->invocation, error);
		transfer_done(c);
		return;
	}
	if (refuse_if_busy(e, c->invocation)) {
		transfer_done(c);
		return;
	}
	dfota_ufs_upload(dfota_modem_get_channel(e->modem), c->name, data, &opts, NULL, NULL, NULL,
	                 upload_done, c);
}

/* The common start of Upload and Download: a valid name, the passed fd (readable or
 * writable as @for_writing says; *size is a regular file's size) and an idle modem. NULL when
 * the call was already answered with an error; the fd is then closed. */
static FileCall *
file_call_begin(ModemEntry *e, GDBusMethodInvocation *invocation, gboolean for_writing,
                guint64 *size)
{
	const char *name;
	gint32 handle;
	int fd;
	g_autoptr(GError) error = NULL;
	FileCall *c;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&sh)", &name, &handle);
	if (!dfota_validate_filename(name, &error)) {
		return_error(invocation, error);
		return NULL;
	}
	fd = take_fd(invocation, handle);
	if (fd < 0)
		return NULL;
	if (!(for_writing ? dfota_fdio_check_writable(fd, &error)
	                  : dfota_fdio_check_readable(fd, size, &error))) {
		close(fd);
		return_error(invocation, error);
		return NULL;
	}
	if (refuse_if_busy(e, invocation)) {
		close(fd);
		return NULL;
	}
	c = g_new0(FileCall, 1);
	c->entry = e;
	c->invocation = g_object_ref(invocation);
	c->name = g_strdup(name);
	c->fd = fd;
	return c;
}

/* In the slot: a job may have started while the call waited. */
static void
upload_start(FileCall *c)
{
	ModemEntry *e = c->entry;
	int fd = c->fd;

	if (refuse_if_busy(e, c->invocation)) {
		transfer_done(c);
		return;
	}
	c->fd = -1; /* the reader takes it over */
	/* The module's UFS is a few MiB at most: the file is held in memory up to that bound,
	 * one file per modem at a time. */
	dfota_fdio_read_all(fd, dfota_fota_get_config(e->fota)->max_package_size, c->size,
	                    dfota_fota_get_config(e->fota)->fetch_timeout_s, NULL, NULL, NULL,
	                    upload_read_done, c);
}

static void
do_upload(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	guint64 size = 0;
	FileCall *c = file_call_begin(e, invocation, FALSE, &size);

	if (!c)
		return;
	c->size = size;
	transfer_enqueue(c, upload_start);
}

static void
download_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FileCall *c = user_data;
	g_autoptr(GError) error = NULL;

	dfota_fdio_write_all_finish(res, &error);
	return_error_or_empty(c->invocation, error);
	transfer_done(c);
}

static void
download_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FileCall *c = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = dfota_ufs_download_finish(res, &error);

	if (!data) {
		return_error(c->invocation, error);
		transfer_done(c);
		return;
	}
	/* The slot is held until the caller has taken the bytes: a caller that never reads its
	 * pipe delays this modem's transfers, it cannot make the daemon hold one copy per call. */
	dfota_fdio_write_all(c->fd, data, dfota_fota_get_config(c->entry->fota)->fetch_timeout_s,
	                     NULL, download_written, c);
	c->fd = -1;
}

static void
download_start(FileCall *c)
{
	ModemEntry *e = c->entry;

	if (refuse_if_busy(e, c->invocation)) {
		transfer_done(c);
		return;
	}
	dfota_ufs_download(dfota_modem_get_channel(e->modem), c->name,
	                   dfota_fota_get_config(e->fota)->max_package_size, entry_timeout(e), NULL,
	                   NULL, NULL, download_done, c);
}

static void
do_download(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	FileCall *c = file_call_begin(e, invocation, TRUE, NULL);

	if (!c)
		return;
	transfer_enqueue(c, download_start);
}

HANDLER_0(list)
HANDLER_1(delete, const char *)
HANDLER_2(upload, const char *, GVariant *)
HANDLER_2(download, const char *, GVariant *)

void
service_files_connect(ModemEntry *e)
{
	g_signal_connect(e->ifiles, "handle-list", G_CALLBACK(on_list), e);
	g_signal_connect(e->ifiles, "handle-delete", G_CALLBACK(on_delete), e);
	g_signal_connect(e->ifiles, "handle-upload", G_CALLBACK(on_upload), e);
	g_signal_connect(e->ifiles, "handle-download", G_CALLBACK(on_download), e);
}
