// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service-private.h: what the parts of DfotaService share. The core (dfota-service.c)
 * owns the object, the Modem interface, method dispatch and the mirroring of state; the parts
 * answer the callers of one concern each: authorization (dfota-service-auth.c), the Fota
 * interface (dfota-service-fota.c) and the Files interface (dfota-service-files.c). */
#pragma once

#include <gio/gio.h>

#include "dfota-dbus-generated.h"
#include "dfota-fota.h"
#include "dfota-inhibitor.h"
#include "dfota-modem.h"
#include "dfota-service.h"

G_BEGIN_DECLS

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

typedef void (*AuthorizedFunc)(ModemEntry *e, GDBusMethodInvocation *invocation);

/* dfota-service.c */
void return_error(GDBusMethodInvocation *invocation, const GError *error);
/* Answers @invocation with no value, or with @error (mapped as return_error does) when set. */
void return_error_or_empty(GDBusMethodInvocation *invocation, const GError *error);
gboolean refuse_if_busy(ModemEntry *e, GDBusMethodInvocation *invocation);
int take_fd(GDBusMethodInvocation *invocation, gint32 index);

/* dfota-service-auth.c */
void authorize(ModemEntry *e, GDBusMethodInvocation *invocation, AuthorizedFunc func);
void on_name_owner_changed(GDBusConnection *connection, const char *sender_name,
                           const char *object_path, const char *interface_name,
                           const char *signal_name, GVariant *parameters, gpointer user_data);
GCancellable *caller_cancellable(DfotaService *self, const char *sender);

/* dfota-service-fota.c: answers the org.dfotad1.Fota methods of @e's object. */
void service_fota_connect(ModemEntry *e);

/* dfota-service-files.c: answers the org.dfotad1.Files methods of @e's object. */
void file_call_free(gpointer c);
void service_files_connect(ModemEntry *e);

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

G_END_DECLS
