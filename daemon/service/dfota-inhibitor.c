// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-inhibitor.c: org.freedesktop.login1.Manager.Inhibit, fd kept open while held. */
#include "dfota-inhibitor.h"

#include <unistd.h>
#include <gio/gunixfdlist.h>

struct _DfotaInhibitor {
	GDBusConnection *connection;
	int fd;                /* -1 when not held */
	GCancellable *pending; /* an Inhibit call in flight */
	gboolean warned;
	gboolean unavailable; /* the last Inhibit failed: not again until the next job */
};

DfotaInhibitor *
dfota_inhibitor_new(GDBusConnection *connection)
{
	DfotaInhibitor *self = g_new0(DfotaInhibitor, 1);

	self->connection = g_object_ref(connection);
	self->fd = -1;
	return self;
}

static void
inhibit_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	DfotaInhibitor *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GUnixFDList) fds = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish(
	        G_DBUS_CONNECTION(source), &fds, res, &error);
	gint32 handle;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* released (or freed) before logind answered */
	g_clear_object(&self->pending);
	if (!reply) {
		self->unavailable = TRUE;
		if (!self->warned)
			g_message("no shutdown inhibitor lock (%s): a shutdown during a module "
			          "update "
			          "will not be delayed",
			          error->message);
		self->warned = TRUE;
		return;
	}
	g_variant_get(reply, "(h)", &handle);
	if (fds && handle < g_unix_fd_list_get_length(fds))
		self->fd = g_unix_fd_list_get(fds, handle, NULL);
	g_message("took a shutdown/sleep inhibitor lock while the module updates");
}

void
dfota_inhibitor_acquire(DfotaInhibitor *self, const char *why)
{
	if (self->fd >= 0 || self->pending || self->unavailable)
		return;
	self->pending = g_cancellable_new();
	g_dbus_connection_call_with_unix_fd_list(
	        self->connection, "org.freedesktop.login1", "/org/freedesktop/login1",
	        "org.freedesktop.login1.Manager", "Inhibit",
	        g_variant_new("(ssss)", "shutdown:sleep", "dfotad", why, "block"),
	        G_VARIANT_TYPE("(h)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, NULL, self->pending,
	        inhibit_done, self);
}

void
dfota_inhibitor_release(DfotaInhibitor *self)
{
	self->unavailable = FALSE;
	if (self->pending) {
		g_cancellable_cancel(self->pending);
		g_clear_object(&self->pending);
	}
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
		g_message("released the shutdown/sleep inhibitor lock");
	}
}

void
dfota_inhibitor_free(DfotaInhibitor *self)
{
	if (!self)
		return;
	dfota_inhibitor_release(self);
	g_object_unref(self->connection);
	g_free(self);
}
