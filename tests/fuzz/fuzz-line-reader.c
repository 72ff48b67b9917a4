// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-line-reader.c: DfotaLineReader against arbitrary bytes in arbitrary fragmentation.
 *
 * Input layout: byte 0 picks the line bound (< 16: the default, passed as 0; else 1..100, so
 * that the bound is actually hit), byte 1 seeds the fragment sizes, the rest is what the
 * module "sends". The same bytes are fed all at once, byte by byte and in random fragments
 * (with dfota_line_reader_skip_terminator() called at random line boundaries, as a data
 * phase does); all three must produce the same lines and counters, and these must match an
 * independent model of the rules in dfota-line-reader.h.
 */
#include "fuzz-common.h"

#include "dfota-line-reader.h"

typedef struct {
	GPtrArray *lines;
	guint dropped;
	guint noise;
	gboolean empty; /* dfota_line_reader_is_empty() at the end */
} Outcome;

static void
outcome_clear(Outcome *o)
{
	g_clear_pointer(&o->lines, g_ptr_array_unref);
}

static void
check_line(const char *line, gsize max)
{
	gsize n = strlen(line);

	FUZZ_CHECK(n > 0, "an empty line was returned");
	FUZZ_CHECK(n <= max, "a line of %zu bytes passed the bound %zu", n, max);
	for (gsize i = 0; i < n; i++) {
		guchar c = (guchar)line[i];
		/* Covers CR, LF (and NUL by strlen): only printable ASCII and TAB survive. */
		FUZZ_CHECK((c >= 0x20 && c < 0x7f) || c == '\t',
		           "byte 0x%02x at offset %zu of a returned line", c, i);
	}
}

/* What a data phase does between lines: asks whether the next byte is the second half of
 * the CRLF/LFCR that ended the line, and skips it if so. Returns the bytes skipped. */
static gsize
skip_terminator(DfotaLineReader *r, const guint8 *data, gsize pos, gsize left)
{
	guint8 prev = data[pos - 1];
	gsize skip = dfota_line_reader_skip_terminator(r, data + pos, left);

	FUZZ_CHECK(skip <= 1, "skip_terminator returned %zu", skip);
	FUZZ_CHECK(skip == 0 || (prev == '\r' && data[pos] == '\n') ||
	                   (prev == '\n' && data[pos] == '\r'),
	           "skipped 0x%02x after 0x%02x: not the second half of a pair", data[pos], prev);
	return skip;
}

/* Feeds @data[pos..pos+piece) to @r until it is used up; returns the bytes consumed. */
static gsize
feed_piece(DfotaLineReader *r, gsize max, const guint8 *data, gsize pos, gsize piece,
           FuzzRng *skip_rng, GPtrArray *lines)
{
	gsize start = pos;

	while (piece > 0) {
		char *line = NULL;
		gsize used = dfota_line_reader_feed_one(r, data + pos, piece, &line);

		FUZZ_CHECK(used > 0 && used <= piece, "consumed %zu of %zu bytes", used, piece);
		pos += used;
		piece -= used;
		if (line == NULL) {
			FUZZ_CHECK(piece == 0, "no line, yet %zu bytes left unconsumed", piece);
			break;
		}
		FUZZ_CHECK(data[pos - 1] == '\r' || data[pos - 1] == '\n',
		           "a line ended on byte 0x%02x, not on CR or LF", data[pos - 1]);
		check_line(line, max);
		g_ptr_array_add(lines, line);
		if (skip_rng != NULL && piece > 0 && fuzz_rng_next(skip_rng) % 4 == 0) {
			gsize skip = skip_terminator(r, data, pos, piece);
			pos += skip;
			piece -= skip;
		}
	}
	return pos - start;
}

/* @mode 0: all at once, 1: byte by byte, 2: fragments of 1-64 bytes drawn from @seed, with
 * skip_terminator() at some line ends. */
