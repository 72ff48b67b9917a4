// SPDX-License-Identifier: LGPL-2.1-or-later
/* bridge-config.h: hawkbit.conf, the bridge's GKeyFile with its one [client] group. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	char *server;
	char *tenant;
	char *controller_id;
	char *target_token;
	char *gateway_token;
	guint modem;
	gboolean download_module; /* download=module */
	char *ca_file;
} BridgeConfig;

/* Loads and checks @path: unknown groups or keys, a missing server or controller-id, a server
 * that is not http:// or https://, or a bad download/modem value fail with a message that
 * names the key. */
BridgeConfig *bridge_config_load(const char *path, GError **error);
void bridge_config_free(BridgeConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeConfig, bridge_config_free)

G_END_DECLS
