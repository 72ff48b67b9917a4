// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-validate.c: the argument checks of dfota-validate.h on arbitrary strings.
 *
 * What passes a validator goes into a quoted AT parameter or onto the tty, so an accepted
 * value must obey the rules the header states: module URL "http://", <= 511 bytes, printable
 * ASCII without '"' or space, a host, port 1-65535; host URL the same with https allowed and
 * <= 2048 bytes (and everything the module accepts); file name 1-58 bytes without '/', '\\',
 * '"', control or non-ASCII bytes; command starting with AT, <= 1024 bytes of printable
 * ASCII, and not starting with a basic command the channel owns (E, Z, &, V, Q, D). A refusal always
 * carries a DFOTA_ERROR of the right code and a message. The XOR checksum must not depend
 * on how the data is split.
 *
 * URL redaction (dfota-redact.h): on any string it never crashes and redacting twice changes
 * nothing; on a URL built from the input with its password, query values and fragment drawn
 * from an alphabet of their own (upper case letters and the delimiters a careless password
 * holds: '@', ':', '/', '?', '#', '%', '=', ';') and every other part from lower case, digits
 * and '.', '-', '/', no byte of that alphabet's letters survives — neither in the URL shown
 * alone nor inside an AT command line. Query values hold no '&': a value with one is two
 * parameters to every parser.
 */
#include "fuzz-common.h"

#include "dfota-error.h"
#include "dfota-redact.h"
#include "dfota-validate.h"

static void
check_refusal(gboolean ok, GError *error, int code, const char *what, const char *s)
{
	if (ok) {
		FUZZ_CHECK(error == NULL, "%s accepted \"%s\" but set an error", what, s);
		return;
	}
	FUZZ_CHECK(error != NULL, "%s refused \"%s\" without an error", what, s);
	FUZZ_CHECK(error->domain == DFOTA_ERROR && error->code == code,
	           "%s refused \"%s\" with %s/%d", what, s, g_quark_to_string(error->domain),
	           error->code);
	FUZZ_CHECK(error->message != NULL && *error->message != '\0',
	           "%s refused \"%s\" without a message", what, s);
}

/* Rules common to both URL kinds; @rest is what follows "scheme://". */
static void
check_accepted_url(const char *url, const char *rest, gsize max, const char *what)
{
	gsize len = strlen(url);
	gsize alen = strcspn(rest, "/?#");
	g_autofree char *authority = g_strndup(rest, alen);
	const char *host = strrchr(authority, '@');

	FUZZ_CHECK(len <= max, "%s accepted %zu bytes", what, len);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)url[i];
		FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '"',
		           "%s accepted byte 0x%02x at offset %zu of \"%s\"", what, c, i, url);
	}
	host = host ? host + 1 : authority;
	FUZZ_CHECK(*host != '\0' && *host != ':', "%s accepted \"%s\" without a host", what, url);
	if (*host == '[')
		FUZZ_CHECK(host[1] != ']', "%s accepted \"%s\" with an empty IPv6 host", what, url);
	if (*host != '[' && strchr(host, ':') != NULL) {
		const char *port = strchr(host, ':') + 1;
		guint64 v = 0;
		FUZZ_CHECK(*port != '\0' &&
		                   g_ascii_string_to_unsigned(port, 10, 1, 65535, &v, NULL),
		           "%s accepted port \"%s\" in \"%s\"", what, port, url);
	}
}

