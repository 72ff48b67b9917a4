// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-line-reader.c: framing under any fragmentation, noise, NULs and over-long lines. */
#include <string.h>

#include "dfota-line-reader.h"
#include "test-log.h"

/* Feeds @data in pieces of the sizes @sizes cycles through and returns all lines. */
static GPtrArray *
feed_in_pieces(DfotaLineReader *r, const guint8 *data, gsize len, const gsize *sizes, gsize nsizes)
{
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	gsize off = 0, k = 0;

	while (off < len) {
		gsize want = sizes[k++ % nsizes]; /* not inside MIN(): it evaluates twice */
		gsize piece = MIN(want, len - off);
		gsize used = 0;
		while (used < piece) {
			char *line = NULL;
			gsize n = dfota_line_reader_feed_one(r, data + off + used, piece - used,
			                                     &line);
			g_assert_cmpuint(n, >, 0);
			used += n;
			if (line)
				g_ptr_array_add(lines, line);
		}
		off += piece;
	}
	return lines;
}

static void
assert_lines(GPtrArray *got, const char *const *want)
{
	guint n = 0;

	/* Bounded by want's own NULL, which the static analyzer can follow (not g_strv_length). */
	for (; want[n]; n++) {
		g_assert_cmpuint(n, <, got->len);
		g_assert_cmpstr(g_ptr_array_index(got, n), ==, want[n]);
	}
	g_assert_cmpuint(got->len, ==, n);
}

static const char transcript[] =
        "AT+QFOTADL=\"http://224.168.203.812:3029/update.pack\"\r\r\nOK\r\n\r\n"
        "+QIND: \"FOTA\",\"HTTPSTART\"\r\n\r\n+QIND: \"FOTA\",\"DOWNLOADING\",10%\r\n";
static const char *const transcript_lines[] = {
	"AT+QFOTADL=\"http://224.168.203.812:3029/update.pack\"",
	"OK",
	"+QIND: \"FOTA\",\"HTTPSTART\"",
	"+QIND: \"FOTA\",\"DOWNLOADING\",10%",
	NULL,
};

static void
test_every_split(void)
{
	gsize len = strlen(transcript);

	for (gsize split = 0; split <= len; split++) {
		g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
		gsize sizes[] = { split ? split : len, len };
		g_autoptr(GPtrArray) lines =
		        feed_in_pieces(r, (const guint8 *)transcript, len, sizes, 2);
		assert_lines(lines, transcript_lines);
		g_assert_true(dfota_line_reader_is_empty(r));
	}
}

static void
test_byte_by_byte(void)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	gsize one = 1;
	g_autoptr(GPtrArray) lines =
	        feed_in_pieces(r, (const guint8 *)transcript, strlen(transcript), &one, 1);
	assert_lines(lines, transcript_lines);
}

static void
test_odd_pieces(void)
{
	static const gsize sizes[] = { 3, 1, 7, 2, 13 };
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	g_autoptr(GPtrArray) lines =
	        feed_in_pieces(r, (const guint8 *)transcript, strlen(transcript), sizes, 5);
	assert_lines(lines, transcript_lines);
}

static void
test_terminators(void)
{
	static const char input[] = "a\r\nb\n\rc\rd\ne\r\r\n\n\nf\n";
	static const char *const want[] = { "a", "b", "c", "d", "e", "f", NULL };
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	gsize all = sizeof(input) - 1;
	g_autoptr(GPtrArray) lines = feed_in_pieces(r, (const guint8 *)input, all, &all, 1);

	assert_lines(lines, want);
}

static void
test_partial_line(void)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	char *line = NULL;

	g_assert_true(dfota_line_reader_is_empty(r));
	g_assert_cmpuint(dfota_line_reader_feed_one(r, (const guint8 *)"+CES", 4, &line), ==, 4);
	g_assert_null(line);
	g_assert_false(dfota_line_reader_is_empty(r));
	dfota_line_reader_reset(r);
	g_assert_true(dfota_line_reader_is_empty(r));
	g_assert_cmpuint(dfota_line_reader_feed_one(r, (const guint8 *)"OK\r\nX", 5, &line), ==, 3);
	g_assert_cmpstr(line, ==, "OK");
	g_free(line);
}

