// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-validate.c: argument checks before anything reaches the tty, and the Xor16 checksum. */
#include "dfota-validate.h"

#include <string.h>

#include "dfota-cmdline.h"
#include "dfota-error.h"

#define MODULE_URL_MAX 511 /* seed 3.1 / 3.3 */
/* libcurl has no such limit; signed URLs of object stores are often longer than 511. */
#define HOST_URL_MAX 2048
#define FILENAME_MAX_BYTES DFOTA_UFS_NAME_MAX_BYTES

static gboolean
is_control(guchar c)
{
	return c < 0x20 || c == 0x7f;
}

/* Rules shared by both URL kinds: every byte must be safe inside a quoted AT parameter. */
static gboolean
check_url_chars(const char *url, GError **error)
{
	for (const guchar *p = (const guchar *)url; *p; p++) {
		if (is_control(*p)) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a control character (0x%02x) at offset %u: "
			            "remove it",
			            *p, (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p >= 0x80) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a non-ASCII byte at offset %u: percent-encode it",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p == ' ') {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a space at offset %u: percent-encode it as %%20",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
		if (*p == '"') {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL contains a double quote at offset %u: percent-encode it "
			            "as %%22",
			            (guint)(p - (const guchar *)url));
			return FALSE;
		}
	}
	return TRUE;
}

/* @rest points just after "scheme://". Checks that a host is present and the port, when
 * given, is 1–65535. The host is not resolved: any name or address passes. */
static gboolean
check_authority(const char *rest, GError **error)
{
	gsize alen = strcspn(rest, "/?#");
	g_autofree char *authority = g_strndup(rest, alen);
	const char *host = strrchr(authority, '@');
	const char *port = NULL;
	gsize host_len;

	host = host ? host + 1 : authority;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (close == NULL) {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has an unterminated IPv6 address: add the ']'");
			return FALSE;
		}
		host_len = (gsize)(close - host) - 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has text after the IPv6 address: expected ':port' "
			                    "or '/'");
			return FALSE;
		}
	} else {
		const char *colon = strchr(host, ':');
		host_len = colon ? (gsize)(colon - host) : strlen(host);
		if (colon)
			port = colon + 1;
	}
	if (host_len == 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		                    "URL has no host: use http://<host>[:<port>]/<path>");
		return FALSE;
	}
	if (port != NULL) {
		guint64 value = 0;
		if (*port == '\0') {
			g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			                    "URL has an empty port after ':': give a port "
			                    "1-65535 or drop the ':'");
			return FALSE;
		}
		for (const char *p = port; *p; p++) {
			if (!g_ascii_isdigit(*p)) {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
				            "URL port \"%s\" is not a number: give a port 1-65535",
				            port);
				return FALSE;
			}
			value = value * 10 + (guint64)(*p - '0');
			if (value > 65535)
				break;
		}
		if (value < 1 || value > 65535) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
			            "URL port %s is out of range: give a port 1-65535", port);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
validate_url(const char *url, gsize max, gboolean allow_https, GError **error)
{
	const char *rest = NULL;
	gsize len;

	if (url == NULL || *url == '\0') {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		                    "URL is empty: give http://<host>[:<port>]/<path>");
		return FALSE;
	}
	len = strlen(url);
	if (len > max) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		            "URL is %" G_GSIZE_FORMAT " bytes long, more than the %" G_GSIZE_FORMAT
		            " allowed: use a shorter URL",
		            len, max);
		return FALSE;
	}
	if (!check_url_chars(url, error))
		return FALSE;
	if (g_str_has_prefix(url, "http://"))
		rest = url + strlen("http://");
	else if (allow_https && g_str_has_prefix(url, "https://"))
		rest = url + strlen("https://");
	if (rest == NULL) {
		g_set_error_literal(
		        error, DFOTA_ERROR, DFOTA_ERROR_INVALID_URL,
		        allow_https ? "URL must start with http:// or https://"
		                    : "URL must start with http:// (the module cannot download "
		                      "over https; use org.dfotad1.Fota.UpgradeViaHost for "
		                      "https)");
		return FALSE;
	}
	return check_authority(rest, error);
}

gboolean
dfota_validate_module_url(const char *url, GError **error)
{
	return validate_url(url, MODULE_URL_MAX, FALSE, error);
}

gboolean
dfota_validate_host_url(const char *url, GError **error)
{
	return validate_url(url, HOST_URL_MAX, TRUE, error);
}

gboolean
dfota_validate_filename(const char *name, GError **error)
{
	gsize len = name ? strlen(name) : 0;

	if (len == 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
		                    "File name is empty: give 1-58 bytes");
		return FALSE;
	}
	if (len > FILENAME_MAX_BYTES) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
		            "File name is %" G_GSIZE_FORMAT " bytes long, more than the module's "
		            "%d: use a shorter name",
		            len, FILENAME_MAX_BYTES);
		return FALSE;
	}
	for (const guchar *p = (const guchar *)name; *p; p++) {
		const char *what = NULL;
		if (*p == '/' || *p == '\\')
			what = "a path separator";
		else if (*p == '"')
			what = "a double quote";
		else if (*p == '*' || *p == '?')
			what = "a wildcard (the module's file commands treat it as a pattern)";
		else if (is_control(*p))
			what = "a control character";
		else if (*p >= 0x80)
			what = "a non-ASCII byte";
		if (what) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_FILENAME,
			            "File name contains %s at offset %u: UFS names are plain "
			            "printable ASCII without '/', '\\', '\"', '*' or '?'",
			            what, (guint)(p - (const guchar *)name));
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
dfota_validate_command(const char *command, GError **error)
{
	/* Split as a module's V.250 parser reads the line, then every command checked on its
	 * own: a check on the raw text is dodged by ATI&F, ATIE1 or AT+CGMR;+QSCLK=1. */
	return dfota_cmdline_check(command, error);
}

void
dfota_xor16_init(DfotaXor16 *x)
{
	x->sum = 0;
	x->have_high = FALSE;
	x->high = 0;
}

void
dfota_xor16_update(DfotaXor16 *x, const guint8 *data, gsize len)
{
	gsize i = 0;

	if (len == 0)
		return;
	if (x->have_high) {
		x->sum ^= (guint16)((x->high << 8) | data[0]);
		x->have_high = FALSE;
		i = 1;
	}
	for (; i + 1 < len; i += 2)
		x->sum ^= (guint16)((data[i] << 8) | data[i + 1]);
	if (i < len) {
		x->have_high = TRUE;
		x->high = data[i];
	}
}

guint16
dfota_xor16_finish(const DfotaXor16 *x)
{
	return x->have_high ? (guint16)(x->sum ^ (x->high << 8)) : x->sum;
}

guint16
dfota_xor16(const guint8 *data, gsize len)
{
	DfotaXor16 x;

	dfota_xor16_init(&x);
	dfota_xor16_update(&x, data, len);
	return dfota_xor16_finish(&x);
}
