// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-log.h: log lines about one modem's job, with structured journal fields so that
 * `journalctl DFOTAD_JOB=7` tells one upgrade's story: DFOTAD_MODEM (the modem's name),
 * DFOTAD_JOB (its id), DFOTAD_PHASE and DFOTAD_CODE (the module's error code, when any). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @phase may be NULL; @code < -1 leaves DFOTAD_CODE out. */
void dfota_log_job(GLogLevelFlags level, const char *modem, guint64 job, const char *phase,
                   int code, const char *format, ...) G_GNUC_PRINTF(6, 7);

#define DFOTA_LOG_NO_CODE (-2)

/* GLib's default writer (journald or stderr), with every URL in MESSAGE redacted
 * (dfota-redact.h): whatever a log line quotes — a libcurl error, a module's echo — shows no
 * password or query value. Installed once by the daemon with g_log_set_writer_func(). */
GLogWriterOutput dfota_log_writer_redacting(GLogLevelFlags level, const GLogField *fields,
                                            gsize n_fields, gpointer user_data);

/* Whether a debug message of @domain would be shown: --verbose (g_log_set_debug_enabled()),
 * or G_MESSAGES_DEBUG naming @domain or "all". The environment is read once per @cache (an
 * int set to -1 before the first call), since the daemon never changes it. */
gboolean dfota_log_debug_on(const char *domain, int *cache);

/* g_debug() whose arguments are evaluated only when the message would be shown: AT traffic is
 * logged per line, and formatting it for a writer that drops it costs every command. */
#define dfota_debug(...)                                                               \
	G_STMT_START                                                                   \
	{                                                                              \
		static int dfota_debug_cache_ = -1;                                    \
		if (G_UNLIKELY(dfota_log_debug_on(G_LOG_DOMAIN, &dfota_debug_cache_))) \
			g_debug(__VA_ARGS__);                                          \
	}                                                                              \
	G_STMT_END

G_END_DECLS
