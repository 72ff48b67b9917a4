// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-log.c: structured log records through GLib's writer (journald when run by systemd). */
#include "dfota-log.h"

#include <stdarg.h>
#include <string.h>

#include "dfota-redact.h"

static const char *
priority_of(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "3";
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		return "4";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "5";
	if (level & G_LOG_LEVEL_INFO)
		return "6";
	return "7";
}

void
dfota_log_job(GLogLevelFlags level, const char *modem, guint64 job, const char *phase, int code,
              const char *format, ...)
{
	va_list ap;
	g_autofree char *message = NULL;
	g_autofree char *job_s = g_strdup_printf("%" G_GUINT64_FORMAT, job);
	g_autofree char *code_s = g_strdup_printf("%d", code);
	GLogField fields[8];
	gsize n = 0;

	va_start(ap, format);
	message = g_strdup_vprintf(format, ap);
	va_end(ap);
	fields[n++] = (GLogField){ "MESSAGE", message, -1 };
	fields[n++] = (GLogField){ "PRIORITY", priority_of(level), -1 };
	fields[n++] = (GLogField){ "GLIB_DOMAIN", "dfotad", -1 };
	fields[n++] = (GLogField){ "DFOTAD_MODEM", modem ? modem : "", -1 };
	fields[n++] = (GLogField){ "DFOTAD_JOB", job_s, -1 };
	if (phase)
		fields[n++] = (GLogField){ "DFOTAD_PHASE", phase, -1 };
	if (code >= -1)
		fields[n++] = (GLogField){ "DFOTAD_CODE", code_s, -1 };
	g_log_structured_array(level, fields, n);
}

gboolean
dfota_log_debug_on(const char *domain, int *cache)
{
	int on;

	if (g_log_get_debug_enabled())
		return TRUE;
	on = g_atomic_int_get(cache);
	if (on < 0) {
		on = !g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, domain);
		g_atomic_int_set(cache, on);
	}
	return on == 1;
}

GLogWriterOutput
dfota_log_writer_redacting(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                           gpointer user_data)
{
	g_autofree GLogField *copy = NULL;
	g_autofree char *shown = NULL;
	const char *domain = NULL;

	for (gsize i = 0; i < n_fields; i++)
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
			domain = fields[i].value;
	/* what the default writer drops needs no redaction */
	if (g_log_writer_default_would_drop(level, domain))
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		g_autofree char *message = NULL;

		if (strcmp(fields[i].key, "MESSAGE") != 0 || fields[i].value == NULL)
			continue;
		message = fields[i].length < 0
		                  ? g_strdup(fields[i].value)
		                  : g_strndup(fields[i].value, (gsize)fields[i].length);
		if (strstr(message, "://") == NULL)
			break;
		shown = dfota_text_redact_urls(message);
		copy = g_memdup2(fields, n_fields * sizeof(GLogField));
		copy[i].value = shown;
		copy[i].length = -1;
		break;
	}
	return g_log_writer_default(level, copy ? copy : fields, n_fields, user_data);
}
