// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service-auth.c: who may call the methods, and the callers that left the bus. */
#include "dfota-service-private.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "dfota-error.h"

#define AUTH_GROUP "dfota"

/* ---- authorization ---------------------------------------------------------------------------- */

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
void
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

void
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

GCancellable *
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
