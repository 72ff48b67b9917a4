// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service.c: the objects on the bus and who may call them. */
#include "dfota-service.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "dfota-dbus-generated.h"
#include "dfota-error.h"
#include "dfota-fdio.h"
#include "dfota-inhibitor.h"
#include "dfota-ufs.h"
#include "dfota-validate.h"

#define AUTH_GROUP "dfota"

struct _DfotaService {
	GObject parent_instance;

	GDBusConnection *connection;
	gboolean session_bus;
	GDBusObjectManagerServer *manager;
	GPtrArray *entries;  /* ModemEntry */
	GHashTable *auth;    /* unique name → GINT_TO_POINTER(1 allowed / 2 denied) */
	GHashTable *callers; /* unique name → GCancellable of its waiting commands */
	guint name_owner_sub;
	char *last_status;
};

G_DEFINE_TYPE(DfotaService, dfota_service, G_TYPE_OBJECT)

enum { SIGNAL_STATUS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
	DfotaService *service; /* not a reference: the service owns the entry */
	guint index;
	DfotaModem *modem;
	DfotaFota *fota;
	DfotaDBusObjectSkeleton *object;
	DfotaDBusModem *imodem;
	DfotaDBusFota *ifota;
	DfotaDBusFiles *ifiles;
	DfotaInhibitor *inhibitor;
	/* Files.Upload and Download run one at a time per modem (the tty serialises them anyway):
	 * the others wait here with their fds unread, so memory holds at most one file per
	 * modem however many callers pile up. */
	GQueue waiting_transfers; /* FileCall */
	gboolean transfer_running;
} ModemEntry;

static void file_call_free(gpointer c);

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
static void
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

/* ---- authorization ---------------------------------------------------------------------------- */

typedef void (*AuthorizedFunc)(ModemEntry *e, GDBusMethodInvocation *invocation);

typedef struct {
	ModemEntry *entry;
	GDBusMethodInvocation *invocation;
	AuthorizedFunc func;
} AuthCall;

static gboolean
credentials_allowed(DfotaService *self, GVariant *creds)
{
	guint32 uid = G_MAXUINT32;
	g_autoptr(GVariant) gids = NULL;
	struct group *gr;

	if (!g_variant_lookup(creds, "UnixUserID", "u", &uid))
		return FALSE;
	if (uid == 0)
		return TRUE;
	if (self->session_bus)
		return uid == getuid();
	gr = getgrnam(AUTH_GROUP);
	if (!gr)
		return FALSE;
	gids = g_variant_lookup_value(creds, "UnixGroupIDs", G_VARIANT_TYPE("au"));
	if (gids) {
		gsize n;
		const guint32 *g = g_variant_get_fixed_array(gids, &n, sizeof(guint32));
		for (gsize i = 0; i < n; i++)
			if (g[i] == gr->gr_gid)
				return TRUE;
		return FALSE;
	}
	/* An older bus without UnixGroupIDs: the user's configured groups. */
	for (char **m = gr->gr_mem; m && *m; m++) {
		struct passwd *pw = getpwnam(*m);
		if (pw && pw->pw_uid == uid)
			return TRUE;
	}
	return FALSE;
}

static void
auth_dispatch(AuthCall *call, gboolean allowed)
{
	if (allowed) {
		call->func(call->entry, call->invocation);
	} else {
		g_dbus_method_invocation_return_error(
		        call->invocation, DFOTA_ERROR, DFOTA_ERROR_ACCESS_DENIED,
		        "%s may not call %s: only root and members of group \"" AUTH_GROUP
		        "\" may (the daemon's own user on the session bus)",
		        g_dbus_method_invocation_get_sender(call->invocation),
		        g_dbus_method_invocation_get_method_name(call->invocation));
	}
	g_object_unref(call->invocation);
	g_free(call);
}

static void
auth_credentials_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	AuthCall *call = user_data;
	DfotaService *self = call->entry->service;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
	g_autoptr(GVariant) creds = NULL;
	gboolean allowed = FALSE;

	if (reply) {
		g_variant_get(reply, "(@a{sv})", &creds);
		allowed = credentials_allowed(self, creds);
		g_hash_table_replace(
		        self->auth, g_strdup(g_dbus_method_invocation_get_sender(call->invocation)),
		        GINT_TO_POINTER(allowed ? 1 : 2));
	} else {
		g_warning("cannot read the credentials of %s: %s",
		          g_dbus_method_invocation_get_sender(call->invocation), error->message);
	}
	auth_dispatch(call, allowed);
}

