// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-config.h: the daemon's configuration, from the command line and the config file
 * (GKeyFile, dfotad.conf(5)). Configuration that can never work is an error with a message
 * that names the file, group and key; a port that merely does not exist yet is not. */
#pragma once

#include <glib.h>
#include "dfota-modem.h"
#include "dfota-fota.h"

G_BEGIN_DECLS

typedef struct {
	DfotaModemConfig modem;
	DfotaFotaConfig fota;
} DfotaModemSetup;

typedef struct {
	char *state_dir;
	char *metrics_file; /* [daemon] metrics-file; NULL = none */
	GPtrArray *modems;  /* DfotaModemSetup*, in configuration order */
} DfotaConfig;

typedef struct {
	const char *config_file; /* NULL: the default path, which may be missing */
	const char *port;        /* --port */
	guint baud;              /* --baud, 0 = not given */
	const char *state_dir;   /* --state-dir */
	gboolean session;        /* --session: default state dir under $XDG_STATE_HOME */
} DfotaConfigArgs;

/* Fills @cfg; FALSE with G_KEY_FILE_ERROR / G_OPTION_ERROR and a clear message otherwise. */
gboolean dfota_config_load(DfotaConfig *cfg, const DfotaConfigArgs *args, GError **error);
void dfota_config_clear(DfotaConfig *cfg);

/* The largest max-package-size (commands.md): 64 MiB, far above any module's UFS. */
#define DFOTA_CONFIG_MAX_PACKAGE_SIZE (G_GUINT64_CONSTANT(64) * 1024 * 1024)

/* TRUE for a line rate termios can set. */
gboolean dfota_config_baud_is_valid(guint baud);

G_END_DECLS
