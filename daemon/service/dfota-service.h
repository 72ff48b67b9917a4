// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service.h: the D-Bus side. Exports one object per modem under the object manager at
 * /org/dfotad1, with the org.dfotad1.Modem, .Fota and .Files skeletons generated from dbus/.
 * Checks every method caller's credentials, validates arguments before anything reaches the
 * modem, maps GErrors to org.dfotad1.Error.* (registered once, in dfota-error.c), and mirrors
 * the modem's and the jobs' state as properties and signals in the order the contract fixes.
 */
#pragma once

#include <gio/gio.h>
#include "dfota-modem.h"
#include "dfota-fota.h"

G_BEGIN_DECLS

#define DFOTA_TYPE_SERVICE (dfota_service_get_type())
G_DECLARE_FINAL_TYPE(DfotaService, dfota_service, DFOTA, SERVICE, GObject)

#define DFOTA_SERVICE_OBJECT_PATH "/org/dfotad1"

/* @session_bus: who may call methods. On the system bus root and members of group "dfota";
 * on the session bus root and the daemon's own user. */
DfotaService *dfota_service_new(GDBusConnection *connection, gboolean session_bus);
/* The bus connection the service answers on. */
GDBusConnection *dfota_service_get_connection(DfotaService *self);

/* Exports /org/dfotad1/Modem/<index> for @modem and @fota (index = order of calls). */
void dfota_service_add_modem(DfotaService *self, DfotaModem *modem, DfotaFota *fota);

/* A one-line summary of every modem's state and job, for sd_notify STATUS=. */
char *dfota_service_describe(DfotaService *self);

/* Emitted ("status-changed") whenever dfota_service_describe() would say something new. */

G_END_DECLS
