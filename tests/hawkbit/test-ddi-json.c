// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-ddi-json.c: the bridge's reading and writing of hawkBit DDI documents, table-driven:
 * polling sleep, Retry-After, ids, the .pack artifact of a deployment, feedback bodies, nesting
 * depth, which links get the token; and the bridge's reading of a failed start call. */
#include "bridge-private.h"
#include "ddi-client.h"
#include "ddi-json.h"

#include <string.h>

static void
test_parse_sleep(void)
{
	const struct {
		const char *in;
		guint out;
	} cases[] = {
		{ "00:00:01", 1 },
		{ "00:05:00", 300 },
		{ "12:00:00", 43200 },
		{ "00:00:00", 1 },
		{ NULL, DDI_DEFAULT_POLL_S },
		{ "", DDI_DEFAULT_POLL_S },
		{ "5", DDI_DEFAULT_POLL_S },
		{ "00:60:00", DDI_DEFAULT_POLL_S },
		{ "00:00:61", DDI_DEFAULT_POLL_S },
		{ "00:00:01x", DDI_DEFAULT_POLL_S },
		{ "a:b:c", DDI_DEFAULT_POLL_S },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpuint(ddi_parse_sleep(cases[i].in), ==, cases[i].out);
}

static void
test_parse_retry_after(void)
{
	g_assert_cmpuint(ddi_parse_retry_after("30", 300), ==, 30);
	g_assert_cmpuint(ddi_parse_retry_after("300", 300), ==, 300);
	/* Longer than the longest back-off: capped, not ignored. */
	g_assert_cmpuint(ddi_parse_retry_after("301", 300), ==, 300);
	g_assert_cmpuint(ddi_parse_retry_after("86400", 300), ==, 300);
	g_assert_cmpuint(ddi_parse_retry_after("99999999999999999999", 300), ==, 300);
	g_assert_cmpuint(ddi_parse_retry_after("0", 300), ==, 0);
	g_assert_cmpuint(ddi_parse_retry_after("", 300), ==, 0);
	g_assert_cmpuint(ddi_parse_retry_after(NULL, 300), ==, 0);
	g_assert_cmpuint(ddi_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 300), ==, 0);
}

static void
test_ids(void)
{
	const char *good[] = { "7", "1234567890", "a-b_C", NULL };
	const char *bad[] = {
		"",
		"../x",
		"a/b",
		"a b",
		"a?b",
		"%41",
		"\xc3\xa9",
		"0123456789012345678901234567890123456789012345678901234567890123456789",
		NULL
	};
	g_autoptr(JsonParser) p = json_parser_new();
	g_autofree char *num = NULL;

	for (guint i = 0; good[i] != NULL; i++)
		g_assert_true(ddi_id_is_safe(good[i]));
	for (guint i = 0; bad[i] != NULL; i++)
		g_assert_false(ddi_id_is_safe(bad[i]));
	g_assert_false(ddi_id_is_safe(NULL));
	g_assert_true(json_parser_load_from_data(p, "{\"id\": 42}", -1, NULL));
	num = ddi_id_member(json_node_get_object(json_parser_get_root(p)));
	g_assert_cmpstr(num, ==, "42");
}

#define SHA "b645c836ec587aceb8445040f3bd20016e54772f181c1d3de0e4aaa41ae7fdc2"
#define ART(name, links)                                                                      \
	"{\"filename\": \"" name "\", \"size\": 100, \"hashes\": {\"sha256\": \"" SHA "\"}, " \
	"\"_links\": {" links "}}"
#define DL \
	"\"download\": {\"href\": \"https://h/a\"}, \"download-http\": {\"href\": \"http://h/a\"}"

