// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-postinst.c: the Debian postinst restarts dfotad after an upgrade only while no modem
 * has a job running. Its two shell functions (dfotad_running, dfotad_idle), taken from
 * debian/dfotad.postinst as shipped, are run with busctl against the test's private bus
 * (as the system bus, through DBUS_SYSTEM_BUS_ADDRESS) before, during and after a job. */
#include "harness-private.h"

#include <string.h>

/* Exit status of "dfotad_running && dfotad_idle" from the shipped postinst. */
static int
postinst_says_idle(Harness *h)
{
	const char *postinst = g_getenv("DFOTA_POSTINST");
	g_autofree char *script = NULL;
	g_autofree char *out = NULL, *err = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) env = g_get_environ();
	int status = 0;

	g_assert_nonnull(postinst);
	script = g_strdup_printf(
	        "eval \"$(sed -n '/^dfotad_running()/,/^}/p;/^dfotad_idle()/,/^}/p' "
	        "'%s')\" && dfotad_running && dfotad_idle",
	        postinst);
	env = g_environ_setenv(env, "DBUS_SYSTEM_BUS_ADDRESS", h->bus_address, TRUE);
	g_spawn_sync(NULL, (char *[]){ "/bin/sh", "-c", script, NULL }, env, G_SPAWN_DEFAULT, NULL,
	             NULL, &out, &err, &status, &error);
	g_assert_no_error(error);
	g_test_message("postinst check: status %d, %s%s", status, out, err);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static gboolean
phase_not_idle(GVariant *v)
{
	return g_strcmp0(g_variant_get_string(v, NULL), "idle") != 0;
}

static void
test_restart_only_when_idle(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autofree char *url = harness_url(h, "update.pack");
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL, result = NULL;
	guint64 since;

	g_assert_cmpint(postinst_says_idle(h), ==, 0);

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	since = harness_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	g_assert_true(
	        harness_wait_property_cond(h, HARNESS_IFACE_FOTA, "Phase", phase_not_idle, 30000));
	/* Hold the job in its module phase: the module says nothing until told again. */
	harness_control(h, "silence on");
	g_assert_cmpint(postinst_says_idle(h), !=, 0);
	harness_control(h, "silence off");

	result = harness_wait_finished(h, since, 90000);
	g_assert_true(harness_wait_property(h, HARNESS_IFACE_FOTA, "Phase",
	                                    g_variant_new_string("idle"), 30000));
	g_assert_cmpint(postinst_says_idle(h), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/postinst/restart-only-when-idle", test_restart_only_when_idle);
	return g_test_run();
}
