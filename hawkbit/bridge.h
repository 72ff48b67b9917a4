// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge.h: the DDI conversation. One worker thread talks to hawkBit (blocking libcurl) and to
 * dfotad (synchronous D-Bus calls); dfotad's signals reach it through a queue fed from the
 * main loop, which also owns the process's signals and sd_notify. Sequential code keeps the
 * order of a deployment (download, start, follow, report) readable in one place. */
#pragma once

#include "bridge-config.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _Bridge Bridge;

Bridge *bridge_new(BridgeConfig *config, GDBusConnection *bus, const char *state_dir);

/* Starts the worker thread. */
void bridge_start(Bridge *b);

/* Asks the worker to stop (transfers abort, waits end) and joins it; the action in progress
 * stays in the state directory. */
void bridge_stop(Bridge *b);

void bridge_free(Bridge *b);

G_END_DECLS