static Outcome
run_reader(gsize max_arg, gsize max, const guint8 *data, gsize len, int mode, guint32 seed)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(max_arg);
	Outcome o = { g_ptr_array_new_with_free_func(g_free), 0, 0, FALSE };
	FuzzRng rng;
	gsize pos = 0;

	fuzz_rng_init(&rng, seed);
	while (pos < len) {
		gsize piece = len - pos;

		if (mode == 1)
			piece = 1;
		else if (mode == 2)
			piece = fuzz_rng_piece(&rng, 1, 64, piece);
		pos += feed_piece(r, max, data, pos, piece, mode == 2 ? &rng : NULL, o.lines);
	}
	FUZZ_CHECK(pos == len, "consumed %zu of %zu bytes in all", pos, len);
	o.dropped = dfota_line_reader_get_dropped(r);
	o.noise = dfota_line_reader_get_noise(r);
	o.empty = dfota_line_reader_is_empty(r);
	return o;
}

/* The header's rules, written independently: split at CR/LF, drop NUL silently and other
 * non-printables (except TAB) as noise, skip empty lines, drop lines longer than @max. */
static Outcome
run_model(gsize max, const guint8 *data, gsize len)
{
	Outcome o = { g_ptr_array_new_with_free_func(g_free), 0, 0, TRUE };
	g_autoptr(GString) cur = g_string_new(NULL);

	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];

		if (c == '\r' || c == '\n') {
			if (cur->len > max)
				o.dropped++;
			else if (cur->len > 0)
				g_ptr_array_add(o.lines, g_strdup(cur->str));
			g_string_truncate(cur, 0);
		} else if (c == '\0') {
			continue;
		} else if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			o.noise++;
		} else {
			g_string_append_c(cur, (char)c);
		}
	}
	/* An unterminated line is counted as dropped as soon as it passes the bound. */
	if (cur->len > max)
		o.dropped++;
	o.empty = cur->len == 0;
	return o;
}

static void
check_same(const Outcome *a, const Outcome *b, const char *what)
{
	FUZZ_CHECK(a->lines->len == b->lines->len, "%s: %u lines vs %u", what, a->lines->len,
	           b->lines->len);
	for (guint i = 0; i < a->lines->len; i++) {
		FUZZ_CHECK(g_str_equal(a->lines->pdata[i], b->lines->pdata[i]),
		           "%s: line %u differs: \"%s\" vs \"%s\"", what, i,
		           (char *)a->lines->pdata[i], (char *)b->lines->pdata[i]);
	}
	FUZZ_CHECK(a->dropped == b->dropped, "%s: dropped %u vs %u", what, a->dropped, b->dropped);
	FUZZ_CHECK(a->noise == b->noise, "%s: noise %u vs %u", what, a->noise, b->noise);
	FUZZ_CHECK(a->empty == b->empty, "%s: is_empty %d vs %d", what, a->empty, b->empty);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gsize max_arg, max;
	guint32 seed;
	Outcome whole, bytes, frags, model;

	if (size < 2)
		return 0;
	max_arg = data[0] < 16 ? 0 : (gsize)(data[0] - 16) % 100 + 1;
	max = max_arg == 0 ? DFOTA_LINE_READER_DEFAULT_MAX : max_arg;
	seed = (guint32)data[1] * 2654435761u;
	data += 2;
	size -= 2;

	whole = run_reader(max_arg, max, data, size, 0, seed);
	bytes = run_reader(max_arg, max, data, size, 1, seed);
	frags = run_reader(max_arg, max, data, size, 2, seed);
	model = run_model(max, data, size);
	check_same(&whole, &bytes, "all at once vs byte by byte");
	check_same(&whole, &frags, "all at once vs fragments");
	check_same(&whole, &model, "reader vs model");
	outcome_clear(&whole);
	outcome_clear(&bytes);
	outcome_clear(&frags);
	outcome_clear(&model);
	return 0;
}