static void
test_nul_and_noise(void)
{
	static const guint8 input[] = { 'O',  0,    'K',  '\r', '\n', 0xff, 0x01,
		                        0x00, '+',  'C',  0x80, 'S',  'Q',  '\t',
		                        '1',  0x1b, '\r', '\n', 0,    0,    '\n' };
	static const char *const want[] = { "OK", "+CSQ\t1", NULL };
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	gsize all = sizeof(input);
	g_autoptr(GPtrArray) lines = feed_in_pieces(r, input, all, &all, 1);

	assert_lines(lines, want);
	g_assert_cmpuint(dfota_line_reader_get_noise(r), ==, 4);
}

static void
test_over_long(void)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(16);
	g_autoptr(GString) in = g_string_new("exactly-16-bytes\r\n");
	static const char *const want[] = { "exactly-16-bytes", "OK", "+CSQ: 1,2", NULL };
	gsize sizes[] = { 5 };
	g_autoptr(GPtrArray) lines = NULL;

	for (int i = 0; i < 1000; i++)
		g_string_append(in, "0123456789");
	g_string_append(in, "\r\nOK\r\n+CSQ: 1,2\r\n");
	test_log_expect = "longer than 16";
	test_log_count = 0;
	lines = feed_in_pieces(r, (const guint8 *)in->str, in->len, sizes, 1);
	g_assert_cmpuint(test_log_count, ==, 1);
	test_log_expect = NULL;
	assert_lines(lines, want);
	g_assert_cmpuint(dfota_line_reader_get_dropped(r), ==, 1);
}

static void
test_over_long_then_partial(void)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(8);
	char *line = NULL;
	const char *big = "123456789012345";

	test_log_expect = "longer than 8";
	test_log_count = 0;
	g_assert_cmpuint(dfota_line_reader_feed_one(r, (const guint8 *)big, 15, &line), ==, 15);
	g_assert_cmpuint(test_log_count, ==, 1);
	test_log_expect = NULL;
	g_assert_null(line);
	/* still inside the dropped line: not empty, and its rest is dropped too */
	g_assert_false(dfota_line_reader_is_empty(r));
	g_assert_cmpuint(dfota_line_reader_feed_one(r, (const guint8 *)"abc\nOK\n", 7, &line), ==,
	                 7);
	g_assert_cmpstr(line, ==, "OK");
	g_free(line);
	g_assert_true(dfota_line_reader_is_empty(r));
}

static void
test_skip_terminator(void)
{
	g_autoptr(DfotaLineReader) r = dfota_line_reader_new(0);
	char *line = NULL;

	dfota_line_reader_feed_one(r, (const guint8 *)"CONNECT\r", 8, &line);
	g_assert_cmpstr(line, ==, "CONNECT");
	g_free(line);
	/* the LF of CONNECT's CRLF arrives in the next read and is not data */
	g_assert_cmpuint(dfota_line_reader_skip_terminator(r, (const guint8 *)"\nAB", 3), ==, 1);
	/* only once: a later LF is data */
	g_assert_cmpuint(dfota_line_reader_skip_terminator(r, (const guint8 *)"\nAB", 3), ==, 0);
	dfota_line_reader_feed_one(r, (const guint8 *)"OK\r\n", 4, &line);
	g_free(line);
	g_assert_cmpuint(dfota_line_reader_skip_terminator(r, (const guint8 *)"A", 1), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	test_log_init();
	g_test_add_func("/line-reader/every-split", test_every_split);
	g_test_add_func("/line-reader/byte-by-byte", test_byte_by_byte);
	g_test_add_func("/line-reader/odd-pieces", test_odd_pieces);
	g_test_add_func("/line-reader/terminators", test_terminators);
	g_test_add_func("/line-reader/partial-line", test_partial_line);
	g_test_add_func("/line-reader/nul-and-noise", test_nul_and_noise);
	g_test_add_func("/line-reader/over-long", test_over_long);
	g_test_add_func("/line-reader/over-long-then-partial", test_over_long_then_partial);
	g_test_add_func("/line-reader/skip-terminator", test_skip_terminator);
	return g_test_run();
}
