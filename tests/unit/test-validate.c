// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-validate.c: URL, file name and command rules, and the Xor16 checksum. */
#include <string.h>

#include "dfota-error.h"
#include "dfota-validate.h"

typedef struct {
	const char *input;
	gboolean ok;
	const char *message_part; /* a word the refusal's message must contain */
} Case;

static const Case module_urls[] = {
	/* the seed's own examples: the host is not resolved or checked as an IP */
	{ "http://224.168.203.812:3029/update.pack", TRUE, NULL },
	{ "http://224.168.203.812:3029/test.bin", TRUE, NULL },
	{ "http://example.com/update.pack", TRUE, NULL },
	{ "http://example.com", TRUE, NULL },
	{ "http://example.com:1/a", TRUE, NULL },
	{ "http://example.com:65535/a", TRUE, NULL },
	{ "http://[::1]:8080/a", TRUE, NULL },
	{ "http://user@host/a", TRUE, NULL },
	{ "", FALSE, "empty" },
	{ "https://example.com/a", FALSE, "http://" },
	{ "ftp://example.com/a", FALSE, "http://" },
	{ "HTTP//example.com/a", FALSE, "http://" },
	{ "http:///update.pack", FALSE, "host" },
	{ "http://", FALSE, "host" },
	{ "http://:80/a", FALSE, "host" },
	{ "http://example.com:0/a", FALSE, "range" },
	{ "http://example.com:65536/a", FALSE, "range" },
	{ "http://example.com:99999999999999999999/a", FALSE, "range" },
	{ "http://example.com:abc/a", FALSE, "number" },
	{ "http://example.com:-1/a", FALSE, "number" },
	{ "http://example.com:/a", FALSE, "empty port" },
	{ "http://example.com/a\"b", FALSE, "double quote" },
	{ "http://example.com/a\rb", FALSE, "control" },
	{ "http://example.com/a\nb", FALSE, "control" },
	{ "http://example.com/a\x1b"
	  "b",
	  FALSE, "control" },
	{ "http://example.com/a\x7f", FALSE, "control" },
	{ "http://example.com/\xc3\xa9t\xc3\xa9", FALSE, "non-ASCII" },
	{ "http://example.com/a b", FALSE, "space" },
	{ "http://[::1/a", FALSE, "IPv6" },
};

static void
check_case(const Case *c, gboolean (*fn)(const char *, GError **), int code)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = fn(c->input, &error);

	if (c->ok) {
		g_assert_no_error(error);
		g_assert_true(ok);
	} else {
		g_assert_false(ok);
		g_assert_error(error, DFOTA_ERROR, code);
		if (strstr(error->message, c->message_part) == NULL)
			g_error("%s: message \"%s\" does not name \"%s\"", c->input, error->message,
			        c->message_part);
	}
}

static void
test_module_url(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(module_urls); i++)
		check_case(&module_urls[i], dfota_validate_module_url, DFOTA_ERROR_INVALID_URL);
}

static void
test_module_url_length(void)
{
	g_autoptr(GString) url = g_string_new("http://example.com/");
	g_autoptr(GError) error = NULL;

	while (url->len < 511)
		g_string_append_c(url, 'a');
	g_assert_true(dfota_validate_module_url(url->str, &error));
	g_assert_no_error(error);
	g_string_append_c(url, 'a'); /* 512 */
	g_assert_false(dfota_validate_module_url(url->str, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL);
	g_assert_nonnull(strstr(error->message, "511"));
	/* the host side has no 511-byte limit */
	g_clear_error(&error);
	g_assert_true(dfota_validate_host_url(url->str, &error));
	g_assert_no_error(error);
	g_assert_false(dfota_validate_module_url(NULL, NULL));
}

static const Case host_urls[] = {
	{ "https://example.com/update.pack", TRUE, NULL },
	{ "http://127.0.0.1:8080/update.pack", TRUE, NULL },
	{ "https://224.168.203.812:3029/update.pack", TRUE, NULL },
	{ "ftp://example.com/a", FALSE, "https://" },
	{ "https://", FALSE, "host" },
	{ "https://example.com:0/", FALSE, "range" },
	{ "https://example.com/a\"", FALSE, "double quote" },
	{ "https://example.com/a\n", FALSE, "control" },
};

static void
test_host_url(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(host_urls); i++)
		check_case(&host_urls[i], dfota_validate_host_url, DFOTA_ERROR_INVALID_URL);
}

