// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-hawkbit-config.c: dfota-hawkbit's configuration checks and command line: every bad
 * hawkbit.conf ends the program with status 1 and a message naming the key, before it touches
 * the bus or the network. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
	const char *conf;
	const char *says; /* in the message */
} BadConfig;

static const BadConfig bad_configs[] = {
	{ "[client]\ncontroller-id=gw\n", "server" },
	{ "[client]\nserver=http://h\n", "controller-id" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\npoll=5\n", "poll" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\n[extra]\nx=1\n", "extra" },
	{ "[client]\nserver=ftp://h\ncontroller-id=gw\n", "server" },
	{ "[client]\nserver=h\ncontroller-id=gw\n", "server" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\ndownload=both\n", "download" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\nmodem=first\n", "modem" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\nmodem=-1\n", "modem" },
	{ "[client]\nserver=http://h\ncontroller-id=a/b\n", "controller-id" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\ntenant=x y\n", "tenant" },
	{ "[client]\nserver=http://h\ncontroller-id=gw\ntarget-token=a\ngateway-token=b\n",
	  "not both" },
	{ "[client\nserver=http://h\n", "" },
};

static int
run(const char *const *argv, char **err)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) p = g_subprocess_newv(
	        argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);

	g_assert_no_error(error);
	g_subprocess_communicate_utf8(p, NULL, NULL, NULL, err, &error);
	g_assert_no_error(error);
	return g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p) : -1;
}

static void
test_bad_configs(void)
{
	g_autofree char *dir = g_dir_make_tmp("dfota-hawkbit-conf-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(dir, "hawkbit.conf", NULL);
	g_autofree char *state = g_build_filename(dir, "state", NULL);

	/* No bus at all: a bad configuration must be refused before the bus is needed. */
	g_setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent", TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(bad_configs); i++) {
		const char *argv[] = { g_getenv("DFOTA_HAWKBIT"),
			               "--session",
			               "--config",
			               conf,
			               "--state-dir",
			               state,
			               NULL };
		g_autofree char *err = NULL;

		g_assert_true(g_file_set_contents(conf, bad_configs[i].conf, -1, NULL));
		g_assert_cmpint(run(argv, &err), ==, 1);
		g_test_message("%s", err);
		g_assert_nonnull(strstr(err, bad_configs[i].says));
	}
	{
		const char *argv[] = { g_getenv("DFOTA_HAWKBIT"), "--config", "/nonexistent.conf",
			               NULL };
		g_autofree char *err = NULL;

		g_assert_cmpint(run(argv, &err), ==, 1);
		g_assert_nonnull(strstr(err, "/nonexistent.conf"));
	}
	{
		const char *argv[] = { g_getenv("DFOTA_HAWKBIT"), "--no-such-option", NULL };
		g_autofree char *err = NULL;

		g_assert_cmpint(run(argv, &err), !=, 0);
	}
	g_unlink(conf);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_nonnull(g_getenv("DFOTA_HAWKBIT"));
	g_test_add_func("/hawkbit/config/bad", test_bad_configs);
	return g_test_run();
}
