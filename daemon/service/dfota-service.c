// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service.c: the objects on the bus, the Modem methods and the state they mirror. */
#include "dfota-service.h"

#include <gio/gunixfdlist.h>

#include "dfota-dbus-generated.h"
#include "dfota-error.h"
#include "dfota-inhibitor.h"
#include "dfota-service-private.h"
#include "dfota-validate.h"

G_DEFINE_TYPE(DfotaService, dfota_service, G_TYPE_OBJECT)

enum { SIGNAL_STATUS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
modem_entry_free(ModemEntry *e)
{
	g_signal_handlers_disconnect_by_data(e->modem, e);
	g_signal_handlers_disconnect_by_data(e->fota, e);
	g_clear_pointer(&e->inhibitor, dfota_inhibitor_free);
	g_clear_object(&e->imodem);
	g_clear_object(&e->ifota);
	g_clear_object(&e->ifiles);
	g_clear_object(&e->object);
	g_clear_object(&e->modem);
	g_clear_object(&e->fota);
	g_queue_clear_full(&e->waiting_transfers, file_call_free);
	g_free(e);
}

/* ---- errors --------------------------------------------------------------------------------- */

/* Every error a caller sees has an org.dfotad1.Error name: GErrors from GIO are translated
 * here, the two dfotad domains map themselves (dfota_error_register_dbus). */
void
return_error(GDBusMethodInvocation *invocation, const GError *error)
{
	g_autoptr(GError) mapped = NULL;

	if (error->domain == DFOTA_ERROR || error->domain == DFOTA_MODULE_ERROR) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return;
	}
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		mapped = g_error_new(DFOTA_ERROR, DFOTA_ERROR_CANCELLED, "%s", error->message);
	else if (error->domain == G_IO_ERROR && (error->code == G_IO_ERROR_INVALID_ARGUMENT ||
	                                         error->code == G_IO_ERROR_NOT_REGULAR_FILE ||
	                                         error->code == G_IO_ERROR_BROKEN_PIPE))
		mapped = g_error_new(DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT, "%s",
		                     error->message);
	else
		mapped = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, "%s", error->message);
	g_dbus_method_invocation_return_gerror(invocation, mapped);
}

void
return_error_or_empty(GDBusMethodInvocation *invocation, const GError *error)
{
	if (error)
		return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

/* ---- org.dfotad1.Modem ------------------------------------------------------------------------ */

gboolean
refuse_if_busy(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	DfotaModemState state = dfota_modem_get_state(e->modem);

	if (dfota_fota_is_busy(e->fota)) {
		g_dbus_method_invocation_return_error(invocation, DFOTA_ERROR, DFOTA_ERROR_BUSY,
		                                      "A FOTA job owns the modem; try again after "
		                                      "its Finished signal");
		return TRUE;
	}
	if (state == DFOTA_MODEM_STATE_DISCONNECTED || !dfota_modem_get_channel(e->modem)) {
		g_dbus_method_invocation_return_error(invocation, DFOTA_ERROR,
		                                      DFOTA_ERROR_NOT_READY, "The modem is %s",
		                                      dfota_modem_state_to_string(state));
		return TRUE;
	}
	return FALSE;
}

static void
command_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_modem_command_finish(DFOTA_MODEM(source), res, &error);
	g_autofree char *joined = NULL;

	if (!lines) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return; /* the caller left the bus: nobody to answer */
		return_error(invocation, error);
		return;
	}
	joined = g_strjoinv("\n", lines);
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", joined));
}

/* A command held longer than this holds every other caller's commands behind it. */
#define COMMAND_TIMEOUT_MAX_MS 600000u

static void
do_command(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *command;
	guint32 timeout_ms;
	g_autoptr(GError) error = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&su)", &command,
	              &timeout_ms);
	if (!dfota_validate_command(command, &error)) {
		return_error(invocation, error);
		return;
	}
	if (timeout_ms > COMMAND_TIMEOUT_MAX_MS) {
		error = g_error_new(
		        DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		        "timeout_ms %u is above the %u allowed (10 minutes); give 0 for "
		        "the daemon's default",
		        timeout_ms, COMMAND_TIMEOUT_MAX_MS);
		return_error(invocation, error);
		return;
	}
	if (refuse_if_busy(e, invocation))
		return;
	dfota_modem_command(
	        e->modem, command, timeout_ms, DFOTA_AT_FLAG_BOUNDED,
	        caller_cancellable(e->service, g_dbus_method_invocation_get_sender(invocation)),
	        command_done, g_object_ref(invocation));
}

static void
refresh_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;
	g_autoptr(GError) error = NULL;

	dfota_modem_refresh_finish(DFOTA_MODEM(source), res, &error);
	return_error_or_empty(invocation, error);
}