static void
test_filename(void)
{
	static const Case names[] = {
		{ "fota.pack", TRUE, NULL },
		{ "test.bin", TRUE, NULL },
		{ "mcu_update.bin", TRUE, NULL },
		{ "with space.bin", TRUE, NULL },
		{ "", FALSE, "empty" },
		{ "a/b", FALSE, "path separator" },
		{ "a\\b", FALSE, "path separator" },
		{ "a\"b", FALSE, "double quote" },
		{ "a\rb", FALSE, "control" },
		{ "a\tb", FALSE, "control" },
		{ "\xc3\xa9.bin", FALSE, "non-ASCII" },
		{ "*", FALSE, "wildcard" },
		{ "fota.?ack", FALSE, "wildcard" },
	};
	char name[60];
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		check_case(&names[i], dfota_validate_filename, DFOTA_ERROR_INVALID_FILENAME);
	memset(name, 'x', 58);
	name[58] = '\0';
	g_assert_true(dfota_validate_filename(name, &error));
	g_assert_no_error(error);
	name[58] = 'x';
	name[59] = '\0';
	g_assert_false(dfota_validate_filename(name, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME);
	g_assert_nonnull(strstr(error->message, "58"));
	g_assert_false(dfota_validate_filename(NULL, NULL));
}

static const Case commands[] = {
	{ "AT", TRUE, NULL },
	{ "ATI", TRUE, NULL },
	{ "AT+QFOTADL=?", TRUE, NULL },
	{ "at+qfotadl=?", TRUE, NULL },
	{ "AT+CESQ", TRUE, NULL },
	{ "at+cops?", TRUE, NULL },
	{ "AT+CGPADDR", TRUE, NULL },
	{ "AT+CMEE?", TRUE, NULL },
	{ "AT+CGDCONT=1,\"IP\",\"a;b\"", TRUE, NULL }, /* ';' inside quotes is data */
	{ "AT+QFLST", TRUE, NULL },
	{ "AT+QFDEL=\"x.bin\"", TRUE, NULL },
	{ "", FALSE, "start with AT" },
	{ "A", FALSE, "start with AT" },
	{ "+CSQ", FALSE, "start with AT" },
	{ "XAT", FALSE, "start with AT" },
	{ "AT\r", FALSE, "control" },
	{ "AT\n", FALSE, "control" },
	{ "AT+CSQ\x1a", FALSE, "control" },
	{ "AT\x1b", FALSE, "control" },
	{ "AT\x7f", FALSE, "control" },
	{ "ATE0", FALSE, "echo" },
	{ "ATE1", FALSE, "echo" },
	{ "ate", FALSE, "echo" },
	{ "AT E0", FALSE, "echo" },
	{ "AT+CMEE=1", FALSE, "error format" },
	{ "at+cmee=0", FALSE, "error format" },
	{ "AT+IPR=9600", FALSE, "baud=" },
	{ "AT+IPR?", FALSE, "baud=" },
	{ "AT&W", FALSE, "profile" },
	{ "AT&F", FALSE, "profile" },
	{ "ATZ", FALSE, "profile" },
	{ "ATV0", FALSE, "result code" },
	{ "ATQ1", FALSE, "result code" },
	{ "ATS3=10", FALSE, "ends lines" },
	{ "AT+IFC=2,2", FALSE, "flow=" },
	{ "AT+QSCLK=1", FALSE, "sleep" },
	{ "AT+QSCLK?", FALSE, "sleep" },
	{ "AT+QFUPL=\"a\",10", FALSE, "org.dfotad1.Files.Upload" },
	{ "AT+QFDWL=\"a\"", FALSE, "org.dfotad1.Files.Download" },
	{ "AT+QFOTADL=\"http://a/b\"", FALSE, "org.dfotad1.Fota.Upgrade" },
	{ "AT+QFOTADL=1", FALSE, "org.dfotad1.Fota.Upgrade" },
	{ "AT+QFOTADL=2,\"http://a/b\"", FALSE, "FetchMcuFile" },
	{ "AT+QFOTADL?", FALSE, "org.dfotad1.Fota.Upgrade" },
	/* The line is split into its V.250 commands and each is checked (test-cmdline.c has the
	 * splitter's own table): harmless chains go, a refused command anywhere refuses. */
	{ "AT;E0", FALSE, "empty command" },
	{ "AT+CSQ;+QSCLK=1", FALSE, "AT+QSCLK=1" },
	{ "AT+CSQ;", TRUE, NULL },
	{ "AT+CGMR;+CGSN=1", TRUE, NULL },
	{ "ATI&F", FALSE, "AT&F" },
	{ "AT+QPOWD", FALSE, "powering" },
	{ "AT+QURCCFG=\"urcport\",\"uart1\"", FALSE, "URCs" },
};

static void
test_command(void)
{
	g_autoptr(GString) longcmd = g_string_new("AT+X=");
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		check_case(&commands[i], dfota_validate_command, DFOTA_ERROR_INVALID_COMMAND);
	while (longcmd->len < 1024)
		g_string_append_c(longcmd, '1');
	g_assert_true(dfota_validate_command(longcmd->str, &error));
	g_assert_no_error(error);
	g_string_append_c(longcmd, '1');
	g_assert_false(dfota_validate_command(longcmd->str, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND);
	g_assert_nonnull(strstr(error->message, "1024"));
	g_assert_false(dfota_validate_command(NULL, NULL));
}

static void
test_xor16(void)
{
	static const guint8 data[] = { 0x12, 0x34, 0x56, 0x78, 0x9a };
	DfotaXor16 x;

	g_assert_cmpuint(dfota_xor16(NULL, 0), ==, 0);
	g_assert_cmpuint(dfota_xor16(data, 2), ==, 0x1234);
	g_assert_cmpuint(dfota_xor16(data, 4), ==, 0x1234 ^ 0x5678);
	/* a last odd byte counts as a high byte */
	g_assert_cmpuint(dfota_xor16(data, 5), ==, 0x1234 ^ 0x5678 ^ 0x9a00);
	g_assert_cmpuint(dfota_xor16(data, 1), ==, 0x1200);

	/* incremental, split at every point and byte by byte, gives the same sum */
	for (gsize split = 0; split <= sizeof(data); split++) {
		dfota_xor16_init(&x);
		dfota_xor16_update(&x, data, split);
		dfota_xor16_update(&x, data + split, sizeof(data) - split);
		g_assert_cmpuint(dfota_xor16_finish(&x), ==, dfota_xor16(data, sizeof(data)));
	}
	dfota_xor16_init(&x);
	for (gsize i = 0; i < sizeof(data); i++) {
		dfota_xor16_update(&x, data + i, 1);
		g_assert_cmpuint(dfota_xor16_finish(&x), ==, dfota_xor16(data, i + 1));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/validate/module-url", test_module_url);
	g_test_add_func("/validate/module-url-length", test_module_url_length);
	g_test_add_func("/validate/host-url", test_host_url);
	g_test_add_func("/validate/filename", test_filename);
	g_test_add_func("/validate/command", test_command);
	g_test_add_func("/validate/xor16", test_xor16);
	return g_test_run();
}
