// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-redact.c: URLs without their secrets (see dfota-redact.h for the rules). */
#include "dfota-redact.h"

#include <string.h>

/* RFC 3986 unreserved and sub-delims: a user name made only of these hides nothing. */
static gboolean
is_plain_user(const char *s, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(s[i]) && strchr("-._~!$&'()*+,;=", s[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
all_digits(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
	}
	return TRUE;
}

/* The port of @hostport (after the host, without the ':') is a number or absent, and an IPv6
 * literal is closed: the host part reads one way only. */
static gboolean
hostport_is_clear(const char *hp, gsize len)
{
	const char *colon;

	if (len > 0 && hp[0] == '[') {
		const char *close = memchr(hp, ']', len);
		gsize after;
		if (close == NULL)
			return FALSE;
		after = len - (gsize)(close - hp) - 1;
		if (after == 0)
			return TRUE;
		return close[1] == ':' && all_digits(close + 2, after - 1);
	}
	colon = memchr(hp, ':', len);
	if (colon == NULL)
		return TRUE;
	return all_digits(colon + 1, len - (gsize)(colon - hp) - 1);
}

/* Appends the query @q (without the '?', @len bytes) with every value as "***". */
static void
append_query(GString *out, const char *q, gsize len)
{
	gsize i = 0;

	while (i <= len) {
		gsize plen = 0;
		const char *param = q + i;
		const char *eq;

		while (i + plen < len && param[plen] != '&')
			plen++;
		if (i > 0)
			g_string_append_c(out, '&');
		eq = memchr(param, '=', plen);
		if (eq != NULL) {
			g_string_append_len(out, param, eq - param);
			g_string_append(out, "=" DFOTA_REDACTED);
		} else if (plen > 0) {
			/* A bare parameter may be the token itself (?<signature>). */
			g_string_append(out, DFOTA_REDACTED);
		}
		i += plen + 1;
	}
}

/* Appends @rest (what follows "scheme://", @len bytes) redacted. */
static void
append_rest(GString *out, const char *rest, gsize len)
{
	const char *hash = memchr(rest, '#', len);
	gsize wlen = hash ? (gsize)(hash - rest) : len;
	gsize alen = 0, plen;
	const char *at = NULL;
	const char *hp = rest;
	gsize hplen;
	gsize mark = out->len;

	while (alen < wlen && rest[alen] != '/' && rest[alen] != '?')
		alen++;
	for (gsize i = 0; i < alen; i++) {
		if (rest[i] == '@')
			at = rest + i;
	}
	/* An '@' after the host (in the path, the query or even the fragment) means a password
	 * may have run past a '/', '?' or '#': which part is the host cannot be told. */
	if (memchr(rest + alen, '@', len - alen) != NULL)
		goto unclear;
	if (at) {
		gsize ulen = (gsize)(at - rest);
		const char *colon = memchr(rest, ':', ulen);
		gsize user_len = colon ? (gsize)(colon - rest) : ulen;

		hp = at + 1;
		if (is_plain_user(rest, user_len)) {
			g_string_append_len(out, rest, user_len);
			if (colon)
				g_string_append(out, ":" DFOTA_REDACTED);
		} else if (ulen > 0) {
			g_string_append(out, DFOTA_REDACTED);
		}
	}
	hplen = alen - (gsize)(hp - rest);
	if (!hostport_is_clear(hp, hplen))
		goto unclear;
	if (at)
		g_string_append_c(out, '@');
	g_string_append_len(out, hp, hplen);
	plen = alen;
	while (plen < wlen && rest[plen] != '?')
		plen++;
	g_string_append_len(out, rest + alen, plen - alen);
	if (plen < wlen) {
		g_string_append_c(out, '?');
		append_query(out, rest + plen + 1, wlen - plen - 1);
	}
	return;
unclear:
	g_string_truncate(out, mark);
	g_string_append(out, DFOTA_REDACTED);
}

static gsize
scheme_length(const char *s, gsize len)
{
	gsize i = 0;

	if (len == 0 || !g_ascii_isalpha(s[0]))
		return 0;
	while (i < len && (g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i + 3 <= len && memcmp(s + i, "://", 3) == 0)
		return i + 3;
	return 0;
}

static void
append_url(GString *out, const char *url, gsize len)
{
	gsize start = scheme_length(url, len);

	if (start == 0 && len >= 2 && url[0] == '/' && url[1] == '/')
		start = 2;
	g_string_append_len(out, url, start);
	append_rest(out, url + start, len - start);
}

char *
dfota_url_redact(const char *url)
{
	GString *out;
	gsize len;

	if (url == NULL)
		return g_strdup("");
	len = strlen(url);
	out = g_string_sized_new(len + 8);
	append_url(out, url, len);
	return g_string_free(out, FALSE);
}

static gboolean
ends_url_in_text(guchar c)
{
	return c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>';
}

char *
dfota_text_redact_urls(const char *text)
{
	GString *out;
	const char *p, *sep;

	if (text == NULL)
		return g_strdup("");
	sep = strstr(text, "://");
	if (sep == NULL)
		return g_strdup(text);
	out = g_string_sized_new(strlen(text) + 8);
	p = text;
	while (sep != NULL) {
		const char *start = sep;
		const char *end = sep + 3;

		/* Back over the scheme; it starts with a letter. */
		while (start > p && (g_ascii_isalnum(start[-1]) || start[-1] == '+' ||
		                     start[-1] == '-' || start[-1] == '.'))
			start--;
		while (start < sep && !g_ascii_isalpha(*start))
			start++;
		while (*end && !ends_url_in_text((guchar)*end))
			end++;
		g_string_append_len(out, p, start - p);
		/* Without a scheme the part after "://" is still read as a URL's rest. */
		g_string_append_len(out, start, (sep + 3) - start);
		append_rest(out, sep + 3, (gsize)(end - (sep + 3)));
		p = end;
		sep = strstr(p, "://");
	}
	g_string_append(out, p);
	return g_string_free(out, FALSE);
}
