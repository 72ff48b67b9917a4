// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-redact.c: what a URL looks like when the daemon shows it (dfota-redact.h). */
#include <string.h>

#include "dfota-redact.h"

typedef struct {
	const char *input;
	const char *shown;
} Case;

static const Case urls[] = {
	/* user info and a signed query, as in the contract */
	{ "http://fw:secret@host/p?X-Amz-Signature=abc&b=c#frag",
	  "http://fw:***@host/p?X-Amz-Signature=***&b=***" },
	{ "https://fw:pw@cdn.example/p.pack?X-Sig=1",
	  "https://fw:***@cdn.example/p.pack?X-Sig=***" },
	/* nothing secret: unchanged */
	{ "http://224.168.203.812:3029/update.pack", "http://224.168.203.812:3029/update.pack" },
	{ "http://example.com", "http://example.com" },
	{ "http://[::1]:8080/a", "http://[::1]:8080/a" },
	{ "http://user@host/a", "http://user@host/a" },
	{ "http://h/a/b.pack", "http://h/a/b.pack" },
	/* a password, whatever it holds */
	{ "http://fw:p@ss@host/p", "http://fw:***@host/p" },
	{ "http://fw:p:a:ss@host:80/p", "http://fw:***@host:80/p" },
	{ "http://fw:%40%3A%2F@host/p", "http://fw:***@host/p" },
	{ "http://fw:@host/p", "http://fw:***@host/p" },
	{ "http://:pw@host/p", "http://***@host/p" },
	{ "http://@host/p", "http://@host/p" },
	{ "http://fw:pw@[::1]:8080/p", "http://fw:***@[::1]:8080/p" },
	/* a user name that may hide a ':' goes too */
	{ "http://fw%3Asecret@host/p", "http://***@host/p" },
	{ "http://a@b@host/p", "http://***@host/p" },
	/* every query value; keys stay; a bare parameter may be the token itself */
	{ "http://h/p?a=1", "http://h/p?a=***" },
	{ "http://h/p?a=", "http://h/p?a=***" },
	{ "http://h/p?a=b=c", "http://h/p?a=***" },
	{ "http://h/p?s3cr3t", "http://h/p?***" },
	{ "http://h/p?a=1&s3cr3t&b=2", "http://h/p?a=***&***&b=***" },
	{ "http://h/p?a=1&&b=2", "http://h/p?a=***&&b=***" },
	{ "http://h/p?", "http://h/p?" },
	{ "http://h?a=1", "http://h?a=***" },
	{ "http://h/p?a=%2F%3F", "http://h/p?a=***" },
	/* the fragment never reaches a server and is dropped */
	{ "http://h/p#top", "http://h/p" },
	{ "http://h/p?a=1#x=2", "http://h/p?a=***" },
	/* a password that ran past '/', '?' or '#': only the scheme is kept */
	{ "http://fw:pa/ss@host/p", "http://***" },
	{ "http://fw:pa?ss@host/p", "http://***" },
	{ "http://fw:pa#ss@host/p", "http://***" },
	{ "http://fw:12#34@host/p", "http://***" },
	{ "http://fw:12/34@host/p", "http://***" },
	{ "http://h/p?mail=a@b.example", "http://***" },
	{ "http://fw:secret/p", "http://***" },
	{ "http://h:1:2/p", "http://***" },
	{ "http://[::1/p", "http://***" },
	{ "http://[::1]x/p", "http://***" },
	/* no scheme: read as what would follow one */
	{ "fw:secret@host/p?sig=1", "fw:***@host/p?sig=***" },
	{ "//fw:secret@host/p", "//fw:***@host/p" },
	{ "host/p", "host/p" },
	{ "mailto:a@b", "mailto:***@b" },
	/* junk */
	{ "", "" },
	{ "://", "://" },
	{ "http://", "http://" },
	{ "@", "@" },
	{ "?", "?" },
	{ "#", "" },
	{ ":", ":" },
	{ "\xff\xfe:pw@h", "***@h" },
};

static void
test_url(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_autofree char *shown = dfota_url_redact(urls[i].input);
		if (g_strcmp0(shown, urls[i].shown) != 0)
			g_error("\"%s\" is shown as \"%s\", expected \"%s\"", urls[i].input, shown,
			        urls[i].shown);
	}
	g_autofree char *null = dfota_url_redact(NULL);
	g_assert_cmpstr(null, ==, "");
}

static const Case texts[] = {
	{ "no URL here", "no URL here" },
	{ "", "" },
	/* the --verbose trace of the command written to the tty, and its echo */
	{ "--> AT+QFOTADL=\"http://fw:s3cr3t@h:80/p.pack?X-Amz-Signature=sig\"",
	  "--> AT+QFOTADL=\"http://fw:***@h:80/p.pack?X-Amz-Signature=***\"" },
	{ "AT+QFOTADL=2,\"http://h/m.bin?t=tok\",\"m.bin\"",
	  "AT+QFOTADL=2,\"http://h/m.bin?t=***\",\"m.bin\"" },
	/* failure messages of the fetcher and of libcurl */
	{ "Cannot fetch https://u:pw@h/p?sig=1: Could not resolve host: h",
	  "Cannot fetch https://u:***@h/p?sig=*** Could not resolve host: h" },
	{ "HTTP 404 from http://u:pw@h/p?a=1&b=2 (redirected from http://x/y?c=3)",
	  "HTTP 404 from http://u:***@h/p?a=***&b=*** (redirected from http://x/y?c=***" },
	{ "two: http://a:1@h 'ftp://b:2@h'", "two: http://a:***@h 'ftp://b:***@h'" },
	{ "<http://h/p?a=1>", "<http://h/p?a=***>" },
	{ "x://h", "x://h" },
	{ "1http://u:p@h", "1http://u:***@h" },
	{ "://u:p@h", "://u:***@h" },
	{ "a:// b", "a:// b" },
	{ "http://u:p@h\tnext", "http://u:***@h\tnext" },
};

static void
test_text(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autofree char *shown = dfota_text_redact_urls(texts[i].input);
		if (g_strcmp0(shown, texts[i].shown) != 0)
			g_error("\"%s\" is shown as \"%s\", expected \"%s\"", texts[i].input, shown,
			        texts[i].shown);
	}
	g_autofree char *null = dfota_text_redact_urls(NULL);
	g_assert_cmpstr(null, ==, "");
}

/* A redacted URL is shown again as it is: redacting twice changes nothing, so a record
 * written by this daemon and read back is not mangled further. */
static void
test_idempotent(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_autofree char *once = dfota_url_redact(urls[i].input);
		g_autofree char *twice = dfota_url_redact(once);
		g_assert_cmpstr(twice, ==, once);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autofree char *once = dfota_text_redact_urls(texts[i].input);
		g_autofree char *twice = dfota_text_redact_urls(once);
		g_assert_cmpstr(twice, ==, once);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/redact/url", test_url);
	g_test_add_func("/redact/text", test_text);
	g_test_add_func("/redact/idempotent", test_idempotent);
	return g_test_run();
}