static void
do_refresh(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	if (refuse_if_busy(e, invocation))
		return;
	dfota_modem_refresh(e->modem, NULL, refresh_done, g_object_ref(invocation));
}

/* The fd behind handle @index of the message, dup'ed for us, or -1 with an error returned. */
int
take_fd(GDBusMethodInvocation *invocation, gint32 index)
{
	GUnixFDList *list =
	        g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
	g_autoptr(GError) error = NULL;
	int fd = -1;

	if (list && index >= 0 && index < g_unix_fd_list_get_length(list))
		fd = g_unix_fd_list_get(list, index, &error);
	if (fd < 0)
		g_dbus_method_invocation_return_error(invocation, DFOTA_ERROR,
		                                      DFOTA_ERROR_INVALID_ARGUMENT,
		                                      "No file descriptor was passed with the call "
		                                      "(use the D-Bus unix-fd mechanism)");
	return fd;
}

/* ---- method dispatch ------------------------------------------------------------------------ */

HANDLER_2(command, const char *, guint)
HANDLER_0(refresh)

/* ---- mirroring state ---------------------------------------------------------------------- */

static void
update_status(DfotaService *self)
{
	g_autofree char *status = dfota_service_describe(self);

	if (g_strcmp0(status, self->last_status) == 0)
		return;
	g_free(self->last_status);
	self->last_status = g_steal_pointer(&status);
	g_signal_emit(self, signals[SIGNAL_STATUS_CHANGED], 0);
}

/* Sets the GVariant property @name of @skeleton to @value unless it holds that already, so
 * that no PropertiesChanged goes out for nothing. */
static void
set_variant_if_changed(gpointer skeleton, const char *name, GVariant *value)
{
	g_autoptr(GVariant) old = NULL;

	g_object_get(skeleton, name, &old, NULL);
	if (!value || !old || !g_variant_equal(value, old))
		g_object_set(skeleton, name, value, NULL);
}

static void
sync_modem(ModemEntry *e)
{
	g_autoptr(GVariant) network = dfota_modem_get_network(e->modem);
	g_autoptr(GVariant) device = dfota_modem_get_device(e->modem);

	g_object_set(e->imodem, "port", dfota_modem_get_port(e->modem), "state",
	             dfota_modem_state_to_string(dfota_modem_get_state(e->modem)), "manufacturer",
	             dfota_modem_get_manufacturer(e->modem), "model",
	             dfota_modem_get_model(e->modem), "revision",
	             dfota_modem_get_revision(e->modem), "imei", dfota_modem_get_imei(e->modem),
	             NULL);
	set_variant_if_changed(e->imodem, "network", network);
	set_variant_if_changed(e->imodem, "device", device);
	update_status(e->service);
}

static void
sync_fota(ModemEntry *e)
{
	g_autoptr(GVariant) job = dfota_fota_get_job(e->fota);
	g_autoptr(GVariant) last = dfota_fota_get_last_result(e->fota);

	dfota_dbus_fota_set_phase(e->ifota, dfota_fota_get_phase(e->fota));
	dfota_dbus_fota_set_percent(e->ifota, dfota_fota_get_percent(e->fota));
	set_variant_if_changed(e->ifota, "job", job);
	set_variant_if_changed(e->ifota, "last-result", last);
	update_status(e->service);
}

static void
on_modem_notify(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	sync_modem(user_data);
}

static void
on_fota_notify(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	sync_fota(user_data);
}

/* Properties first (flushed now rather than from GDBus's idle), then the signal: a client
 * that reads the properties when the signal arrives sees the new values. */
static void
flush(ModemEntry *e)
{
	g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(e->imodem));
	g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(e->ifota));
}

static void
on_progress(DfotaFota *fota, const char *phase, guint percent, gpointer user_data)
{
	ModemEntry *e = user_data;

	sync_fota(e);
	sync_modem(e);
	flush(e);
	if (g_str_equal(phase, "updating") || g_str_equal(phase, "rebooting"))
		dfota_inhibitor_acquire(e->inhibitor, "The NB-IoT module is writing new firmware");
	dfota_dbus_fota_emit_progress(e->ifota, phase, percent);
}

static void
on_finished(DfotaFota *fota, GVariant *result, gpointer user_data)
{
	ModemEntry *e = user_data;

	sync_fota(e);
	sync_modem(e);
	flush(e);
	dfota_inhibitor_release(e->inhibitor);
	dfota_dbus_fota_emit_finished(e->ifota, result);
}

static void
on_urc(DfotaModem *modem, const char *line, gpointer user_data)
{
	ModemEntry *e = user_data;

	dfota_dbus_modem_emit_urc(e->imodem, line);
}