static void
check_urls(const char *s)
{
	g_autoptr(GError) e_mod = NULL;
	g_autoptr(GError) e_host = NULL;
	gboolean mod = dfota_validate_module_url(s, &e_mod);
	gboolean host = dfota_validate_host_url(s, &e_host);

	check_refusal(mod, e_mod, DFOTA_ERROR_INVALID_URL, "module URL", s);
	check_refusal(host, e_host, DFOTA_ERROR_INVALID_URL, "host URL", s);
	if (mod) {
		FUZZ_CHECK(g_str_has_prefix(s, "http://"), "module URL \"%s\" is not http://", s);
		check_accepted_url(s, s + 7, 511, "module URL");
		FUZZ_CHECK(host, "the module takes \"%s\" but the host URL check refuses it", s);
	}
	if (host) {
		const char *rest = g_str_has_prefix(s, "http://")    ? s + 7
		                   : g_str_has_prefix(s, "https://") ? s + 8
		                                                     : NULL;
		FUZZ_CHECK(rest != NULL, "host URL \"%s\" is neither http:// nor https://", s);
		check_accepted_url(s, rest, 2048, "host URL");
	}
	/* A NULL error pointer is allowed and changes nothing. */
	FUZZ_CHECK(dfota_validate_module_url(s, NULL) == mod, "module URL verdict changed");
}

static void
check_filename(const char *s)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = dfota_validate_filename(s, &error);
	gsize len = strlen(s);

	check_refusal(ok, error, DFOTA_ERROR_INVALID_FILENAME, "file name", s);
	if (!ok)
		return;
	FUZZ_CHECK(len >= 1 && len <= 58, "file name of %zu bytes accepted", len);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];
		FUZZ_CHECK(c >= 0x20 && c < 0x7f && c != '/' && c != '\\' && c != '"',
		           "file name \"%s\" accepted with byte 0x%02x", s, c);
	}
}

static void
check_command(const char *s)
{
	/* Lines whose first command is one the channel owns, whatever follows (upper case, spaces
	 * removed); fuzz-cmdline.c checks the splitter itself. */
	static const char *const owned[] = { "ATE", "ATZ", "AT&", "ATV", "ATQ", "ATD" };
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) norm = g_string_new(NULL);
	gboolean ok = dfota_validate_command(s, &error);
	gsize len = strlen(s);

	check_refusal(ok, error, DFOTA_ERROR_INVALID_COMMAND, "command", s);
	if (!ok)
		return;
	FUZZ_CHECK(len >= 2 && len <= 1024 && g_ascii_strncasecmp(s, "AT", 2) == 0,
	           "command of %zu bytes \"%.40s\" accepted", len, s);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];
		FUZZ_CHECK(c >= 0x20 && c <= 0x7e, "command accepted with byte 0x%02x at %zu", c,
		           i);
		if (c != ' ')
			g_string_append_c(norm, g_ascii_toupper((char)c));
	}
	for (gsize i = 0; i < G_N_ELEMENTS(owned); i++) {
		FUZZ_CHECK(!g_str_has_prefix(norm->str, owned[i]), "command \"%s\" accepted", s);
	}
}

static void
check_xor16(const uint8_t *data, size_t size)
{
	guint16 whole = dfota_xor16(data, size);
	DfotaXor16 x;
	gsize pos = 0;
	FuzzRng rng;

	fuzz_rng_init(&rng, (guint32)size * 2654435761u + (size ? data[0] : 0));
	dfota_xor16_init(&x);
	while (pos < size) {
		gsize piece = fuzz_rng_piece(&rng, 0, 7, size - pos);
		dfota_xor16_update(&x, data + pos, piece);
		pos += piece;
	}
	FUZZ_CHECK(dfota_xor16_finish(&x) == whole, "split checksum %04x vs %04x",
	           dfota_xor16_finish(&x), whole);
}

/* Appends @n bytes drawn from @alphabet, chosen by the input. */
static void
append_drawn(GString *out, const uint8_t **data, size_t *size, gsize n, const char *alphabet)
{
	gsize alen = strlen(alphabet);

	for (gsize i = 0; i<n && * size> 0; i++) {
		g_string_append_c(out, alphabet[**data % alen]);
		(*data)++;
		(*size)--;
	}
}

static gsize
draw(const uint8_t **data, size_t *size, gsize max)
{
	gsize v;

	if (*size == 0)
		return 0;
	v = **data % (max + 1);
	(*data)++;
	(*size)--;
	return v;
}

