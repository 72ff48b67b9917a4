// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-hawkbit-module.c: dfota-hawkbit with download=module: dfotad's UpgradeWithOptions with
 * the artifact's download-http link, fallback-via-host and the DDI hash; the module downloads
 * anonymously while the bridge's own requests carry the gateway token. */
#include "hawkbit-fixture.h"

/* download=module: UpgradeWithOptions with the download-http link, fallback-via-host and the
 * DDI hash; the module downloads anonymously. */
static void
test_module_download(void)
{
	g_autoptr(Hb) b = hb_new(&(HarnessOptions){ 0 }, "GatewayToken 9d1e77");
	g_autofree char *action = hb_action("12", "attempt", NULL, NULL);
	g_autoptr(JsonObject) closed = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since = harness_mark(b->h);

	hb_script(b, "{\"anonymous_download\": true, \"action\": %s}", action);
	hb_config(b, "download=module\ngateway-token=9d1e77\n");
	hb_bridge_start(b);

	closed = hb_wait_closed(b, "12");
	hb_assert_closed_success(closed);
	result = harness_wait_finished(b->h, since, HB_WAIT_MS);
	hm_assert_succeeded(result);
	g_assert_cmpstr(harness_dict_str(result, "kind"), ==, "upgrade");
	g_assert_true(g_str_has_suffix(harness_dict_str(result, "source"),
	                               "/softwaremodules/1/artifacts/update.pack"));
	g_assert_cmpuint(hb_count(b, "POST", "/deploymentBase/12/feedback", "closed"), ==, 1);
	/* The module fetched the artifact itself, without a token; the bridge fetched nothing. */
	{
		g_autoptr(JsonObject) get = hb_last(b, "GET", "/artifacts/update.pack", NULL);

		g_assert_nonnull(get);
		g_assert_null(hb_str(hb_obj(get, "headers"), "Authorization"));
		g_assert_cmpuint(hb_count(b, "GET", "/artifacts/update.pack", NULL), ==, 1);
	}
	g_assert_cmpuint(hb_count(b, "GET", "/deploymentBase/12", NULL), >=, 1);
	{
		g_autoptr(JsonObject) poll = hb_last(b, "GET", "/deploymentBase/12", NULL);

		g_assert_cmpstr(hb_str(hb_obj(poll, "headers"), "Authorization"), ==,
		                "GatewayToken 9d1e77");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hawkbit/module-download", test_module_download);
	return g_test_run();
}