/* Runs @func once the caller of @invocation is known to be allowed (cached per unique name,
 * which the bus never reuses), or answers AccessDenied. */
static void
authorize(ModemEntry *e, GDBusMethodInvocation *invocation, AuthorizedFunc func)
{
	DfotaService *self = e->service;
	const char *sender = g_dbus_method_invocation_get_sender(invocation);
	AuthCall *call = g_new0(AuthCall, 1);
	gpointer cached;

	call->entry = e;
	call->invocation = g_object_ref(invocation);
	call->func = func;
	if (!sender) {
		/* A peer-to-peer connection: nobody in between to vouch for the caller. */
		auth_dispatch(call, FALSE);
		return;
	}
	cached = g_hash_table_lookup(self->auth, sender);
	if (cached) {
		auth_dispatch(call, GPOINTER_TO_INT(cached) == 1);
		return;
	}
	g_dbus_connection_call(self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	                       "org.freedesktop.DBus", "GetConnectionCredentials",
	                       g_variant_new("(s)", sender), G_VARIANT_TYPE("(a{sv})"),
	                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, auth_credentials_done, call);
}

static void
on_name_owner_changed(GDBusConnection *connection, const char *sender_name, const char *object_path,
                      const char *interface_name, const char *signal_name, GVariant *parameters,
                      gpointer user_data)
{
	DfotaService *self = user_data;
	const char *name, *old_owner, *new_owner;
	GCancellable *c;

	g_variant_get(parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
	if (name[0] != ':' || *new_owner)
		return;
	g_hash_table_remove(self->auth, name);
	c = g_hash_table_lookup(self->callers, name);
	if (c) {
		g_debug("%s left the bus: dropping its waiting commands", name);
		g_cancellable_cancel(c);
		g_hash_table_remove(self->callers, name);
	}
}

static GCancellable *
caller_cancellable(DfotaService *self, const char *sender)
{
	GCancellable *c;

	if (!sender)
		return NULL;
	c = g_hash_table_lookup(self->callers, sender);
	if (!c) {
		c = g_cancellable_new();
		g_hash_table_insert(self->callers, g_strdup(sender), c);
	}
	return c;
}

/* ---- org.dfotad1.Modem ------------------------------------------------------------------------ */

static gboolean
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

	if (!dfota_modem_refresh_finish(DFOTA_MODEM(source), res, &error))
		return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
do_refresh(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	if (refuse_if_busy(e, invocation))
		return;
	dfota_modem_refresh(e->modem, NULL, refresh_done, g_object_ref(invocation));
}

/* ---- org.dfotad1.Fota --------------------------------------------------------------------------- */

static void
job_started(GError *error, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;

	if (error)
		return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
do_upgrade(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &url);
	dfota_fota_upgrade(e->fota, url, job_started, g_object_ref(invocation));
}

static void
do_upgrade_local(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	dfota_fota_upgrade_local(e->fota, job_started, g_object_ref(invocation));
}

static void
do_fetch_mcu_file(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url, *filename;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s)", &url,
	              &filename);
	dfota_fota_fetch_mcu_file(e->fota, url, filename, job_started, g_object_ref(invocation));
}

static void
do_upgrade_via_host(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;
	g_autoptr(GVariant) options = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &url,
	              &options);
	dfota_fota_upgrade_via_host(e->fota, url, options, job_started, g_object_ref(invocation));
}

/* The fd behind handle @index of the message, dup'ed for us, or -1 with an error returned. */
static int
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

static void
do_upgrade_from_file(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	gint32 handle;
	g_autoptr(GVariant) options = NULL;
	int fd;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(h@a{sv})", &handle,
	              &options);
	fd = take_fd(invocation, handle);
	if (fd < 0)
		return;
	dfota_fota_upgrade_from_fd(e->fota, fd, options, job_started, g_object_ref(invocation));
}

static void
do_cancel(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;

	if (!dfota_fota_cancel(e->fota, &error))
		return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

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

	if (!dfota_ufs_delete_finish(res, &error))
		return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
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

static void
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

	if (!dfota_ufs_upload_finish(res, &error))
		return_error(c->invocation, error);
	else
		g_dbus_method_invocation_return_value(c->invocation, NULL);
	transfer_done(c);
}

