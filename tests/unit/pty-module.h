// SPDX-License-Identifier: LGPL-2.1-or-later
/* pty-module.h: a pseudo-terminal whose master side the test drives as "the module".
 *
 * Only for unit tests of the serial and the AT channel: it reads what the daemon code writes
 * (commands split at CR, or a counted number of raw bytes) and lets the test write answers.
 * Deliberately not the project's simulator: it has no AT logic of its own.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct _PtyModule PtyModule;
typedef void (*PtyCommandFunc)(PtyModule *pty, const char *command, gpointer user_data);
typedef void (*PtyRawFunc)(PtyModule *pty, gpointer user_data);

struct _PtyModule {
	int master;
	char *slave_path;
	guint watch;
	GString *partial;
	GPtrArray *commands; /* every command received, in order */
	guint taken;         /* commands consumed by pty_module_expect() */
	gsize raw_expected;  /* > 0: the next bytes are raw data */
	GByteArray *raw;
	PtyCommandFunc on_command;
	PtyRawFunc on_raw;
	gpointer user_data;
};

static inline gboolean
pty_module_on_readable(gint fd, GIOCondition cond, gpointer data)
{
	PtyModule *pty = data;
	guint8 buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		/* EIO: the slave is not open right now; the test may reopen it. */
		if (n < 0 && errno == EAGAIN)
			return G_SOURCE_CONTINUE;
		pty->watch = 0;
		return G_SOURCE_REMOVE;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (pty->raw_expected > 0) {
			gsize take = MIN(pty->raw_expected, (gsize)(n - i));
			g_byte_array_append(pty->raw, buf + i, (guint)take);
			pty->raw_expected -= take;
			i += (ssize_t)take - 1;
			if (pty->on_raw)
				pty->on_raw(pty, pty->user_data);
			continue;
		}
		if (buf[i] == '\r') {
			char *cmd = g_strdup(pty->partial->str);
			g_string_truncate(pty->partial, 0);
			g_ptr_array_add(pty->commands, cmd);
			if (pty->on_command)
				pty->on_command(pty, cmd, pty->user_data);
		} else if (buf[i] != '\n') {
			g_string_append_c(pty->partial, (char)buf[i]);
		}
	}
	return G_SOURCE_CONTINUE;
}

static inline PtyModule *
pty_module_new(void)
{
	PtyModule *pty = g_new0(PtyModule, 1);

	pty->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	g_assert_cmpint(pty->master, >=, 0);
	g_assert_cmpint(grantpt(pty->master), ==, 0);
	g_assert_cmpint(unlockpt(pty->master), ==, 0);
	pty->slave_path = g_strdup(ptsname(pty->master));
	pty->partial = g_string_new(NULL);
	pty->commands = g_ptr_array_new_with_free_func(g_free);
	pty->raw = g_byte_array_new();
	pty->watch = g_unix_fd_add(pty->master, G_IO_IN, pty_module_on_readable, pty);
	return pty;
}

/* Closing the master is how a test pulls the cable. */
static inline void
pty_module_hangup(PtyModule *pty)
{
	if (pty->watch)
		g_source_remove(pty->watch);
	pty->watch = 0;
	if (pty->master >= 0)
		close(pty->master);
	pty->master = -1;
}

static inline void
pty_module_free(PtyModule *pty)
{
	pty_module_hangup(pty);
	g_free(pty->slave_path);
	g_string_free(pty->partial, TRUE);
	g_ptr_array_unref(pty->commands);
	g_byte_array_unref(pty->raw);
	g_free(pty);
}

/* Writes everything, letting the main loop drain the slave side when the pty is full. */
static inline void
pty_module_write(PtyModule *pty, const void *data, gsize len)
{
	const guint8 *p = data;

	while (len > 0) {
		ssize_t n = write(pty->master, p, len);
		if (n < 0 && errno == EAGAIN) {
			g_main_context_iteration(NULL, TRUE);
			continue;
		}
		g_assert_cmpint(n, >, 0);
		p += n;
		len -= (gsize)n;
	}
}

static inline void
pty_module_say(PtyModule *pty, const char *text)
{
	pty_module_write(pty, text, strlen(text));
}

/* Fragmentation: one byte per write, the main loop runs in between. */
static inline void
pty_module_say_bytewise(PtyModule *pty, const char *text, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		pty_module_write(pty, text + i, 1);
		while (g_main_context_iteration(NULL, FALSE))
			;
	}
}

static inline gboolean
pty_test_deadline_hit(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until *flag is set, failing the test after @ms. */
static inline void
pty_test_wait_flag(const gboolean *flag, guint ms)
{
	gboolean expired = FALSE;
	guint id = g_timeout_add(ms, pty_test_deadline_hit, &expired);

	while (!*flag && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	g_assert_true(*flag);
}

/* Runs the main loop until *counter reaches @n. */
static inline void
pty_test_wait_count(const guint *counter, guint n, guint ms)
{
	gboolean expired = FALSE;
	guint id = g_timeout_add(ms, pty_test_deadline_hit, &expired);

	while (*counter < n && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	g_assert_cmpuint(*counter, >=, n);
}

/* Waits for the next command the module receives and checks its text. */
static inline void
pty_module_expect(PtyModule *pty, const char *command, guint ms)
{
	pty_test_wait_count(&pty->commands->len, pty->taken + 1, ms);
	g_assert_cmpstr(g_ptr_array_index(pty->commands, pty->taken), ==, command);
	pty->taken++;
}
