// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-inhibitor.h: a logind "block" inhibitor lock on shutdown and sleep, held while a
 * module flashes (a power cut then would force the seed's recovery path). logind is asked on
 * the daemon's own bus connection: the system bus in production, the private bus in tests,
 * where a stand-in answers. Without logind the daemon logs once and goes on. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DfotaInhibitor DfotaInhibitor;

DfotaInhibitor *dfota_inhibitor_new(GDBusConnection *connection);
void dfota_inhibitor_free(DfotaInhibitor *self);

/* Takes the lock (asynchronously) unless held or being taken; @why ends up in
 * `systemd-inhibit --list`. */
void dfota_inhibitor_acquire(DfotaInhibitor *self, const char *why);
/* Releases the lock (closes its fd), also one still being taken. */
void dfota_inhibitor_release(DfotaInhibitor *self);

G_END_DECLS
