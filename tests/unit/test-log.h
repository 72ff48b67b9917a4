// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-log.h: counts expected warnings of the libraries under test.
 *
 * g_test_expect_message() does not see structured logging (G_LOG_USE_STRUCTURED), so tests
 * install this writer: a warning whose message contains test_log_expect is counted and
 * swallowed, everything else goes to the default writer (where warnings stay fatal).
 */
#pragma once

#include <glib.h>
#include <string.h>

static const char *test_log_expect; /* substring of the expected warning, or NULL */
static guint test_log_count;

static inline GLogWriterOutput
test_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	if ((level & G_LOG_LEVEL_WARNING) && test_log_expect != NULL) {
		for (gsize i = 0; i < n_fields; i++) {
			if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0 &&
			    strstr(fields[i].value, test_log_expect) != NULL) {
				test_log_count++;
				return G_LOG_WRITER_HANDLED;
			}
		}
	}
	return g_log_writer_default(level, fields, n_fields, data);
}

static inline void
test_log_init(void)
{
	g_log_set_writer_func(test_log_writer, NULL, NULL);
}