static void
upload_read_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FileCall *c = user_data;
	ModemEntry *e = c->entry;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = dfota_fdio_read_all_finish(res, &error);
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

	if (!dfota_fdio_write_all_finish(res, &error))
		return_error(c->invocation, error);
	else
		g_dbus_method_invocation_return_value(c->invocation, NULL);
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

/* ---- method dispatch ------------------------------------------------------------------------ */

/* The generated handle-* signals carry the method's arguments; the do_* functions read them
 * from the invocation once the caller is authorized, so only the arity differs here. */
#define HANDLER_0(fn)                                                                 \
	static gboolean on_##fn(gpointer skeleton, GDBusMethodInvocation *invocation, \
	                        gpointer user_data)                                   \
	{                                                                             \
		authorize(user_data, invocation, do_##fn);                            \
		return TRUE;                                                          \
	}
#define HANDLER_1(fn, T1)                                                                    \
	static gboolean on_##fn(gpointer skeleton, GDBusMethodInvocation *invocation, T1 a1, \
	                        gpointer user_data)                                          \
	{                                                                                    \
		authorize(user_data, invocation, do_##fn);                                   \
		return TRUE;                                                                 \
	}
#define HANDLER_2(fn, T1, T2)                                                                \
	static gboolean on_##fn(gpointer skeleton, GDBusMethodInvocation *invocation, T1 a1, \
	                        T2 a2, gpointer user_data)                                   \
	{                                                                                    \
		authorize(user_data, invocation, do_##fn);                                   \
		return TRUE;                                                                 \
	}

HANDLER_2(command, const char *, guint)
HANDLER_0(refresh)
HANDLER_1(upgrade, const char *)
HANDLER_0(upgrade_local)
HANDLER_2(fetch_mcu_file, const char *, const char *)
HANDLER_2(upgrade_via_host, const char *, GVariant *)
HANDLER_2(upgrade_from_file, GVariant *, GVariant *)
HANDLER_0(cancel)
HANDLER_0(list)
HANDLER_1(delete, const char *)
HANDLER_2(upload, const char *, GVariant *)
HANDLER_2(download, const char *, GVariant *)

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

static gboolean
variant_differs(GVariant *a, GVariant *b)
{
	return !a || !b || !g_variant_equal(a, b);
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
	             dfota_modem_get_revision(e->modem), NULL);
	if (variant_differs(network, dfota_dbus_modem_get_network(e->imodem)))
		dfota_dbus_modem_set_network(e->imodem, network);
	if (variant_differs(device, dfota_dbus_modem_get_device(e->imodem)))
		dfota_dbus_modem_set_device(e->imodem, device);
	update_status(e->service);
}

static void
sync_fota(ModemEntry *e)
{
	g_autoptr(GVariant) job = dfota_fota_get_job(e->fota);
	g_autoptr(GVariant) last = dfota_fota_get_last_result(e->fota);

	dfota_dbus_fota_set_phase(e->ifota, dfota_fota_get_phase(e->fota));
	dfota_dbus_fota_set_percent(e->ifota, dfota_fota_get_percent(e->fota));
	if (variant_differs(job, dfota_dbus_fota_get_job(e->ifota)))
		dfota_dbus_fota_set_job(e->ifota, job);
	if (variant_differs(last, dfota_dbus_fota_get_last_result(e->ifota)))
		dfota_dbus_fota_set_last_result(e->ifota, last);
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
	g_signal_connect(e->ifota, "handle-upgrade", G_CALLBACK(on_upgrade), e);
	g_signal_connect(e->ifota, "handle-upgrade-local", G_CALLBACK(on_upgrade_local), e);
	g_signal_connect(e->ifota, "handle-fetch-mcu-file", G_CALLBACK(on_fetch_mcu_file), e);
	g_signal_connect(e->ifota, "handle-upgrade-via-host", G_CALLBACK(on_upgrade_via_host), e);
	g_signal_connect(e->ifota, "handle-upgrade-from-file", G_CALLBACK(on_upgrade_from_file), e);
	g_signal_connect(e->ifota, "handle-cancel", G_CALLBACK(on_cancel), e);
	g_signal_connect(e->ifiles, "handle-list", G_CALLBACK(on_list), e);
	g_signal_connect(e->ifiles, "handle-delete", G_CALLBACK(on_delete), e);
	g_signal_connect(e->ifiles, "handle-upload", G_CALLBACK(on_upload), e);
	g_signal_connect(e->ifiles, "handle-download", G_CALLBACK(on_download), e);

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