static void
test_find_artifact(void)
{
	const struct {
		const char *chunks;
		gboolean ok;
		const char *why;
	} cases[] = {
		{ "[{\"artifacts\": [" ART("u.pack", DL) "]}]", TRUE, NULL },
		{ "[{\"artifacts\": [" ART("notes.txt", DL) ", " ART("u.pack", DL) "]}]", TRUE,
		  NULL },
		{ "[{\"artifacts\": [" ART("u.bin", DL) "]}]", FALSE, "no .pack" },
		{ "[]", FALSE, "no .pack" },
		{ "[{\"artifacts\": [" ART("a.pack", DL) "]}, {\"artifacts\": [" ART("b.pack",
		                                                                     DL) "]}]",
		  FALSE, "2 .pack" },
		{ "[{\"artifacts\": [" ART("u.pack", "") "]}]", FALSE, "no download link" },
		{ "[{\"artifacts\": [{\"filename\": \"u.pack\", \"hashes\": {\"sha256\": \"xyz\"}, "
		  "\"_links\": {" DL "}}]}]",
		  FALSE, "malformed sha256" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *doc = g_strdup_printf("{\"chunks\": %s}", cases[i].chunks);
		g_autoptr(JsonParser) p = json_parser_new();
		g_autofree char *why = NULL;
		DdiArtifact a = { 0 };
		gboolean ok;

		g_assert_true(json_parser_load_from_data(p, doc, -1, NULL));
		ok = ddi_find_artifact(json_node_get_object(json_parser_get_root(p)), &a, &why);
		g_test_message("case %u: %s", i, why != NULL ? why : "ok");
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (ok) {
			g_assert_cmpstr(a.filename, ==, "u.pack");
			g_assert_cmpstr(a.download, ==, "https://h/a");
			g_assert_cmpstr(a.download_http, ==, "http://h/a");
			g_assert_cmpstr(a.sha256, ==, SHA);
			g_assert_cmpint(a.size, ==, 100);
		} else {
			g_assert_nonnull(why);
			g_assert_nonnull(strstr(why, cases[i].why));
		}
	}
}

static void
test_feedback_body(void)
{
	const char *details[] = { "phase", "uploading", "percent", "40", NULL };
	g_autoptr(JsonNode) node = ddi_feedback_body("7", "proceeding", "none", 2, 5, details);
	g_autoptr(JsonNode) closed = ddi_feedback_body("7", "closed", "failure", 0, 0, NULL);
	g_autofree char *text = json_to_string(node, FALSE);
	g_autofree char *closed_text = json_to_string(closed, FALSE);

	g_assert_cmpstr(text, ==,
	                "{\"id\":\"7\",\"status\":{\"execution\":\"proceeding\",\"result\":"
	                "{\"finished\":\"none\",\"progress\":{\"cnt\":2,\"of\":5}},"
	                "\"details\":[\"phase: uploading\",\"percent: 40\"]}}");
	g_assert_cmpstr(closed_text, ==,
	                "{\"id\":\"7\",\"status\":{\"execution\":\"closed\",\"result\":"
	                "{\"finished\":\"failure\"},\"details\":[]}}");
	g_assert_cmpint(ddi_phase_step("uploading"), ==, 2);
	g_assert_cmpint(ddi_phase_step("downloading"), ==, 2);
	g_assert_cmpint(ddi_phase_step("updating"), ==, 3);
	g_assert_cmpint(ddi_phase_step("verifying"), ==, 5);
	g_assert_cmpint(ddi_phase_step("artifact-download"), ==, 1);
}

static gboolean
too_deep(const char *text, guint max_depth)
{
	return ddi_json_too_deep(text, strlen(text), max_depth);
}

static void
test_too_deep(void)
{
	gsize n = 4 * 1024 * 1024;
	g_autofree char *deep = g_malloc(n);
	g_autoptr(GString) ok = g_string_new(NULL);
	g_autoptr(GString) over = g_string_new(NULL);

	DdiResponse r = { 0 };
	JsonParser *parser = NULL;

	memset(deep, '[', n);
	g_assert_true(ddi_json_too_deep(deep, n, DDI_MAX_DEPTH));
	/* An API answer that deep is refused before the parser sees it. */
	deep[n - 1] = '\0';
	r.body = g_steal_pointer(&deep);
	g_assert_null(ddi_response_object(&r, &parser));
	g_assert_null(parser);
	ddi_response_clear(&r);
	for (guint i = 0; i < DDI_MAX_DEPTH; i++)
		g_string_append(ok, i % 2 ? "[" : "{\"a\":");
	g_string_append(ok, "1");
	for (guint i = DDI_MAX_DEPTH; i > 0; i--)
		g_string_append(ok, (i - 1) % 2 ? "]" : "}");
	g_assert_false(ddi_json_too_deep(ok->str, ok->len, DDI_MAX_DEPTH));
	g_string_append_printf(over, "[%s]", ok->str);
	g_assert_true(ddi_json_too_deep(over->str, over->len, DDI_MAX_DEPTH));
	/* Brackets inside strings, also after an escaped quote, do not nest. */
	g_assert_false(too_deep("{\"a\": \"[[[[[[\\\"[[[[\"}", 2));
	g_assert_true(too_deep("[[[\"x\"]]]", 2));
	g_assert_false(too_deep("[[[\"x\"]]]", 3));
	g_assert_false(too_deep("[][][][]", 1));
}

static void
test_same_origin(void)
{
	const char *server = "https://hawkbit.example:8443";

	g_assert_true(ddi_same_origin(server, "https://hawkbit.example:8443/DEFAULT/x"));
	g_assert_true(ddi_same_origin(server, "https://HAWKBIT.example:8443/y"));
	g_assert_false(ddi_same_origin(server, "https://evil.example:8443/x"));
	g_assert_false(ddi_same_origin(server, "http://hawkbit.example:8443/x"));
	g_assert_false(ddi_same_origin(server, "https://hawkbit.example/x"));
	g_assert_false(ddi_same_origin(server, "https://hawkbit.example:8443@evil.example/x"));
	g_assert_false(ddi_same_origin(server, "not a url"));
	g_assert_false(ddi_same_origin(server, NULL));
	g_assert_true(ddi_same_origin("https://h.example", "https://h.example:443/x"));
	g_assert_true(ddi_same_origin("http://h.example", "http://h.example:80/x"));
}

/* Only dfotad's own "not now" answers mean a start call did not start the job. */
static void
test_start_errors(void)
{
	const struct {
		const char *remote;
		StartFailure out;
	} cases[] = {
		{ "org.dfotad1.Error.Busy", START_NOT_STARTED },
		{ "org.dfotad1.Error.NotReady", START_NOT_STARTED },
		{ "org.freedesktop.DBus.Error.ServiceUnknown", START_NOT_STARTED },
		{ NULL, START_UNKNOWN },
		{ "org.freedesktop.DBus.Error.NoReply", START_UNKNOWN },
		{ "org.freedesktop.DBus.Error.Disconnected", START_UNKNOWN },
		{ "org.freedesktop.DBus.Error.Timeout", START_UNKNOWN },
		{ "org.freedesktop.DBus.Error.AccessDenied", START_DENIED },
		{ "org.freedesktop.DBus.Error.AuthFailed", START_DENIED },
		{ "org.freedesktop.DBus.Error.UnknownMethod", START_REFUSED },
		{ "org.dfotad1.Error.InvalidArgument", START_REFUSED },
		{ "org.dfotad1.Error.AccessDenied", START_REFUSED },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpint(bridge_classify_start_error(cases[i].remote), ==, cases[i].out);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ddi-json/parse-sleep", test_parse_sleep);
	g_test_add_func("/ddi-json/ids", test_ids);
	g_test_add_func("/ddi-json/parse-retry-after", test_parse_retry_after);
	g_test_add_func("/ddi-json/find-artifact", test_find_artifact);
	g_test_add_func("/ddi-json/feedback-body", test_feedback_body);
	g_test_add_func("/ddi-json/too-deep", test_too_deep);
	g_test_add_func("/ddi-json/same-origin", test_same_origin);
	g_test_add_func("/ddi-json/start-errors", test_start_errors);
	return g_test_run();
}
