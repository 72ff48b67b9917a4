// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-line-reader.h: CR/LF framing of the bytes a module sends.
 *
 * A line ends at CR or LF (CRLF, LFCR, lone CR, lone LF all work); empty lines are skipped;
 * NUL bytes are dropped; bytes outside printable ASCII and TAB are dropped too (noise) but
 * counted. A line longer than the bound is discarded whole (with a g_warning once per line)
 * and the buffer never grows past it. Plain struct, no I/O: fed by the AT channel, tested
 * with arbitrary fragmentation.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFOTA_LINE_READER_DEFAULT_MAX 4096

typedef struct _DfotaLineReader DfotaLineReader;

DfotaLineReader *dfota_line_reader_new(gsize max_line);
void dfota_line_reader_free(DfotaLineReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfotaLineReader, dfota_line_reader_free)

/* Consumes bytes of @data up to and including the end of the first complete line, or all of
 * them when no line completes. Returns the number consumed; *line_out is the completed line
 * (newly allocated, without CR/LF) or NULL. Call again with the rest. */
gsize dfota_line_reader_feed_one(DfotaLineReader *self, const guint8 *data, gsize len,
                                 char **line_out);

/* TRUE when no partial line is buffered. */
gboolean dfota_line_reader_is_empty(DfotaLineReader *self);

/* The partial line buffered so far (not NUL-terminated; *len bytes), e.g. a "> " prompt that
 * no CR/LF will follow. Valid until the next call on @self. */
const char *dfota_line_reader_peek(DfotaLineReader *self, gsize *len);

/* Forgets a partial line. */
void dfota_line_reader_reset(DfotaLineReader *self);

/* Lines dropped for length since creation. */
guint dfota_line_reader_get_dropped(DfotaLineReader *self);

/* Noise bytes (control characters other than TAB/CR/LF/NUL, and bytes >= 0x7f) dropped. */
guint dfota_line_reader_get_noise(DfotaLineReader *self);

/* For data phases that take raw bytes between lines: returns 1 when @data starts with the
 * second half of the CRLF/LFCR that ended the last line (the caller skips it), else 0.
 * Either way the pair is forgotten, so a raw LF that follows later is data. */
gsize dfota_line_reader_skip_terminator(DfotaLineReader *self, const guint8 *data, gsize len);

G_END_DECLS