void
dfota_service_add_modem(DfotaService *self, DfotaModem *modem, DfotaFota *fota)
{
	ModemEntry *e = g_new0(ModemEntry, 1);
	g_autofree char *path =
	        g_strdup_printf(DFOTA_SERVICE_OBJECT_PATH "/Modem/%u", self->entries->len);

	e->service = self;
	e->index = self->entries->len;
	e->modem = g_object_ref(modem);
	e->fota = g_object_ref(fota);
	e->object = dfota_dbus_object_skeleton_new(path);
	e->imodem = dfota_dbus_modem_skeleton_new();
	e->ifota = dfota_dbus_fota_skeleton_new();
	e->ifiles = dfota_dbus_files_skeleton_new();
	e->inhibitor = dfota_inhibitor_new(self->connection);
	g_ptr_array_add(self->entries, e);

	sync_modem(e);
	sync_fota(e);

	g_signal_connect(e->imodem, "handle-command", G_CALLBACK(on_command), e);
	g_signal_connect(e->imodem, "handle-refresh", G_CALLBACK(on_refresh), e);
	service_fota_connect(e);
	service_files_connect(e);

	g_signal_connect(modem, "notify", G_CALLBACK(on_modem_notify), e);
	g_signal_connect(modem, "urc", G_CALLBACK(on_urc), e);
	g_signal_connect(fota, "notify", G_CALLBACK(on_fota_notify), e);
	g_signal_connect(fota, "progress", G_CALLBACK(on_progress), e);
	g_signal_connect(fota, "finished", G_CALLBACK(on_finished), e);

	dfota_dbus_object_skeleton_set_modem(e->object, e->imodem);
	dfota_dbus_object_skeleton_set_fota(e->object, e->ifota);
	dfota_dbus_object_skeleton_set_files(e->object, e->ifiles);
	g_dbus_object_manager_server_export(self->manager, G_DBUS_OBJECT_SKELETON(e->object));
}

GDBusConnection *
dfota_service_get_connection(DfotaService *self)
{
	return self->connection;
}

char *
dfota_service_describe(DfotaService *self)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < self->entries->len; i++) {
		ModemEntry *e = self->entries->pdata[i];
		const char *phase = dfota_fota_get_phase(e->fota);

		if (i)
			g_string_append(s, "; ");
		g_string_append_printf(
		        s, "Modem/%u %s", i,
		        dfota_modem_state_to_string(dfota_modem_get_state(e->modem)));
		if (!g_str_equal(phase, "idle"))
			g_string_append_printf(s, ", %s %u%%", phase,
			                       dfota_fota_get_percent(e->fota));
	}
	return g_string_free(s, FALSE);
}

/* ---- GObject ------------------------------------------------------------------------------- */

static void
dfota_service_dispose(GObject *object)
{
	DfotaService *self = DFOTA_SERVICE(object);

	if (self->name_owner_sub && self->connection)
		g_dbus_connection_signal_unsubscribe(self->connection, self->name_owner_sub);
	self->name_owner_sub = 0;
	if (self->manager)
		g_dbus_object_manager_server_set_connection(self->manager, NULL);
	g_clear_pointer(&self->entries, g_ptr_array_unref);
	g_clear_object(&self->manager);
	g_clear_object(&self->connection);
	G_OBJECT_CLASS(dfota_service_parent_class)->dispose(object);
}

static void
dfota_service_finalize(GObject *object)
{
	DfotaService *self = DFOTA_SERVICE(object);

	g_hash_table_unref(self->auth);
	g_hash_table_unref(self->callers);
	g_free(self->last_status);
	G_OBJECT_CLASS(dfota_service_parent_class)->finalize(object);
}

static void
dfota_service_class_init(DfotaServiceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_service_dispose;
	object_class->finalize = dfota_service_finalize;
	signals[SIGNAL_STATUS_CHANGED] =
	        g_signal_new("status-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
}

static void
dfota_service_init(DfotaService *self)
{
	self->entries = g_ptr_array_new_with_free_func((GDestroyNotify)modem_entry_free);
	self->auth = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->callers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
}

DfotaService *
dfota_service_new(GDBusConnection *connection, gboolean session_bus)
{
	DfotaService *self = g_object_new(DFOTA_TYPE_SERVICE, NULL);

	dfota_error_register_dbus();
	self->connection = g_object_ref(connection);
	self->session_bus = session_bus;
	self->manager = g_dbus_object_manager_server_new(DFOTA_SERVICE_OBJECT_PATH);
	g_dbus_object_manager_server_set_connection(self->manager, connection);
	self->name_owner_sub = g_dbus_connection_signal_subscribe(
	        connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
	        "/org/freedesktop/DBus", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed,
	        self, NULL);
	return self;
}