static void
check_no_secret(const char *shown, const char *url)
{
	for (const char *p = shown; *p; p++)
		FUZZ_CHECK(!g_ascii_isupper(*p), "\"%s\" is shown as \"%s\": a secret survives",
		           url, shown);
}

static void
check_redact(const uint8_t *data, size_t size)
{
	static const char *const schemes[] = { "http://", "https://", "", "//" };
	static const char secret[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ@:/?#%=;";
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";
	g_autofree char *s = fuzz_strndup(data, size);
	g_autofree char *once = dfota_url_redact(s);
	g_autofree char *twice = dfota_url_redact(once);
	g_autofree char *text_once = dfota_text_redact_urls(s);
	g_autofree char *text_twice = dfota_text_redact_urls(text_once);
	g_autoptr(GString) url = g_string_new(NULL);
	g_autofree char *shown = NULL;
	g_autofree char *line = NULL;
	g_autofree char *shown_line = NULL;
	gsize scheme = draw(&data, &size, G_N_ELEMENTS(schemes) - 1);
	gsize shape = draw(&data, &size, 255);
	gsize pairs, pw;

	FUZZ_CHECK(g_str_equal(once, twice), "\"%s\" -> \"%s\" -> \"%s\"", s, once, twice);
	FUZZ_CHECK(g_str_equal(text_once, text_twice), "text \"%s\" -> \"%s\" -> \"%s\"", s,
	           text_once, text_twice);

	g_string_append(url, schemes[scheme]);
	if (shape & 1) {
		append_drawn(url, &data, &size, draw(&data, &size, 6), plain);
		if (shape & 2) {
			g_string_append_c(url, ':');
			pw = url->len;
			append_drawn(url, &data, &size, draw(&data, &size, 12), secret);
			/* Without a scheme, "user://…" is a scheme and another URL. */
			if (scheme == 2 && g_str_has_prefix(url->str + pw, "//"))
				return;
		}
		g_string_append_c(url, '@');
	}
	append_drawn(url, &data, &size, 1 + draw(&data, &size, 8), plain);
	if (shape & 4) {
		g_string_append_c(url, ':');
		append_drawn(url, &data, &size, 1 + draw(&data, &size, 4), "0123456789");
	}
	if (shape & 8) {
		g_string_append_c(url, '/');
		append_drawn(url, &data, &size, draw(&data, &size, 10), "abcdefghij0123456789/.-@");
	}
	if (shape & 16) {
		g_string_append_c(url, '?');
		pairs = draw(&data, &size, 4);
		for (gsize i = 0; i < pairs; i++) {
			if (i)
				g_string_append_c(url, '&');
			if ((shape & 32) && i == 0) {
				/* A bare token: with an '=' it would be a key and a value. */
				append_drawn(url, &data, &size, draw(&data, &size, 10),
				             "ABCDEFGHIJKLMNOPQRSTUVWXYZ@:/?#%;");
				continue;
			}
			append_drawn(url, &data, &size, draw(&data, &size, 5), "abcdefghij-_");
			g_string_append_c(url, '=');
			append_drawn(url, &data, &size, draw(&data, &size, 10), secret);
		}
	}
	if (shape & 64) {
		g_string_append_c(url, '#');
		append_drawn(url, &data, &size, draw(&data, &size, 6), secret);
	}
	shown = dfota_url_redact(url->str);
	check_no_secret(shown, url->str);
	line = g_strdup_printf("at+qfotadl=2,\"%s\",\"m.bin\"", url->str);
	shown_line = dfota_text_redact_urls(line);
	if (scheme <= 1)
		check_no_secret(shown_line, line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *s = fuzz_strndup(data, size);

	check_urls(s);
	check_filename(s);
	check_command(s);
	check_xor16(data, size);
	check_redact(data, size);
	return 0;
}
